"""Discovery writes the ledger a batch at a time: its statements grow with the batches, not the documents."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from docmill.app import folder_specs
from docmill.core import document_steps
from docmill.core.discover_step import BATCH
from docmill.core.ledger import Ledger
from docmill.core.ledger_records import Stage
from docmill.core.runtime import Runtime
from docmill.core.values import Task
from docmill.settings import Settings

FILES = 3 * BATCH


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    for i in range(FILES):
        (root / f"d{i % 7}").mkdir(parents=True, exist_ok=True)
        (root / f"d{i % 7}" / f"note-{i}.txt").write_text(f"Note {i}.")
    return root


@pytest.fixture
def statements(ledger: Ledger) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(ledger.engine, "before_cursor_execute", count)
    yield seen
    event.remove(ledger.engine, "before_cursor_execute", count)


def _discover(rt: Runtime, settings: Settings, folder: Path) -> str:
    [spec] = folder_specs(settings, [str(folder)])
    rt.ledger.sources.put(spec.id, spec.type, spec.options)
    job = rt.ledger.jobs.create("ingest", discoveries=1)
    document_steps.discover(rt, job, spec.id)
    return job


def test_discovering_a_folder_costs_a_few_statements_per_batch_and_every_document_once(
        ledger: Ledger, statements: list[str], folder: Path, settings: Settings) -> None:
    sent: list[Task] = []
    rt = Runtime(settings, ledger=ledger, send=sent.append)

    # Given a folder of 600 new files (three batches), when it is discovered:
    statements.clear()
    job = _discover(rt, settings, folder)
    # then each file is started and sent once, in a bounded number of statements per batch.
    assert sorted(t.args["key"] for t in sent) == sorted(f"file://{p}" for p in folder.rglob("*.txt"))
    assert {t.stage for t in sent} == {Stage.EXTRACT} and len(sent) == FILES
    assert len(statements) <= 12 * (FILES // BATCH) + 12, len(statements)  # one by one it was 7 a file
    assert ledger.jobs.progress(job).counts == {"pending": FILES}
    assert all(d.sent_at is not None for d in map(ledger.documents.document, (t.args["key"] for t in sent)))

    # Given they were processed, and then three of them edited and one deleted, when discovered again:
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE documents SET state = 'done', stage = 'store', chunks = 1")
    edited = sorted(folder.rglob("*.txt"))[:3]
    for path in edited:
        path.write_text("Edited, and longer than before.")
    deleted = sorted(folder.rglob("*.txt"))[-1]
    deleted.unlink()
    sent.clear()
    statements.clear()
    again = _discover(rt, settings, folder)
    # then exactly those are started or removed, and the unchanged ones cost a few statements per batch too.
    assert sorted((t.stage, t.args["key"]) for t in sent) == sorted(
        [(Stage.EXTRACT, f"file://{p}") for p in edited] + [(Stage.REMOVE, f"file://{deleted}")])
    assert len(statements) <= 12 * (FILES // BATCH) + 20, len(statements)
    counts = ledger.jobs.progress(again).counts
    assert counts == {"pending": 4, "skipped": FILES - 4}
    versions = {ledger.documents.document(f"file://{p}").version for p in edited}
    assert versions == {2}


def test_a_document_listed_twice_is_taken_once_new_or_unchanged(
        ledger: Ledger, folder: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from docmill.plugins.folder import FolderSource

    listed = FolderSource.discover

    def again_and_again(self: FolderSource) -> Iterator[Any]:
        # Its first batch again right after it, and its first batch and a half at the end (as a paged listing
        # whose pages shifted names them), so repeats meet items just written, and written batches before.
        refs = list(listed(self))
        return itertools.chain(refs[:BATCH], refs[:BATCH], refs[BATCH:], refs[:BATCH + BATCH // 2])

    monkeypatch.setattr(FolderSource, "discover", again_and_again)
    sent: list[Task] = []
    rt = Runtime(settings, ledger=ledger, send=sent.append, recover_pending=True)
    caplog.set_level(logging.INFO, logger="docmill.core.discover_step")

    # When new documents are listed twice, then each is started and sent once;
    job = _discover(rt, settings, folder)
    assert len(sent) == len({t.args["key"] for t in sent}) == FILES
    assert ledger.jobs.progress(job).counts == {"pending": FILES}
    assert {ledger.documents.document(t.args["key"]).version for t in sent} == {1}
    # and when they are unchanged and listed twice, each counts once, however far behind its item was written.
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE documents SET state = 'done', stage = 'store', chunks = 1")
    record_unchanged = ledger.versions.record_unchanged

    def slowly(*args: Any) -> None:  # a busy server: the next batches are looked up before this is written
        time.sleep(0.2)
        record_unchanged(*args)

    monkeypatch.setattr(ledger.versions, "record_unchanged", slowly)
    sent.clear()
    caplog.clear()
    again = _discover(rt, settings, folder)
    assert sent == [] and ledger.jobs.progress(again).counts == {"skipped": FILES}
    assert f"0 new, 0 changed, 0 relabelled, {FILES} unchanged" in caplog.text


def test_the_seen_filter_never_forgets_a_key_and_rarely_imagines_one() -> None:
    from docmill.core.discover_step import _Seen

    seen = _Seen()
    keys = [f"file:///archive/{i:07}.pdf" for i in range(20000)]
    assert not any(seen.add(key) for key in keys)  # at this fill, no key looks taken before it is
    assert all(seen.add(key) for key in keys)  # no false negative: a key listed twice is always checked
    imagined = sum(seen.add(f"file:///other/{i:07}.pdf") for i in range(20000))
    assert imagined <= 2  # false positives only cost a ledger lookup; at this fill about none
