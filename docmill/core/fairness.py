"""Fair shares between the HTTP API's callers: one caller's backlog does not hold up another's documents.

Every stage takes higher priorities first (RabbitMQ's priority queues, and
the embedded broker's alike) and, at one priority, documents in the order
they came. Alone, that made a caller with 352 uploads queued hold up
another caller's one upload for as long as the 352 took. So each caller's
first :data:`FAIR_SHARE` documents in flight, and the discovery of its
first :data:`FAIR_SHARE` jobs, go one priority level above the one asked
(at most 9); the rest of its backlog waits at the level asked. Another
caller's upload is then the first of its own share: it overtakes the
backlog, and waits at most for the shares of the callers ahead of it. A
caller's own documents keep their order, and work without a caller (the
command line, the scheduler, webhooks) keeps the priority asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["FAIR_SHARE", "MAX_PRIORITY", "FairShare", "raised"]

#: Documents (and jobs waiting for discovery) of one caller that go one level up at a time.
FAIR_SHARE = 8
#: The highest priority: a share cannot go above it, so priority 9 is served in order, shares or not.
MAX_PRIORITY = 9


def raised(priority: int) -> int:
    """The priority of a caller's share: one level up, at most :data:`MAX_PRIORITY`."""
    return min(MAX_PRIORITY, priority + 1)


class FairShare:
    """A caller's share as one discovery starts documents: how many of those it starts go one level up."""

    def __init__(self, ledger: Ledger, owner: str | None) -> None:
        self.ledger, self.owner = ledger, owner

    def room(self, count: int) -> int:
        """How many of ``count`` documents starting now are within the caller's share (none without a caller)."""
        if self.owner is None or not count:
            return 0
        in_flight: int = self.ledger.jobs.in_flight_of(self.owner)
        return max(0, min(count, FAIR_SHARE - in_flight))
