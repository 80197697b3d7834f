"""The IMAP source against a real Dovecot the tests start (unprivileged, on a free loopback port).

What the server was asked is read from Dovecot's own record of every
command (its rawlog), so "nothing else is read" is counted where it happens.
"""

from __future__ import annotations

import imaplib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from docmill.core.values import DocumentRef
from docmill.plugins.imap import ImapSource, make_imap_source
from docmill.plugins.imap_listing import FolderFilter
from docmill.testing import contracts
from docmill.testing.dovecot import DOVECOT, Dovecot

from ..conftest import Cli

CANARY = "canary-imap-password-4e1f7c2b"

pytestmark = [pytest.mark.skipif(not os.path.exists(DOVECOT), reason="dovecot-imapd is not installed "
                                 "(scripts/bootstrap.sh --test installs it)"),
              pytest.mark.usefixtures("stub_embedder")]


def mail(n: int, topic: str = "the harbour crane", *, sender: str = "alice@example.com",
         attachment: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "team@example.com"
    message["Subject"] = f"Report {n} on {topic}"
    message["Message-ID"] = f"<report-{n}-{topic.replace(' ', '-')}@example.com>"
    message["Date"] = "Mon, 07 Dec 2026 10:00:00 +0000"
    message.set_content(f"Report number {n}: the maintenance of {topic} is on schedule.\n")
    if attachment:
        message.add_attachment(attachment.encode(), maintype="text", subtype="plain", filename="notes.txt")
    return bytes(message)


@pytest.fixture
def server() -> Iterator[Dovecot]:
    with Dovecot(CANARY) as running:
        yield running


def _toml(work: Path, server: Dovecot, **options: Any) -> None:
    settings = {"host": "127.0.0.1", "port": server.port, "tls": "none", "user": "alice", "attempts": 1,
                **options}
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    (work / "docmill.toml").write_text(f'[[sources]]\nname = "mail"\ntype = "imap"\n{extra}')


ENV = {"DOCMILL_SOURCES__0__TOKEN": CANARY}


def _sync(cli: Cli, *args: str) -> dict[str, Any]:
    done = cli("-vv", "sync", "mail", "--json", *args, env=ENV)
    assert CANARY not in done.stdout + done.stderr
    return dict(json.loads(done.stdout))


def _counts(found: dict[str, Any]) -> tuple[int, ...]:
    return tuple(found[k] for k in ("new", "changed", "deleted", "unchanged", "failed"))


def _append(imap: imaplib.IMAP4, folder: str, *messages: bytes) -> None:
    for data in messages:
        typ, said = imap.append(folder, None, None, data)
        assert typ == "OK", said


def _flags(imap: imaplib.IMAP4, folder: str) -> list[bytes]:
    imap.select(folder, readonly=True)
    _typ, data = imap.uid("FETCH", "1:*", "(FLAGS)")
    return [d for d in data if isinstance(d, bytes)]


def _exported(cli: Cli) -> list[dict[str, Any]]:
    return [json.loads(line) for line in cli("export").stdout.splitlines()]


def test_first_sync_reads_every_message_once_with_its_attachment_and_leaves_them_unread(
        cli: Cli, isolated: Path, home: Path, server: Dovecot) -> None:
    imap = server.client()
    imap.create("Projects")
    imap.create("Trash")
    _append(imap, "INBOX", mail(1), mail(2, attachment="The crane's gearbox needs new oil in March."), mail(3))
    _append(imap, "Projects", mail(4, "the ferry"))
    _append(imap, "Trash", mail(5, "old news"))
    _toml(isolated, server, folders=["*"], exclude=["Trash"])

    first = _sync(cli)
    assert _counts(first) == (5, 0, 0, 0, 0)  # 4 messages and the attachment
    assert sorted(server.body_fetches()) == [1, 1, 2, 3]  # each message read once; Trash left alone
    chunks = _exported(cli)
    folders = {c["metadata"].get("folder") for c in chunks if c["metadata"].get("folder")}
    assert folders == {"INBOX", "Projects"}
    assert any("gearbox needs new oil" in c["text"] for c in chunks)  # the attachment, a document of its own
    assert not [f for folder in ("INBOX", "Projects") for f in _flags(imap, folder) if b"\\Seen" in f]

    again = _sync(cli)  # CONDSTORE: no folder changed, none is even opened
    assert _counts(again) == (0, 0, 0, 0, 0)
    assert len(server.body_fetches()) == 4
    assert not [c for c in server.commands()[-4:] if "SEARCH" in c or "EXAMINE" in c]
    for path in home.rglob("*"):  # the ledger, the store, everything docmill wrote
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    assert CANARY not in json.dumps(chunks)
    imap.logout()


def test_an_edit_an_addition_a_deletion_and_a_move_are_seen_and_nothing_else_is_read(
        cli: Cli, isolated: Path, server: Dovecot) -> None:
    imap = server.client()
    imap.create("Archive")
    _append(imap, "INBOX", *(mail(n) for n in range(1, 9)))
    _append(imap, "Archive", mail(20, "the ferry"))
    _toml(isolated, server, folders=["INBOX", "Archive"])
    assert _counts(_sync(cli)) == (9, 0, 0, 0, 0)
    read_before = len(server.body_fetches())

    imap.select("INBOX")
    _append(imap, "INBOX", mail(1, "the harbour crane, corrected"))  # an edit: the new message (UID 9) ...
    imap.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
    imap.uid("EXPUNGE", "1")  # ... and the old one's expunge
    _append(imap, "INBOX", mail(30, "the new pier"))  # an addition: UID 10
    imap.uid("STORE", "2", "+FLAGS", "(\\Deleted)")
    imap.uid("EXPUNGE", "2")  # a deletion
    imap.uid("STORE", "3", "+FLAGS", "(\\Deleted)")  # marked deleted, not expunged: gone as well
    imap.uid("MOVE", "4", "Archive")  # a move: Archive's UID 2
    imap.uid("STORE", "5", "+FLAGS", "(\\Flagged)")  # a flag: nothing to read

    found = _sync(cli)
    assert (found["new"], found["deleted"], found["failed"]) == (3, 4, 0)
    assert sorted(server.body_fetches()[read_before:]) == [2, 9, 10]  # the moved, edited and added: no other
    texts = {c["text"] for c in _exported(cli)}
    assert any("corrected" in t for t in texts) and any("new pier" in t for t in texts)
    assert not any("Report number 2:" in t or "Report number 3:" in t for t in texts)
    folders = {c["metadata"]["imap_uid"]: c["metadata"]["folder"] for c in _exported(cli)
               if "Report number 4:" in c["text"]}
    assert folders == {2: "Archive"}
    assert cli.json("status")["reused"] == 1  # the moved message's chunk: its vector reused, not embedded again
    assert _counts(_sync(cli))[:3] == (0, 0, 0)
    assert len(server.body_fetches()) == read_before + 3
    imap.logout()


def test_a_uidvalidity_change_lists_the_folder_again_and_same_messages_are_not_processed_again(
        cli: Cli, isolated: Path, server: Dovecot) -> None:
    imap = server.client()
    _append(imap, "INBOX", *(mail(n) for n in range(1, 5)))
    imap.logout()
    _toml(isolated, server)
    assert _counts(_sync(cli)) == (4, 0, 0, 0, 0)
    server.renumber("INBOX")

    found = _sync(cli)
    assert (found["new"], found["changed"], found["relabelled"], found["deleted"]) == (0, 0, 4, 0)
    assert len(server.body_fetches()) == 8  # each message read once more, to compare its SHA-256; none extracted
    assert _counts(_sync(cli))[:3] == (0, 0, 0)


def test_one_connection_is_enough_to_compare_more_renumbered_messages_than_a_discovery_batch(
        cli: Cli, isolated: Path, server: Dovecot) -> None:
    count = server.write_maildir("INBOX", (mail(n) for n in range(1, 1003)))  # more than discovery's 1,000
    _toml(isolated, server, connections=1)
    assert _counts(_sync(cli))[0] == count
    server.renumber("INBOX")
    # the listing frees its connection before the renumbered messages are read to be compared: no wait for itself
    done = cli("sync", "mail", "--json", env=ENV, check=False, prefix=("timeout", "120"))
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout)
    assert (found["new"], found["changed"], found["relabelled"], found["deleted"]) == (0, 0, count, 0)


