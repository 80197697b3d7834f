"""Dead letters: failed versions waiting for a person to retry or purge them."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, Connection, and_, func, select, true, tuple_, update

from ..ledger_records import Document, Stage, State
from .base import Role
from .jobs import add_item
from .schema import documents, jobs

#: Versions or jobs asked about in one statement.
_AT_ONCE = 500

_DEAD = and_(documents.c.state == State.FAILED, documents.c.dead_letter.is_not(None))


def _after(conn: Connection, dead_letter: str | None) -> ColumnElement[bool]:
    """Dead letters after this one, in the order of ``entries`` (all when None or unknown)."""
    mark = None if dead_letter is None else conn.execute(
        select(documents.c.finished_at, documents.c.key).where(documents.c.dead_letter == dead_letter)).first()
    return true() if mark is None else tuple_(documents.c.finished_at, documents.c.key) > tuple_(*mark)


class DeadLetters(Role):
    """Listing, reopening and purging failed versions."""

    def entries(self, ids: Sequence[str] | None = None, *, before: float | None = None,
                     limit: int | None = None, after: str | None = None) -> list[Document]:
        """Failed versions still held as dead letters, oldest first; only ``ids`` or only older ones if given.

        A page: at most ``limit``, those after the dead letter ``after`` (keyset on the time it failed and
        its key, so a page costs the same wherever it starts).
        """
        query = select(documents).where(_DEAD)
        if ids is not None:
            query = query.where(documents.c.dead_letter.in_(list(ids)))
        if before is not None:
            query = query.where(documents.c.finished_at < before)
        with self._read() as conn:
            query = query.where(_after(conn, after))
            rows = conn.execute(query.order_by(documents.c.finished_at, documents.c.key).limit(limit)).all()
        return [Document.from_row(row) for row in rows]

    def count(self, after: str | None = None) -> int:
        """How many dead letters there are (after the dead letter ``after``, in the order of ``entries``)."""
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(documents).where(
                _DEAD, _after(conn, after))).scalar_one())

    def versions(self) -> set[tuple[str, int]]:
        """(key, version) of every dead letter."""
        with self._read() as conn:
            return {(r.key, r.version) for r in conn.execute(select(documents.c.key, documents.c.version)
                                                               .where(_DEAD))}

    def waiting_versions(self, versions: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
        """Which of these (key, version) pairs the ledger still waits on (pending, or being removed). A message of
        one of them in a dead-letter queue was lost, not failed: the ledger never heard of its failure."""
        wanted = sorted(set(versions))
        found: set[tuple[str, int]] = set()
        with self._read() as conn:
            for start in range(0, len(wanted), _AT_ONCE):
                found |= {(r.key, r.version) for r in conn.execute(select(documents.c.key, documents.c.version).where(
                    tuple_(documents.c.key, documents.c.version).in_(wanted[start:start + _AT_ONCE]),
                    documents.c.state.in_([State.PENDING, State.DELETING])))}
        return found

    def waiting_discoveries(self, discoveries: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (job, source) discoveries their jobs still wait for: the job has not finished
        discovering, and no failure of that source's discovery is recorded in it."""
        wanted = sorted(set(discoveries))
        open_jobs: dict[str, str] = {}
        with self._read() as conn:
            for start in range(0, len(wanted), _AT_ONCE):
                ids = sorted({job for job, _ in wanted[start:start + _AT_ONCE]})
                open_jobs.update({r.id: r.error or "" for r in conn.execute(select(jobs.c.id, jobs.c.error).where(
                    jobs.c.id.in_(ids), jobs.c.discovered_at.is_(None)))})
        # A discovery's failure is recorded as a line "SOURCE: reason" in its job's error (end_discovery).
        return {(job, source) for job, source in wanted if job in open_jobs
                and not any(line.startswith(f"{source}: ") for line in open_jobs[job].splitlines())}

    def reopen(self, job_id: str, row: Document, stage: Stage) -> bool:
        """Put a dead letter back in flight at ``stage``, as part of ``job_id``; False if it moved meanwhile."""
        now = time.time()
        with self._write() as conn:
            changed = conn.execute(update(documents).where(
                documents.c.key == row.key, documents.c.version == row.version, documents.c.state == State.FAILED,
                documents.c.dead_letter == row.dead_letter,
            ).values(state=State.DELETING if stage == Stage.REMOVE else State.PENDING, stage=stage, attempts=0,
                     error_kind=None, error=None, error_permanent=None, dead_letter=None, finished_at=None,
                     updated_at=now, job_id=job_id)).rowcount
            if changed:
                add_item(conn, job_id, row.key, row.version, State.PENDING)
        return bool(changed)

    def purge(self, rows: Sequence[Document]) -> int:
        """Forget these dead letters; the documents stay failed, with their reasons."""
        purged = 0
        with self._write() as conn:
            for row in rows:
                purged += conn.execute(update(documents).where(
                    documents.c.key == row.key, documents.c.dead_letter == row.dead_letter,
                ).values(dead_letter=None)).rowcount
        return purged
