"""What a distributed pipeline survives: killed workers, a store outage, a poison file (the outages of services:
tests/faults)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy

from docmill.testing import ChromaServer, plugin_dir

from ..conftest import CORPUS_EXCLUDES, Cli, build_corpus
from ..indexes import indexes_agree
from ..workers import Workers
from .conftest import assert_exactly_once, wait_job


def _pdf(text: str) -> bytes:
    import pymupdf

    doc = pymupdf.open()
    for start in range(0, len(text), 2500):
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(36, 36, 559, 806), text[start:start + 2500], fontsize=10)
    data: bytes = doc.tobytes()
    doc.close()
    return data


@pytest.fixture(scope="module")
def corpus36(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """36 good documents (28 PDFs, 2 scans and a photo, 5 text files) and the corpus's bad files."""
    out = tmp_path_factory.mktemp("corpus36")
    build_corpus(out, text=28, scanned=2)
    return out


def _cpu_ticks(pid: int) -> int | None:
    """Clock ticks of CPU (user and system) that a process and its live children (its parsers) have used."""
    total = 0
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    for each in [pid, *(int(child) for child in found.split())]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            if each == pid:
                return None
            continue
        total += int(fields[11]) + int(fields[12])  # utime and stime, fields 14 and 15 of proc(5)
    return total


def _busiest(pids: list[int], over: float = 0.3, least: int = 3) -> int | None:
    """Of these processes, the one that used the most CPU in the next ``over`` seconds, if it used at least
    ``least`` ticks (an idle worker uses none or one: its threads wait)."""
    before = {pid: _cpu_ticks(pid) for pid in pids}
    time.sleep(over)
    used = {}
    for pid, start in before.items():
        end = _cpu_ticks(pid)
        if start is not None and end is not None:
            used[pid] = end - start
    busiest = max(used, key=lambda pid: used[pid], default=None)
    return busiest if busiest is not None and used[busiest] >= least else None


def _running_since(engine: sqlalchemy.Engine, since: float) -> bool:
    """Whether a document's message that a worker started after ``since`` (wall time) is running: the ledger
    marks each one as its worker starts it, and clears the mark when it ends."""
    with engine.connect() as conn:
        return bool(conn.execute(sqlalchemy.text("SELECT count(*) FROM deliveries WHERE running AND updated_at > :t"),
                                 {"t": since}).scalar())


def _kill_busy_workers(workers: Workers, supervisor: subprocess.Popen[bytes], pg_url: str, most: int,
                       stop: threading.Event, kills: list[float]) -> None:
    """Kill a worker process each time the job has work running that started since the last kill, choosing the
    ready worker that is busiest; ``most`` kills at most, so the job ends on its own after them.

    Driven by the job's progress, not a clock: a slow machine gets the same kills as a fast one, each while a
    worker runs a document's message, never on a worker still starting (its imports look busy too).
    """
    engine = sqlalchemy.create_engine(pg_url)
    last = 0.0  # wall time of the last kill, as the ledger marks messages
    try:
        while len(kills) < most and not stop.is_set():
            if not _running_since(engine, last):
                stop.wait(0.1)
                continue
            ready = {int(pid) for pid in re.findall(r"worker process (\d+) ready: ", workers.log())}
            # Worker processes only: a death of the isolation process, where a suspect runs alone, is charged
            # to that suspect by design (nothing tells an outside kill from a poison document there).
            busy = _busiest([pid for pid in workers.children(supervisor, isolation=False) if pid in ready])
            if busy is None:
                continue
            try:
                os.kill(busy, signal.SIGKILL)
            except ProcessLookupError:  # it died meanwhile (a kill the supervisor will not report): not counted
                continue
            kills.append(time.monotonic())
            last = time.time()
    finally:
        engine.dispose()


