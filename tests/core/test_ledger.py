"""The ledger's guarded transitions: replays and stale messages converge, the OCR fan-in fires once."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from docmill.core.ledger import Delivery, Ledger, NewVersion
from docmill.core.values import Chunk, DocumentRef, Page


def _start(ledger: Ledger, key: str = "file:///a.pdf", previous: int | None = None) -> tuple[str, int]:
    job = ledger.jobs.create("test", discoveries=1)
    ref = DocumentRef(key=key, name="a.pdf", locator="/a.pdf", stamp="1:1", size=1)
    [(_key, version)] = ledger.versions.start_versions(job, "src", [NewVersion(ref, "fp", "sig", previous)])
    return job, version


def test_a_stage_is_claimed_once_per_version_and_never_moves_backwards(ledger: Ledger) -> None:
    job, version = _start(ledger)
    assert ledger.documents.begin("file:///a.pdf", version, "extract") is not None
    assert ledger.documents.begin("file:///a.pdf", version + 1, "extract") is None  # a version that does not exist
    assert ledger.documents.begin("file:///a.pdf", version, "embed").attempts == 1
    assert ledger.documents.begin("file:///a.pdf", version, "embed").attempts == 2  # a redelivery counts
    # A replayed OCR message after embedding began:
    assert ledger.documents.begin("file:///a.pdf", version, "ocr") is None
    assert ledger.documents.finish("file:///a.pdf", version, "done", stage="store", chunks=3)
    assert ledger.documents.begin("file:///a.pdf", version, "store") is None  # replay after the end
    assert not ledger.documents.finish("file:///a.pdf", version, "failed", stage="store", error_kind="x", reason="y")
    row = ledger.documents.document("file:///a.pdf")
    assert (row.state, row.chunks, row.error_kind) == ("done", 3, None)
    assert ledger.jobs.progress(job).counts == {"done": 1}


def test_a_new_version_makes_messages_of_the_old_one_stale(ledger: Ledger) -> None:
    _, first = _start(ledger)
    _, second = _start(ledger, previous=first)
    assert second == first + 1
    assert ledger.documents.begin("file:///a.pdf", first, "extract") is None
    assert ledger.documents.begin("file:///a.pdf", second, "extract") is not None


def test_ocr_fan_in_reaches_zero_exactly_once_under_concurrency_and_replays(ledger: Ledger) -> None:
    _, version = _start(ledger)
    ranges = list(range(1, 41))
    pages = [Page(n, "", needs_ocr=True) for n in ranges]
    ledger.inflight.save_pages("file:///a.pdf", version, pages, [[n] for n in ranges], seconds=0.0)
    zeros: list[int] = []
    barrier = threading.Barrier(8)

    def worker(first_pages: list[int]) -> None:
        barrier.wait()
        for first in first_pages:
            if ledger.inflight.save_ocr("file:///a.pdf", version, first, {first: f"text {first}"}, 0.01) == 0:
                zeros.append(first)

    threads = [threading.Thread(target=worker, args=(ranges[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(zeros) == 1  # exactly one range sends the document on
    # Redelivered ranges change nothing and report the count, so a lost send is repeated.
    assert all(ledger.inflight.save_ocr("file:///a.pdf", version, first, {first: "again"},
                                        0.01) == 0 for first in ranges)
    assert [p.text for p in ledger.inflight.load_pages("file:///a.pdf", version)] == [f"text {n}" for n in ranges]
    assert ledger.documents.document("file:///a.pdf").ocr_remaining == 0


def test_staged_chunks_round_trip_and_are_cleared_when_the_version_ends(ledger: Ledger) -> None:
    _, version = _start(ledger)
    chunks = [Chunk(f"id{i}", "file:///a.pdf", i, 1, f"text {i}", f"h{i}") for i in range(3)]
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    ledger.inflight.stage_chunks("file:///a.pdf", version, chunks, vectors, seconds=0.1)
    loaded, loaded_vectors = ledger.inflight.load_staged("file:///a.pdf", version)
    assert loaded == chunks and np.array_equal(loaded_vectors, vectors)
    ledger.documents.finish("file:///a.pdf", version, "done", stage="store", chunks=3)
    assert ledger.inflight.load_staged("file:///a.pdf", version)[0] == []


def test_a_finished_version_leaves_nothing_in_flight_and_other_documents_keep_theirs(ledger: Ledger) -> None:
    from sqlalchemy import func, select

    from docmill.core.ledger.schema import deliveries, ocr_tasks, pages, staged_chunks

    versions = {}
    for key in ("file:///a.pdf", "file:///b.pdf"):
        versions[key] = _start(ledger, key)[1]
    for key, version in versions.items():
        ledger.inflight.save_pages(key, version, [Page(1, "", True), Page(2, "", True)], [[1], [2]], seconds=0.1)
        ledger.deliveries.started(f"embed-{key}", key, version, "embed", redelivered=False, charge=False)
        ledger.inflight.stage_chunks(key, version, [Chunk(f"{key}#0", key, 0, 1, "text", "h")], np.ones((1, 4)),
                                     seconds=0.1)
    assert ledger.documents.finish("file:///a.pdf", versions["file:///a.pdf"], "done", stage="store", chunks=1)
    with ledger.engine.connect() as conn:
        left = {(table.name, key): conn.execute(select(func.count()).select_from(table).where(table.c.key == key))
                .scalar_one() for table in (pages, staged_chunks, ocr_tasks, deliveries) for key in versions}
    assert left == {("pages", "file:///a.pdf"): 0, ("staged_chunks", "file:///a.pdf"): 0,
                    ("ocr_tasks", "file:///a.pdf"): 0, ("deliveries", "file:///a.pdf"): 0,
                    ("pages", "file:///b.pdf"): 2, ("staged_chunks", "file:///b.pdf"): 1,
                    ("ocr_tasks", "file:///b.pdf"): 2, ("deliveries", "file:///b.pdf"): 1}


def test_unlisted_is_scoped_by_key_prefix_case_sensitively_and_leaves_out_what_the_job_took(ledger: Ledger) -> None:
    jobs = [_start(ledger, key)[0] for key in ("file:///docs/a.pdf", "file:///docs/sub/b.pdf", "file:///Docs/c.pdf",
                                                "file:///docs2/d.pdf")]
    assert [key for key, _ in ledger.versions.unlisted("another job", "file:///docs/")] == [
        "file:///docs/a.pdf", "file:///docs/sub/b.pdf"]
    assert [key for key, _ in ledger.versions.unlisted(jobs[1], "file:///docs/")] == ["file:///docs/a.pdf"]
    keys = ["file:///docs/a.pdf", "file:///docs/sub/b.pdf", "file:///new.pdf"]
    assert sorted(ledger.versions.known(keys)) == ["file:///docs/a.pdf", "file:///docs/sub/b.pdf"]
    assert ledger.versions.taken(jobs[0], keys) == {"file:///docs/a.pdf"} and ledger.versions.taken(jobs[0],
                                                                                                    []) == set()


def test_removal_forgets_the_document(ledger: Ledger) -> None:
    job, version = _start(ledger)
    ledger.documents.finish("file:///a.pdf", version, "done", stage="store", chunks=1)
    [(key, v)] = ledger.versions.start_removals(job, ["file:///a.pdf"])
    assert ledger.documents.begin(key, v, "remove") is not None
    assert ledger.documents.removed(key, v)
    assert ledger.documents.document(key) is None
    assert ledger.jobs.progress(job).counts == {"deleted": 1}


def test_a_ledger_from_an_older_release_gains_new_columns(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    Ledger(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:  # what the first release wrote: no reuse counters
        db.execute("ALTER TABLE documents DROP COLUMN embedded_chunks")
        db.execute("ALTER TABLE documents DROP COLUMN reused_chunks")
    ledger = Ledger(f"sqlite:///{path}")
    _start(ledger)
    assert ledger.documents.document("file:///a.pdf").embedded_chunks is None


def test_finishing_a_version_finds_its_pending_items_by_an_index_that_holds_only_pending_ones(ledger: Ledger) -> None:
    import re

    from sqlalchemy import event

    with ledger.engine.begin() as conn:  # what releases before the partial index made: every item indexed by key
        conn.exec_driver_sql("DROP INDEX job_items_pending")
        conn.exec_driver_sql("CREATE INDEX job_items_key ON job_items (key, version)")
    ledger = Ledger(ledger.engine.url.render_as_string(hide_password=False))  # opened again: upgraded
    updates: list[tuple[str, Any]] = []

    @event.listens_for(ledger.engine, "before_cursor_execute")
    def _seen(conn: object, cursor: object, statement: str, params: Any, *_: object) -> None:
        if statement.startswith("UPDATE job_items"):
            updates.append((statement, params))

    job, version = _start(ledger)
    assert ledger.documents.finish("file:///a.pdf", version, "done", stage="store", chunks=1)
    assert ledger.jobs.progress(job).counts == {"done": 1}
    [(statement, params)] = updates
    with ledger.engine.begin() as conn:
        if ledger.engine.dialect.name == "sqlite":
            indexes = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE tbl_name = 'job_items' "
                                               "AND type = 'index' AND sql IS NOT NULL").scalars())
            plan = " ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params))
        else:
            indexes = set(conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'job_items' "
                                               "AND indexname != 'job_items_pkey'").scalars())
            # The plan PostgreSQL settles on once the driver prepares the statement: generic, blind to the
            # values, so a partial index serves only a condition written into the statement itself.
            names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
            prepared = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m[1]) + 1}", statement)
            conn.exec_driver_sql(f"PREPARE finish_items AS {prepared}")
            conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            values = ", ".join("'{}'".format(str(params[name]).replace("'", "''")) for name in names)
            plan = " ".join(conn.exec_driver_sql(f"EXPLAIN EXECUTE finish_items({values})").scalars())
            conn.exec_driver_sql("DEALLOCATE finish_items")
    ledger.close()
    assert indexes == {"job_items_pending"}  # the older release's index is gone
    assert "job_items_pending" in plan, plan


def test_a_failed_version_is_a_dead_letter_that_resumes_at_its_stage(ledger: Ledger, tmp_path: Path) -> None:
    from docmill.core.dead_letter_retry import resume_tasks
    from docmill.core.runtime import Runtime
    from docmill.settings import Settings

    _, version = _start(ledger)
    ledger.inflight.save_pages("file:///a.pdf", version, [Page(1, "text", False), Page(2, "", True)], [[2]],
                               seconds=0.0)
    chunk = Chunk("id-1", "file:///a.pdf", 0, 1, "text", "h1")
    ledger.inflight.stage_chunks("file:///a.pdf", version, [chunk], np.ones((1, 4), dtype=np.float32), seconds=0.0)
    assert ledger.documents.begin("file:///a.pdf", version, "store") is not None
    ledger.documents.finish("file:///a.pdf", version, "failed", stage="store", error_kind="store unavailable",
                            reason="down")
    [dead] = ledger.dead_letters.entries()
    assert (dead.stage, dead.error_kind, dead.attempts) == ("store", "store unavailable", 1)
    assert ledger.inflight.has_inflight("file:///a.pdf", version, "store")  # kept for the retry
    runtime = Runtime(Settings(home=tmp_path / "home"), ledger=ledger)
    job = ledger.jobs.create("retry", discoveries=0)
    stage, tasks = resume_tasks(runtime, dead, job)
    assert stage == "store" and [t.stage for t in tasks] == ["store"]
    assert ledger.dead_letters.reopen(job, dead, stage)
    assert not ledger.dead_letters.reopen(job, dead, stage)  # a second retry of the same dead letter does nothing
    assert ledger.dead_letters.entries() == [] and ledger.jobs.progress(job).counts == {"pending": 1}
    assert ledger.documents.begin("file:///a.pdf", version, "store") is not None
    assert ledger.documents.finish("file:///a.pdf", version, "done", stage="store", chunks=1)
    assert not ledger.inflight.has_inflight("file:///a.pdf", version, "store")
    assert ledger.jobs.progress(job).finished


def test_a_message_still_running_when_redelivered_died_with_its_worker_and_only_charged_deaths_count(
        ledger: Ledger) -> None:
    _, version = _start(ledger)
    key = "file:///a.pdf"
    assert ledger.deliveries.started("m1", key, version, "extract", redelivered=False,
                                     charge=False) == Delivery(False, 0)
    # Its worker died holding m1 beside other messages: a suspect, not charged.
    assert ledger.deliveries.started("m1", key, version, "extract", redelivered=True, charge=False) == Delivery(True, 0)
    # Run alone (in an isolation process), it died again: charged, twice.
    assert ledger.deliveries.started("m1", key, version, "extract", redelivered=True, charge=True) == Delivery(True, 1)
    assert ledger.deliveries.started("m1", key, version, "extract", redelivered=True, charge=True) == Delivery(True, 2)
    ledger.deliveries.ended("m1")
    # Ended normally, then redelivered (an acknowledgement lost with the connection): no death.
    assert ledger.deliveries.started("m1", key, version, "extract", redelivered=True, charge=True) == Delivery(False, 2)
    # Only prefetched when its worker died: redelivered, but never started, so no death.
    assert ledger.deliveries.started("m2", key, version, "embed", redelivered=True, charge=True) == Delivery(False, 0)
    ledger.deliveries.ended("m2")
    ledger.deliveries.ended("m2")  # ending twice is harmless


def test_a_delivery_shares_its_transactions_with_its_stage_a_claim_with_the_mark_the_mark_with_the_last_write(
        ledger: Ledger) -> None:
    from sqlalchemy import event, select

    from docmill.core.ledger.schema import deliveries

    _, version = _start(ledger)
    key = "file:///a.pdf"
    commits: list[object] = []
    event.listen(ledger.engine, "commit", commits.append)

    def running(message_id: str) -> bool:
        with ledger.engine.connect() as conn:
            return bool(conn.execute(select(deliveries.c.running).where(
                deliveries.c.message_id == message_id)).scalar())  # no row: the version's data was cleared

    ledger.deliveries.started("m1", key, version, "extract", redelivered=False, charge=False, claim=True)
    assert len(commits) == 1 and running("m1")
    doc = ledger.documents.begin(key, version, "extract")  # the claim made with the mark: no transaction of its own
    assert doc is not None and (doc.stage, doc.attempts) == ("extract", 1) and len(commits) == 1
    ledger.inflight.save_pages(key, version, [Page(1, "text")], [], 0.1)  # the last write clears the mark with it
    assert len(commits) == 2 and not running("m1")
    ledger.deliveries.ended("m1")  # nothing left to do
    assert len(commits) == 2

    # A suspect handed on (its worker died holding it; not charged) is not claimed: it does not run here.
    with Ledger(ledger.url) as dead:  # the worker that died, marking it running
        dead.deliveries.started("m2", key, version, "embed", redelivered=False, charge=False, claim=True)
    ledger.deliveries.started("m2", key, version, "embed", redelivered=True, charge=False, claim=True)
    assert running("m2") and ledger.documents.document(key).attempts == 1  # the dead worker's claim, not a second
    assert ledger.documents.begin(key, version, "embed").attempts == 2  # claimed now, by a transaction of its own
    ledger.deliveries.ended("m2")  # the stage raised before its last write: the mark is cleared on its own
    assert not running("m2")
    # A stale message claims nothing, with the mark or without.
    ledger.deliveries.started("m3", key, version, "extract", redelivered=False, charge=False, claim=True)
    assert ledger.documents.begin(key, version, "extract") is None
    ledger.deliveries.ended("m3")


def _age(ledger: Ledger, job: str, days: float) -> None:
    from sqlalchemy import update

    from docmill.core.ledger.schema import jobs

    with ledger.engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job).values(created_at=jobs.c.created_at - days * 86400))


def test_jobs_older_than_the_history_are_forgotten_with_their_items_as_a_job_starts(ledger: Ledger) -> None:
    from sqlalchemy import func, select

    from docmill.core.ledger.schema import job_items

    old, old_version = _start(ledger, "file:///old.pdf")
    ledger.documents.finish("file:///old.pdf", old_version, "failed", stage="extract", error_kind="corrupt",
                            reason="bad")
    running, _ = _start(ledger, "file:///running.pdf")  # still pending when it falls out of the window
    recent, _ = _start(ledger, "file:///recent.pdf")
    _age(ledger, old, 40)
    _age(ledger, running, 31)
    _age(ledger, recent, 29)
    ledger.jobs.create("keeps everything", discoveries=0)  # no history limit: nothing is forgotten
    assert ledger.jobs.info(old) and ledger.jobs.progress(old).counts == {"failed": 1}

    ledger.db.job_history = 30 * 86400
    new = ledger.jobs.create("test", discoveries=0)
    for gone in (old, running):
        with pytest.raises(KeyError):
            ledger.jobs.info(gone)
        with pytest.raises(KeyError):
            ledger.jobs.progress(gone)
    assert ledger.jobs.progress(recent).counts == {"pending": 1} and ledger.jobs.info(new)
    with ledger.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(job_items)
                            .where(job_items.c.job_id.in_([old, running]))).scalar_one() == 0
    # The documents stay, and so does the dead letter; the forgotten job's pending document still finishes.
    assert ledger.documents.document("file:///old.pdf") is not None and len(ledger.dead_letters.entries()) == 1
    doc = ledger.documents.document("file:///running.pdf")
    assert doc is not None and ledger.documents.finish(doc.key, doc.version, "done", stage="store", chunks=1)


def test_the_job_history_setting_reaches_the_ledger_jobs_are_made_in(tmp_path: Path) -> None:
    from docmill.core.runtime import Runtime
    from docmill.settings import Settings

    runtime = Runtime(Settings(home=tmp_path / "home", job_history_days=2))
    try:
        first = runtime.ledger.jobs.create("test", discoveries=0)
        _age(runtime.ledger, first, 3)
        runtime.ledger.jobs.create("test", discoveries=0)
        with pytest.raises(KeyError):
            runtime.ledger.jobs.info(first)
    finally:
        runtime.close()
