"""What an operator watches: the workers' Prometheus metrics and their JSON log lines, on real workers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest

from docmill.testing import free_port
from docmill.testing.prometheus import scrape, scraped, total

from ..conftest import Cli
from ..workers import Workers
from .conftest import wait_job


@pytest.mark.usefixtures("stub_embedder")
def test_workers_serve_metrics_that_count_what_they_did_and_keep_it_when_a_process_dies(
        dcli: Cli, workers: Workers, tmp_path: Path) -> None:
    # Given a worker of two processes serving metrics and logging JSON lines, and a folder of three notes,
    # a one-page scan and a corrupt PDF
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"note-{i}.txt").write_text(f"Note {i}: the ferry timetable changes in spring. " * 12)
    shutil.copy(Path(__file__).parents[2] / "samples" / "scanned-invoice.pdf", folder / "invoice.pdf")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF garbage")
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    supervisor = workers.start("--processes", "2", env={"DOCMILL_METRICS_PORT": str(port),
                                                         "DOCMILL_LOG_FORMAT": "json"})
    scraped(url)

    # When a job runs through them
    job = dcli("submit", str(folder)).stdout.strip()
    summary = wait_job(dcli, job)
    assert (summary["counts"]["done"], summary["counts"]["failed"]) == (4, 1)

    # Then the metrics count its messages, documents, pages and chunks, with no document in any label
    samples = scrape(url)
    assert total(samples, "docmill_documents_total", state="done") == 4
    assert total(samples, "docmill_documents_total", state="failed", kind="corrupt") == 1
    assert total(samples, "docmill_messages_total", queue="docmill.extract", outcome="ok") >= 4
    assert total(samples, "docmill_messages_total", queue="docmill.extract", outcome="failed") == 1
    assert total(samples, "docmill_dead_letters_total", stage="extract") == 1
    assert total(samples, "docmill_ocr_pages_total") >= 1
    assert total(samples, "docmill_chunks_embedded_total") > 0
    assert total(samples, "docmill_stage_seconds_count", stage="embed") >= 4
    labels = {value for _, have in samples for _, value in have}
    assert not any("note-" in value or "invoice" in value or "broken" in value for value in labels), labels

    # And a worker process killed by a signal takes none of the counts with it
    victim = workers.children(supervisor, isolation=False)[0]
    os.kill(victim, signal.SIGKILL)
    time.sleep(1.5)
    assert total(scrape(url), "docmill_documents_total", state="done") == 4

    # And each log line is one JSON object; the failure's line says which job, document and stage
    workers.stop(supervisor)
    lines = [json.loads(line) for line in workers.log().splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "event", "message", "logger", "pid"} <= set(line) for line in lines)
    failed = [line for line in lines if line["event"] == "document.failed"]
    assert len(failed) == 1, failed
    assert (failed[0]["job"], failed[0]["stage"]) == (job, "extract")
    assert failed[0]["doc"].endswith("/broken.pdf")
    assert any(line["event"] == "worker.died" for line in lines)


def test_a_metrics_port_already_taken_stops_the_worker_with_the_setting_named(
        dcli: Cli, workers: Workers) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = dcli("worker", check=False, env={"DOCMILL_METRICS_PORT": str(port)})
    assert done.returncode == 3, done.stderr
    assert "DOCMILL_METRICS_PORT" in done.stderr and str(port) in done.stderr


@pytest.mark.usefixtures("stub_embedder")
def test_doctor_sees_the_broker_queues_their_consumers_the_ledger_and_the_store(
        dcli: Cli, workers: Workers) -> None:
    workers.start("--queues", "extract,ocr")
    dcli("submit", str(Path(__file__).parents[2] / "samples"))  # the ledger's schema, made by a command
    deadline = time.monotonic() + 60
    while True:
        done = dcli("doctor", "--quick", "--json", check=False)
        found = {c["check"]: c for c in json.loads(done.stdout)["checks"]}
        if "1 consumer(s)" in found["queue docmill.extract"]["detail"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert done.returncode == 0, done.stdout
    assert found["broker"]["ok"] and "queues declared as docmill needs them" in found["broker"]["detail"]
    assert "1 consumer(s)" in found["queue docmill.ocr"]["detail"]
    assert "no worker serves it" in found["queue docmill.embed"]["detail"]
    assert found["ledger"]["ok"] and found["store"]["ok"]
