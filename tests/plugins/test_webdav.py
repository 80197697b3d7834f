"""The WebDAV source against a real Apache mod_dav server the tests start, and a Nextcloud look-alike for file ids."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from docmill.core.errors import PermanentError
from docmill.core.values import DocumentRef
from docmill.plugins.webdav import WebdavSource
from docmill.plugins.webdav_client import WebdavClient
from docmill.testing.contracts.source import SourceContract
from docmill.testing.nextcloud import NextcloudLookalike
from docmill.testing.webdav import APACHE, ApacheDav, Logged

from ..conftest import Cli

pytestmark = pytest.mark.skipif(APACHE is None, reason="Apache is not installed (scripts/bootstrap.sh --test "
                                                       "installs apache2-bin)")

CANARY = "canary-webdav-password-4e9a1c07"
DATA = Path(__file__).parents[1] / "data" / "webdav"
PAGES = {"handbook/welcome.txt": "Welcome aboard: laptops are handed out on the first morning.",
         "handbook/it/vpn.txt": "The VPN needs the company certificate and a second factor.",
         "handbook/it/printers.txt": "Printers on the third floor take badge releases only.",
         "handbook/people/holidays.md": "# Holidays\nTwenty-eight days a year, booked in the HR tool.",
         "finance/expenses.txt": "Expenses above 500 euros need the budget owner's approval.",
         "readme.txt": "This share holds the company handbook and the finance rules."}


@pytest.fixture
def dav() -> Iterator[ApacheDav]:
    with ApacheDav("alice", CANARY) as server:
        for path, text in PAGES.items():
            server.write(path, text)
        yield server


def _toml(work: Path, url: str, **options: Any) -> None:
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())
    (work / "docmill.toml").write_text(f'[[sources]]\nname = "share"\ntype = "webdav"\nurl = "{url}"\n'
                                       f'user = "alice"\nallow_hosts = ["127.0.0.1"]\n{extra}')


def _since(dav: ApacheDav, mark: int) -> list[Logged]:
    return dav.requests()[mark:]


def _gets(requests: list[Logged]) -> list[str]:
    return sorted(r.path for r in requests if r.method == "GET")


ENV = {"DOCMILL_SOURCES__0__TOKEN": CANARY, "DOCMILL_MAX_RETRIES": "0"}


@pytest.mark.usefixtures("stub_embedder")
def test_syncs_see_each_edit_addition_deletion_and_rename_and_download_nothing_else(
        cli: Cli, isolated: Path, home: Path, dav: ApacheDav, exported: Any) -> None:
    # Given a share of 6 files in 5 folders
    _toml(isolated, dav.url)
    first = cli("-vv", "sync", "share", "--json", env=ENV)
    found = json.loads(first.stdout)
    # Then the first sync indexes all, walking each folder once with Depth 1
    assert (found["new"], found["failed"], found["error"]) == (6, 0, None), first.stderr
    walked = [r for r in dav.requests() if r.method == "PROPFIND"]
    assert sorted(r.path for r in walked) == ["/dav/", "/dav/finance/", "/dav/handbook/", "/dav/handbook/it/",
                                              "/dav/handbook/people/"]
    assert {r.depth for r in walked} == {"1"} and {r.status for r in walked} == {207}
    assert _gets(dav.requests()) == sorted(f"/dav/{p}" for p in PAGES)
    chunks = {c["metadata"]["path"]: c for c in exported()}
    assert chunks["handbook/it/vpn.txt"]["metadata"]["url"] == dav.url + "handbook/it/vpn.txt"

    # When one file is edited, one added, one deleted and one renamed into another folder
    mark = len(dav.requests())
    dav.write("handbook/it/vpn.txt", "The VPN moved to WireGuard; the old client stops in March.")
    dav.write("handbook/people/parental-leave.txt", "Parental leave: sixteen weeks, on full pay.")
    (dav.files / "finance" / "expenses.txt").unlink()
    (dav.files / "handbook" / "it" / "printers.txt").rename(dav.files / "handbook" / "printers.txt")
    again = cli("-vv", "sync", "share", "--json", env=ENV)
    counts = json.loads(again.stdout)
    # Then the next sync sees exactly those (a rename is a deletion and an addition: Apache has no file ids)
    assert (counts["new"], counts["changed"], counts["deleted"], counts["unchanged"]) == (2, 1, 2, 3), counts
    assert _gets(_since(dav, mark)) == ["/dav/handbook/it/vpn.txt", "/dav/handbook/people/parental-leave.txt",
                                        "/dav/handbook/printers.txt"]
    assert not [r for r in dav.requests() if r.depth not in ("1", "-")]  # never Depth 0 or infinity in a sync
    chunks = {c["metadata"]["path"]: c for c in exported()}
    assert set(chunks) == {*PAGES, "handbook/people/parental-leave.txt", "handbook/printers.txt"} - {
        "finance/expenses.txt", "handbook/it/printers.txt"}
    assert "WireGuard" in chunks["handbook/it/vpn.txt"]["text"]

    # And nothing changed: nothing downloaded, by a plain or a --full sync
    mark = len(dav.requests())
    assert cli.json("sync", "share", env=ENV)["unchanged"] == 6
    full = cli.json("sync", "share", "--full", env=ENV)
    assert (full["unchanged"], full["new"], full["changed"], full["deleted"]) == (6, 0, 0, 0)
    assert _gets(_since(dav, mark)) == []

    # The password is nowhere: not in the logs (at -vv), the ledger, the store or the chunks
    for output in (first.stderr, first.stdout, again.stderr, again.stdout):
        assert CANARY not in output
    assert CANARY not in json.dumps(exported())
    for path in home.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


@pytest.mark.usefixtures("stub_embedder")
def test_a_server_that_is_down_fails_the_sync_with_exit_6_and_deletes_nothing(
        cli: Cli, isolated: Path, dav: ApacheDav) -> None:
    _toml(isolated, dav.url, attempts=2, backoff_seconds=0.05)
    assert cli.json("sync", "share", env=ENV)["new"] == 6
    dav.stop()
    down = cli("sync", "share", "--json", check=False, env=ENV)
    assert down.returncode == 6, down.stderr
    assert "did not answer" in down.stderr and CANARY not in down.stderr + down.stdout
    assert cli.json("status")["documents"]["done"] == 6  # nothing deleted
    dav.start()
    back = cli.json("sync", "share", env=ENV)
    assert (back["unchanged"], back["deleted"], back["new"]) == (6, 0, 0)


@pytest.mark.usefixtures("stub_embedder")
def test_the_scheduler_syncs_the_share_on_its_schedule_and_a_missing_password_is_a_configuration_error(
        cli: Cli, isolated: Path, tmp_path: Path, dav: ApacheDav) -> None:
    _toml(isolated, dav.url)
    missing = cli("sync", "share", check=False)
    assert missing.returncode == 3 and "has no password" in missing.stderr and not dav.requests()
    with (isolated / "docmill.toml").open("a") as toml:
        toml.write("schedule = { seconds = 2 }\n")
    log = tmp_path / "scheduler.log"
    scheduler = subprocess.Popen([sys.executable, "-m", "docmill", "-v", "scheduler"], cwd=isolated,
                                 env={**os.environ, **ENV}, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    welcome = "/dav/handbook/welcome.txt"
    try:
        # (polled in Apache's log: a sync every 2 s replaces the last sync's counts faster than status is read)
        deadline = time.monotonic() + 300
        while len(_gets(dav.requests())) < 6:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        dav.write("handbook/welcome.txt", "Welcome aboard: laptops now come on the Friday before you start.")
        while _gets(dav.requests()).count(welcome) < 2:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        syncs = len([r for r in dav.requests() if r.path == "/dav/"])
        while len([r for r in dav.requests() if r.path == "/dav/"]) < syncs + 2:  # two more scheduled syncs
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
    finally:
        scheduler.terminate()
        code = scheduler.wait(120)
    assert code == 0 and CANARY not in log.read_text()
    assert _gets(dav.requests()).count(welcome) == 2 and len(_gets(dav.requests())) == 7  # nothing else again
    assert cli.json("status")["documents"]["done"] == 6


@pytest.mark.usefixtures("stub_embedder")
def test_filters_never_destroy_and_an_excluded_folder_is_walked_only_to_tell_left_out_from_gone(
        cli: Cli, isolated: Path, dav: ApacheDav) -> None:
    _toml(isolated, dav.url)
    assert cli.json("sync", "share", env=ENV)["new"] == 6
    # When the handbook's IT folder is excluded from now on
    _toml(isolated, dav.url, exclude=["it"])
    mark = len(dav.requests())
    kept = cli.json("sync", "share", env=ENV)
    # Then its two files stay indexed (left out, not deleted); the folder was listed only to tell
    assert (kept["deleted"], kept["unchanged"]) == (0, 4)
    assert cli.json("status")["documents"]["done"] == 6
    assert "/dav/handbook/it/" in [r.path for r in _since(dav, mark) if r.method == "PROPFIND"]
    assert not _gets(_since(dav, mark))
    # A deletion inside it is still seen; --prune removes what the filters leave out
    (dav.files / "handbook" / "it" / "vpn.txt").unlink()
    assert cli.json("sync", "share", env=ENV)["deleted"] == 1
    assert cli.json("sync", "share", "--prune", env=ENV)["deleted"] == 1
    assert cli.json("status")["documents"]["done"] == 4
    # And with nothing indexed left out, the excluded folder is not walked at all
    mark = len(dav.requests())
    assert cli.json("sync", "share", env=ENV)["unchanged"] == 4
    assert "/dav/handbook/it/" not in [r.path for r in _since(dav, mark)]


def test_doctor_checks_the_server_the_password_and_the_folder_without_showing_the_password(
        cli: Cli, isolated: Path, dav: ApacheDav) -> None:
    (isolated / "docmill.toml").write_text("".join(
        f'[[sources]]\nname = "{name}"\ntype = "webdav"\nurl = "{url}"\nuser = "alice"\n'
        f'allow_hosts = ["127.0.0.1"]\nattempts = 1\n'
        for name, url in (("good", dav.url), ("missing", dav.url + "no-such-folder/"), ("wrong", dav.url),
                          ("down", "http://127.0.0.1:9/dav/"))))
    env = {**{f"DOCMILL_SOURCES__{i}__TOKEN": CANARY for i in (0, 1, 3)}, "DOCMILL_SOURCES__2__TOKEN": "not-it-0000"}
    done = cli("doctor", "--quick", "--json", check=False, env=env)
    assert CANARY not in done.stdout + done.stderr  # --quick: built, not contacted
    assert not [r for r in dav.requests() if r.method == "PROPFIND"]
    done = cli("doctor", "--json", check=False, env=env)
    checks = {c["check"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["source good"]["ok"] and "password accepted, folder found" in checks["source good"]["detail"]
    assert not checks["source missing"]["ok"] and "HTTP 404" in checks["source missing"]["detail"]
    assert not checks["source wrong"]["ok"] and "refused the user name or app password" in \
        checks["source wrong"]["detail"]
    assert not checks["source down"]["ok"] and "did not answer" in checks["source down"]["detail"]
    assert [r.depth for r in dav.requests() if r.method == "PROPFIND"] == ["0", "0", "0"]
    plain = cli("doctor", check=False, env=env)
    for output in (done.stdout, done.stderr, plain.stdout, plain.stderr):
        assert CANARY not in output and "not-it-0000" not in output


class TestWebdavSourceContract(SourceContract):
    @pytest.fixture
    def source(self, dav: ApacheDav) -> Iterator[WebdavSource]:
        client = WebdavClient(dav.url, "alice", CANARY, allow_hosts=("127.0.0.1",))
        yield WebdavSource("share", client, max_bytes=10**6)
        client.close()

    @pytest.fixture
    def change(self, dav: ApacheDav) -> Callable[[DocumentRef], None]:
        return lambda ref: dav.write(ref.locator, "changed at the source, and longer than before")


# ----- the network rules, on a stand-in server (httpx.MockTransport) ---------------------------------------------

def _client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> WebdavClient:
    return WebdavClient("https://files.example.com/dav/", "alice", CANARY, transport=httpx.MockTransport(handler),
                        resolve={"files.example.com": ["93.184.216.34"], "intranet.lan": ["10.0.0.8"]}.__getitem__,
                        attempts=2, backoff=0.01, **kwargs)


def test_redirects_stay_on_the_configured_server_and_answers_are_capped() -> None:
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        if request.url.path == "/dav/":
            return httpx.Response(301, headers={"Location": "https://files.example.com/dav/moved/"})
        if request.url.path == "/dav/moved/":
            return httpx.Response(302, headers={"Location": "http://intranet.lan/steal/"})
        return httpx.Response(207, content=(DATA / "nextcloud" / "propfind-depth-1.xml").read_bytes())

    with pytest.raises(PermanentError, match=r"redirected to intranet\.lan") as refused:
        _client(handler).propfind("")
    assert refused.value.kind == "refused address" and CANARY not in refused.value.reason
    assert [r.url.host for r in asked] == ["files.example.com", "files.example.com"]  # never the intranet host
    with pytest.raises(PermanentError, match=r"over the limit|grew past") as big:
        _client(handler, max_listing=500).propfind("big/")
    assert big.value.kind == "answer too large"
    with pytest.raises(ValueError, match="Depth 0 or 1"):
        _client(handler).propfind("", depth="infinity")
    private = WebdavClient("https://intranet.lan/dav/", "alice", CANARY, resolve=lambda host: ["10.0.0.8"])
    with pytest.raises(PermanentError, match="private address") as guarded:
        private.propfind("")
    assert guarded.value.kind == "refused address"


def test_a_busy_server_is_tried_again_then_the_sync_fails_transiently() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(503, headers={"Retry-After": "0"})

    from docmill.core.errors import SourceUnavailable

    with pytest.raises(SourceUnavailable, match="HTTP 503"):
        _client(handler).propfind("")
    assert calls == ["PROPFIND", "PROPFIND"]


def _multistatus(*members: str, prefix: str = "/dav/") -> httpx.Response:
    """A 207 answer listing these paths (folders end in /), each with an ETag."""
    body = "".join(f"<d:response><d:href>{prefix}{m}</d:href><d:propstat><d:prop><d:resourcetype>"
                   f"{'<d:collection/>' if m.endswith('/') or not m else ''}</d:resourcetype>"
                   f'<d:getetag>"{len(m)}-1"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>'
                   "</d:response>" for m in members)
    return httpx.Response(207, content=f'<d:multistatus xmlns:d="DAV:">{body}</d:multistatus>'.encode())


def test_a_folder_the_walk_cannot_read_keeps_its_files_and_an_answer_without_the_folder_deletes_nothing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/dav/":
            return _multistatus("", "a.txt", "locked/", "open/")
        if path == "/dav/locked/":
            return httpx.Response(403)
        return _multistatus("open/", "open/b.txt")

    source = WebdavSource("share", _client(handler), max_bytes=1000)
    listing = source.listing({}, full=False)
    refs = list(listing.refs)
    assert [(r.name, r.skip_reason) for r in refs] == [
        ("a.txt", None), ("open/b.txt", None), ("locked/", "cannot list this folder: the WebDAV server at "
                                                           "files.example.com forbids PROPFIND on /locked/ (HTTP 403)")]
    assert listing.gone is not None
    indexed = ["source:share/path/locked/c.txt", "source:share/path/open/gone.txt"]
    assert list(listing.gone(indexed)) == ["source:share/path/open/gone.txt"]  # under the locked folder: kept

    def elsewhere(request: httpx.Request) -> httpx.Response:  # a proxy that rewrites paths, or a file's URL
        return _multistatus("", "a.txt", prefix="/internal/dav/")

    with pytest.raises(PermanentError, match="does not hold the folder itself") as refused:
        list(WebdavSource("share", _client(elsewhere), max_bytes=1000).listing({}, full=False).refs)
    assert refused.value.kind == "not a folder"


# ----- the recorded answers --------------------------------------------------------------------------------------

def _recorded(name: str) -> tuple[int, dict[str, str], str]:
    head, _, body = (DATA / "apache-2.4" / name).read_text().partition("\n\n")
    status, *lines = head.splitlines()
    return int(status.split()[1]), dict(line.split(": ", 1) for line in lines), body


def _shape(xml: str) -> list[str]:
    """Each response's element tags by namespace (not prefix) and statuses, without values."""
    from defusedxml import ElementTree

    root = ElementTree.fromstring(xml.encode())
    return [" ".join(f"{e.tag}={e.text.strip()}" if e.tag == "{DAV:}status" and e.text else e.tag
                     for e in response.iter()) for response in root.iter("{DAV:}response")]