def test_workers_killed_every_few_seconds_lose_nothing_double_nothing_and_blame_nobody(
        dcli: Cli, workers: Workers, corpus36: Path, pg_url: str) -> None:
    # Default settings: a document that was running when its worker was killed is re-run alone in the
    # isolation process, never charged, so no innocent document is quarantined. A worker is killed whenever
    # the ledger shows a document's message started since the last kill (the busiest worker: the one running
    # it), ten times; then the job ends undisturbed (a message that runs longer than the gap between kills,
    # embedding a long PDF, could otherwise never finish). A timer tuned to one machine missed the work on a
    # loaded one.
    most = 10
    env = {"DOCMILL_OCR_PAGES_PER_TASK": "1"}
    supervisor = workers.start("--processes", "2", env=env)
    job = dcli("submit", str(corpus36), *CORPUS_EXCLUDES).stdout.strip()
    stop, kills = threading.Event(), []
    killer = threading.Thread(target=_kill_busy_workers, args=(workers, supervisor, pg_url, most, stop, kills))
    killer.start()
    try:
        summary = wait_job(dcli, job, timeout=900)
    finally:
        stop.set()
        killer.join()
    rows = assert_exactly_once(dcli, pg_url)
    assert indexes_agree() == sum(r.chunks or 0 for r in rows if r.state == "done")  # keyword index: the same
    expected = {m["path"]: m for m in json.loads((corpus36 / "manifest.json").read_text())["files"]}
    good = [r for r in rows if expected[r.name]["expect"] == "ok"]
    assert len(good) == 36 and all(r.state == "done" for r in good), [r for r in good if r.state != "done"]
    assert {r.name: (r.state, r.error_kind) for r in rows if expected[r.name]["expect"] != "ok"} == {
        path: ("failed" if m["expect"] == "fail" else "skipped", m["why"]) for path, m in expected.items()
        if m["expect"] != "ok"}  # each with its own kind: nobody was quarantined as "worker crashed"
    assert summary["counts"]["done"] == len(good)
    assert len(kills) >= 8, f"only {len(kills)} kills: the run was too short to test anything"
    assert workers.log().count("died (signal 9); starting a new one") == len(kills)
    # Kills did hit running messages, which were re-run alone, and none was charged for it.
    assert "running it again alone" in workers.log() and "while running it alone" not in workers.log()


