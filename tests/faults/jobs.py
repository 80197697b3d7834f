"""Watching a job from the test, straight from its ledger, through the outages the test itself causes."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy

__all__ = ["counts", "ended_documents", "job_state", "next_ended", "ready", "started_documents", "wait_until_done"]


def job_state(ledger_url: str, job: str) -> tuple[Counter[str], bool] | None:
    """The job's items by state, and whether its discovery ended; None while the ledger cannot say."""
    engine = sqlalchemy.create_engine(ledger_url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT state, count(*) FROM job_items WHERE job_id = %(job)s GROUP BY state",
                                        {"job": job}).all()
            discovered = conn.exec_driver_sql("SELECT discovered_at IS NOT NULL FROM jobs WHERE id = %(job)s",
                                              {"job": job}).scalar()
    except sqlalchemy.exc.OperationalError:
        return None
    finally:
        engine.dispose()
    return Counter({state: count for state, count in rows}), bool(discovered)


def started_documents(ledger_url: str, job: str, count: int, timeout: float = 300) -> None:
    """Until ``count`` of the job's documents have ended: the job is well under way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = job_state(ledger_url, job)
        if state is not None and sum(n for s, n in state[0].items() if s != "pending") >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"the job did not get going: {job_state(ledger_url, job)}")


def _ended(state: tuple[Counter[str], bool] | None) -> int:
    return -1 if state is None else sum(n for s, n in state[0].items() if s != "pending")


def next_ended(ledger_url: str, job: str, timeout: float) -> None:
    """Until one more of the job's documents has ended than now (or the job has): work has resumed."""
    deadline, before = time.monotonic() + timeout, -1
    while before < 0 and time.monotonic() < deadline:
        before = _ended(job_state(ledger_url, job))
    while time.monotonic() < deadline:
        state = job_state(ledger_url, job)
        if _ended(state) > before or (state is not None and state[1] and not state[0].get("pending")):
            return
        time.sleep(0.1)
    raise AssertionError(f"no document of the job ended in the {timeout:g} s after the fault")


def wait_until_done(ledger_url: str, job: str, timeout: float) -> Counter[str]:
    """Until every document of the job has ended (polling its ledger); their counts by state."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = job_state(ledger_url, job)
        if state is not None and state[1] and not state[0].get("pending"):
            return state[0]
        time.sleep(0.2)
    raise AssertionError(f"the job has not ended after {timeout:g} s: {state}")


def counts(summary_json: str) -> dict[str, Any]:
    """The counts of `docmill wait --json`'s summary."""
    return dict(json.loads(summary_json)["counts"])


def ended_documents(ledger: Path) -> int:
    """How many documents have ended in an embedded run's SQLite ledger (read-only; 0 until it exists)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5)) as conn:
            return int(conn.execute("SELECT count(*) FROM documents WHERE state != 'pending'").fetchone()[0])
    except sqlite3.Error:
        return 0


def ready(log: Callable[[], str], processes: int, timeout: float = 180) -> None:
    """Until ``processes`` worker processes say in their ``log`` that they consume their queues (a supervisor that
    cannot reach RabbitMQ as it starts gives up after 20 s, and its container or unit starts it again)."""
    deadline = time.monotonic() + timeout
    while log().count(" ready: ") < processes:
        assert time.monotonic() < deadline, f"the workers did not start:\n{log()}"
        time.sleep(0.2)
