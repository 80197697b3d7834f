"""What the WebDAV walk cannot see is never taken as deleted: forbidden folders, members a server will not describe.

Against the real Apache the tests start where it can produce the case (a
folder it forbids), else against the Nextcloud look-alike (file ids, and
answers only a broken or hostile server gives).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from docmill.testing.nextcloud import NextcloudLookalike
from docmill.testing.webdav import ApacheDav

from ..conftest import Cli
from .test_webdav import CANARY, ENV, PAGES, _since, _toml

pytestmark = pytest.mark.usefixtures("stub_embedder")


@pytest.fixture
def apache() -> Iterator[ApacheDav]:
    """test_webdav's share, on an Apache of this test's own."""
    with ApacheDav("alice", CANARY) as server:
        for path, text in PAGES.items():
            server.write(path, text)
        yield server


def test_a_forbidden_folder_keeps_its_documents_through_sync_and_prune_and_other_deletions_go_on(
        cli: Cli, isolated: Path, apache: ApacheDav) -> None:
    dav = apache
    _toml(isolated, dav.url)
    assert cli.json("sync", "share", env=ENV)["new"] == 6
    # When Apache forbids handbook/it/ (still listed in its parent, 403 itself) and a file elsewhere is deleted
    dav.deny("handbook/it")
    (dav.files / "finance" / "expenses.txt").unlink()
    mark = len(dav.requests())
    plain = cli.json("sync", "share", env=ENV)
    assert [(r.status, r.path) for r in _since(dav, mark) if r.path == "/dav/handbook/it/"] == [
        (403, "/dav/handbook/it/")]
    # Then only the deleted file goes; the forbidden folder's two files are kept and not called left out
    assert (plain["deleted"], plain["left_out"], plain["refused"]) == (1, 0, 1), plain
    # And --prune keeps them too: whether they exist is unknown, not "left out by the filters"
    pruned = cli.json("sync", "share", "--prune", env=ENV)
    assert (pruned["deleted"], pruned["left_out"]) == (0, 0), pruned
    assert cli.json("status")["documents"]["done"] == 5
    # Once the folder can be read again, a deletion inside it is seen
    dav.deny()
    (dav.files / "handbook" / "it" / "vpn.txt").unlink()
    back = cli.json("sync", "share", "--prune", env=ENV)
    assert (back["deleted"], back["unchanged"], back["refused"]) == (2, 4, 0), back  # vpn.txt, and the refusal
    assert cli.json("status")["documents"]["done"] == 4


def _cloud(work: Path, url: str) -> None:
    (work / "docmill.toml").write_text(
        f'[[sources]]\nname = "cloud"\ntype = "webdav"\nurl = "{url}"\nuser = "alice@example.com"\n'
        'allow_hosts = ["127.0.0.1"]\n')


def test_with_file_ids_a_forbidden_folder_holds_back_only_its_own_files_deletions(cli: Cli, isolated: Path) -> None:
    nextcloud = NextcloudLookalike("alice@example.com", CANARY)
    for path, text in PAGES.items():
        nextcloud.write(path, text)
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}
    with nextcloud.serving() as url:
        _cloud(isolated, url)
        assert cli.json("sync", "cloud", env=env)["new"] == 6
        # When handbook/it/ is forbidden for good, and files elsewhere are deleted, sync after sync
        nextcloud.forbidden.add("handbook/it/")
        nextcloud.delete("finance/expenses.txt")
        first = cli.json("sync", "cloud", "--prune", env=env)
        nextcloud.delete("readme.txt")
        second = cli.json("sync", "cloud", "--prune", env=env)
        # Then those deletions are made (a missing file id is known to have been in finance/, not in it/) ...
        assert (first["deleted"], second["deleted"], first["left_out"], second["left_out"]) == (1, 1, 0, 0)
        # ... and the forbidden folder's files stay
        assert cli.json("status")["documents"]["done"] == 4
        nextcloud.forbidden.clear()
        nextcloud.delete("handbook/it/vpn.txt")
        assert cli.json("sync", "cloud", env=env)["deleted"] == 2  # vpn.txt, and the folder's refusal
        assert cli.json("status")["documents"]["done"] == 3


@pytest.mark.parametrize("odd", ["403", "hidden type"])
def test_a_member_the_server_will_not_describe_keeps_what_may_lie_under_it(
        cli: Cli, isolated: Path, odd: str) -> None:
    nextcloud = NextcloudLookalike("alice@example.com", CANARY)
    for path, text in PAGES.items():
        nextcloud.write(path, text)
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}
    with nextcloud.serving() as url:
        _cloud(isolated, url)
        assert cli.json("sync", "cloud", env=env)["new"] == 6
        # When the listing of handbook/ gives its it/ folder a 403 status, or its resourcetype in a 404 propstat,
        # and the listing of the top gives readme.txt the same
        nextcloud.odd.update({"handbook/it/": odd, "readme.txt": odd})
        nextcloud.delete("finance/expenses.txt")
        nextcloud.requests.clear()
        synced = cli.json("sync", "cloud", "--prune", env=env)
        # Then neither is taken for gone or left out, nor fetched as a file; a real deletion elsewhere is made
        assert (synced["deleted"], synced["left_out"], synced["new"]) == (1, 0, 0), synced
        assert not [r for r in nextcloud.requests if r[0] == "GET"]
        assert not [r for r in nextcloud.requests if r[1].endswith("/handbook/it/")]  # never walked as a folder
        assert cli.json("status")["documents"]["done"] == 5
        # Described again: walked again, and a deletion under it is seen
        nextcloud.odd.clear()
        nextcloud.delete("handbook/it/printers.txt")
        again = cli.json("sync", "cloud", env=env)
        assert (again["deleted"], again["unchanged"]) == (3, 4), again  # printers.txt, and the two refusals
        assert cli.json("status")["documents"]["done"] == 4