def test_the_running_apache_answers_as_recorded_and_docmill_reads_the_recording() -> None:
    from docmill.plugins.webdav_client import PROPFIND_BODY

    with ApacheDav("alice", CANARY) as dav:
        dav.write("handbook.txt", "Handbook: onboarding, laptops and the VPN.\n")
        dav.write("Reports 2026/q1 résumé.md", "# Q1\nRevenue grew.\n")
        live = httpx.request("PROPFIND", dav.url, auth=("alice", CANARY), content=PROPFIND_BODY,
                             headers={"Depth": "1"}, timeout=10)
        infinity = httpx.request("PROPFIND", dav.url, auth=("alice", CANARY), headers={"Depth": "infinity"},
                                 timeout=10)
    status, headers, body = _recorded("propfind-depth-1.txt")
    assert live.status_code == status == 207 and live.headers["content-type"] == headers["content-type"]
    assert _shape(live.text) == _shape(body)
    assert infinity.status_code == _recorded("propfind-depth-infinity.txt")[0] == 403
    etag = re.compile(r'^(W/)?"[0-9a-f]+-[0-9a-f]+"$')  # SIZE-MTIME, weak within a second of a change
    assert all(etag.match(e) for e in re.findall(r"<\w+:getetag>([^<]+)<", live.text + body))
    # docmill reads the recording: strong ETags, decoded paths, no file ids
    client = WebdavClient("http://127.0.0.1:1/dav/", "alice", CANARY)
    entries = {e.path: e for e in client._entries(body.encode(), "")}
    assert set(entries) == {"", "handbook.txt", "Reports 2026/"}
    assert entries["handbook.txt"].etag == _recorded("get.txt")[1]["etag"].removeprefix("W/")
    assert entries["handbook.txt"].size == 43 and entries["Reports 2026/"].folder
    assert not any(e.fileid for e in entries.values())


