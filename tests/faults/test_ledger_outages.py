"""The ledger's database (PostgreSQL) restarted, and stopped for longer than the workers' retry budget."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import CORPUS_EXCLUDES, Cli
from ..distributed.conftest import Workers
from .conftest import OUTAGE, Recovery, Stack, assert_like_a_clean_run, assert_quiet, clean_run, stack_outcome
from .jobs import counts, started_documents, wait_until_done
from .services import PrivatePostgres


@pytest.mark.in_make_test
def test_postgresql_stopped_longer_than_the_retry_budget_strands_no_document(
        stack: Stack, workers: Workers, fcli: Cli, postgres: PrivatePostgres, corpus: Path, tmp_path: Path,
        stub_plugins: Path, recovery: Recovery) -> None:
    # A retry budget of about 3 s, so that a 20 s outage outlasts it many times over (make test-faults runs
    # the field report's case: the default budget, about 45 s, against a 120 s outage).
    budget = {"DOCMILL_MAX_RETRIES": "2", "DOCMILL_RETRY_MIN_BACKOFF": "0.5", "DOCMILL_RETRY_MAX_BACKOFF": "2"}
    clean = clean_run(corpus, tmp_path, stub_plugins)
    workers.start("--processes", "2", env=budget)
    job = fcli("submit", str(corpus), *CORPUS_EXCLUDES).stdout.strip()
    started_documents(stack.ledger_url, job, 2)
    waiter = subprocess.Popen([sys.executable, "-m", "docmill", "wait", job, "--json", "--timeout", "600"],
                              cwd=fcli.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    postgres.stop()
    time.sleep(20)
    postgres.start()
    recovery.fault_over("PostgreSQL stopped for 20 s")
    wait_until_done(stack.ledger_url, job, timeout=300)
    recovery.recovered()
    out, err = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, err
    assert counts(out) == clean.counts()
    assert_like_a_clean_run(stack_outcome(fcli, stack), clean)
    # Said once per process, the ledger named as the ledger, and no traceback for an expected outage.
    log = workers.log()
    assert_quiet(log)
    assert 1 <= log.count(f"the ledger (PostgreSQL at 127.0.0.1:{postgres.port}/{stack.ledger_url.rsplit('/')[-1]}) "
                          "cannot be reached since") <= 2, log
    assert err.count("the ledger (PostgreSQL at ") == 1 and "Traceback" not in err, err


def test_postgresql_restarted_mid_job_loses_nothing(
        stack: Stack, workers: Workers, fcli: Cli, postgres: PrivatePostgres, corpus44: Path, tmp_path: Path,
        stub_plugins: Path, recovery: Recovery) -> None:
    clean = clean_run(corpus44, tmp_path, stub_plugins)
    workers.start("--processes", "2")
    job = fcli("submit", str(corpus44), *CORPUS_EXCLUDES).stdout.strip()
    started_documents(stack.ledger_url, job, 12)
    postgres.restart()  # a fast shutdown: every connection dropped mid-statement
    recovery.fault_over("PostgreSQL restarted (fast shutdown)")
    wait_until_done(stack.ledger_url, job, timeout=600)
    recovery.recovered()
    assert_like_a_clean_run(stack_outcome(fcli, stack), clean)
    assert_quiet(workers.log())


@pytest.mark.timeout(OUTAGE + 1500)
def test_postgresql_stopped_for_longer_than_the_default_retry_budget_strands_no_document(
        stack: Stack, workers: Workers, fcli: Cli, postgres: PrivatePostgres, corpus44: Path, tmp_path: Path,
        stub_plugins: Path, recovery: Recovery, monkeypatch: pytest.MonkeyPatch) -> None:
    """The field report's case: default settings (five retries, about 45 s), the bundled model, and the ledger
    down for DOCMILL_FAULT_OUTAGE seconds (120 by default; the report's 60 s outage stranded 28 documents)."""
    clean = clean_run(corpus44, tmp_path, stub_plugins)
    monkeypatch.delenv("DOCMILL_EMBEDDER")  # the bundled model, as a user runs it
    workers.start("--processes", "2")
    job = fcli("submit", str(corpus44), *CORPUS_EXCLUDES).stdout.strip()
    started_documents(stack.ledger_url, job, 12)
    waiter = subprocess.Popen([sys.executable, "-m", "docmill", "wait", job, "--timeout", str(OUTAGE + 900)],
                              cwd=fcli.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    postgres.stop()
    time.sleep(OUTAGE)
    postgres.start()
    recovery.fault_over(f"PostgreSQL stopped for {OUTAGE:g} s")
    wait_until_done(stack.ledger_url, job, timeout=900)
    recovery.recovered()
    out, err = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, err
    assert f"{sum(clean.counts().values())} document(s) in " in out, out
    assert_like_a_clean_run(stack_outcome(fcli, stack), clean)
    assert_quiet(workers.log())
    dead = fcli("dlq", "list", "--limit", "0")
    assert f"{clean.counts()['failed']} dead letter(s); {clean.counts()['failed']} message(s) in RabbitMQ's" \
        in dead.stderr and "still pending" not in dead.stderr, dead.stderr