def test_a_renumbered_folder_the_filters_leave_out_is_never_compared_by_uid(cli: Cli, isolated: Path,
                                                                             server: Dovecot) -> None:
    imap = server.client()
    imap.create("Projects")
    _append(imap, "INBOX", mail(1))
    _append(imap, "Projects", mail(2, "the ferry"), mail(3, "the ferry"), mail(4, "the ferry"))
    imap.select("Projects")
    imap.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
    imap.expunge()
    imap.logout()
    _toml(isolated, server, folders=["*"])
    assert _counts(_sync(cli)) == (3, 0, 0, 0, 0)  # INBOX/1, Projects/2 and Projects/3
    _toml(isolated, server, folders=["INBOX"])  # another option: the state starts afresh
    assert _sync(cli)["left_out"] == 0  # Projects' UIDVALIDITY was not known: its keys are undecided, once
    assert _sync(cli)["left_out"] == 2
    server.rebuild("Projects")  # the same two messages, now UIDs 1 and 2: neither old key may be judged by UID

    for args in ((), ("--prune",)):
        found = _sync(cli, *args)
        assert (found["deleted"], found["failed"]) == (0, 0), found
    assert len([c for c in _exported(cli) if "the ferry" in c["text"]]) == 2
    _toml(isolated, server, folders=["*"])  # listed whole again: the two messages, relabelled, nothing else
    found = _sync(cli)
    assert (found["deleted"], found["failed"]) == (1, 0), found  # old key 3: no UID 3 now
    assert len([c for c in _exported(cli) if "the ferry" in c["text"]]) == 2


