"""The ledger: docmill's memory of every document, job and in-flight version.

Every transition is a guarded UPDATE (``WHERE key = ? AND version = ? AND
state = 'pending'``): a replayed or stale message finds no row to change and
does nothing, so redelivery converges on the same end state. Page texts and
staged vectors of a version in flight live here too, which keeps messages small.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, and_, case, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError, OperationalError

from .errors import StoreUnavailable
from .ledger_schema import (
    create_ledger_engine,
    documents,
    job_items,
    jobs,
    metadata,
    ocr_tasks,
    pages,
    sources,
    staged_chunks,
)
from .models import Chunk, DocumentRef, Page

if TYPE_CHECKING:
    import numpy as np

    from .interfaces import Vectors

__all__ = ["FINAL_STATES", "STAGE_ORDER", "JobProgress", "Ledger", "NewVersion"]

FINAL_STATES = ("done", "skipped", "failed")
#: Stages a version passes through, in order; a stage never moves backwards.
STAGE_ORDER = ("discover", "extract", "ocr", "embed", "store")
_STAGE_SECONDS = {
    "extract": documents.c.extract_seconds,
    "ocr": documents.c.ocr_seconds,
    "embed": documents.c.embed_seconds,
    "store": documents.c.store_seconds,
}


@dataclass(frozen=True)
class NewVersion:
    """A document discovery decided to (re)process."""

    ref: DocumentRef
    fingerprint: str
    signature: str
    previous_version: int | None


@dataclass(frozen=True)
class JobProgress:
    """How far a job has got."""

    counts: dict[str, int]
    discovered: bool
    error: str | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def pending(self) -> int:
        return self.counts.get("pending", 0)

    @property
    def finished(self) -> bool:
        return self.discovered and self.pending == 0


def _prefix(column: Any, prefix: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "sqlite":
        # Byte-wise range: SQLite's LIKE ignores ASCII case.
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return and_(column >= prefix, column < upper)
    return column.startswith(prefix, autoescape=True)


@contextlib.contextmanager
def _unavailable_when_down() -> Iterator[None]:
    """A locked, busy or unreachable database is a StoreUnavailable (retried); a bad query is not."""
    try:
        yield
    except DBAPIError as exc:
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            raise StoreUnavailable(f"the ledger is busy or unreachable: {exc.orig}") from exc
        raise


class Ledger:
    """Documents, jobs and in-flight data, over one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_ledger_engine(url)
        self._writer = self.engine.execution_options(docmill_write=True)
        with self._write() as conn:
            metadata.create_all(conn)

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with _unavailable_when_down(), self._writer.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with _unavailable_when_down(), self.engine.connect() as conn:
            yield conn

    # Sources -------------------------------------------------------------

    def put_source(self, source_id: str, type_name: str, options: Mapping[str, Any]) -> None:
        """Remember how to rebuild a source (options must hold no secrets)."""
        with self._write() as conn:
            conn.execute(delete(sources).where(sources.c.id == source_id))
            conn.execute(insert(sources).values(id=source_id, type=type_name,
                                                options=json.dumps(dict(options)), created_at=time.time()))

    def get_source(self, source_id: str) -> tuple[str, dict[str, Any]] | None:
        """The type and options of a source, or None."""
        with self._read() as conn:
            row = conn.execute(select(sources.c.type, sources.c.options).where(sources.c.id == source_id)).first()
        return (row.type, json.loads(row.options)) if row else None

    # Jobs ----------------------------------------------------------------

    def create_job(self, kind: str, discoveries: int, priority: int = 0) -> str:
        """A new job waiting for ``discoveries`` discover tasks to report."""
        job_id = uuid.uuid4().hex[:12]
        with self._write() as conn:
            conn.execute(insert(jobs).values(id=job_id, kind=kind, priority=priority, created_at=time.time(),
                                             discoveries_remaining=discoveries))
        return job_id

    def end_discovery(self, job_id: str, error: str | None = None) -> None:
        """One discover task of the job has finished (or failed with ``error``)."""
        with self._write() as conn:
            values: dict[str, Any] = {"discoveries_remaining": jobs.c.discoveries_remaining - 1}
            if error:
                values["error"] = func.coalesce(jobs.c.error + "\n", "") + error
            conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.discoveries_remaining > 0).values(**values))
            conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.discoveries_remaining == 0,
                                            jobs.c.discovered_at.is_(None)).values(discovered_at=time.time()))

    def job_progress(self, job_id: str) -> JobProgress:
        """Counts of the job's documents by state."""
        with self._read() as conn:
            job = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
            if job is None:
                raise KeyError(job_id)
            rows = conn.execute(select(job_items.c.state, func.count()).where(job_items.c.job_id == job_id)
                                .group_by(job_items.c.state)).all()
        return JobProgress({r[0]: r[1] for r in rows}, job.discovered_at is not None, job.error)

    def job_summary(self, job_id: str) -> dict[str, Any]:
        """Counts, chunks written and failures of one job, for the end-of-run report."""
        progress = self.job_progress(job_id)
        with self._read() as conn:
            joined = job_items.join(documents, documents.c.key == job_items.c.key)
            chunks = conn.execute(select(func.coalesce(func.sum(documents.c.chunks), 0)).select_from(joined).where(
                job_items.c.job_id == job_id, job_items.c.state == "done")).scalar_one()
            failed = conn.execute(select(documents.c.name, documents.c.stage, documents.c.error_kind,
                                         documents.c.error, job_items.c.unchanged).select_from(joined).where(
                job_items.c.job_id == job_id, job_items.c.state == "failed").order_by(documents.c.name)).all()
            unchanged = conn.execute(select(func.count()).where(job_items.c.job_id == job_id,
                                                                job_items.c.unchanged.is_(True))).scalar_one()
        return {
            "counts": progress.counts,
            "chunks": int(chunks),
            "unchanged": int(unchanged),
            "failures": [{"doc": r.name, "stage": r.stage, "error": r.error_kind, "reason": r.error,
                          "unchanged": bool(r.unchanged)} for r in failed],
            "error": progress.error,
        }

    def pending_items(self, job_id: str) -> list[tuple[str, int]]:
        """(key, version) of the job's documents that have not ended."""
        with self._read() as conn:
            rows = conn.execute(select(job_items.c.key, job_items.c.version).where(
                job_items.c.job_id == job_id, job_items.c.state == "pending")).all()
        return [(r.key, r.version) for r in rows]

    # Discovery -----------------------------------------------------------

    def known(self, scope: str) -> dict[str, Any]:
        """Every document row whose key starts with ``scope``."""
        cols = (documents.c.key, documents.c.stamp, documents.c.fingerprint, documents.c.signature,
                documents.c.state, documents.c.version, documents.c.error_permanent)
        with self._read() as conn:
            rows = conn.execute(select(*cols).where(
                _prefix(documents.c.key, scope, self.engine.dialect.name))).all()
        return {row.key: row for row in rows}

    def start_versions(self, job_id: str, source_id: str, items: Sequence[NewVersion],
                       priority: int = 0) -> list[tuple[str, int]]:
        """Begin a new version of each document; return (key, version) to extract."""
        now = time.time()
        started = []
        with self._write() as conn:
            for item in items:
                ref, version = item.ref, (item.previous_version or 0) + 1
                values = dict(
                    source=source_id, name=ref.name, locator=ref.locator, stamp=ref.stamp, size=ref.size,
                    fingerprint=item.fingerprint, signature=item.signature, version=version, state="pending",
                    stage="extract", attempts=0, error_kind=None, error=None, error_permanent=None,
                    pages=None, ocr_pages=None, ocr_remaining=None, chunks=None,
                    metadata=json.dumps(dict(ref.metadata), default=str), priority=priority, job_id=job_id,
                    updated_at=now, started_at=None, finished_at=None, extract_seconds=0.0,
                    ocr_seconds=0.0, embed_seconds=0.0, store_seconds=0.0,
                )
                if item.previous_version is None:
                    conn.execute(insert(documents).values(key=ref.key, created_at=now, **values))
                else:
                    conn.execute(update(documents).where(documents.c.key == ref.key).values(**values))
                self._add_item(conn, job_id, ref.key, version, "pending")
                started.append((ref.key, version))
        return started

    def record_unchanged(self, job_id: str, rows: Iterable[tuple[Row[Any], DocumentRef]]) -> None:
        """Documents discovery found unchanged: their job items end as they stand.

        A version still in flight (elsewhere) joins the job as pending and ends with it.
        """
        with self._write() as conn:
            for row, ref in rows:
                if row.stamp != ref.stamp:  # touched but identical: remember the new stamp
                    conn.execute(update(documents).where(documents.c.key == ref.key).values(
                        stamp=ref.stamp, name=ref.name, locator=ref.locator))
                state = row.state if row.state in ("failed", "pending") else "skipped"
                self._add_item(conn, job_id, ref.key, row.version, state, unchanged=state != "pending")

    def record_refused(self, job_id: str, source_id: str, ref: DocumentRef, previous: Row[Any] | None) -> None:
        """A document the source listed but will not serve: skipped, with its reason."""
        now = time.time()
        values = dict(source=source_id, name=ref.name, locator=ref.locator, stamp=ref.stamp, state="skipped",
                      stage="discover", error_kind="refused", error=ref.skip_reason, error_permanent=True,
                      chunks=0, updated_at=now, finished_at=now, job_id=job_id)
        with self._write() as conn:
            if previous is None:
                version = 1
                conn.execute(insert(documents).values(key=ref.key, version=1, created_at=now, **values))
            else:
                version = previous.version
                conn.execute(update(documents).where(documents.c.key == ref.key).values(**values))
            self._add_item(conn, job_id, ref.key, version, "skipped", finished=now)

    def start_removals(self, job_id: str, keys: Iterable[str]) -> list[tuple[str, int]]:
        """Documents gone from their source: mark them for removal from the store."""
        started = []
        with self._write() as conn:
            for key in keys:
                row = conn.execute(select(documents.c.version).where(documents.c.key == key)).first()
                if row is None:
                    continue
                conn.execute(update(documents).where(documents.c.key == key).values(
                    state="deleting", stage="remove", attempts=0, updated_at=time.time(), job_id=job_id))
                self._add_item(conn, job_id, key, row.version, "pending")
                started.append((key, row.version))
        return started

    def _add_item(self, conn: Connection, job_id: str, key: str, version: int, state: str, *,
                  unchanged: bool = False, finished: float | None = None) -> None:
        conn.execute(delete(job_items).where(job_items.c.job_id == job_id, job_items.c.key == key))
        if finished is None and state != "pending":
            finished = time.time()
        conn.execute(insert(job_items).values(job_id=job_id, key=key, version=version, state=state,
                                              unchanged=unchanged, finished_at=finished))

    # Per-document transitions --------------------------------------------

    def begin(self, key: str, version: int, stage: str) -> Row[Any] | None:
        """Claim ``stage`` of this version; None when the message is stale or replayed after the end.

        A version only moves forward: a replayed OCR message arriving after
        embedding began finds nothing to claim.
        """
        if stage == "remove":
            guard = documents.c.state == "deleting"
        else:
            reachable = STAGE_ORDER[: STAGE_ORDER.index(stage) + 1]
            guard = and_(documents.c.state == "pending", documents.c.stage.in_(reachable))
        now = time.time()
        with self._write() as conn:
            changed = conn.execute(update(documents).where(
                documents.c.key == key, documents.c.version == version, guard,
            ).values(
                attempts=case((documents.c.stage == stage, documents.c.attempts + 1), else_=1),
                stage=stage, updated_at=now, started_at=func.coalesce(documents.c.started_at, now),
            )).rowcount
            if not changed:
                return None
            return conn.execute(select(documents).where(documents.c.key == key)).first()

    def save_pages(self, key: str, version: int, extracted: Sequence[Page], ocr_ranges: Sequence[int],
                   seconds: float) -> None:
        """Store extracted page texts and the OCR ranges still to do."""
        with self._write() as conn:
            self._clear_version(conn, key, version)
            if extracted:
                conn.execute(insert(pages), [
                    {"key": key, "version": version, "idx": idx, "number": page.number, "text": page.text,
                     "needs_ocr": page.needs_ocr} for idx, page in enumerate(extracted)])
            if ocr_ranges:
                conn.execute(insert(ocr_tasks), [{"key": key, "version": version, "first_page": first,
                                                  "done": False} for first in ocr_ranges])
            conn.execute(update(documents).where(documents.c.key == key, documents.c.version == version).values(
                pages=len(extracted), ocr_pages=sum(p.needs_ocr for p in extracted),
                ocr_remaining=len(ocr_ranges), extract_seconds=documents.c.extract_seconds + seconds))

    def load_pages(self, key: str, version: int) -> list[Page]:
        """The version's pages in order."""
        with self._read() as conn:
            rows = conn.execute(select(pages.c.number, pages.c.text, pages.c.needs_ocr).where(
                pages.c.key == key, pages.c.version == version).order_by(pages.c.idx)).all()
        return [Page(r.number, r.text, r.needs_ocr) for r in rows]

    def save_ocr(self, key: str, version: int, first_page: int, texts: Mapping[int, str],
                 seconds: float) -> int:
        """Record one OCR range's page texts; return how many ranges remain.

        Idempotent: a replayed range changes nothing and reports the same count,
        and exactly one range sees the count reach zero for the first time.
        """
        with self._write() as conn:
            claimed = conn.execute(update(ocr_tasks).where(
                ocr_tasks.c.key == key, ocr_tasks.c.version == version, ocr_tasks.c.first_page == first_page,
                ocr_tasks.c.done.is_(False)).values(done=True)).rowcount
            where = (documents.c.key == key, documents.c.version == version)
            if claimed:
                for number, text in texts.items():
                    conn.execute(update(pages).where(pages.c.key == key, pages.c.version == version,
                                                     pages.c.number == number).values(text=text, needs_ocr=False))
                conn.execute(update(documents).where(*where).values(
                    ocr_remaining=documents.c.ocr_remaining - 1, ocr_seconds=documents.c.ocr_seconds + seconds))
            remaining = conn.execute(select(documents.c.ocr_remaining).where(*where)).scalar_one()
        return int(remaining)

    def stage_chunks(self, key: str, version: int, chunks: Sequence[Chunk], vectors: Vectors,
                     seconds: float) -> None:
        """Hold a version's chunks and vectors until the store stage writes them."""
        import numpy as np  # here, not at import: commands that embed nothing start faster

        vectors = np.asarray(vectors, dtype=np.float32)
        with self._write() as conn:
            conn.execute(delete(staged_chunks).where(staged_chunks.c.key == key, staged_chunks.c.version == version))
            if chunks:
                conn.execute(insert(staged_chunks), [
                    {"key": key, "version": version, "seq": c.seq, "id": c.id, "page": c.page, "text": c.text,
                     "hash": c.hash, "vector": vectors[i].tobytes()} for i, c in enumerate(chunks)])
            conn.execute(update(documents).where(documents.c.key == key, documents.c.version == version).values(
                embed_seconds=documents.c.embed_seconds + seconds))

    def load_staged(self, key: str, version: int) -> tuple[list[Chunk], np.ndarray]:
        """The chunks and vectors staged for a version."""
        import numpy as np

        with self._read() as conn:
            rows = conn.execute(select(staged_chunks).where(
                staged_chunks.c.key == key, staged_chunks.c.version == version).order_by(staged_chunks.c.seq)).all()
        chunks = [Chunk(r.id, key, r.seq, r.page, r.text, r.hash) for r in rows]
        vectors = np.stack([np.frombuffer(r.vector, dtype=np.float32) for r in rows]) if rows else np.empty((0, 0))
        return chunks, vectors

    def finish(self, key: str, version: int, state: str, *, stage: str, chunks: int | None = None,
               seconds: float = 0.0, error_kind: str | None = None, reason: str | None = None,
               permanent: bool | None = None) -> bool:
        """End a version as done, skipped or failed; False if it had already ended."""
        if state not in FINAL_STATES:
            raise ValueError(f"not a final state: {state}")
        now = time.time()
        values: dict[str, Any] = dict(state=state, stage=stage, finished_at=now, updated_at=now,
                                      error_kind=error_kind, error=reason, error_permanent=permanent)
        if chunks is not None:
            values["chunks"] = chunks
        if stage in _STAGE_SECONDS:
            values[_STAGE_SECONDS[stage].name] = _STAGE_SECONDS[stage] + seconds
        with self._write() as conn:
            changed = conn.execute(update(documents).where(
                documents.c.key == key, documents.c.version == version,
                documents.c.state.in_(("pending", "deleting"))).values(**values)).rowcount
            if not changed:
                return False
            conn.execute(update(job_items).where(job_items.c.key == key, job_items.c.version == version,
                                                 job_items.c.state == "pending").values(state=state, finished_at=now))
            self._clear_version(conn, key, version)
        return True

    def removed(self, key: str, version: int) -> bool:
        """The document's chunks are gone from the store: forget it."""
        with self._write() as conn:
            gone = conn.execute(delete(documents).where(documents.c.key == key, documents.c.version == version,
                                                        documents.c.state == "deleting")).rowcount
            if gone:
                conn.execute(update(job_items).where(job_items.c.key == key, job_items.c.version == version,
                                                     job_items.c.state == "pending").values(
                    state="deleted", finished_at=time.time()))
                self._clear_version(conn, key, version)
        return bool(gone)

    @staticmethod
    def _clear_version(conn: Connection, key: str, version: int) -> None:
        for table in (pages, staged_chunks, ocr_tasks):
            conn.execute(delete(table).where(table.c.key == key, table.c.version <= version))

    # Status --------------------------------------------------------------

    def document(self, key: str) -> Row[Any] | None:
        """One document's row."""
        with self._read() as conn:
            return conn.execute(select(documents).where(documents.c.key == key)).first()

    def state_counts(self) -> dict[str, int]:
        """How many documents are in each state."""
        with self._read() as conn:
            rows = conn.execute(select(documents.c.state, func.count()).group_by(documents.c.state)).all()
        return {r[0]: r[1] for r in rows}

    def chunk_total(self) -> int:
        """Chunks the ledger believes are stored."""
        with self._read() as conn:
            total = conn.execute(select(func.coalesce(func.sum(documents.c.chunks), 0)).where(
                documents.c.state == "done")).scalar_one()
        return int(total)

    def failures(self) -> list[Row[Any]]:
        """Every failed document, by name."""
        with self._read() as conn:
            return list(conn.execute(select(documents).where(documents.c.state == "failed")
                                     .order_by(documents.c.name)).all())
