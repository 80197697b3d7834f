"""The IMAP client against answers Dovecot never gives, made by replacing imaplib's answer to one command of a
real session with the Dovecot the tests start: an odd answer is the server unavailable, never an empty folder."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from docmill import SourceUnavailable
from docmill.plugins.imap_client import ImapClient, ImapServer
from docmill.testing.dovecot import DOVECOT, Dovecot

CANARY = "canary-imap-answers-7d2a"

pytestmark = pytest.mark.skipif(not os.path.exists(DOVECOT), reason="dovecot-imapd is not installed "
                                "(scripts/bootstrap.sh --test installs it)")


@pytest.fixture
def client() -> Iterator[ImapClient]:
    with Dovecot(CANARY) as server:
        connected = ImapClient(ImapServer("127.0.0.1", server.port, "alice", tls="none"), CANARY)
        yield connected
        connected.close()


def _answer(client: ImapClient, command: str, data: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client.imap, command, lambda *args: ("OK", data))


@pytest.mark.parametrize("said", [b'"INBOX" (UIDNEXT 3 UIDVALIDITY 1765000000)',
                                  b'"INBOX" (MESSAGES 2 UIDVALIDITY 1765000000)',
                                  b'"INBOX" (MESSAGES 2 UIDNEXT 3)'])
def test_a_status_without_a_count_is_the_server_unavailable_not_an_empty_folder(
        client: ImapClient, said: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.status("INBOX").uidvalidity  # the real answer has all of them
    _answer(client, "status", [said], monkeypatch)
    with pytest.raises(SourceUnavailable, match="gave no"):
        client.status("INBOX")


@pytest.mark.parametrize("said", [[None], [b'(\\HasNoChildren) "/" Projects'],
                                  [b'(\\HasNoChildren) "/" INBOX', b"* garbage"]])
def test_a_folder_list_without_inbox_or_with_a_line_it_cannot_read_is_the_server_unavailable(
        client: ImapClient, said: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    assert [f.name for f in client.folders()] == ["INBOX"]
    _answer(client, "list", said, monkeypatch)
    with pytest.raises(SourceUnavailable, match="folder list"):
        client.folders()


def _liar(listener: socket.socket) -> None:
    """A fake IMAP server (Dovecot never lies): logs anyone in, then announces a 200 MB folder name."""
    conn, _ = listener.accept()
    with conn, conn.makefile("rwb") as wire:
        wire.write(b"* OK fake IMAP ready\r\n")
        wire.flush()
        for line in wire:
            tag, command = [*line.split(b" "), b""][:2]
            if command.strip().upper() == b"CAPABILITY":
                wire.write(b"* CAPABILITY IMAP4rev1\r\n")
            elif command.strip().upper() == b"LIST":
                wire.write(b'* LIST () "/" {200000000}\r\nabc')
                wire.flush()
                time.sleep(2)
                return
            wire.write(tag + b" OK done\r\n")
            wire.flush()


def test_a_literal_over_the_size_limit_breaks_the_connection_before_it_is_read() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    liar = threading.Thread(target=_liar, args=(listener,), daemon=True)
    liar.start()
    server = ImapServer("127.0.0.1", listener.getsockname()[1], "alice", tls="none", timeout=10)
    client = ImapClient(server, CANARY, max_bytes=100_000)
    try:
        with pytest.raises(SourceUnavailable, match="announced 200,000,000 bytes, over the 165,537"):
            client.folders()
    finally:
        client.close()
        listener.close()
        liar.join(10)


def test_only_a_connection_whose_command_was_answered_goes_back_to_the_pool() -> None:
    from docmill import PermanentError
    from docmill.plugins.imap_pool import ImapPool

    with Dovecot(CANARY) as server:
        pool = ImapPool(ImapServer("127.0.0.1", server.port, "alice", tls="none"), CANARY, size=1)
        try:
            with pool.connection() as first:
                pass
            with pytest.raises(PermanentError), pool.connection() as client:
                client.examine("No such folder")  # answered NO: the connection is fine
            assert client is first
            with pytest.raises(TimeoutError), pool.connection() as client:  # mid-answer, say: not reused
                assert client is first
                raise TimeoutError
            with pool.connection() as client:
                assert client is not first and client.folders()
        finally:
            pool.close()
