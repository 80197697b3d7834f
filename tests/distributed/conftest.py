"""Distributed mode for real: RabbitMQ on 127.0.0.1 (a vhost of its own), PostgreSQL, a Chroma server,
and `docmill worker` processes.

Each test gets a fresh PostgreSQL database, a fresh Chroma collection and empty
queues; the session shares one RabbitMQ vhost and one Chroma server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
import sqlalchemy

from docmill.core.ledger_records import PIPELINE
from docmill.testing import ChromaServer

from ..api_server import ApiServer
from ..conftest import Cli
from ..workers import Workers

RABBIT = os.environ.get("DOCMILL_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672")
STAGES = PIPELINE


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True,
                          timeout=120).stdout


@pytest.fixture(scope="session")
def vhost() -> Iterator[str]:
    """A RabbitMQ vhost for this test session, removed at the end."""
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl not found: distributed tests need the RabbitMQ server on this machine")
    name = f"docmill-test-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    yield name
    rabbitmqctl("delete_vhost", name)


def delete_queues(url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for stage in STAGES:
        for kind in ("", ".isolated"):
            for suffix in ("", ".DQ", ".XQ"):
                channel.queue_delete(f"docmill.{stage}{kind}{suffix}")
    connection.close()


@pytest.fixture
def broker_url(vhost: str) -> Iterator[str]:
    """The session vhost's URL, with no docmill queue left from an earlier test."""
    url = f"{RABBIT}/{vhost}"
    delete_queues(url)
    yield url
    delete_queues(url)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def dist_env(broker_url: str, pg_url: str, chroma_server: ChromaServer, home: Path,
             monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Distributed-mode settings, set in this process's environment (workers inherit them)."""
    env = {
        "DOCMILL_BROKER_URL": broker_url,
        "DOCMILL_LEDGER_URL": pg_url,
        "DOCMILL_PLUGINS__CHROMA__URL": chroma_server.url,
        "DOCMILL_COLLECTION": f"t-{uuid.uuid4().hex[:12]}",
        "DOCMILL_RETRY_MIN_BACKOFF": "0.2",
        "DOCMILL_RETRY_MAX_BACKOFF": "2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def api_over_workers(dist_env: dict[str, str], workers: Workers, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> Callable[..., ApiServer]:
    """Makes a `docmill api` (not started) in distributed mode, after starting `docmill worker` with the
    arguments given; both read uploads from one directory."""
    uploads = tmp_path / "uploads"
    monkeypatch.setenv("DOCMILL_UPLOAD_DIR", str(uploads))

    def make(*worker_args: str, toml: str = "") -> ApiServer:
        workers.start(*worker_args)
        return ApiServer(tmp_path / "api", toml=toml, env={**dist_env, "DOCMILL_UPLOAD_DIR": str(uploads)})

    return make


@pytest.fixture
def dcli(isolated: Path, dist_env: dict[str, str]) -> Cli:
    return Cli(isolated)


def ledger_rows(pg_url: str) -> list[Any]:
    engine = sqlalchemy.create_engine(pg_url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, state, stage, chunks, error_kind FROM documents").all()
    engine.dispose()
    return list(rows)


def store_chunks(cli: Cli) -> list[dict[str, Any]]:
    return [json.loads(line) for line in cli("export").stdout.splitlines()]


def wait_job(cli: Cli, job: str, timeout: float = 600) -> dict[str, Any]:
    done = cli("wait", job, "--json", "--timeout", str(timeout))
    return dict(json.loads(done.stdout))


def assert_exactly_once(cli: Cli, pg_url: str) -> list[Any]:
    """Nothing pending; the store holds exactly the chunks the ledger counts, each once."""
    rows = ledger_rows(pg_url)
    assert not [r for r in rows if r.state in ("pending", "deleting")], rows
    chunks = store_chunks(cli)
    ids = [c["id"] for c in chunks]
    assert len(ids) == len(set(ids)), "a chunk is stored twice"
    assert len(ids) == sum(r.chunks or 0 for r in rows if r.state == "done")
    per_doc: dict[str, int] = {}
    for c in chunks:
        per_doc[c["doc"]] = per_doc.get(c["doc"], 0) + 1
    assert per_doc == {r.name: r.chunks for r in rows if r.state == "done" and r.chunks}
    return rows


def assert_not_in_database(pg_url: str, secret: str) -> None:
    """No row of any table in the ledger's database holds ``secret`` (a source's token, say)."""
    engine = sqlalchemy.create_engine(pg_url)
    with engine.connect() as conn:
        tables = [t for (t,) in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").all()]
        for table in tables:
            rows = conn.exec_driver_sql(f'SELECT t::text FROM "{table}" t').all()
            assert not [r for (r,) in rows if secret in r], table
    engine.dispose()
