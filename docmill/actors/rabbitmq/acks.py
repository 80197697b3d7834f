"""Acknowledgements go to the channel that delivered the message, or nowhere.

RabbitMQ numbers deliveries per channel, from 1. When a worker's consumer
connection drops (a RabbitMQ restart, a network blip) while a worker thread
is still running a message, Dramatiq's consumer thread opens a new channel
and the old message's ack later goes to that new channel with the old
number: it acknowledges whichever new delivery happens to carry the same
number, a message the worker has not processed. Should the worker then
stop or die before it gets to that message, the message is gone for good,
and its document waits forever.

RabbitMQ itself already requeued every message the closed channel held, so
an ack or nack of a message from an older channel has nothing left to do.
:class:`ChannelBoundBroker` hands out consumers that remember which of their
instances delivered each message and drop those stale operations. The same
holds while the connection is down and no new consumer has replaced it yet
(RabbitMQ is restarting): Dramatiq would retry such an ack every few seconds
until the connection returned, holding its worker thread; it is dropped too.
"""

from __future__ import annotations

import logging
from typing import Any

from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer
from dramatiq.errors import BrokerConnectionError

from .housekeeping import address

__all__ = ["ChannelBoundBroker"]

log = logging.getLogger(__name__)

#: The attribute on a delivered message naming the consumer (and so the channel) that delivered it.
_DELIVERED_BY = "_docmill_delivered_by"


class _ChannelBoundConsumer(_RabbitmqConsumer):
    """Dramatiq's RabbitMQ consumer, refusing to settle messages another channel delivered."""

    def __next__(self) -> Any:
        message = super().__next__()
        if message is not None:
            setattr(message, _DELIVERED_BY, self)
        return message

    def _stale(self, message: Any, what: str) -> bool:
        if getattr(message, _DELIVERED_BY, None) is self:
            return False
        log.info("not sending the %s of message %s: the channel that delivered it has closed, and RabbitMQ "
                 "delivers it again", what, message.message_id)
        return True

    def _settle(self, message: Any, what: str, settle: Any) -> None:
        if self._stale(message, what):
            return
        try:
            settle(message)
        except BrokerConnectionError:
            log.info("not sending the %s of message %s: the connection that delivered it is down, and RabbitMQ "
                     "delivers it again", what, message.message_id)

    def ack(self, message: Any) -> None:
        self._settle(message, "ack", super().ack)

    def nack(self, message: Any) -> None:
        self._settle(message, "nack", super().nack)


class ChannelBoundBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker whose consumers never settle a delivery of an older channel. ``address`` is
    its URL as configured, without credentials, for messages."""

    def __init__(self, *, url: str, **options: Any) -> None:
        super().__init__(url=url, **options)
        self.address = address(url)

    @property
    def consumer_class(self) -> type:
        return _ChannelBoundConsumer
