"""Embedded mode's broker: Dramatiq's in-process StubBroker, with queues that honour a message's priority.

The StubBroker's queues are first in, first out, so in embedded mode a
priority-9 upload waited behind every message queued before it (352 of
another caller's uploads held one up for 10 s). These queues give out the
highest ``broker_priority`` first, and in order within a priority, as
RabbitMQ's priority queues do in distributed mode: one meaning for a
document's priority in both modes.
"""

from __future__ import annotations

import heapq
import itertools
import queue

from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name

__all__ = ["PriorityStubBroker"]


class _PriorityQueue(queue.Queue[bytes]):
    """A queue of encoded messages, highest priority first, first in first out within one."""

    def _init(self, maxsize: int) -> None:
        self.queue: list[tuple[int, int, bytes]] = []
        self._order = itertools.count()

    def _qsize(self) -> int:
        return len(self.queue)

    def _put(self, item: bytes) -> None:
        priority = Message.decode(item).options.get("broker_priority") or 0
        heapq.heappush(self.queue, (-int(priority), next(self._order), item))

    def _get(self) -> bytes:
        return heapq.heappop(self.queue)[2]


class PriorityStubBroker(StubBroker):
    """The StubBroker, its queues (and their delay queues) ordered by message priority."""

    def declare_queue(self, queue_name: str) -> None:
        if queue_name in self.queues:
            return
        super().declare_queue(queue_name)
        self.queues[queue_name] = _PriorityQueue()
        self.queues[dq_name(queue_name)] = _PriorityQueue()
