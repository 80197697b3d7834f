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
from ..indexes import indexes_agree_in_a_process
from .conftest import Recovery, Scenario, clean_run, outcome, stub_env
from .jobs import ended_documents


def test_the_vector_store_server_killed_and_restarted_mid_job_loses_nothing(
        scenario: Scenario, corpus44: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = ChromaServer(tmp_path / "chroma")  # a server of this test's, to kill
    server.start()
    monkeypatch.setenv("DOCMILL_PLUGINS__CHROMA__URL", server.url)

    def killed(_job: str) -> str:
        assert server.process is not None
        server.process.kill()
        server.process.wait()
        time.sleep(20)
        server.start()
        return "the Chroma server SIGKILLed, restarted 20 s later"

    try:
        scenario.through(corpus44, killed)
    finally:
        server.stop()


def test_every_worker_process_killed_mid_job_loses_nothing_and_blames_nobody(
        scenario: Scenario, corpus44: Path) -> None:
    def all_killed(_job: str) -> str:
        workers = scenario.workers
        everyone = [pid for supervisor in scenario.supervisors for pid in workers.children(supervisor)]
        for supervisor in scenario.supervisors:  # the supervisors first, or they would start new processes
            supervisor.kill()
            supervisor.wait()
        for pid in everyone:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(2)
        workers.start("--processes", "2")
        return f"all {len(everyone) + len(scenario.supervisors)} worker processes SIGKILLed; new workers started"

    # The same error kinds as a clean run: nobody quarantined as "worker crashed".
    scenario.through(corpus44, all_killed, supervisors=(("--processes", "2"), ("--processes", "2", "--queues", "ocr")))


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
    recovery.ended_as(outcome(f"sqlite:///{home / 'ledger.db'}", cli("export").stdout), clean)
    indexes_agree_in_a_process()  # the keyword index, written beside the store, holds the same chunks
