"""Messages dead-lettered while the ledger still waits for them (what a ledger outage left behind before the workers
held their messages through it): never purged, and queued again by `docmill submit` and `docmill worker`."""

from __future__ import annotations

from pathlib import Path

import pika
import pytest

from ..conftest import Cli
from ..workers import Workers
from .conftest import assert_exactly_once, wait_job


def _folder(root: Path, name: str, count: int) -> Path:
    folder = root / name
    folder.mkdir()
    for i in range(count):
        (folder / f"{name}-{i}.txt").write_text(f"Note {i} of {name}: the crane is serviced on Tuesdays. " * 9)
    return folder


def _dead_letter_queued(broker_url: str, queue: str) -> int:
    """Dead-letter what ``queue`` holds as a worker would nack it (RabbitMQ moves it to the .XQ); how many."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        moved = 0
        while True:
            method, _properties, _body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                return moved
            channel.basic_nack(method.delivery_tag, requeue=False)
            moved += 1
    finally:
        connection.close()


def _ready(broker_url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        return int(connection.channel().queue_declare(queue=queue, passive=True).method.message_count)
    finally:
        connection.close()


@pytest.mark.usefixtures("stub_embedder")
def test_messages_dead_lettered_while_their_documents_are_pending_are_kept_and_queued_again(
        dcli: Cli, workers: Workers, tmp_path: Path, broker_url: str, pg_url: str) -> None:
    # Given two jobs whose extract messages were dead-lettered while the ledger could not hear of it.
    first = dcli("submit", str(_folder(tmp_path, "first", 3))).stdout.strip()
    assert _dead_letter_queued(broker_url, "docmill.extract") == 3
    # When they are listed and purged: they are told apart from failures, and kept.
    listed = dcli("dlq", "list")
    assert "0 dead letter(s); 0 message(s) in RabbitMQ's dead-letter queues; 3 more whose documents are still " \
        "pending" in listed.stderr, listed.stderr
    assert dcli("dlq", "purge").stdout.strip() == "purged 0 dead letter(s)"
    assert _ready(broker_url, "docmill.extract.XQ") == 3
    # When the folder is submitted again: they are queued again before anything runs.
    again = dcli("submit", str(tmp_path / "first")).stdout.strip()
    assert _ready(broker_url, "docmill.extract.XQ") == 0 and _ready(broker_url, "docmill.extract") == 3
    # And a worker that starts with strays waiting queues them again too.
    second = dcli("submit", str(_folder(tmp_path, "second", 2))).stdout.strip()
    assert _dead_letter_queued(broker_url, "docmill.extract") == 5
    workers.start()
    # Then every job ends, each document done once.
    for job in (first, again, second):
        assert wait_job(dcli, job, timeout=300)["counts"] == {"done": 3 if job != second else 2}
    assert _ready(broker_url, "docmill.extract.XQ") == 0
    assert_exactly_once(dcli, pg_url)
    assert "still pending" not in dcli("dlq", "list").stderr
