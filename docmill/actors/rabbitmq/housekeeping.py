"""RabbitMQ housekeeping outside Dramatiq's message flow: queue checks, consumer counts, dead messages.

Each function opens its own short-lived connection, so a failed declaration
(which closes its channel) never disturbs the broker's publishing channel.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dramatiq
import pika
import pika.exceptions
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL, RabbitmqBroker
from dramatiq.common import dq_name, xq_name

from ...core.errors import ConfigurationError, TransientError

__all__ = ["Choose", "DeadMessage", "QueueStats", "address", "broker_address", "check_queues", "dead_messages",
           "drop_dead_messages", "of_versions", "queue_stats", "requeue_dead_messages"]

#: Seconds to keep trying to reach RabbitMQ at start-up (it may still be starting, in a container set-up).
CONNECT_PATIENCE = 20.0


@dataclasses.dataclass(frozen=True)
class QueueStats:
    """Ready messages and consumers of one queue."""

    name: str
    messages: int
    consumers: int


@dataclasses.dataclass(frozen=True)
class DeadMessage:
    """A message in a dead-letter queue (``.XQ``)."""

    queue: str
    stage: str
    kwargs: dict[str, Any]
    error: str | None
    retries: int
    #: The message as RabbitMQ holds it (to publish it again).
    body: bytes = dataclasses.field(default=b"", repr=False)

    @property
    def version(self) -> tuple[str, int] | None:
        """The document version it is about; None for a discovery."""
        key, version = self.kwargs.get("key"), self.kwargs.get("version")
        return (key, version) if key is not None and version is not None else None


def address(url: str) -> str:
    """The broker's URL as configured, without its user name and password (the vhost as written, slash
    included)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def broker_address(broker: RabbitmqBroker) -> str:
    """Where this broker connects, for messages: its URL as configured, without credentials."""
    configured = getattr(broker, "address", None)
    if configured:
        return str(configured)
    params = broker.parameters[0] if isinstance(broker.parameters, list) else broker.parameters
    vhost = "%2F" if params.virtual_host == "/" else params.virtual_host
    return f"amqp://{params.host}:{params.port}/{vhost}"  # never the credentials


@contextlib.contextmanager
def _connection(broker: RabbitmqBroker, patience: float = 0.0) -> Iterator[Any]:
    deadline = time.monotonic() + patience
    while True:
        try:
            connection = pika.BlockingConnection(broker.parameters)
            break
        except pika.exceptions.ProbableAuthenticationError as exc:
            raise ConfigurationError(f"DOCMILL_BROKER_URL: RabbitMQ at {broker_address(broker)} refused the "
                                     "user name or password") from exc
        except pika.exceptions.AMQPConnectionError as exc:
            if time.monotonic() >= deadline:
                raise TransientError(f"cannot reach RabbitMQ at {broker_address(broker)} (DOCMILL_BROKER_URL): "
                                     f"{type(exc).__name__}", kind="broker unavailable") from exc
            time.sleep(1.0)
    try:
        yield connection
    finally:
        with contextlib.suppress(Exception):
            connection.close()


def _expected(broker: RabbitmqBroker, queue: str) -> list[tuple[str, dict[str, Any]]]:
    arguments = broker._build_queue_arguments(queue)
    return [(queue, arguments), (dq_name(queue), arguments), (xq_name(queue), {"x-message-ttl": DEAD_MESSAGE_TTL})]


def check_queues(broker: RabbitmqBroker, queues: Iterable[str], *, patience: float = CONNECT_PATIENCE) -> None:
    """Declare the queues (and their ``.DQ``/``.XQ`` twins) as docmill needs them, or explain the clash.

    RabbitMQ refuses to re-declare a queue with other arguments (an older
    ``x-max-priority``, say); left to Dramatiq, every consumer would retry that
    forever. This raises a ConfigurationError naming the queue and the fix.
    """
    with _connection(broker, patience) as connection:
        for queue in sorted(set(queues)):
            for name, arguments in _expected(broker, queue):
                channel = connection.channel()
                try:
                    channel.queue_declare(queue=name, durable=True, arguments=arguments)
                except pika.exceptions.ChannelClosedByBroker as exc:
                    if exc.reply_code != 406:
                        raise
                    wanted = ", ".join(f"{k}={v!r}" for k, v in sorted(arguments.items()))
                    raise ConfigurationError(
                        f"RabbitMQ at {broker_address(broker)} already has a queue {name!r} declared with other "
                        f"arguments ({exc.reply_text}). docmill needs it durable with {wanted}. Let the "
                        f"workers drain it, then delete it (rabbitmqctl delete_queue {name}, or the management "
                        "UI) and start again; docmill declares it afresh.") from None
                with contextlib.suppress(Exception):
                    channel.close()


