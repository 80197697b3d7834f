"""The order a worker process runs the messages it holds: the document's priority first, then its stage.

A Dramatiq worker keeps what its consumers fetched ahead in one local queue,
ordered by the actor's priority: docmill's finish documents before starting
new ones (store, then embed, OCR, extract, discover). Alone, that let a
priority-9 document's discovery wait while the worker held later stages of
priority-0 documents, one after another: an upload of priority 9 waited 2 s
behind another caller's backlog in embedded mode. So the local queue orders
by the message's priority first (9 first, as the broker's queues do), and by
stage, then arrival, within one priority.
"""

from __future__ import annotations

import heapq
from queue import PriorityQueue
from typing import Any

import dramatiq

__all__ = ["order_by_priority"]


class _ByDocumentPriority(PriorityQueue[Any]):
    """Dramatiq's work queue (items ordered by actor priority, then arrival), the message's priority first."""

    def _put(self, item: Any) -> None:
        priority = item.message.options.get("broker_priority") or 0
        heapq.heappush(self.queue, (-int(priority), item))

    def _get(self) -> Any:
        return heapq.heappop(self.queue)[1]


def order_by_priority(worker: dramatiq.Worker) -> dramatiq.Worker:
    """Make ``worker`` (not started yet) run the messages it holds by their priority first; the worker."""
    worker.work_queue = _ByDocumentPriority()
    return worker