def test_search_criteria_take_some_messages_and_filters_never_destroy(cli: Cli, isolated: Path,
                                                                      server: Dovecot) -> None:
    imap = server.client()
    _append(imap, "INBOX", mail(1), mail(2, sender="bob@example.com"), mail(3), mail(4))
    imap.select("INBOX")
    imap.uid("STORE", "1,2,3", "+FLAGS", "(\\Flagged)")
    _toml(isolated, server, flagged=True, **{"from": "alice@"})
    with (isolated / "docmill.toml").open("a") as toml:
        toml.write("since = 2026-01-01\n")  # a TOML date, not a string
    assert _counts(_sync(cli)) == (2, 0, 0, 0, 0)  # flagged, since 2026, from alice: UIDs 1 and 3

    imap.uid("STORE", "3", "-FLAGS", "(\\Flagged)")  # left out now, but still on the server: kept
    kept = _sync(cli)
    assert (kept["deleted"], kept["left_out"]) == (0, 1)
    assert len(_exported(cli)) == 2
    pruned = _sync(cli, "--prune")
    assert (pruned["deleted"], pruned["left_out"]) == (1, 0)
    assert sorted(server.body_fetches()) == [1, 3]
    imap.logout()


def test_a_server_that_is_down_fails_the_sync_with_exit_6_and_removes_nothing(cli: Cli, isolated: Path,
                                                                              server: Dovecot) -> None:
    imap = server.client()
    _append(imap, "INBOX", mail(1), mail(2))
    imap.logout()
    _toml(isolated, server)
    assert _counts(_sync(cli)) == (2, 0, 0, 0, 0)
    server.stop()
    down = cli("sync", "mail", "--json", env=ENV, check=False)
    assert down.returncode == 6, down.stderr
    assert "did not answer" in json.loads(down.stdout)["error"] and CANARY not in down.stdout + down.stderr
    assert len(_exported(cli)) == 2
    server.start()
    assert _counts(_sync(cli)) == (0, 0, 0, 0, 0)


def test_a_wrong_password_is_refused_without_showing_it(cli: Cli, isolated: Path, server: Dovecot) -> None:
    _toml(isolated, server, port=1)
    right = cli.json("sync", "mail", env={**ENV, "DOCMILL_SOURCES__0__PORT": str(server.port)})  # env wins
    assert right["error"] is None
    _toml(isolated, server)
    wrong = "canary-wrong-password-0b7d"
    done = cli("-vv", "sync", "mail", "--json", env={"DOCMILL_SOURCES__0__TOKEN": wrong}, check=False)
    assert done.returncode == 6
    assert "refused the login of 'alice'" in json.loads(done.stdout)["error"]
    assert wrong not in done.stdout + done.stderr
    _toml(isolated, server, tls="starttls")  # this Dovecot speaks no TLS: the password is not sent in the clear
    plain = cli("sync", "mail", "--json", env=ENV, check=False)
    assert plain.returncode == 6 and "does not offer STARTTLS" in json.loads(plain.stdout)["error"]


