"""A Paperless-ngx source synced by worker processes, which read its token from their own settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pika
import pytest

from docmill.testing.paperless import TAGS, PaperlessServer

from ..conftest import Cli
from ..workers import Workers
from .conftest import assert_exactly_once, assert_not_in_database, store_chunks

CANARY = "canary-distributed-token-93be7a10"


def _queued_bodies(broker_url: str, queue: str) -> list[bytes]:
    """The messages waiting in a queue, looked at and put back."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = connection.channel()
    bodies, tags = [], []
    try:
        channel.queue_declare(queue, passive=True)
    except pika.exceptions.ChannelClosedByBroker:  # not declared yet: the sync is starting
        connection.close()
        return []
    while True:
        method, _props, body = channel.basic_get(queue)
        if method is None:
            break
        bodies.append(body)
        tags.append(method.delivery_tag)
    for tag in tags:
        channel.basic_nack(tag, requeue=True)
    connection.close()
    return bodies


@pytest.mark.usefixtures("stub_embedder")
def test_workers_sync_a_paperless_archive_and_the_token_stays_secret(
        dcli: Cli, workers: Workers, isolated: Path, dist_env: dict[str, str], pg_url: str) -> None:
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}
    with PaperlessServer(40, CANARY, tie=15) as server:
        (isolated / "docmill.toml").write_text(
            f'[[sources]]\nname = "archive"\ntype = "paperless"\nurl = "{server.url}"\npage_size = 10\n')
        sync = subprocess.Popen([sys.executable, "-m", "docmill", "sync", "archive", "--json"], cwd=isolated,
                                env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        bodies: list[bytes] = []
        while len(bodies) < 40 and time.monotonic() < deadline:  # no worker yet: the messages wait in RabbitMQ
            time.sleep(0.5)
            bodies = _queued_bodies(dist_env["DOCMILL_BROKER_URL"], "docmill.extract")
        assert len(bodies) == 40 and not [b for b in bodies if CANARY.encode() in b]
        workers.start("--processes", "2", env=env)
        out, err = sync.communicate(timeout=600)
        assert sync.returncode == 0, err.decode()
        found = json.loads(out)
        assert (found["new"], found["failed"]) == (40, 0)

        server.modify([4, 20])
        server.retag([5, 6, 30], [4])  # labels only: relabelled by the store workers, not downloaded
        server.delete([9])
        again = dcli.json("sync", "archive", env=env)
        assert (again["changed"], again["relabelled"], again["deleted"], again["new"]) == (2, 3, 1, 0)
        downloads = [r for r in server.requests if r.path.endswith("/download/")]
        assert len(downloads) == 42  # 40, then the 2 modified
        assert_exactly_once(dcli, pg_url)
        chunks = store_chunks(dcli)
        assert {c["metadata"]["paperless_id"] for c in chunks} == set(server.documents)
        for chunk in chunks:  # every chunk carries its document's tags now, the 3 relabelled ones included
            doc = server.documents[chunk["metadata"]["paperless_id"]]
            assert chunk["metadata"]["tags"] == [TAGS[t] for t in doc.tags]

    assert CANARY not in workers.log() + err.decode()
    assert CANARY not in json.dumps(chunks)
    assert_not_in_database(pg_url, CANARY)

