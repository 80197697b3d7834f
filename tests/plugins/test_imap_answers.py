"""The IMAP client against answers Dovecot never gives, made by replacing imaplib's answer to one command of a
real session with the Dovecot the tests start: an odd answer is the server unavailable, never an empty folder."""

from __future__ import annotations

import os
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
