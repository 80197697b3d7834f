"""Jobs and their items: what became of each document a run touched."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, text, update

from ..ledger_records import JobInfo, JobItem, JobSummary, State
from .base import Role, put_source, upsert
from .schema import documents, job_items, jobs

#: Old jobs forgotten as one job starts: a few, so that a start never waits on a long backlog (a ledger
#: upgraded with years of history sheds it over its next runs).
FORGET_AT_ONCE = 5


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
        return self.counts.get(State.PENDING, 0)

    @property
    def finished(self) -> bool:
        return self.discovered and self.pending == 0


def chunk_sums(conn: Connection, selectable: Any, *where: Any) -> dict[str, int]:
    """Chunks of the matching documents, and how many of them were embedded or reused."""
    columns = (documents.c.chunks, documents.c.embedded_chunks, documents.c.reused_chunks)
    row = conn.execute(select(*(func.coalesce(func.sum(c), 0) for c in columns)).select_from(selectable)
                       .where(*where)).one()
    return {"chunks": int(row[0]), "embedded": int(row[1]), "reused": int(row[2])}


def item(key: str, version: int, state: State, *, unchanged: bool = False, relabel: bool = False,
         finished: float | None = None) -> dict[str, Any]:
    """One document's row for :func:`add_items`."""
    if finished is None and state != State.PENDING:
        finished = time.time()
    return {"key": key, "version": version, "state": state, "unchanged": unchanged, "relabel": relabel,
            "finished_at": finished}


def add_items(conn: Connection, job_id: str, items: Sequence[dict[str, Any]]) -> None:
    """Record (or replace) what a job is doing with each of these documents (rows made by :func:`item`),
    in one upsert whatever their number (the last row of a key counts)."""
    if not items:
        return
    if conn.dialect.name == "postgresql":
        rows = json.dumps(list({i["key"]: i for i in items}.values()), ensure_ascii=False)
        conn.execute(_JSON_UPSERT, {"job_id": job_id, "rows": rows})
        return
    statement = upsert("sqlite")(job_items)
    statement = statement.on_conflict_do_update(
        index_elements=[job_items.c.job_id, job_items.c.key],
        set_={name: statement.excluded[name] for name in ("version", "state", "unchanged", "relabel", "finished_at")})
    conn.execute(statement, list({i["key"]: {"job_id": job_id, **i} for i in items}.values()))


#: One statement for any number of rows, bound as one JSON parameter: a thousand rows are one round trip and one
#: statement to plan (an ``executemany`` of the upsert took 30% of an unchanged re-discovery), and the JSON is
#: built in C (binding each column as an array, psycopg built them element by element: 13% of that re-discovery).
_JSON_UPSERT = text(
    "INSERT INTO job_items (job_id, key, version, state, unchanged, relabel, finished_at) "
    "SELECT :job_id, key, version, state, unchanged, relabel, finished_at FROM json_to_recordset(CAST(:rows AS json)) "
    "AS x(key text, version integer, state text, unchanged boolean, relabel boolean, finished_at double precision) "
    "ON CONFLICT (job_id, key) DO UPDATE SET version = excluded.version, state = excluded.state, "
    "unchanged = excluded.unchanged, relabel = excluded.relabel, finished_at = excluded.finished_at")


def add_item(conn: Connection, job_id: str, key: str, version: int, state: State, *,
             unchanged: bool = False, relabel: bool = False, finished: float | None = None) -> None:
    """Record (or replace) what a job is doing with one document."""
    add_items(conn, job_id, [item(key, version, state, unchanged=unchanged, relabel=relabel, finished=finished)])


