"""An IMAP mailbox synced by worker processes, each reading messages over its own connections to Dovecot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from docmill.testing.dovecot import DOVECOT, Dovecot

from ..conftest import Cli
from ..plugins.test_imap_source import mail
from ..workers import Workers
from .conftest import assert_exactly_once, assert_not_in_database, store_chunks

CANARY = "canary-distributed-imap-password-51c0"


@pytest.mark.skipif(not os.path.exists(DOVECOT), reason="dovecot-imapd is not installed (scripts/bootstrap.sh "
                    "--test installs it)")
@pytest.mark.usefixtures("stub_embedder")
def test_workers_sync_a_mailbox_and_the_password_stays_secret(dcli: Cli, workers: Workers, isolated: Path,
                                                              pg_url: str) -> None:
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}
    with Dovecot(CANARY) as server:
        imap = server.client()
        imap.create("Archive")
        for n in range(1, 13):
            imap.append("INBOX", None, None, mail(n, attachment="Minutes of the meeting." if n == 5 else None))
        (isolated / "docmill.toml").write_text(
            f'[[sources]]\nname = "mail"\ntype = "imap"\nhost = "127.0.0.1"\nport = {server.port}\n'
            'tls = "none"\nuser = "alice"\nfolders = ["*"]\n')
        workers.start("--processes", "2", env=env)
        first = dcli.json("sync", "mail", env=env)
        assert (first["new"], first["failed"]) == (13, 0)  # 12 messages and the attachment

        imap.select("INBOX")
        imap.uid("MOVE", "3", "Archive")
        imap.uid("STORE", "7", "+FLAGS", "(\\Deleted)")
        imap.uid("EXPUNGE", "7")
        imap.append("INBOX", None, None, mail(40, "the lighthouse"))
        again = dcli.json("sync", "mail", env=env)
        assert (again["new"], again["deleted"], again["failed"]) == (2, 2, 0)
        assert sorted(server.body_fetches()) == sorted([*range(1, 14), 1])  # 12, the addition (13), the moved
        assert_exactly_once(dcli, pg_url)
        chunks = store_chunks(dcli)
        assert {c["metadata"].get("folder") for c in chunks} == {"INBOX", "Archive", None}  # None: the attachment
        imap.logout()

    assert CANARY not in workers.log()
    assert CANARY not in json.dumps(chunks)
    assert_not_in_database(pg_url, CANARY)