def test_tls_checks_the_certificate_against_the_ca_file(cli: Cli, isolated: Path) -> None:
    with Dovecot(CANARY, tls=True) as server:
        imap = server.client()
        _append(imap, "INBOX", mail(1))
        imap.logout()
        _toml(isolated, server, host="localhost", port=server.tls_port, tls="implicit")
        untrusted = cli("sync", "mail", "--json", env=ENV, check=False)
        assert untrusted.returncode == 6 and "does not trust" in json.loads(untrusted.stdout)["error"]
        _toml(isolated, server, host="localhost", port=server.tls_port, tls="implicit", ca_file=server.ca_file)
        assert _counts(_sync(cli)) == (1, 0, 0, 0, 0)
        _toml(isolated, server, host="127.0.0.1", port=server.port, tls="starttls", ca_file=server.ca_file)
        assert _counts(_sync(cli))[:3] == (0, 0, 0)  # another option: listed again, nothing read again
        assert len(server.body_fetches()) == 1

    (isolated / "docmill.toml").write_text('[[sources]]\nname = "mail"\ntype = "imap"\nhost = "mail.example.com"\n'
                                           'tls = "none"\nuser = "alice"\n')
    plain = cli("sync", "mail", env=ENV, check=False)
    assert plain.returncode == 3 and "unencrypted" in plain.stderr


def test_doctor_logs_in_and_finds_the_folders_without_showing_the_password(cli: Cli, isolated: Path,
                                                                           server: Dovecot) -> None:
    imap = server.client()
    imap.create("Projects")
    imap.logout()
    _toml(isolated, server, folders=["INBOX", "Projects", "Missing"])
    done = cli("doctor", "--json", env=ENV, check=False)
    found = {c["check"]: c for c in json.loads(done.stdout)["checks"]}
    assert found["source mail"]["ok"], found["source mail"]
    assert "as 'alice'; 2 folders: " in found["source mail"]["detail"]
    wrong = cli("doctor", "--json", env={"DOCMILL_SOURCES__0__TOKEN": "canary-doctor-wrong-9c"}, check=False)
    refused = {c["check"]: c for c in json.loads(wrong.stdout)["checks"]}["source mail"]
    assert not refused["ok"] and "refused the login" in refused["detail"]
    assert "canary-doctor-wrong-9c" not in wrong.stdout + wrong.stderr and CANARY not in done.stdout


def test_folder_names_are_shown_decoded_and_patterns_match_them() -> None:
    from docmill.plugins.imap_client import Folder
    from docmill.plugins.imap_listing import FolderFilter, FolderKey, display_name

    assert display_name(Folder("Entw&APw-rfe.&AMQ-rger &- Co", ".", True)) == "Entwürfe/Ärger & Co"
    assert display_name(Folder("odd&Zm9v-x", "/", True)) == "odd&Zm9v-x"  # not UTF-16: left as it is
    chosen = FolderFilter(["inbox", "Projects/*", "Team/%"], ["Projects/Old*"])
    assert [n for n in ("INBOX", "INBOX/Sub", "Projects", "Projects/A/B", "Projects/Old 2019", "Team/x",
                        "Team/x/y") if chosen.takes(n)] == ["INBOX", "Projects/A/B", "Team/x"]
    where = FolderKey("Entw&APw-rfe.2024 Q1/x", 17)
    assert where.key("source:mail/") == "source:mail/Entw%26APw-rfe.2024%20Q1%2Fx/17"
    assert FolderKey.parse("source:mail/", where.key("source:mail/")) == where