def queue_stats(broker: RabbitmqBroker, queues: Iterable[str]) -> list[QueueStats]:
    """Ready messages and consumers of each queue and its delay queue."""
    stats = []
    with _connection(broker) as connection:
        channel = connection.channel()
        for queue in sorted(set(queues)):
            for name in (queue, dq_name(queue)):
                ok = channel.queue_declare(queue=name, passive=True).method
                stats.append(QueueStats(name, ok.message_count, ok.consumer_count))
    return stats


#: Decides, given every dead message read, which of them to take out of their dead-letter queue.
Choose = Callable[[list[DeadMessage]], Sequence[bool]]


def _read_dead(broker: RabbitmqBroker, queues: Iterable[str], choose: Choose | None = None,
               take: Callable[[DeadMessage], None] | None = None) -> tuple[list[DeadMessage], int]:
    """Every message in the queues' ``.XQ``, and how many were taken out: those ``choose`` picks (given them
    all at once, so that the ledger is asked about them in one go) are handed to ``take``, then removed; the
    rest stay (and, should ``take`` raise, the one it raised for and those after it).

    Messages are read without acknowledgement and the channel is closed at
    the end, which returns the ones not acknowledged to their queue in order.
    """
    read: list[tuple[DeadMessage, int]] = []
    taken = 0
    with _connection(broker) as connection:
        channel = connection.channel()
        for queue in sorted(set(queues)):
            name = xq_name(queue)
            count = channel.queue_declare(queue=name, passive=True).method.message_count
            for _ in range(count):
                method, _properties, body = channel.basic_get(name, auto_ack=False)
                if method is None:
                    break
                try:
                    data = json.loads(body)
                except ValueError:
                    continue
                options = data.get("options", {})
                read.append((DeadMessage(queue, data.get("actor_name", "?"), data.get("kwargs", {}),
                                         options.get("error"), int(options.get("retries", 0)), body),
                             method.delivery_tag))
        chosen = choose([dead for dead, _ in read]) if choose is not None and read else [False] * len(read)
        for (dead, tag), pick in zip(read, chosen, strict=True):
            if pick:
                if take is not None:
                    take(dead)
                channel.basic_ack(tag)
                taken += 1
        channel.close()
    return [dead for dead, _ in read], taken


def dead_messages(broker: RabbitmqBroker, queues: Iterable[str]) -> list[DeadMessage]:
    """What the dead-letter queues hold, left in place."""
    return _read_dead(broker, queues)[0]


def drop_dead_messages(broker: RabbitmqBroker, queues: Iterable[str], choose: Choose) -> int:
    """Remove the dead messages ``choose`` picks; return how many."""
    return _read_dead(broker, queues, choose)[1]


def of_versions(versions: set[tuple[str, int]]) -> Choose:
    """Picks the dead messages of these document versions."""
    return lambda found: [dead.version in versions for dead in found]


#: What a message dead-lettered in an outage loses when it is queued again: its spent retries and its error.
_SPENT = ("retries", "error", "requeue_timestamp", "eta", "traceback")


def requeue_dead_messages(broker: dramatiq.Broker, queues: Iterable[str], choose: Choose) -> int:
    """Publish the dead messages ``choose`` picks to their queues again, with a fresh retry budget, and remove
    them from the dead-letter queues (each once RabbitMQ confirmed its copy); return how many."""

    def requeue(dead: DeadMessage) -> None:
        message = dramatiq.Message.decode(dead.body)
        options = {name: value for name, value in message.options.items() if name not in _SPENT}
        broker.enqueue(dataclasses.replace(message, queue_name=dead.queue, options=options))

    return _read_dead(broker, queues, choose, requeue)[1]  # type: ignore[arg-type]
