"""At-least-once delivery, exactly-once effect: every message delivered twice ends as if delivered once."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import dramatiq

from docmill.actors.distributed import DistributedClient
from docmill.actors.stage_actors import sender
from docmill.app import folder_specs
from docmill.settings import Settings
from docmill.testing.stubs import StubPlugin

from ..conftest import CORPUS_EXCLUDES
from ..indexes import assert_indexes_agree


def _run(settings: Settings, folder: Path, *, twice: bool) -> tuple[set[Any], dict[str, Any]]:
    client = DistributedClient(settings)
    if twice:
        enqueue = client.broker.enqueue

        def enqueue_twice(message: Any, *, delay: int | None = None) -> Any:
            enqueue(message, delay=delay)
            return enqueue(message, delay=delay)

        client.broker.enqueue = enqueue_twice  # type: ignore[method-assign]
        send_all = client.publisher.send_all  # how discovery in the submitting process publishes a batch

        def send_all_twice(tasks: Any) -> None:
            send_all(tasks)
            send_all(tasks)

        client.runtime.connect(sender(client.pipeline.actors), send_all_twice)
    worker = dramatiq.Worker(client.broker, worker_threads=4, worker_timeout=100)
    worker.start()
    try:
        job = client.submit(folder_specs(settings, [str(folder)], (), tuple(CORPUS_EXCLUDES[1::2])))
        deadline = time.monotonic() + 600
        while not client.runtime.ledger.jobs.progress(job).finished:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1)  # let the duplicates still queued run to their no-op end
        worker.join()
    finally:
        worker.stop()
    chunks = {(c.id, c.doc, c.page, c.text) for c in client.runtime.store.iter_chunks()}
    assert assert_indexes_agree(client.runtime.store) == len(chunks)  # the keyword index too, chunk for chunk
    with client.runtime.ledger.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, state, stage, chunks, error_kind FROM documents").all()
    documents = {r.name: (r.state, r.stage, r.chunks, r.error_kind) for r in rows}
    client.close()
    return chunks, documents


def test_every_message_delivered_twice_gives_the_same_end_state(
        dist_env: dict[str, str], corpus: Path, tmp_path: Path, plugins_on: Any) -> None:
    plugins_on(StubPlugin(), "stubs")  # the stub embedder: orchestration is checked here, not the model
    # Every stage and ending: PDFs, a two-page scan read one page per OCR message (fan-out and fan-in),
    # a text file, a corrupt file (failed) and blank pages (skipped).
    folder = tmp_path / "docs"
    for path in ("text/" + sorted(p.name for p in (corpus / "text").iterdir())[1], "scanned/scan-001.pdf",
                 "plain/notes.txt", "bad/truncated.pdf", "bad/blank.pdf"):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus / path, folder / path)
    common = {"ocr_pages_per_task": 1, "embedder": "stub"}
    once = Settings(home=tmp_path / "once", ledger_url=f"sqlite:///{tmp_path / 'once.db'}",
                    collection="once-" + dist_env["DOCMILL_COLLECTION"], **common)
    twice = Settings(home=tmp_path / "twice", collection="twice-" + dist_env["DOCMILL_COLLECTION"], **common)
    chunks_once, docs_once = _run(once, folder, twice=False)
    chunks_twice, docs_twice = _run(twice, folder, twice=True)
    assert docs_twice == docs_once
    assert chunks_twice == chunks_once
    assert len(chunks_once) == sum(d[2] or 0 for d in docs_once.values() if d[0] == "done") > 0
    assert sorted(d[0] for d in docs_once.values()) == ["done", "done", "done", "failed", "skipped"]
