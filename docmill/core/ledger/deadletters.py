"""Dead letters: failed versions waiting for a person to retry or purge them."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import select, update

from ..records import Document, Stage, State
from .base import LedgerBase
from .jobs import add_item
from .schema import documents


class DeadLettersMixin(LedgerBase):
    """Listing, reopening and purging failed versions."""

    def dead_letters(self, ids: Sequence[str] | None = None, *, before: float | None = None) -> list[Document]:
        """Failed versions still held as dead letters, oldest first; only ``ids`` or only older ones if given."""
        query = select(documents).where(documents.c.state == State.FAILED, documents.c.dead_letter.is_not(None))
        if ids is not None:
            query = query.where(documents.c.dead_letter.in_(list(ids)))
        if before is not None:
            query = query.where(documents.c.finished_at < before)
        with self._read() as conn:
            rows = conn.execute(query.order_by(documents.c.finished_at, documents.c.name)).all()
        return [Document.from_row(row) for row in rows]

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
