"""The backend contract: what embedded and distributed mode both keep (``docmill.app.backend.Backend``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from docmill.app.backend import Backend
from docmill.core.ledger import JobProgress
from docmill.core.values import SourceSpec

__all__ = ["BackendContract"]

#: Seconds a contract job may take (the distributed one waits for worker processes to start).
JOB_TIMEOUT = 180.0


def _until_finished(backend: Backend, job_id: str) -> JobProgress:
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        progress = backend.progress(job_id)
        if progress.finished:
            return progress
        assert time.monotonic() < deadline, f"job {job_id} did not finish within {JOB_TIMEOUT:g} s: {progress}"
        backend.pause(0.1)


class BackendContract:
    """Provide ``make_backend``, a function returning a backend over a fresh ledger and index, and ``folder``,
    a function ``(path) -> SourceSpec`` for a folder source over ``path``. The contract closes what it opens."""

    @pytest.fixture
    def backend(self, make_backend: Callable[[], Backend]) -> Iterator[Backend]:
        backend = make_backend()
        backend.start()
        yield backend
        backend.close()

    @pytest.fixture
    def docs(self, tmp_path: Path) -> Path:
        docs = tmp_path / "contract-docs"
        docs.mkdir()
        (docs / "note.txt").write_text("Backends keep one contract: jobs start, run to their end and report.\n")
        (docs / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not a PDF body\n")
        return docs

    def test_a_discovered_job_runs_to_its_end_and_reports_each_document(
            self, backend: Backend, docs: Path, folder: Callable[[Path], SourceSpec]) -> None:
        seen: list[str] = []
        job_id = backend.discover([folder(docs)], on_job=seen.append)
        assert seen == [job_id]
        progress = _until_finished(backend, job_id)
        assert progress.counts == {"done": 1, "failed": 1}
        summary = backend.summary(job_id)
        assert summary["counts"] == {"done": 1, "failed": 1} and summary["chunks"] >= 1
        assert [(f["doc"], f["error"]) for f in summary["failures"]] == [("broken.pdf", "corrupt")]

    def test_a_submitted_job_is_its_callers_and_queued_before_anything_is_listed(
            self, backend: Backend, docs: Path, folder: Callable[[Path], SourceSpec]) -> None:
        job_id = backend.submit([folder(docs)], owner="alice", priority=3)
        info = backend.runtime.ledger.jobs.info(job_id)
        assert (info["owner"], info["priority"]) == ("alice", 3)
        assert _until_finished(backend, job_id).counts == {"done": 1, "failed": 1}

    def test_an_unknown_job_is_a_key_error(self, backend: Backend) -> None:
        with pytest.raises(KeyError):
            backend.progress("no-such-job")

    def test_a_dead_letter_is_retried_as_a_new_job_and_purged_once_given_up(
            self, backend: Backend, docs: Path, folder: Callable[[Path], SourceSpec]) -> None:
        _until_finished(backend, backend.discover([folder(docs)]))
        [dead] = backend.runtime.ledger.dead_letters.entries()
        assert backend.retry(["no-such-dead-letter"]) == (None, [])
        retry_job, rows = backend.retry([dead.dead_letter or ""], owner="bob")
        assert retry_job is not None and [r.name for r in rows] == ["broken.pdf"]
        assert backend.runtime.ledger.jobs.info(retry_job)["owner"] == "bob"
        assert _until_finished(backend, retry_job).counts == {"failed": 1}  # the same bytes fail the same way
        again = backend.runtime.ledger.dead_letters.entries()
        assert backend.purge(again) == 1
        assert backend.runtime.ledger.dead_letters.entries() == []
        report = backend.dead_messages()
        assert report is None or (len(report) == 3 and report[2] == 0)  # the ledger waits for nothing
