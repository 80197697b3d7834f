"""Per-document transitions, guarded so that stale or replayed messages change nothing."""

from __future__ import annotations

import functools
import time
import uuid
from typing import Any

from sqlalchemy import Connection, Float, Update, and_, bindparam, case, delete, func, select, update

from ..ledger_records import PIPELINE, Document, Stage, State
from .base import FINAL_STATES, Role
from .children import DROP_ATTACHMENT
from .inflight import clear_version
from .jobs import chunk_sums
from .schema import ITEM_PENDING, constant, documents, job_items, of_version

_STAGE_SECONDS = {
    "extract": documents.c.extract_seconds,
    "ocr": documents.c.ocr_seconds,
    "embed": documents.c.embed_seconds,
    "store": documents.c.store_seconds,
}


def _claim_statement(stage: Stage) -> Update:
    """The guarded UPDATE that moves a version to ``stage``, with the key, version and time as parameters."""
    if stage == Stage.REMOVE:
        guard = documents.c.state == constant(State.DELETING)
    elif stage == Stage.RELABEL:
        guard = and_(documents.c.state == constant(State.PENDING), documents.c.stage == constant(Stage.RELABEL))
    else:
        reachable = PIPELINE[: PIPELINE.index(Stage(stage)) + 1]
        guard = and_(documents.c.state == constant(State.PENDING),
                     documents.c.stage.in_([constant(s) for s in reachable]))
    now = bindparam("b_now", type_=Float)
    return update(documents).where(*of_version(documents), guard).values(
        attempts=case((documents.c.stage == constant(stage), documents.c.attempts + 1), else_=1),
        stage=constant(stage), updated_at=now, started_at=func.coalesce(documents.c.started_at, now),
    ).returning(*documents.c)


#: The claim of each stage, built once: building this statement took three times as long as running it.
_CLAIMS: dict[Stage, Update] = {stage: _claim_statement(stage) for stage in Stage if stage != Stage.DISCOVER}


def claim(conn: Connection, key: str, version: int, stage: Stage) -> Document | None:
    """Move this version to ``stage`` if it may go there (one guarded UPDATE); its row, or None."""
    row = conn.execute(_CLAIMS[stage], {"b_key": key, "b_version": version, "b_now": time.time()}).first()
    return Document.from_row(row) if row is not None else None


@functools.cache
def _finish_statement(stage: Stage, chunks: bool) -> Update:
    """The UPDATE that ends a version in ``stage`` (setting its chunk count with ``chunks``), built once."""
    now = bindparam("b_now", type_=Float)
    values: dict[str, Any] = {
        name: bindparam(f"b_{name}") for name in ("error_kind", "error_permanent", "code_version", "dead_letter")}
    values.update(state=bindparam("b_state"), stage=constant(stage), finished_at=now, updated_at=now,
                  error=bindparam("b_error"))
    if chunks:
        values["chunks"] = bindparam("b_chunks")
    if stage in _STAGE_SECONDS:
        values[_STAGE_SECONDS[stage].name] = _STAGE_SECONDS[stage] + bindparam("b_seconds", type_=Float)
    return update(documents).where(
        *of_version(documents), documents.c.state.in_([constant(State.PENDING), constant(State.DELETING)]),
    ).values(**values)


#: A version's items in its jobs end as it did.
_END_ITEMS = update(job_items).where(*of_version(job_items), ITEM_PENDING).values(
    state=bindparam("b_state"), finished_at=bindparam("b_now", type_=Float))
#: A removed version's items end, keeping the name of the document the ledger forgets.
_END_REMOVED_ITEMS = _END_ITEMS.values(name=bindparam("b_name"))


class Documents(Role):
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
            document: Document | None = claimed[0]
            return document
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
        values = {"b_key": key, "b_version": version, "b_state": state, "b_now": now, "b_error_kind": error_kind,
                  "b_error": reason, "b_error_permanent": permanent, "b_code_version": code_version,
                  "b_dead_letter": uuid.uuid4().hex[:10] if state == State.FAILED else None,
                  "b_chunks": chunks, "b_seconds": seconds}
        with self._final_write() as conn:
            if not conn.execute(_finish_statement(stage, chunks is not None), values).rowcount:
                return False
            conn.execute(_END_ITEMS, values)
            if state != State.FAILED:
                clear_version(conn, key, version)
                conn.execute(DROP_ATTACHMENT, values)
        return True

    def removed(self, key: str, version: int) -> bool:
        """The document's chunks are gone from the store: forget it."""
        with self._final_write() as conn:
            name = conn.execute(delete(documents).where(documents.c.key == key, documents.c.version == version,
                                                        documents.c.state == State.DELETING)
                                .returning(documents.c.name)).scalar()
            gone = name is not None
            if gone:
                conn.execute(_END_REMOVED_ITEMS, {"b_key": key, "b_version": version, "b_state": State.DELETED,
                                                  "b_now": time.time(), "b_name": name})
                clear_version(conn, key, version)
                conn.execute(DROP_ATTACHMENT, {"b_key": key})
        return bool(gone)

    def document(self, key: str) -> Document | None:
        """One document, or None."""
        with self._read() as conn:
            row = conn.execute(select(documents).where(documents.c.key == key)).first()
        return Document.from_row(row) if row is not None else None

    def documents_after(self, after: str | None, limit: int) -> list[Document]:
        """Up to ``limit`` documents in key order after the key ``after`` (from the first when None): the ledger
        read a page at a time."""
        with self._read() as conn:
            rows = conn.execute(select(documents).where(*([documents.c.key > after] if after is not None else []))
                                .order_by(documents.c.key).limit(limit)).all()
        return [Document.from_row(row) for row in rows]

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