class Jobs(Role):
    """Creating jobs and reporting on them."""

    def create(self, kind: str, discoveries: int, priority: int = 0, owner: str | None = None,
                   sources: Sequence[tuple[str, str, Mapping[str, Any]]] = ()) -> str:
        """A new job waiting for ``discoveries`` discover tasks to report (started by ``owner``, an API caller),
        registering its ``sources`` (id, type, options; see ``put_source``) in the same transaction."""
        job_id = uuid.uuid4().hex[:12]
        with self._write() as conn:
            for source_id, type_name, options in sources:
                put_source(conn, source_id, type_name, options)
            conn.execute(insert(jobs), {"id": job_id, "kind": kind, "priority": priority, "created_at": time.time(),
                                        "owner": owner, "discoveries_remaining": discoveries,
                                        "discovered_at": None if discoveries else time.time()})
        if self.job_history > 0:
            self.forget(time.time() - self.job_history)
        return job_id

    def forget(self, before: float, limit: int = FORGET_AT_ONCE) -> int:
        """Forget the ``limit`` oldest jobs started before ``before`` (epoch seconds), with their items; how many.

        Called as each job starts (``job_history``), so the ledger keeps a window of history rather than every
        run's: the documents themselves, their states and dead letters stay. A job still running when it falls
        out of the window is forgotten too (its documents finish as usual, without a job to report to).
        """
        with self._write() as conn:
            ids = list(conn.execute(select(jobs.c.id).where(jobs.c.created_at < before)
                                    .order_by(jobs.c.created_at).limit(limit)).scalars())
            if ids:
                conn.execute(delete(job_items).where(job_items.c.job_id.in_(ids)))
                conn.execute(delete(jobs).where(jobs.c.id.in_(ids)))
        return len(ids)

    def end_discovery(self, job_id: str, error: str | None = None) -> None:
        """One discover task of the job has finished (or failed with ``error``)."""
        with self._write() as conn:
            values: dict[str, Any] = {"discoveries_remaining": jobs.c.discoveries_remaining - 1}
            if error:
                values["error"] = func.coalesce(jobs.c.error + "\n", "") + error
            conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.discoveries_remaining > 0).values(**values))
            conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.discoveries_remaining == 0,
                                            jobs.c.discovered_at.is_(None)).values(discovered_at=time.time()))

    def record_left_out(self, job_id: str, count: int) -> None:
        """Discovery found ``count`` indexed documents that the filters now leave out (kept in the index)."""
        with self._write() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(left_out=jobs.c.left_out + count))

    def progress(self, job_id: str) -> JobProgress:
        """Counts of the job's documents by state."""
        with self._read() as conn:
            job = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
            if job is None:
                raise KeyError(job_id)
            rows = conn.execute(select(job_items.c.state, func.count()).where(job_items.c.job_id == job_id)
                                .group_by(job_items.c.state)).all()
        return JobProgress({r[0]: r[1] for r in rows}, job.discovered_at is not None, job.error)

    def summary(self, job_id: str) -> JobSummary:
        """Counts, chunks written and failures of one job, for the end-of-run report."""
        progress = self.progress(job_id)
        with self._read() as conn:
            joined = job_items.join(documents, documents.c.key == job_items.c.key)
            totals = chunk_sums(conn, joined, job_items.c.job_id == job_id, job_items.c.state == State.DONE)
            failed = conn.execute(select(documents.c.name, documents.c.stage, documents.c.error_kind,
                                         documents.c.error, job_items.c.unchanged).select_from(joined).where(
                job_items.c.job_id == job_id, job_items.c.state == State.FAILED).order_by(documents.c.name)).all()
            unchanged = conn.execute(select(func.count()).where(job_items.c.job_id == job_id,
                                                                job_items.c.unchanged.is_(True))).scalar_one()
            job = conn.execute(select(jobs.c.left_out, jobs.c.created_at, jobs.c.discovered_at).where(
                jobs.c.id == job_id)).one()
            last = conn.execute(select(func.max(job_items.c.finished_at)).where(job_items.c.job_id == job_id)).scalar()
        left_out = job.left_out
        ended = max(t for t in (last, job.discovered_at, job.created_at) if t is not None)
        return {
            "counts": progress.counts,
            "seconds": round(ended - job.created_at, 3),  # the job's, from its start to its last document's end
            "chunks": totals["chunks"], "embedded": totals["embedded"], "reused": totals["reused"],
            "unchanged": int(unchanged),
            "left_out": int(left_out or 0),
            "failures": [{"doc": r.name, "stage": r.stage, "error": r.error_kind, "reason": r.error,
                          "unchanged": bool(r.unchanged)} for r in failed],
            "error": progress.error,
        }

    def pending_items(self, job_id: str) -> list[tuple[str, int]]:
        """(key, version) of the job's documents that have not ended."""
        with self._read() as conn:
            rows = conn.execute(select(job_items.c.key, job_items.c.version).where(
                job_items.c.job_id == job_id, job_items.c.state == State.PENDING)).all()
        return [(r.key, r.version) for r in rows]

    def items(self, job_id: str, *, limit: int | None = None, after: str | None = None,
                  state: str | None = None, stage: str | None = None) -> tuple[list[JobItem], int]:
        """The job's documents, where each stands now, in key order; and how many more match after them.

        A page at a time: ``limit`` items (None: all) whose key comes after
        ``after``, of the ``state`` and the current ``stage`` asked for. The
        job's own key order serves it (the primary key), so a page costs the
        same at the start of a million items as at the end.
        """
        # Outer: a removed document is forgotten, and its item keeps its name (a delete job's only item).
        joined = job_items.join(documents, documents.c.key == job_items.c.key, isouter=True)
        where = [job_items.c.job_id == job_id]
        if state is not None:
            where.append(job_items.c.state == state)
        if stage is not None:
            where.append(and_(documents.c.stage == stage, documents.c.version == job_items.c.version))
        with self._read() as conn:
            if conn.execute(select(jobs.c.id).where(jobs.c.id == job_id)).first() is None:
                raise KeyError(job_id)
            query = select(
                func.coalesce(documents.c.name, job_items.c.name, job_items.c.key).label("name"), job_items.c.key,
                job_items.c.state, job_items.c.version, documents.c.version,
                documents.c.stage, documents.c.priority, documents.c.attempts, job_items.c.finished_at,
                documents.c.error_kind, documents.c.error, documents.c.parent,
            ).select_from(joined).where(*where, *([job_items.c.key > after] if after is not None else []))
            rows = conn.execute(query.order_by(job_items.c.key).limit(limit)).all()
            more = 0
            if limit is not None and len(rows) == limit:
                more = int(conn.execute(select(func.count()).select_from(joined).where(
                    *where, job_items.c.key > rows[-1].key)).scalar_one())
        items: list[JobItem] = []
        for r in rows:
            current = r[4] == r.version  # the job's version is still the document's latest
            items.append({
                "doc": r.name, "key": r.key, "state": r.state, "stage": r.stage if current else None,
                "priority": r.priority, "attempts": r.attempts if current else None, "finished_at": r.finished_at,
                # Why it failed, or why it was skipped (refused, no text); None when it simply ended.
                "error": r.error_kind if r.state in (State.FAILED, State.SKIPPED) and current else None,
                "reason": r.error if r.state in (State.FAILED, State.SKIPPED) and current else None,
                # The key of the document carrying it, for an attachment read as a document of its own.
                "parent": r.parent,
            })
        return items, more

    def info(self, job_id: str) -> JobInfo:
        """The job's own row: kind, priority, when it was created and discovered."""
        with self._read() as conn:
            job = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if job is None:
            raise KeyError(job_id)
        return _info(job)

    def of(self, owner: str | None, limit: int = 50) -> list[JobInfo]:
        """The most recent jobs ``owner`` started, newest first (as ``info`` gives each)."""
        with self._read() as conn:
            rows = conn.execute(select(jobs).where(jobs.c.owner == owner if owner is not None else
                                                   jobs.c.owner.is_(None))
                                .order_by(jobs.c.created_at.desc()).limit(limit)).all()
        return [_info(row) for row in rows]

    def in_flight_of(self, owner: str) -> int:
        """How many documents the jobs of the API caller ``owner`` have in flight (``core.fairness``)."""
        joined = documents.join(jobs, jobs.c.id == documents.c.job_id)
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(joined).where(
                documents.c.state == State.PENDING, jobs.c.owner == owner)).scalar_one())

    def undiscovered_of(self, owner: str) -> int:
        """How many jobs of the API caller ``owner`` wait for their discovery (``core.fairness``)."""
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(jobs).where(
                jobs.c.owner == owner, jobs.c.discoveries_remaining > 0)).scalar_one())

    def dead_letters(self, job_id: str) -> list[str]:
        """The dead-letter ids of the job's documents that failed (and were not retried since)."""
        joined = job_items.join(documents, and_(documents.c.key == job_items.c.key,
                                                documents.c.version == job_items.c.version))
        with self._read() as conn:
            return [row[0] for row in conn.execute(
                select(documents.c.dead_letter).select_from(joined).where(
                    job_items.c.job_id == job_id, job_items.c.state == State.FAILED,
                    documents.c.dead_letter.is_not(None)).order_by(documents.c.dead_letter))]

    def changes(self, job_id: str) -> dict[str, int]:
        """What a sync job found: new, changed, relabelled, deleted, unchanged, refused, failed and left-out
        documents."""
        joined = job_items.join(documents, documents.c.key == job_items.c.key, isouter=True)
        with self._read() as conn:
            rows = conn.execute(select(job_items.c.state, job_items.c.unchanged, job_items.c.version,
                                       documents.c.error_kind, job_items.c.relabel).select_from(joined)
                                .where(job_items.c.job_id == job_id)).all()
            left_out = conn.execute(select(jobs.c.left_out).where(jobs.c.id == job_id)).scalar()
        found = {"new": 0, "changed": 0, "relabelled": 0, "deleted": 0, "unchanged": 0, "refused": 0, "failed": 0,
                 "left_out": int(left_out or 0)}
        for state, unchanged, version, error_kind, relabel in rows:
            if unchanged:
                found["unchanged"] += 1
            elif relabel and state != State.FAILED:
                found["relabelled"] += 1
            elif state == State.SKIPPED and error_kind == "refused":  # listed, but the source will not serve it
                found["refused"] += 1
            elif state == State.DELETED:
                found["deleted"] += 1
            elif state == State.FAILED:
                found["failed"] += 1
            else:
                found["new" if version == 1 else "changed"] += 1
        return found


def _info(job: Any) -> JobInfo:
    return {"job": job.id, "kind": job.kind, "priority": job.priority, "created_at": job.created_at,
            "discovered_at": job.discovered_at, "error": job.error, "owner": job.owner}
