"""Per-document transitions, guarded so that stale or replayed messages change nothing."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import Connection, and_, case, delete, func, select, update

from ... import metrics
from ..records import PIPELINE, Document, Stage, State
from .base import FINAL_STATES, LedgerBase
from .inflight import clear_version
from .jobs import chunk_sums
from .schema import ITEM_PENDING, documents, job_items

_STAGE_SECONDS = {
    "extract": documents.c.extract_seconds,
    "ocr": documents.c.ocr_seconds,
    "embed": documents.c.embed_seconds,
    "store": documents.c.store_seconds,
}


def claim(conn: Connection, key: str, version: int, stage: Stage) -> Document | None:
    """Move this version to ``stage`` if it may go there (one guarded UPDATE); its row, or None."""
    if stage == Stage.REMOVE:
        guard = documents.c.state == State.DELETING
    elif stage == Stage.RELABEL:
        guard = and_(documents.c.state == State.PENDING, documents.c.stage == Stage.RELABEL)
    else:
        reachable = PIPELINE[: PIPELINE.index(Stage(stage)) + 1]
        guard = and_(documents.c.state == State.PENDING, documents.c.stage.in_(reachable))
    now = time.time()
    row = conn.execute(update(documents).where(
        documents.c.key == key, documents.c.version == version, guard,
    ).values(
        attempts=case((documents.c.stage == stage, documents.c.attempts + 1), else_=1),
        stage=stage, updated_at=now, started_at=func.coalesce(documents.c.started_at, now),
    ).returning(*documents.c)).first()
    return Document.from_row(row) if row is not None else None


class DocumentsMixin(LedgerBase):
    """Claiming, finishing and forgetting document versions, and what status reports of them."""

    def begin(self, key: str, version: int, stage: Stage) -> Document | None:
        """Claim ``stage`` of this version; None when the message is stale or replayed after the end.

        A version only moves forward: a replayed OCR message arriving after
        embedding began finds nothing to claim. A claim already made with the
        message's running mark, on this thread (``delivery_started(claim=True)``),
        is returned without another transaction.
        """
        claimed = self._take_claim(key, version, stage)
        if claimed is not None:
            return claimed[0]
        with self._write() as conn:
            return claim(conn, key, version, stage)

    def finish(self, key: str, version: int, state: State, *, stage: Stage, chunks: int | None = None,
               seconds: float = 0.0, error_kind: str | None = None, reason: str | None = None,
               permanent: bool | None = None, code_version: str | None = None) -> bool:
        """End a version as done, skipped or failed; False if it had already ended.

        A failed version becomes a dead letter (with a short id for ``docmill dlq``)
        and keeps its in-flight data, so a retry resumes at the failed stage.
        A stage's last write (see ``_final_write``).
        """
        if state not in FINAL_STATES:
            raise ValueError(f"not a final state: {state}")
        now = time.time()
        values: dict[str, Any] = dict(state=state, stage=stage, finished_at=now, updated_at=now,
                                      error_kind=error_kind, error=reason, error_permanent=permanent,
                                      code_version=code_version,
                                      dead_letter=uuid.uuid4().hex[:10] if state == State.FAILED else None)
        if chunks is not None:
            values["chunks"] = chunks
        if stage in _STAGE_SECONDS:
            values[_STAGE_SECONDS[stage].name] = _STAGE_SECONDS[stage] + seconds
        with self._final_write() as conn:
            changed = conn.execute(update(documents).where(
                documents.c.key == key, documents.c.version == version,
                documents.c.state.in_((State.PENDING, State.DELETING))).values(**values)).rowcount
            if not changed:
                return False
            conn.execute(update(job_items).where(job_items.c.key == key, job_items.c.version == version,
                                                 ITEM_PENDING)
                         .values(state=state, finished_at=now))
            if state != State.FAILED:
                clear_version(conn, key, version)
        metrics.document_finished(state, error_kind)
        return True

    def removed(self, key: str, version: int) -> bool:
        """The document's chunks are gone from the store: forget it."""
        with self._final_write() as conn:
            gone = conn.execute(delete(documents).where(documents.c.key == key, documents.c.version == version,
                                                        documents.c.state == State.DELETING)).rowcount
            if gone:
                conn.execute(update(job_items).where(job_items.c.key == key, job_items.c.version == version,
                                                     ITEM_PENDING).values(
                    state=State.DELETED, finished_at=time.time()))
                clear_version(conn, key, version)
        if gone:
            metrics.document_finished(State.DELETED)
        return bool(gone)

    def document(self, key: str) -> Document | None:
        """One document, or None."""
        with self._read() as conn:
            row = conn.execute(select(documents).where(documents.c.key == key)).first()
        return Document.from_row(row) if row is not None else None

    def state_counts(self) -> dict[str, int]:
        """How many documents are in each state."""
        with self._read() as conn:
            rows = conn.execute(select(documents.c.state, func.count()).group_by(documents.c.state)).all()
        return {r[0]: r[1] for r in rows}

    def chunk_totals(self) -> dict[str, int]:
        """Chunks the ledger believes are stored, and how many of them were embedded or reused."""
        with self._read() as conn:
            return chunk_sums(conn, documents, documents.c.state == State.DONE)

    def skips(self, limit: int | None = None) -> tuple[list[Document], int]:
        """Skipped documents with a reason (refused, no text), by name: the first ``limit``, and how many more."""
        return self._listed(and_(documents.c.state == State.SKIPPED, documents.c.error_kind.is_not(None)), limit)

    def failures(self, limit: int | None = None) -> tuple[list[Document], int]:
        """Failed documents, by name: the first ``limit``, and how many more."""
        return self._listed(documents.c.state == State.FAILED, limit)

    def _listed(self, where: Any, limit: int | None) -> tuple[list[Document], int]:
        with self._read() as conn:
            rows = conn.execute(select(documents).where(where).order_by(documents.c.name, documents.c.key)
                                .limit(limit)).all()
            total = len(rows) if limit is None or len(rows) < limit else int(conn.execute(
                select(func.count()).select_from(documents).where(where)).scalar_one())
        return [Document.from_row(row) for row in rows], total - len(rows)
