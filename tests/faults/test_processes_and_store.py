"""The vector-store server killed, every worker killed, the embedded ingest killed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from docmill.testing import ChromaServer

from ..conftest import CORPUS_EXCLUDES, Cli
from ..distributed.conftest import Workers
from .conftest import (
    Recovery,
    Stack,
    assert_like_a_clean_run,
    assert_quiet,
    clean_run,
    outcome,
    stack_outcome,
    stub_env,
)
from .jobs import ended_documents, started_documents, wait_until_done


def test_the_vector_store_server_killed_and_restarted_mid_job_loses_nothing(
        stack: Stack, workers: Workers, fcli: Cli, corpus44: Path, tmp_path: Path, stub_plugins: Path,
        recovery: Recovery, monkeypatch: pytest.MonkeyPatch) -> None:
    clean = clean_run(corpus44, tmp_path, stub_plugins)
    server = ChromaServer(tmp_path / "chroma")  # a server of this test's, to kill
    server.start()
    monkeypatch.setenv("DOCMILL_PLUGINS__CHROMA__URL", server.url)
    try:
        workers.start("--processes", "2")
        job = fcli("submit", str(corpus44), *CORPUS_EXCLUDES).stdout.strip()
        started_documents(stack.ledger_url, job, 12)
        assert server.process is not None
        server.process.kill()
        server.process.wait()
        time.sleep(20)
        server.start()
        recovery.fault_over("the Chroma server SIGKILLed, restarted 20 s later")
        wait_until_done(stack.ledger_url, job, timeout=600)
        recovery.recovered()
        assert_like_a_clean_run(stack_outcome(fcli, stack), clean)
        assert_quiet(workers.log())
    finally:
        server.stop()


def test_every_worker_process_killed_mid_job_loses_nothing_and_blames_nobody(
        stack: Stack, workers: Workers, fcli: Cli, corpus44: Path, tmp_path: Path, stub_plugins: Path,
        recovery: Recovery) -> None:
    clean = clean_run(corpus44, tmp_path, stub_plugins)
    supervisors = [workers.start("--processes", "2"), workers.start("--processes", "2", "--queues", "ocr")]
    job = fcli("submit", str(corpus44), *CORPUS_EXCLUDES).stdout.strip()
    started_documents(stack.ledger_url, job, 12)
    everyone = [pid for supervisor in supervisors for pid in workers.children(supervisor)]
    for supervisor in supervisors:  # the supervisors first, or they would start new processes at once
        supervisor.kill()
        supervisor.wait()
    for pid in everyone:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(2)
    workers.start("--processes", "2")
    recovery.fault_over(f"all {len(everyone) + len(supervisors)} worker processes SIGKILLed; new workers started")
    wait_until_done(stack.ledger_url, job, timeout=600)
    recovery.recovered()
    assert_like_a_clean_run(stack_outcome(fcli, stack), clean)  # the same error kinds: nobody quarantined


def test_the_embedded_ingest_killed_and_run_again_ends_as_a_clean_run(
        cli: Cli, home: Path, corpus44: Path, tmp_path: Path, stub_plugins: Path, recovery: Recovery,
        monkeypatch: pytest.MonkeyPatch) -> None:
    clean = clean_run(corpus44, tmp_path, stub_plugins)
    for key, value in stub_env(stub_plugins).items():
        monkeypatch.setenv(key, value)
    ingest = subprocess.Popen([sys.executable, "-m", "docmill", "ingest", str(corpus44), *CORPUS_EXCLUDES],
                              cwd=cli.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while ended_documents(home / "ledger.db") < 12 and ingest.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ingest.poll() is None, "the ingest ended before it could be killed"
    ingest.kill()
    ingest.wait()
    recovery.fault_over("the embedded ingest SIGKILLed, then run again")
    cli("ingest", str(corpus44), *CORPUS_EXCLUDES)
    recovery.recovered()
    assert_like_a_clean_run(outcome(f"sqlite:///{home / 'ledger.db'}", cli("export").stdout), clean)
