"""RabbitMQ stopped and started, its node killed, and `submit` and the API's upload while it is down."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ..api_server import ApiServer
from ..conftest import CORPUS_EXCLUDES, Cli
from ..workers import Workers
from .conftest import Recovery, Scenario, Stack, clean_run, stack_outcome, stub_env
from .jobs import ready, wait_until_done
from .services import PrivateRabbitmq


def _stopped(rabbitmq: PrivateRabbitmq, seconds: float) -> str:
    rabbitmq.stop()
    time.sleep(seconds)
    rabbitmq.start()
    return f"RabbitMQ stopped for {seconds:g} s"


@pytest.mark.in_make_test
def test_rabbitmq_stopped_and_started_mid_run_loses_nothing(
        scenario: Scenario, rabbitmq: PrivateRabbitmq, corpus: Path) -> None:
    scenario.through(corpus, lambda _job: _stopped(rabbitmq, 10), after=2, timeout=300)


def test_rabbitmq_stopped_for_30_s_mid_job_loses_nothing(
        scenario: Scenario, rabbitmq: PrivateRabbitmq, corpus44: Path) -> None:
    scenario.through(corpus44, lambda _job: _stopped(rabbitmq, 30))


def test_rabbitmq_node_killed_and_restarted_mid_job_loses_nothing(
        scenario: Scenario, rabbitmq: PrivateRabbitmq, corpus44: Path) -> None:
    def killed(_job: str) -> str:
        rabbitmq.kill()
        time.sleep(5)
        rabbitmq.start()
        return "RabbitMQ's node SIGKILLed, restarted 5 s later"

    scenario.through(corpus44, killed)


@pytest.mark.in_make_test
def test_submit_while_rabbitmq_is_down_says_where_it_is_and_a_second_submit_finishes_the_job(
        stack: Stack, workers: Workers, fcli: Cli, rabbitmq: PrivateRabbitmq, corpus: Path, tmp_path: Path,
        stub_plugins: Path, recovery: Recovery) -> None:
    clean = clean_run(corpus, tmp_path, stub_plugins)
    workers.start("--processes", "2")
    ready(workers.log, 2)
    rabbitmq.stop()
    try:
        refused = fcli("submit", str(corpus), *CORPUS_EXCLUDES, check=False)
    finally:
        rabbitmq.start()
    recovery.fault_over("RabbitMQ down during `docmill submit`")
    assert refused.returncode == 4, refused.stderr
    # The broker as configured: its vhost after the slash, and no password.
    assert f"cannot reach RabbitMQ at amqp://127.0.0.1:{rabbitmq.port}/{stack.broker_url.rsplit('/', 1)[1]} " \
        in refused.stderr, refused.stderr
    assert "guest" not in refused.stderr and "Traceback" not in refused.stderr
    job = fcli("submit", str(corpus), *CORPUS_EXCLUDES).stdout.strip()
    wait_until_done(stack.ledger_url, job, timeout=300)
    recovery.recovered()
    recovery.ended_as(stack_outcome(fcli, stack), clean)


def test_an_upload_while_rabbitmq_is_down_is_refused_with_503_and_taken_once_it_is_back(
        stack: Stack, workers: Workers, fcli: Cli, rabbitmq: PrivateRabbitmq, tmp_path: Path, stub_plugins: Path,
        recovery: Recovery) -> None:
    env = {**stack.env(), "DOCMILL_UPLOAD_DIR": str(tmp_path / "uploads"), **stub_env(stub_plugins)}
    workers.start("--processes", "1", env={"DOCMILL_UPLOAD_DIR": env["DOCMILL_UPLOAD_DIR"]})
    api = ApiServer(tmp_path / "api", env=env, stub_embedder=False).start()
    ready(workers.log, 1)
    memo = ("memo.txt", b"The quay crane is serviced on Tuesdays, and the harbour master signs it off. " * 9,
            "text/plain")
    try:
        with api.client("alice") as http:
            rabbitmq.stop()
            try:
                refused = http.post("/v1/documents", files=[("file", memo)])
            finally:
                rabbitmq.start()
            recovery.fault_over("RabbitMQ down during an upload")
            assert refused.status_code == 503, refused.text
            assert refused.headers.get("Retry-After") and "RabbitMQ" in refused.json()["error"]["message"]
            taken = http.post("/v1/documents", files=[("file", memo)])
            assert taken.status_code == 202, taken.text
            assert api.wait(http, taken.json()["job_id"], timeout=300)["counts"] == {"done": 1}
            recovery.recovered()
    finally:
        assert api.stop() == 0
    assert [doc for doc, (state, _, _) in stack_outcome(fcli, stack).documents.items() if state == "done"] != []