def test_the_nextcloud_look_alike_answers_in_the_recorded_shape() -> None:
    nextcloud = NextcloudLookalike("alice@example.com", CANARY)
    nextcloud.write("Handbook/Onboarding guide.md", "# Onboarding")
    nextcloud.write("Handbook/Policies/travel.md", "# Travel")
    answer = nextcloud.handle(httpx.Request("PROPFIND", nextcloud.url + "Handbook/", headers={
        "Depth": "1", "Authorization": httpx.BasicAuth("alice@example.com", CANARY)._auth_header}))
    recorded = (DATA / "nextcloud" / "propfind-depth-1.xml").read_text()
    assert answer.status_code == 207 and answer.headers["content-type"] == "application/xml; charset=utf-8"
    assert _shape(answer.text) == _shape(recorded)
    root_tag = re.compile(r"<d:multistatus [^>]+>")
    assert root_tag.findall(answer.text) == root_tag.findall(recorded)  # the four namespaces, on the root
    assert "&quot;" in answer.text and "alice%40example.com/Handbook/Onboarding%20guide.md" in answer.text
    client = WebdavClient(nextcloud.url, "alice@example.com", CANARY)
    entries = {e.path: e for e in client._entries(recorded.encode(), "Handbook/")}
    assert entries["Handbook/Onboarding guide.md"].fileid == "415"
    assert entries["Handbook/Onboarding guide.md"].etag == '"c0b51e9e3f1a4d2f0c6a2b7d1e8f9a30"'


