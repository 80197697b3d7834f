"""Submitting publishes a discovery batch in one transaction, and never marks as sent what RabbitMQ did not
take."""

from __future__ import annotations

from pathlib import Path

import pika
import pytest

from docmill.actors.distributed import DistributedClient
from docmill.app import folder_specs
from docmill.core.errors import TransientError
from docmill.core.ledger_records import Stage
from docmill.core.values import Task
from docmill.settings import load_settings


def _waiting(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def _delete(url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    connection.channel().queue_delete(queue)
    connection.close()


def test_a_batch_lands_whole_or_fails_loudly(dist_env: dict[str, str]) -> None:
    url = dist_env["DOCMILL_BROKER_URL"]
    client = DistributedClient(load_settings())
    try:
        # Given three tasks sent together, then all three wait in their queue, at their priorities.
        client.runtime.send_all([Task.for_version(Stage.EXTRACT, "job", f"file:///n{n}", 1, priority=n)
                                 for n in range(3)])
        assert _waiting(url, "docmill.extract") == 3

        # Given the queue deleted behind the client's back, sending fails instead of dropping the messages.
        _delete(url, "docmill.extract")
        with pytest.raises(TransientError) as refused:
            client.runtime.send_all([Task.for_version(Stage.EXTRACT, "job", "file:///lost", 1)])
        assert "docmill.extract" in refused.value.reason and refused.value.kind == "broker unavailable"
    finally:
        client.close()


def test_a_submit_whose_batch_was_not_taken_is_sent_by_the_next_one(dist_env: dict[str, str],
                                                                     tmp_path: Path) -> None:
    url = dist_env["DOCMILL_BROKER_URL"]
    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(450):  # three discovery batches
        (folder / f"note-{n}.txt").write_text(f"Note {n}.")
    settings = load_settings()
    first = DistributedClient(settings)
    try:
        _delete(url, "docmill.extract")  # RabbitMQ will route the first batch nowhere
        job = first.submit(folder_specs(settings, [str(folder)]))
        assert "routed" in (first.runtime.ledger.jobs.info(job)["error"] or "")
        with first.runtime.ledger.engine.connect() as conn:
            marked = conn.exec_driver_sql("SELECT count(*) FROM documents WHERE sent_at IS NOT NULL").scalar()
        assert marked == 0  # nothing the ledger calls sent went missing
    finally:
        first.close()
    second = DistributedClient(settings)  # declares the queues again
    try:
        second.submit(folder_specs(settings, [str(folder)]))
        assert _waiting(url, "docmill.extract") == 450  # each committed version sent once, now
        with second.runtime.ledger.engine.connect() as conn:
            marked = conn.exec_driver_sql("SELECT count(*) FROM documents WHERE sent_at IS NOT NULL").scalar()
        assert marked == 450
    finally:
        second.close()
