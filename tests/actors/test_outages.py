"""What docmill says and does when a service it needs is down: the ledger and the disk named as what they are,
the broker's address as configured, one warning per outage, and the ledger's answers about what it waits for."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from docmill.actors.middleware.outages import Outage
from docmill.actors.rabbitmq.housekeeping import address
from docmill.app.progress import patiently
from docmill.core.errors import DiskFull, LedgerUnavailable
from docmill.core.ledger import Ledger, NewVersion
from docmill.core.ledger_records import Stage, State
from docmill.core.values import DocumentRef
from docmill.testing import free_port


def test_a_ledger_that_cannot_be_reached_is_named_as_the_ledger_with_where_it_is_and_no_password() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(LedgerUnavailable) as caught:
        Ledger(f"postgresql+psycopg://docmill:s3cret-pw@127.0.0.1:{port}/docmill")
    assert caught.value.kind == "ledger unavailable"
    assert caught.value.reason.startswith(f"the ledger (PostgreSQL at 127.0.0.1:{port}/docmill) ")
    assert "s3cret-pw" not in caught.value.reason and "store" not in caught.value.reason


def test_a_ledger_whose_disk_is_full_is_a_full_disk_not_a_busy_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(f"sqlite:///{path}") as ledger:
        # SQLite's own limit on the file's size: its writes fail with SQLITE_FULL, as on a full disk.
        @event.listens_for(ledger.engine, "connect")
        def _limit(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA max_page_count = 40")

        ledger.engine.dispose()
        with pytest.raises(DiskFull) as caught:
            for n in range(10_000):
                ledger.jobs.create("filler " * 200, discoveries=n)
    assert caught.value.kind == "disk full"
    assert caught.value.reason.startswith(f"the disk holding the ledger (SQLite at {path}) is full")


@pytest.mark.parametrize(("configured", "shown"), [
    ("amqp://guest:guest@127.0.0.1:5672/fault", "amqp://127.0.0.1:5672/fault"),
    ("amqp://docmill:pw@mq:5672/%2F", "amqp://mq:5672/%2F"),
    ("amqps://u:p@mq.example.org/", "amqps://mq.example.org/"),
    ("amqp://mq", "amqp://mq"),
])
def test_the_broker_is_named_as_configured_vhost_and_slash_included_credentials_left_out(
        configured: str, shown: str) -> None:
    assert address(configured) == shown


def test_a_watcher_warns_once_when_the_ledger_goes_away_and_once_when_it_is_back(
        caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def poll() -> str:
        calls.append(1)
        if len(calls) < 6:
            raise LedgerUnavailable("the ledger (PostgreSQL at db:5432/docmill) is busy or unreachable: refused")
        return "progress"

    with caplog.at_level(logging.INFO):
        assert patiently(poll, outage=30) == "progress"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("the ledger (PostgreSQL at db:5432/docmill) is busy or unreachable: refused (since ")
    assert warnings[1].startswith("reachable again after ")


def test_the_ledger_says_which_dead_lettered_versions_and_discoveries_it_still_waits_for(ledger: Ledger) -> None:
    job = ledger.jobs.create("ingest", discoveries=2)
    refs = [DocumentRef(key=f"file:///{name}", name=name, locator=name, stamp="1") for name in ("a", "b", "c")]
    started = ledger.versions.start_versions(job, "folder", [NewVersion(ref, "f", "s", None) for ref in refs])
    assert started == [("file:///a", 1), ("file:///b", 1), ("file:///c", 1)]
    ledger.documents.finish("file:///b", 1, State.DONE, stage=Stage.STORE, chunks=1)
    ledger.documents.finish("file:///c", 1, State.FAILED, stage=Stage.EXTRACT, error_kind="corrupt", reason="bad")
    asked = {("file:///a", 1), ("file:///b", 1), ("file:///c", 1), ("file:///a", 0), ("file:///gone", 1)}
    assert ledger.dead_letters.waiting_versions(asked) == {("file:///a", 1)}
    # One discovery failed and was recorded; the other's failure never reached the ledger.
    ledger.jobs.end_discovery(job, error="one: the folder is gone")
    assert ledger.dead_letters.waiting_discoveries({(job, "one"), (job, "two"), ("nojob", "two")}) == {(job, "two")}
    ledger.jobs.end_discovery(job)
    assert ledger.dead_letters.waiting_discoveries({(job, "two")}) == set()


def test_an_outage_is_told_once_when_it_starts_and_once_when_it_ends_and_a_relapse_is_the_same_outage(
        caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("the ledger (PostgreSQL at db:5432/docmill)", "cannot be reached", "this process holds its work")
    with caplog.at_level(logging.INFO):
        assert outage.begin("connection refused") and not outage.begin("connection refused")
        assert outage.down and outage.end() and not outage.down
        assert not outage.begin("server closed the connection")  # moments later: the same outage going on
        assert outage.down and not outage.end()
    told = [r.getMessage() for r in caplog.records]
    assert len(told) == 2, told
    assert told[0].startswith("the ledger (PostgreSQL at db:5432/docmill) cannot be reached since ")
    assert told[0].endswith(" (connection refused): this process holds its work")
    assert told[1].startswith("the ledger (PostgreSQL at db:5432/docmill) is back, after ")
