"""submit, status, wait and dlq against real worker processes, RabbitMQ and PostgreSQL."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import pika
import pytest
import sqlalchemy

from ..conftest import CORPUS_EXCLUDES, Cli
from ..workers import Workers
from .conftest import assert_exactly_once, wait_job


@pytest.mark.usefixtures("stub_embedder")
def test_submit_returns_a_job_that_workers_finish_and_bad_files_become_dead_letters(
        dcli: Cli, workers: Workers, corpus: Path, manifest: list[dict[str, Any]], pg_url: str) -> None:
    workers.start("--queues", "extract,ocr", "--processes", "2")
    workers.start("--queues", "embed,store")
    started = time.monotonic()
    job = dcli("submit", str(corpus), *CORPUS_EXCLUDES).stdout.strip()
    assert len(job) == 12 and time.monotonic() - started < 30
    summary = wait_job(dcli, job)
    status = dcli.json("status", job)
    assert status["finished"] and status["job"] == job
    items = {item["doc"]: item for item in status["items"]}
    assert set(items[next(iter(items))]) >= {"doc", "state", "stage", "priority", "attempts", "finished_at"}
    bad = {m["path"]: m["why"] for m in manifest if m["expect"] == "fail"}
    assert bad and set(items) == {m["path"] for m in manifest}
    skipped = {m["path"] for m in manifest if m["expect"] == "skip"}  # blank pages: no text
    for name, item in items.items():
        if name in bad:
            assert (item["state"], item["error"], item["stage"]) == ("failed", bad[name], "extract"), (name, item)
        else:
            assert item["state"] == ("skipped" if name in skipped else "done"), (name, item)
        assert isinstance(item["finished_at"], float) and item["priority"] == 0
    assert summary["counts"]["failed"] == len(bad)
    dead = dcli.json("dlq", "list")
    assert sorted(d["doc"] for d in dead) == sorted(bad)
    assert all(d["reason"] and d["stage"] == "extract" and d["attempts"] == 1 for d in dead)
    assert_exactly_once(dcli, pg_url)
    # What RabbitMQ's dead-letter queue holds agrees with the ledger.
    listed = dcli("dlq", "list")
    assert f"{len(bad)} message(s) in RabbitMQ's dead-letter queues" in listed.stderr
    # A search finds what the workers stored.
    hits = dcli.json("search", "invoice", "-k", "3")
    assert hits


def test_a_queue_nobody_consumes_is_reported_within_seconds(dcli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("a document nobody will process")
    job = dcli("submit", str(folder)).stdout.strip()
    started = time.monotonic()
    waited = dcli("wait", job, "--timeout", "8", check=False)
    assert waited.returncode == 5
    assert "no worker consumes it: start one with `docmill worker --queues extract`" in waited.stderr
    assert time.monotonic() - started < 20


def test_a_queue_declared_with_other_arguments_stops_the_worker_at_start_up(
        dcli: Cli, workers: Workers, broker_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    connection.channel().queue_declare("docmill.ocr", durable=True, arguments={"x-max-priority": 5})
    connection.close()
    process = workers.start("--queues", "ocr")
    assert process.wait(60) == 3
    log = workers.log()
    assert "'docmill.ocr'" in log and "x-max-priority" in log and "rabbitmqctl delete_queue docmill.ocr" in log


@pytest.mark.usefixtures("stub_embedder")
def test_sigterm_drains_a_running_scan_and_a_restarted_worker_finishes_the_job(
        dcli: Cli, workers: Workers, pg_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    shutil.copy(Path(__file__).parents[2] / "samples" / "scanned-invoice.pdf", folder / "invoice.pdf")
    supervisor = workers.start("--queues", "extract,ocr,embed,store", env={"DOCMILL_OCR_PAGES_PER_TASK": "1"})
    job = dcli("submit", str(folder)).stdout.strip()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until OCR is under way
        items = dcli.json("status", job)["items"]
        if items and items[0]["stage"] in ("ocr", "embed", "store"):
            break
        time.sleep(0.2)
    assert workers.stop(supervisor) == 0
    log = workers.log()
    assert "draining" in log
    workers.start()
    wait_job(dcli, job)
    rows = assert_exactly_once(dcli, pg_url)
    assert [r.state for r in rows] == ["done"]


def test_status_of_an_unknown_job_is_a_usage_error(dcli: Cli) -> None:
    done = dcli("status", "nosuchjob", check=False)
    assert done.returncode == 2 and "no job 'nosuchjob'" in done.stderr


def test_worker_needs_a_broker(cli: Cli) -> None:
    done = cli("worker", check=False)
    assert done.returncode == 3 and "DOCMILL_BROKER_URL is not set" in done.stderr


@pytest.mark.usefixtures("stub_embedder")
def test_ingest_with_a_broker_submits_and_waits(dcli: Cli, workers: Workers, tmp_path: Path, pg_url: str) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"memo-{i}.txt").write_text(f"Memo {i} about the harbour crane schedule. " * 15)
    workers.start()
    first = dcli.json("ingest", str(folder))
    assert (first["done"], first["failed"]) == (3, 0) and first["chunks"] > 0
    again = dcli.json("ingest", str(folder))
    assert (again["done"], again["unchanged"]) == (0, 3)
    assert_exactly_once(dcli, pg_url)


def test_workers_refuse_to_write_a_local_store(dcli: Cli) -> None:
    local = {"DOCMILL_PLUGINS__CHROMA__URL": ""}  # blank: Chroma's persistent store in the home
    for queues in ("discover,extract,ocr,embed,store", "embed", "store"):
        done = dcli("worker", "--queues", queues, "--processes", "2", check=False, env=local)
        assert done.returncode == 3, done.stderr
        assert "only one process may write" in done.stderr and "DOCMILL_PLUGINS__CHROMA__URL" in done.stderr
    qdrant = dcli("worker", "--queues", "store", check=False, env={**local, "DOCMILL_STORE": "qdrant"})
    assert qdrant.returncode == 3 and "DOCMILL_PLUGINS__QDRANT__URL" in qdrant.stderr


def test_a_wrong_broker_password_is_a_configuration_error(cli: Cli, broker_url: str, tmp_path: Path) -> None:
    wrong = broker_url.replace("guest:guest@", "guest:not-the-password@")
    for command in (("submit", str(tmp_path)), ("worker",)):
        done = cli(*command, check=False, env={"DOCMILL_BROKER_URL": wrong})
        assert done.returncode == 3, done.stderr
        assert "refused the user name or password" in done.stderr and "not-the-password" not in done.stderr


@pytest.mark.usefixtures("stub_embedder")
def test_wait_reports_how_long_the_job_took_not_how_long_it_watched(
        dcli: Cli, workers: Workers, tmp_path: Path, pg_url: str) -> None:
    workers.start()
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(4):
        (folder / f"note-{i}.txt").write_text(f"Note {i}: the harbour's crane is serviced on Tuesdays. " * 9)
    job = dcli("submit", str(folder)).stdout.strip()
    wait_job(dcli, job)
    time.sleep(3)  # a wait started well after the job began
    shown = re.search(r"(\d+) document\(s\) in ([\d.]+) s", dcli("wait", job).stdout)
    assert shown is not None
    engine = sqlalchemy.create_engine(pg_url)
    with engine.connect() as conn:
        took = conn.exec_driver_sql(
            "SELECT max(i.finished_at) - j.created_at FROM jobs j JOIN job_items i ON i.job_id = j.id "
            "WHERE j.id = %(job)s GROUP BY j.created_at", {"job": job}).scalar()
    engine.dispose()
    assert int(shown.group(1)) == 4 and abs(float(shown.group(2)) - took) < 0.1, (shown.group(0), took)
