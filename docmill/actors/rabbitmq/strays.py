"""Dead-lettered messages the ledger still waits for: queued again, never purged.

A message reaches a dead-letter queue (``.XQ``) when it failed for good, and
its failure is then in the ledger: a dead letter that ``docmill dlq`` lists.
A message there whose document the ledger still calls pending was lost
instead: dead-lettered during a ledger outage by a docmill older than this
one (its failure could not be written), or by a worker that could not hand a
held message back while RabbitMQ was down as well. Its document would wait
for it for ever, and purging it would destroy the only copy.

Such strays are queued again, with a fresh retry budget, by ``docmill
worker`` as it starts, by each worker process when the ledger answers again
after an outage, and by ``docmill submit`` before it discovers (so
re-submitting a folder finishes what an outage stranded). ``docmill dlq
purge`` removes only messages the ledger no longer waits for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import dramatiq

from ...core.ledger import Ledger
from . import housekeeping
from .housekeeping import DeadMessage

__all__ = ["leftovers", "requeue_strays", "waited_for"]

log = logging.getLogger(__name__)


def _discovery(dead: DeadMessage) -> tuple[str, str] | None:
    job, source = dead.kwargs.get("job_id"), dead.kwargs.get("source_id")
    return (job, source) if dead.version is None and job is not None and source is not None else None


def waited_for(ledger: Ledger, found: list[DeadMessage]) -> list[bool]:
    """For each dead message, whether the ledger still waits for it: its document version is pending (or
    being removed), or its job still waits for that discovery."""
    versions = ledger.dead_letters.waiting_versions(d.version for d in found if d.version is not None)
    discoveries = ledger.dead_letters.waiting_discoveries(d for d in map(_discovery, found) if d is not None)
    return [dead.version in versions if dead.version is not None else _discovery(dead) in discoveries
            for dead in found]


def leftovers(ledger: Ledger) -> housekeeping.Choose:
    """Picks the dead messages the ledger no longer waits for (failed, superseded, removed; ended discoveries)."""
    return lambda found: [not waited for waited in waited_for(ledger, found)]


def requeue_strays(broker: dramatiq.Broker, ledger: Ledger, queues: Iterable[str]) -> int:
    """Queue the strays in these queues' dead-letter queues again; how many there were."""
    count = housekeeping.requeue_dead_messages(broker, queues, lambda found: waited_for(ledger, found))
    if count:
        log.warning("queued %d dead-lettered message(s) again: the ledger still waits for them (they were lost "
                    "during an outage, not failed)", count, extra={"event": "outage.strays_requeued"})
    return count
