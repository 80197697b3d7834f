"""The ledger's database (PostgreSQL) restarted, and stopped for longer than the workers' retry budget."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import Cli
from .conftest import OUTAGE, Scenario
from .jobs import counts
from .services import PrivatePostgres


def _waiter(cli: Cli, job: str, *args: str) -> subprocess.Popen[str]:
    """`docmill wait JOB`, watching through the outage."""
    return subprocess.Popen([sys.executable, "-m", "docmill", "wait", job, *args], cwd=cli.cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.in_make_test
def test_postgresql_stopped_longer_than_the_retry_budget_strands_no_document(
        scenario: Scenario, postgres: PrivatePostgres, corpus: Path) -> None:
    # A retry budget of about 3 s, so that a 20 s outage outlasts it many times over (make test-faults runs
    # the field report's case: the default budget, about 45 s, against a 120 s outage).
    budget = {"DOCMILL_MAX_RETRIES": "2", "DOCMILL_RETRY_MIN_BACKOFF": "0.5", "DOCMILL_RETRY_MAX_BACKOFF": "2"}
    waiters = []

    def stopped(job: str) -> str:
        waiters.append(_waiter(scenario.cli, job, "--json", "--timeout", "600"))
        postgres.stop()
        time.sleep(20)
        postgres.start()
        return "PostgreSQL stopped for 20 s"

    scenario.through(corpus, stopped, after=2, timeout=300, env=budget)
    out, err = waiters[0].communicate(timeout=120)
    assert waiters[0].returncode == 0, err
    assert scenario.clean is not None and counts(out) == scenario.clean.counts()
    # Said once per process (and once by `docmill wait`), the ledger named as the ledger.
    database = scenario.stack.ledger_url.rsplit("/", 1)[1]
    told = scenario.workers.log().count(f"the ledger (PostgreSQL at 127.0.0.1:{postgres.port}/{database}) "
                                        "cannot be reached since")
    assert 1 <= told <= 2, scenario.workers.log()
    assert err.count("the ledger (PostgreSQL at ") == 1 and "Traceback" not in err, err


def test_postgresql_restarted_mid_job_loses_nothing(
        scenario: Scenario, postgres: PrivatePostgres, corpus44: Path) -> None:
    def restarted(_job: str) -> str:
        postgres.restart()  # a fast shutdown: every connection dropped mid-statement
        return "PostgreSQL restarted (fast shutdown)"

    scenario.through(corpus44, restarted)


@pytest.mark.timeout(OUTAGE + 1500)
def test_postgresql_stopped_for_longer_than_the_default_retry_budget_strands_no_document(
        scenario: Scenario, postgres: PrivatePostgres, corpus44: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The field report's case: default settings (five retries, about 45 s), the bundled model, and the ledger
    down for DOCMILL_FAULT_OUTAGE seconds (120 by default; the report's 60 s outage stranded 28 documents)."""
    monkeypatch.delenv("DOCMILL_EMBEDDER")  # the bundled model, as a user runs it
    waiters = []

    def stopped(job: str) -> str:
        waiters.append(_waiter(scenario.cli, job, "--timeout", str(OUTAGE + 900)))
        postgres.stop()
        time.sleep(OUTAGE)
        postgres.start()
        return f"PostgreSQL stopped for {OUTAGE:g} s"

    scenario.through(corpus44, stopped, timeout=900)
    out, err = waiters[0].communicate(timeout=120)
    assert waiters[0].returncode == 0, err
    assert scenario.clean is not None
    assert f"{sum(scenario.clean.counts().values())} document(s) in " in out, out
    failed = scenario.clean.counts()["failed"]
    dead = scenario.cli("dlq", "list", "--limit", "0")
    assert f"{failed} dead letter(s); {failed} message(s) in RabbitMQ's" in dead.stderr, dead.stderr
    assert "still pending" not in dead.stderr, dead.stderr