@pytest.mark.parametrize(("options", "message"), [
    ({"host": "mail.example.com", "tls": "none"}, "unencrypted"),
    ({"tls": "ssl"}, "tls must be one of"),
    ({"since": "last week"}, "since must be a date"),
    ({"from": 'a"b'}, "from must be an address"),
    ({"folders": []}, "folders must be a list of folder patterns"),
    ({"token": None}, "has no token"),
    ({"host": ""}, "needs host"),
    ({"ca_file": "/nonexistent/ca.pem"}, "ca_file '/nonexistent/ca.pem' is not a readable file"),
    ({"ca_file": "/etc/passwd"}, "ca_file '/etc/passwd' is not a readable file"),
])
def test_bad_options_are_configuration_errors(options: dict[str, Any], message: str) -> None:
    from pydantic import SecretStr

    from docmill.core.errors import ConfigurationError
    from docmill.core.plugin_context import PluginContext
    from docmill.core.values import Limits
    from docmill.plugins.imap import make_imap_source

    base = {"name": "mail", "host": "127.0.0.1", "user": "alice", "tls": "none", **options}
    token = None if "token" in options else SecretStr("pw")
    context = PluginContext(name="imap", settings=None, home=Path("."), collection="c", cpu_count=1,
                            limits=Limits(1000, 10, 10, 1.0, 300), chunk_size=500, chunk_overlap=50, token=token)
    with pytest.raises(ConfigurationError, match=message):
        make_imap_source(base, context)


def _built(server: Dovecot) -> ImapSource:
    """The source as a process builds it from its settings (what ``docmill sync`` and workers do)."""
    from pydantic import SecretStr

    from docmill.core.plugin_context import PluginContext
    from docmill.core.values import Limits

    context = PluginContext(name="imap", settings=None, home=Path("."), collection="c", cpu_count=1,
                            limits=Limits(10**6, 10, 10, 1.0, 300), chunk_size=500, chunk_overlap=50,
                            token=SecretStr(CANARY))
    return make_imap_source({"name": "mail", "host": "127.0.0.1", "port": server.port, "tls": "none",
                             "user": "alice"}, context)


class TestImapSourceContract(contracts.SourceContract):
    @pytest.fixture
    def source(self, server: Dovecot) -> Iterator[ImapSource]:
        imap = server.client()
        _append(imap, "INBOX", mail(1), mail(2))
        imap.logout()
        built = _built(server)
        yield built
        built.close()

    @pytest.fixture
    def change(self, server: Dovecot) -> Callable[[DocumentRef], None]:
        # A message never changes under its UID; what is under a key (folder and UID) can change only with a
        # new UIDVALIDITY, when the server rebuilt its index: the fingerprint must follow that.
        return lambda ref: server.renumber("INBOX")


def test_a_message_over_the_size_limit_fails_without_being_read(cli: Cli, isolated: Path, server: Dovecot) -> None:
    imap = server.client()
    _append(imap, "INBOX", mail(1), mail(2, attachment="x" * 300_000))
    imap.logout()
    _toml(isolated, server)
    found = cli.json("sync", "mail", env={**ENV, "DOCMILL_MAX_FILE_SIZE": "100000"})
    assert (found["new"], found["failed"]) == (1, 1)  # the failed one is counted as failed only
    assert server.body_fetches() == [1]  # the big one's size was checked; its body was never asked for
    assert "over the limit of 100,000" in json.dumps(cli.json("status", found["job"]))


def test_a_long_lived_source_reads_a_message_that_came_after_its_connection_opened_the_folder(
        server: Dovecot) -> None:
    imap = server.client()
    _append(imap, "INBOX", mail(1))
    source = _built(server)  # as in a worker or the scheduler: its pooled connection outlives one sync
    try:
        [first] = list(source.discover())
        source.fetch(first)  # the pooled connection has INBOX open now
        _append(imap, "INBOX", mail(2, "the late arrival"))
        late = replace(first, key=first.key[:-1] + "2", locator=first.locator.replace("/1/", "/2/"))
        assert b"the late arrival" in source.fetch(late).data
        # the listing opened INBOX (and the first read used it); the late message was looked for again anew
        assert len([c for c in server.commands() if c.startswith("EXAMINE")]) == 2
    finally:
        source.close()
        imap.logout()


