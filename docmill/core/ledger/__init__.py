"""The ledger: docmill's memory of every document, job and in-flight version.

Every transition is a guarded UPDATE (``WHERE key = ? AND version = ? AND
state = 'pending'``): a replayed or stale message finds no row to change and
does nothing, so redelivery converges on the same end state. Page texts and
staged vectors of a version in flight live here too, which keeps messages small.

One class, assembled from one module per concern: ``base`` (engine,
transactions, sources), ``jobs``, ``discovery``, ``documents`` (transitions and
status), ``inflight`` (pages, OCR fan-in, staged vectors), ``deadletters``,
``deliveries`` (crash accounting), ``leases`` (one sync per source), ``children`` (attachments as
documents of their own) and ``callers`` (the API's callers, and
one-off upgrades); ``schema`` holds the tables.
"""

from __future__ import annotations

from .base import FINAL_STATES
from .callers import Caller, CallersMixin
from .children import ChildrenMixin, NewChild
from .deadletters import DeadLettersMixin
from .deliveries import DeliveriesMixin, Delivery
from .discovery import DiscoveryMixin, NewVersion
from .documents import DocumentsMixin
from .inflight import InFlightMixin
from .jobs import JobProgress, JobsMixin
from .leases import LeasesMixin

__all__ = ["FINAL_STATES", "Caller", "Delivery", "JobProgress", "Ledger", "NewChild", "NewVersion"]


class Ledger(DiscoveryMixin, DocumentsMixin, InFlightMixin, JobsMixin, DeadLettersMixin, DeliveriesMixin,
             LeasesMixin, CallersMixin, ChildrenMixin):
    """Documents, jobs and in-flight data, over one SQLAlchemy engine; a context manager that closes it."""

    def __enter__(self) -> Ledger:
        return self
