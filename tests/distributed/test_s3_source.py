"""An S3 bucket synced by worker processes, which read the secret access key from their own settings."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from docmill.testing.s3 import S3Server

from ..conftest import Cli
from ..workers import Workers
from .conftest import assert_exactly_once, assert_not_in_database, store_chunks

CANARY = "canary-distributed-s3-secret-6c1d"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    with S3Server() as running:
        yield running


@pytest.mark.usefixtures("stub_embedder")
def test_workers_sync_a_bucket_and_the_secret_stays_secret(
        dcli: Cli, workers: Workers, isolated: Path, pg_url: str, server: S3Server) -> None:
    s3 = server.client()
    s3.create_bucket(Bucket="docs")
    for n in range(30):
        s3.put_object(Bucket="docs", Key=f"reports/{n:02}.txt", Body=f"Report {n} on the pumping station.".encode())
    access_id = server.authenticate(CANARY)
    s3 = server.client()
    (isolated / "docmill.toml").write_text(
        f'[[sources]]\nname = "bucket"\ntype = "s3"\nendpoint = "{server.url}"\nbucket = "docs"\n'
        f'access_id = "{access_id}"\nprefix = "reports/"\npage_size = 7\n')
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}
    workers.start("--processes", "2", env=env)
    first = dcli("sync", "bucket", "--json", env=env)
    assert json.loads(first.stdout)["new"] == 30 and server.count("GetObject") == 30

    server.requests.clear()
    s3.put_object(Bucket="docs", Key="reports/04.txt", Body=b"Report 4, amended: the pump was replaced.")
    s3.put_object(Bucket="docs", Key="reports/30.txt", Body=b"Report 30 on the new reservoir.")
    s3.delete_object(Bucket="docs", Key="reports/09.txt")
    again = dcli.json("sync", "bucket", env=env)
    assert (again["changed"], again["new"], again["deleted"], again["unchanged"]) == (1, 1, 1, 28)
    assert sorted(r.path for r in server.requests if r.operation == "GetObject") == [
        "/docs/reports/04.txt", "/docs/reports/30.txt"]
    assert_exactly_once(dcli, pg_url)
    chunks = store_chunks(dcli)
    assert {c["metadata"]["object_key"] for c in chunks} == {f"reports/{n:02}.txt" for n in range(31) if n != 9}

    assert CANARY not in workers.log() + first.stdout + first.stderr + json.dumps(chunks)
    assert_not_in_database(pg_url, CANARY)
