"""RabbitMQ stopped and started, its node killed, and `submit` and the API's upload while it is down."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ..api_server import ApiServer
from ..conftest import CORPUS_EXCLUDES, Cli
from ..distributed.conftest import Workers
from .conftest import Recovery, Stack, assert_like_a_clean_run, assert_quiet, clean_run, stack_outcome, stub_env
from .jobs import ready, started_documents, wait_until_done
from .services import PrivateRabbitmq


@pytest.mark.in_make_test
def test_rabbitmq_stopped_and_started_mid_run_loses_nothing(
        stack: Stack, workers: Workers, fcli: Cli, rabbitmq: PrivateRabbitmq, corpus: Path, tmp_path: Path,
        stub_plugins: Path, recovery: Recovery) -> None:
    clean = clean_run(corpus, tmp_path, stub_plugins)
    workers.start("--processes", "2")
    job = fcli("submit", str(corpus), *CORPUS_EXCLUDES).stdout.strip()
    started_documents(stack.ledger_url, job, 2)
    rabbitmq.stop()
    time.sleep(10)
    rabbitmq.start()
    recovery.fault_over("RabbitMQ stopped for 10 s")
    wait_until_done(stack.ledger_url, job, timeout=300)
    recovery.recovered()
    assert_like_a_clean_run(stack_outcome(fcli, stack), clean)
    assert_quiet(workers.log())


def test_rabbitmq_stopped_for_30_s_mid_job_loses_nothing(
        stack: Stack, workers: Workers, fcli: Cli, rabbitmq: PrivateRabbitmq, corpus44: Path, tmp_path: Path,
        stub_plugins: Path, recovery: Recovery) -> None:
    clean = clean_run(corpus44, tmp_path, stub_plugins)
    workers.start("--processes", "2")
    job = fcli("submit", str(corpus44), *CORPUS_EXCLUDES).stdout.strip()
    started_documents(stack.ledger_url, job, 12)
    rabbitmq.stop()
    time.sleep(30)
    rabbitmq.start()
    recovery.fault_over("RabbitMQ stopped for 30 s")
    wait_until_done(stack.ledger_url, job, timeout=600)
    recovery.recovered()
    assert_like_a_clean_run(stack_outcome(fcli, stack), clean)
    assert_quiet(workers.log())


def test_rabbitmq_node_killed_and_restarted_mid_job_loses_nothing(
        stack: Stack, workers: Workers, fcli: Cli, rabbitmq: PrivateRabbitmq, corpus44: Path, tmp_path: Path,
        stub_plugins: Path, recovery: Recovery) -> None:
    clean = clean_run(corpus44, tmp_path, stub_plugins)
    workers.start("--processes", "2")
    job = fcli("submit", str(corpus44), *CORPUS_EXCLUDES).stdout.strip()
    started_documents(stack.ledger_url, job, 12)
    rabbitmq.kill()
    time.sleep(5)
    rabbitmq.start()
    recovery.fault_over("RabbitMQ's node SIGKILLed, restarted 5 s later")
    wait_until_done(stack.ledger_url, job, timeout=600)
    recovery.recovered()
    assert_like_a_clean_run(stack_outcome(fcli, stack), clean)
    assert_quiet(workers.log())


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
    assert_like_a_clean_run(stack_outcome(fcli, stack), clean)


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

