"""Watching a job: a ledger that is unreachable for a moment does not end the watch; one that stays down does;
an embedded run sees its job end at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from docmill.app import folder_specs, progress, run
from docmill.app.progress import follow, patiently
from docmill.core.errors import StoreUnavailable
from docmill.core.ledger import JobProgress, Ledger
from docmill.settings import Settings


def _flaky(ledger: Ledger, job: str, failures: int) -> tuple[list[str], Callable[[], JobProgress]]:
    calls: list[str] = []

    def poll() -> JobProgress:
        calls.append("poll")
        if len(calls) <= failures:
            raise StoreUnavailable("the ledger is busy or unreachable: failed to resolve host 'postgres'")
        return ledger.jobs.progress(job)

    return calls, poll


def test_a_watch_outlasts_a_short_ledger_outage_and_gives_up_on_a_long_one(tmp_path: Path) -> None:
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        job = ledger.jobs.create("test", discoveries=0)
        calls, poll = _flaky(ledger, job, failures=3)
        [progress] = list(follow(poll, outage=5.0))
        assert progress.finished and len(calls) == 4

        calls, poll = _flaky(ledger, job, failures=10**6)
        with pytest.raises(StoreUnavailable):
            list(follow(poll, outage=0.3))
        assert 2 <= len(calls) <= 20


def test_a_call_made_patiently_returns_once_the_service_answers_again() -> None:
    calls: list[int] = []

    def open_client() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise StoreUnavailable("the ledger is busy or unreachable: failed to resolve host 'postgres'")
        return "client"

    assert patiently(open_client, outage=5.0) == "client" and len(calls) == 3


def test_an_embedded_run_sees_its_job_end_when_the_work_runs_out_not_at_the_next_poll(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With polls 30 s apart, a job of a note and a broken PDF still ends in seconds: the pipeline wakes its
    watcher once its broker holds no more work. Without the wake-up this takes 30 s."""
    monkeypatch.setattr(progress, "POLL_FIRST", 30.0)
    monkeypatch.setattr(progress, "POLL_MAX", 30.0)
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "note.txt").write_text("Bees keep warm in winter by clustering around their queen.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00 not a PDF body" * 50)
    started = time.monotonic()
    _, summary = run(settings, folder_specs(settings, [str(folder)]))
    assert summary["counts"] == {"done": 1, "failed": 1}
    assert time.monotonic() - started < 15
