"""Publishing a batch of messages in one round trip: what discovery sends in the submitting process.

With publisher confirms, Dramatiq's ``enqueue`` waits for RabbitMQ's ack of
each message before the next one (about 1.5 ms here), so queueing a large
folder spent more time waiting than discovering. :class:`BatchPublisher`
publishes a discovery batch's messages (``Runtime.send_all``) in one AMQP
transaction on a channel of its own: ``tx.commit-ok`` comes back once
RabbitMQ has taken every one of them (durably, on durable queues), and if
the commit does not come back, none was taken. They are published
``mandatory``: a message no queue takes (its queue was deleted) comes back
before the commit's answer, and fails the batch instead of vanishing. Discovery records the
batch as sent only after ``send_all`` returned, so a version the ledger
calls sent was published, and one it does not is sent again by the next
discovery.

Worker processes send one or two messages a stage and keep Dramatiq's
own confirmed ``enqueue``.

One connection serves the process, and threads take turns on it: a pika
connection is not safe for two threads at once (the HTTP API queues each
request on a thread of its pool, and ten clients at once lost messages with
``ChannelWrongStateError`` before threads took turns). Threads that send
while a transaction is under way wait for it, and the next transaction
carries all their messages at once: one commit for the whole group, where
taking turns alone cost each request a commit's round trip in the queue. A connection that died while
idle (the broker restarted, or closed it for a missed heartbeat) is opened
again, once, for the same batch; a batch published twice that way only
delivers duplicates, which the stages ignore.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from typing import Any

import dramatiq
import pika
import pika.exceptions

from ...core.errors import TransientError
from ...core.values import Task
from ..stage_actors import StageActor
from .housekeeping import broker_address

__all__ = ["BatchPublisher"]

log = logging.getLogger(__name__)

#: Messages in one transaction at most (a discovery batch is 1,000).
MOST_AT_ONCE = 1000


class _Ticket:
    """One thread's messages, and how their transaction ended."""

    def __init__(self, messages: list[dramatiq.Message[Any]]) -> None:
        self.messages = messages
        self.done = False
        self.error: BaseException | None = None


class BatchPublisher:
    """Publishes the messages of several tasks in one transaction."""

    def __init__(self, broker: Any, actors: dict[str, StageActor]) -> None:
        self.broker = broker
        self.actors = actors
        self._connection: Any = None
        self._channel: Any = None
        self._returned: dict[str, int] = {}  # queue name -> messages RabbitMQ returned, in this batch
        self._turns = threading.Condition()
        self._waiting: list[_Ticket] = []  # sends not yet published
        self._publishing = False

    def send_all(self, tasks: Sequence[Task]) -> None:
        """Publish these tasks' messages, ``MOST_AT_ONCE`` to a transaction; a TransientError when RabbitMQ did
        not take them all."""
        ticket = _Ticket([self.actors[t.stage].message_with_options(kwargs=dict(t.args),
                                                                    broker_priority=t.priority) for t in tasks])
        with self._turns:
            self._waiting.append(ticket)
            while self._publishing and not ticket.done:
                self._turns.wait()
            if ticket.done:  # another thread published it with its own
                if ticket.error is not None:
                    raise ticket.error
                return
            self._publishing = True
            group, self._waiting = self._waiting, []
        error: BaseException | None = None
        try:
            messages = [message for waiting in group for message in waiting.messages]
            for start in range(0, len(messages), MOST_AT_ONCE):
                self._publish(messages[start:start + MOST_AT_ONCE])
        except BaseException as exc:  # every sender of the group hears it, not only this one
            error = exc
        finally:
            with self._turns:
                for waiting in group:
                    waiting.done, waiting.error = True, error
                self._publishing = False
                self._turns.notify_all()
        if error is not None:
            raise error

    def _publish(self, messages: Sequence[dramatiq.Message[Any]]) -> None:
        try:
            try:
                self._send(self._open(), messages)
            except (pika.exceptions.ConnectionClosed, pika.exceptions.ChannelClosed,
                    pika.exceptions.ChannelWrongStateError, pika.exceptions.StreamLostError):
                self.close()  # it died while idle: a new connection, once
                self._send(self._open(), messages)
        except pika.exceptions.AMQPError as exc:
            self.close()  # the next batch starts on a new connection
            raise TransientError(f"RabbitMQ at {broker_address(self.broker)} did not take {len(messages)} "
                                 f"message(s): {type(exc).__name__}", kind="broker unavailable") from exc
        if self._returned:
            queues = ", ".join(sorted(self._returned))
            self.close()
            raise TransientError(f"RabbitMQ at {broker_address(self.broker)} routed {sum(self._returned.values())} "
                                 f"of {len(messages)} message(s) to no queue ({queues} missing: was it deleted?)",
                                 kind="broker unavailable")
        for message in messages:
            self.broker.emit_after("enqueue", message, None)
        log.debug("published %d message(s) in one transaction", len(messages))

    def _send(self, channel: Any, messages: Sequence[dramatiq.Message[Any]]) -> None:
        self._returned.clear()
        for message in messages:
            self.broker.emit_before("enqueue", message, None)
            channel.basic_publish(exchange="", routing_key=message.queue_name, body=message.encode(),
                                  properties=pika.BasicProperties(
                                      delivery_mode=2, priority=message.options.get("broker_priority")),
                                  mandatory=True)
        channel.tx_commit()
        # RabbitMQ sends a basic.return before the commit's answer; pika hands it over only here.
        self._connection.process_data_events(time_limit=0)

    def _open(self) -> Any:
        if self._channel is None or not self._channel.is_open:
            self.close()
            self._connection = pika.BlockingConnection(self.broker.parameters)
            self._channel = self._connection.channel()
            self._channel.add_on_return_callback(self._on_return)
            self._channel.tx_select()
        return self._channel

    def _on_return(self, _channel: Any, method: Any, _properties: Any, _body: bytes) -> None:
        self._returned[method.routing_key] = self._returned.get(method.routing_key, 0) + 1

    def close(self) -> None:
        """Close the connection."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