@pytest.mark.usefixtures("stub_embedder")
def test_a_store_outage_is_retried_through_and_dlq_retry_resumes_at_the_store_stage(
        dcli: Cli, workers: Workers, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server = ChromaServer(tmp_path / "outage-chroma")
    server.start()
    monkeypatch.setenv("DOCMILL_PLUGINS__CHROMA__URL", server.url)
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(6):
        (folder / f"note-{i}.txt").write_text(f"Note {i}: the store was down while this was written. " * 20)
    try:
        # An outage shorter than the retry budget: nothing is dead-lettered.
        workers.start(env={"DOCMILL_MAX_RETRIES": "8", "DOCMILL_RETRY_MIN_BACKOFF": "0.5",
                           "DOCMILL_RETRY_MAX_BACKOFF": "2"})
        server.stop()
        job = dcli("submit", str(folder)).stdout.strip()
        time.sleep(5)
        assert dcli.json("status", job)["counts"].get("done", 0) == 0
        server.start()
        summary = wait_job(dcli, job)
        assert summary["counts"] == {"done": 6}
        assert dcli.json("dlq", "list") == []
        assert_exactly_once(dcli, pg_url)
        workers.close()

        # An outage longer than the budget: dead letters at the store stage, retried once it is back.
        for i in range(3):
            (folder / f"note-{i}.txt").write_text(f"Note {i}, rewritten during a long outage. " * 20)
        workers.start(env={"DOCMILL_MAX_RETRIES": "1", "DOCMILL_RETRY_MIN_BACKOFF": "0.2"})
        server.stop()
        job = dcli("submit", str(folder)).stdout.strip()
        summary = wait_job(dcli, job)
        assert summary["counts"] == {"failed": 3, "skipped": 3}
        dead = dcli.json("dlq", "list")
        assert {(d["stage"], d["error"]) for d in dead} == {("store", "store unavailable")}
        server.start()
        retried = dcli("dlq", "retry", "--all")
        assert "3 done" in retried.stdout, retried.stdout
        assert dcli.json("dlq", "list") == []
        rows = assert_exactly_once(dcli, pg_url)
        assert sorted(r.state for r in rows) == ["done"] * 6
        assert "dead-letter queues" in dcli("dlq", "list").stderr
        assert "0 message(s) in RabbitMQ's dead-letter queues" in dcli("dlq", "list").stderr
    finally:
        server.stop()


POISON_PLUGIN = '''
    """A test plugin: a chunker that kills its own process on one document, as a crash in a library would.

    Not an extractor: extraction runs in docmill's parsing processes, where such a crash fails the document
    as 'crashed' without touching the worker (tests/hostile). A chunker runs in the worker itself.
    """
    import os
    import signal

    from docmill import hookimpl
    from docmill.plugins.chunker import TextChunker


    class PoisonChunker(TextChunker):
        name = "poison"

        def chunk(self, pages):
            if any("KILL-THE-WORKER" in page.text for page in pages):
                os.kill(os.getpid(), signal.SIGKILL)
            return super().chunk(pages)


    @hookimpl
    def docmill_register_chunkers(register):
        register("poison", lambda context: PoisonChunker(context.chunk_size, context.chunk_overlap))
'''


@pytest.mark.usefixtures("stub_embedder")
def test_a_document_that_kills_its_worker_is_quarantined_after_three_deaths_alone_and_nobody_else(
        dcli: Cli, workers: Workers, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = plugin_dir(tmp_path / "plugins", "docmill_poison", POISON_PLUGIN)
    # for the workers and for the submitting command alike
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(plugins), os.environ["PYTHONPATH"]]))
    monkeypatch.setenv("DOCMILL_CHUNKER", "poison")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "killer.txt").write_text("KILL-THE-WORKER: this document kills whoever chunks it")
    for i in range(12):  # enough that the poison document's first deaths take neighbours with it
        (folder / f"fine-{i}.pdf").write_bytes(_pdf(f"An ordinary document number {i}. " * 400))
    workers.start("--processes", "2")  # default DOCMILL_MAX_REDELIVERIES: 3
    job = dcli("submit", str(folder)).stdout.strip()
    summary = wait_job(dcli, job, timeout=300)
    assert summary["counts"] == {"done": 12, "failed": 1}
    [dead] = dcli.json("dlq", "list")
    assert (dead["doc"], dead["stage"], dead["error"]) == ("killer.txt", "embed", "worker crashed")
    assert "killed its worker 3 times while running alone" in dead["reason"]
    log = workers.log()
    assert log.count("died (signal 9)") >= 3
    assert_exactly_once(dcli, pg_url)


@pytest.mark.usefixtures("stub_embedder")
def test_a_high_priority_document_overtakes_a_backlog(
        dcli: Cli, workers: Workers, tmp_path: Path, pg_url: str) -> None:
    backlog, urgent = tmp_path / "backlog", tmp_path / "urgent"
    backlog.mkdir()
    urgent.mkdir()
    for i in range(24):
        (backlog / f"bulk-{i:02}.txt").write_text(f"Bulk document {i} about nothing urgent. " * 30)
    (urgent / "urgent.txt").write_text("The urgent document everyone is waiting for. " * 30)
    bulk_job = dcli("submit", str(backlog), "--priority", "0").stdout.strip()
    urgent_job = dcli("submit", str(urgent), "--priority", "9").stdout.strip()
    workers.start("--threads", "1")
    wait_job(dcli, bulk_job)
    wait_job(dcli, urgent_job)
    [item] = dcli.json("status", urgent_job)["items"]
    assert item["priority"] == 9
    bulk = dcli.json("status", bulk_job)["items"]
    before = [b for b in bulk if b["finished_at"] < item["finished_at"]]
    assert len(before) < len(bulk) / 2, f"{len(before)} of {len(bulk)} bulk documents finished first"