@pytest.mark.usefixtures("stub_embedder")
def test_nextcloud_file_ids_keep_a_renamed_or_moved_file_the_same_document(
        cli: Cli, isolated: Path, home: Path, exported: Any) -> None:
    nextcloud = NextcloudLookalike("alice@example.com", CANARY)
    for path, text in PAGES.items():
        nextcloud.write(path, text)
    with nextcloud.serving() as url:
        (isolated / "docmill.toml").write_text(
            f'[[sources]]\nname = "cloud"\ntype = "webdav"\nurl = "{url}"\nuser = "alice@example.com"\n'
            'allow_hosts = ["127.0.0.1"]\n')
        env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}
        assert cli.json("sync", "cloud", env=env)["new"] == 6
        before = cli.json("status")
        ids = {c["metadata"]["path"]: c["id"] for c in exported()}

        # A move into another folder and a rename: the same file ids and ETags
        nextcloud.requests.clear()
        nextcloud.move("handbook/it/vpn.txt", "handbook/security/vpn.txt")
        nextcloud.move("readme.txt", "README.txt")
        moved = cli.json("sync", "cloud", env=env)
        assert (moved["relabelled"], moved["new"], moved["deleted"], moved["changed"]) == (2, 0, 0, 0), moved
        assert not [r for r in nextcloud.requests if r[0] == "GET"]  # nothing downloaded
        chunks = {c["metadata"]["path"]: c for c in exported()}
        assert chunks["handbook/security/vpn.txt"]["id"] == ids["handbook/it/vpn.txt"]  # the same chunk
        assert chunks["README.txt"]["doc"] == "README.txt"
        assert chunks["README.txt"]["metadata"]["url"] == url + "README.txt"

        # A move that gives the file a new ETag: downloaded again, but not embedded again
        nextcloud.requests.clear()
        nextcloud.move("finance/expenses.txt", "finance/2026/expenses.txt", new_etag=True)
        again = cli.json("sync", "cloud", env=env)
        assert (again["changed"], again["new"], again["deleted"]) == (1, 0, 0)
        assert [r[1] for r in nextcloud.requests if r[0] == "GET"] == [
            "/remote.php/dav/files/alice@example.com/finance/2026/expenses.txt"]
        after = cli.json("status")
        # its one chunk's vector reused, not embedded again
        assert (after["embedded"], after["reused"]) == (before["embedded"] - 1, before["reused"] + 1), after
        assert after["documents"]["done"] == 6
        # A deletion is still a deletion
        nextcloud.delete("README.txt")
        assert cli.json("sync", "cloud", env=env)["deleted"] == 1
    for path in home.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
