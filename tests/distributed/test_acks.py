"""Acknowledgements after a consumer's channel closed settle nothing (docmill/actors/rabbitmq/acks.py), on RabbitMQ."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pika
import pytest
from dramatiq import Message
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from docmill.actors.rabbitmq.acks import ChannelBoundBroker

QUEUE = "docmill-test.acks"


@pytest.fixture
def queue(broker_url: str) -> Iterator[str]:
    yield QUEUE
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = connection.channel()
    for name in (QUEUE, f"{QUEUE}.DQ", f"{QUEUE}.XQ"):
        channel.queue_delete(name)
    connection.close()


def _ready(url: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    count = int(connection.channel().queue_declare(QUEUE, passive=True).method.message_count)
    connection.close()
    return count


def _next(consumer: Any) -> Any:
    for _ in range(20):
        message = next(consumer)
        if message is not None:
            return message
    raise AssertionError("nothing was delivered")


@pytest.mark.parametrize(("broker_class", "ready_at_the_end"), [
    (ChannelBoundBroker, 2),
    # Dramatiq's own consumer, to show the check sees the loss it exists to prevent.
    (RabbitmqBroker, 1),
])
def test_an_ack_for_a_delivery_of_a_closed_channel_settles_no_other_message(
        broker_url: str, queue: str, broker_class: type, ready_at_the_end: int) -> None:
    # Given two messages, and a consumer that took the first one.
    broker = broker_class(url=broker_url, middleware=[])
    try:
        broker.declare_queue(queue)
        for n in range(2):
            broker.enqueue(Message(queue_name=queue, actor_name="probe", args=(n,), kwargs={}, options={}))
        old = broker.consume(queue, prefetch=1, timeout=500)
        first = _next(old)

        # When its connection drops while the message is still being worked on, a new consumer gets the
        # message again (RabbitMQ requeued it) under the same delivery number on its new channel...
        old.connection.close()
        new = broker.consume(queue, prefetch=1, timeout=500)
        again = _next(new)
        assert (again.message_id, again._tag) == (first.message_id, first._tag)

        # ...and the first run's ack arrives at the new consumer, as Dramatiq's worker sends it.
        new.ack(first)
        new.close()  # runs the queued channel operations, then returns what it holds unacknowledged

        # Then nothing was settled: both messages are waiting in the queue again.
        assert _ready(broker_url) == ready_at_the_end
    finally:
        broker.close()
