"""The ledger: docmill's memory of every document, job and in-flight version.

Every transition is a guarded UPDATE (``WHERE key = ? AND version = ? AND
state = 'pending'``): a replayed or stale message finds no row to change and
does nothing, so redelivery converges on the same end state. Page texts and
staged vectors of a version in flight live here too, which keeps messages small.

One database and one schema (``schema``), over which each concern is a role of
its own, a small class holding the shared :class:`~.base.Database`:

========================  ==========================================================================
``ledger.sources``        how to rebuild a named source, its listing state and last sync (``sources``)
``ledger.versions``       what discovery writes: new versions, unchanged, refused, removed (``versions``)
``ledger.documents``      a version's stage transitions, and the documents' status (``documents``)
``ledger.inflight``       page texts, OCR fan-in and staged vectors of versions in flight (``inflight``)
``ledger.jobs``           jobs, their items, progress and summaries (``jobs``)
``ledger.dead_letters``   failed versions waiting for a person to retry or purge them (``deadletters``)
``ledger.deliveries``     which message runs where, to tell a worker's death (``deliveries``)
``ledger.leases``         one sync of a source at a time, across hosts (``leases``)
``ledger.callers``        the HTTP API's callers and their uploads (``callers``)
``ledger.children``       attachments read as documents of their own, under their parent (``children``)
``ledger.upgrades``       which one-off upgrades ran (``upgrade_marks``)
========================  ==========================================================================

A caller that needs one concern takes that role, not the whole ledger.
"""

from __future__ import annotations

from sqlalchemy import Engine

from .base import FINAL_STATES, Database
from .callers import Caller, Callers
from .children import Children, NewChild
from .deadletters import DeadLetters
from .deliveries import Deliveries, Delivery
from .documents import Documents
from .inflight import InFlight
from .jobs import JobProgress, Jobs
from .leases import Leases
from .sources import Sources
from .upgrade_marks import UpgradeMarks
from .versions import NewVersion, Versions

__all__ = ["FINAL_STATES", "Caller", "Callers", "Children", "Database", "DeadLetters", "Deliveries", "Delivery",
           "Documents", "InFlight", "JobProgress", "Jobs", "Leases", "Ledger", "NewChild", "NewVersion", "Sources",
           "UpgradeMarks", "Versions"]


class Ledger:
    """The ledger's roles over one SQLAlchemy engine; a context manager that closes it."""

    def __init__(self, url: str, *, job_history: float = 0.0) -> None:
        """``job_history``: seconds a job is kept once it started (0: for ever), see ``Jobs.forget_jobs``."""
        self.db = Database(url, job_history=job_history)
        self.sources = Sources(self.db)
        self.versions = Versions(self.db)
        self.documents = Documents(self.db)
        self.inflight = InFlight(self.db)
        self.jobs = Jobs(self.db)
        self.dead_letters = DeadLetters(self.db)
        self.deliveries = Deliveries(self.db)
        self.leases = Leases(self.db)
        self.callers = Callers(self.db)
        self.children = Children(self.db)
        self.upgrades = UpgradeMarks(self.db)

    @property
    def url(self) -> str:
        return self.db.url

    @property
    def where(self) -> str:
        """The database as messages name it (its kind and place, never a password)."""
        return self.db.where

    @property
    def served(self) -> bool:
        """Whether a database server does the work of a statement (PostgreSQL); see ``Database.served``."""
        return self.db.served

    @property
    def engine(self) -> Engine:
        return self.db.engine

    def ping(self) -> None:
        """Return once the database has answered a query; LedgerUnavailable (or DiskFull) when it cannot."""
        self.db.ping()

    def close(self) -> None:
        """Release every connection."""
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