def test_a_password_that_is_not_ascii_logs_in_and_never_shows_a_character(cli: Cli, isolated: Path) -> None:
    password = "canary-pässwörd-é8b1"
    with Dovecot(password) as server:
        imap = server.client()
        _append(imap, "INBOX", mail(1))
        imap.logout()
        _toml(isolated, server)
        done = cli("-vv", "sync", "mail", "--json", env={"DOCMILL_SOURCES__0__TOKEN": password}, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        assert _counts(json.loads(done.stdout)) == (1, 0, 0, 0, 0)
        wrong = "canary-wröng-4c"
        refused = cli("-vv", "sync", "mail", "--json", env={"DOCMILL_SOURCES__0__TOKEN": wrong}, check=False)
        assert refused.returncode == 6 and "refused the login of 'alice'" in json.loads(refused.stdout)["error"]
        for said in (done.stdout + done.stderr, refused.stdout + refused.stderr):
            assert not any(part in said for part in ("pässwörd", "wröng", "\\xe4", "\\xf6", "codec"))


@pytest.mark.parametrize("modseq", [b"0", b"7"])
def test_a_folder_whose_highestmodseq_stays_put_is_searched_when_its_messages_change(
        server: Dovecot, modseq: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """0: a server without persistent modseqs; 7 held still: CONDSTORE without QRESYNC need not raise it on an
    expunge. UIDNEXT and the message count tell the change."""
    import re

    real = imaplib.IMAP4.status

    def status(self: imaplib.IMAP4, *args: Any) -> tuple[str, list[Any]]:
        typ, data = real(self, *args)
        return typ, [re.sub(rb"HIGHESTMODSEQ \d+", b"HIGHESTMODSEQ " + modseq, d) if isinstance(d, bytes) else d
                     for d in data]

    monkeypatch.setattr(imaplib.IMAP4, "status", status)
    imap = server.client()
    _append(imap, "INBOX", mail(1), mail(2))
    source = _built(server)
    try:
        first = source.listing({}, full=True)
        keys = [r.key for r in first.refs]
        _append(imap, "INBOX", mail(3))
        second = source.listing(first.state, full=False)
        assert [r.key[-1] for r in second.refs] == ["1", "2", "3"]
        imap.select("INBOX")
        imap.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
        imap.expunge()
        third = source.listing(second.state, full=False)
        assert [r.key[-1] for r in third.refs] == ["2", "3"]
        assert third.gone is not None and list(third.gone([keys[0]])) == [keys[0]]
    finally:
        source.close()
        imap.logout()


def test_other_search_criteria_search_every_folder_even_unchanged_ones(server: Dovecot) -> None:
    """The ledger keeps a source's state only while its options stay: this holds even where the state is kept."""
    imap = server.client()
    _append(imap, "INBOX", mail(1), mail(2))
    imap.select("INBOX")
    imap.uid("STORE", "1", "+FLAGS", "(\\Flagged)")
    imap.logout()
    flagged, every = _built(server), _built(server)
    flagged.criteria = replace(flagged.criteria, flagged=True)
    try:
        first = flagged.listing({}, full=True)
        assert [r.key[-1] for r in first.refs] == ["1"]
        assert [r.key[-1] for r in every.listing(first.state, full=False).refs] == ["1", "2"]
    finally:
        flagged.close()
        every.close()


@pytest.mark.parametrize("command", ["status", "select"])
def test_a_folder_the_server_refuses_is_skipped_and_its_messages_kept(
        server: Dovecot, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    imap = server.client()
    imap.create("Secret")
    _append(imap, "INBOX", mail(1))
    _append(imap, "Secret", mail(2, "the vault"), mail(3, "the vault"))
    source = _built(server)
    source.folders = FolderFilter(["*"], [])
    try:
        first = source.listing({}, full=True)
        keys = sorted(r.key for r in first.refs)  # INBOX/1, Secret/1, Secret/2
        assert len(keys) == 3
        real = getattr(imaplib.IMAP4, command)

        def refused(self: imaplib.IMAP4, folder: str, *args: Any) -> tuple[str, list[Any]]:
            if "Secret" in folder:  # as Dovecot answers a folder whose ACL the user lost
                return "NO", [b"[NOPERM] Permission denied"]
            answer: tuple[str, list[Any]] = real(self, folder, *args)
            return answer

        monkeypatch.setattr(imaplib.IMAP4, command, refused)
        _append(imap, "INBOX", mail(4))
        second = source.listing(first.state, full=True)
        assert sorted(r.key for r in second.refs) == [keys[0], keys[0][:-1] + "2"]
        assert second.gone is not None and list(second.gone(keys[1:])) == []
        assert second.undecided == set(keys[1:])  # neither removed nor left out nor pruned
        assert second.state["folders"]["Secret"] == first.state["folders"]["Secret"]
    finally:
        source.close()
        imap.logout()
