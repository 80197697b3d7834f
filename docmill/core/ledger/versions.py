"""What discovery writes: new versions, unchanged documents, refusals, removals."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, ColumnElement, String, and_, bindparam, cast, func, insert, select, true, tuple_, update

from ..ledger_records import Document, KnownDocument, Stage, State
from ..values import DocumentRef
from .base import Database, Role
from .children import descendants_prefix
from .inflight import clear_documents
from .jobs import add_item, add_items
from .jobs import item as job_item
from .schema import documents, job_items


@dataclass(frozen=True)
class NewVersion:
    """A document discovery decided to (re)process."""

    ref: DocumentRef
    fingerprint: str
    signature: str
    previous_version: int | None


def _prefix(column: Any, prefix: str, dialect: str) -> ColumnElement[bool]:
    if not prefix:
        return true()
    if dialect == "sqlite":
        # Byte-wise range: SQLite's LIKE ignores ASCII case.
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return and_(column >= prefix, column < upper)
    started: ColumnElement[bool] = column.startswith(prefix, autoescape=True)
    return started


class Versions(Role):
    """The discover stage's reads and writes."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        # Documents discovery listed since the tables were last analysed, and the rows the planner believes in.
        self._listed_since_analysis = 0
        self._planned: int | None = None

    def known(self, keys: Sequence[str]) -> dict[str, KnownDocument]:
        """What the ledger knows of these documents (a batch of a listing), in one statement."""
        if not keys:
            return {}
        self._keep_statistics(len(keys))
        cols = [documents.c[f] for f in KnownDocument._fields]
        if self.engine.dialect.name == "postgresql":
            # Joined to the batch's keys, so that each key is one probe of the primary key, whatever the
            # planner believes of the table's size (a fresh ledger's statistics say it is empty).
            # The keys are one JSON parameter: a thousand bound values, or an array psycopg builds element by
            # element in Python, cost more to build than to look up.
            keys_json = cast(bindparam("keys", type_=String), JSON)
            batch = select(func.json_array_elements_text(keys_json).column_valued("key")).subquery()
            query = select(*cols).join_from(batch, documents, documents.c.key == batch.c.key)
            params = {"keys": json.dumps(list(keys), ensure_ascii=False)}
        else:
            query, params = select(*cols).where(documents.c.key.in_(keys)), {}
        with self._read() as conn:
            rows = conn.execute(query, params).all()
        return {row.key: KnownDocument.from_values(row) for row in rows}

    def taken(self, job_id: str, keys: Sequence[str]) -> set[str]:
        """Which of these documents ``job_id`` has recorded already (a document listed twice)."""
        if not keys:
            return set()
        with self._read() as conn:
            return set(conn.execute(select(job_items.c.key).where(
                tuple_(job_items.c.job_id, job_items.c.key).in_([(job_id, key) for key in keys]))).scalars())

    def _keep_statistics(self, listed: int) -> None:
        """PostgreSQL plans a statement from table statistics that autovacuum refreshes about once a minute. A
        discovery into a fresh ledger grows its tables many times over before that, and its batch lookups,
        planned for the empty tables they were, scan them whole: the cost per batch grows with the ledger.
        Each listed document adds a job item at least, so the tables are analysed each time this process has
        listed as many documents as the planner believed they held (log2 of the count times into a fresh
        ledger, a fraction of a second each; once in a re-run of the same folder)."""
        if self.engine.dialect.name != "postgresql":
            return
        if self._planned is None:
            self._planned = self._planned_rows()
        self._listed_since_analysis += listed
        if self._listed_since_analysis >= self._planned:
            with self._write() as conn:
                conn.exec_driver_sql("ANALYZE documents, job_items")
            self._listed_since_analysis, self._planned = 0, self._planned_rows()

    def _planned_rows(self) -> int:
        """How many rows the planner believes the smaller of the two tables holds (at least 500)."""
        with self._read() as conn:
            rows = conn.exec_driver_sql("SELECT min(reltuples) FROM pg_class WHERE oid IN "
                                        "('documents'::regclass, 'job_items'::regclass)").scalar()
        return max(500, int(rows or 0))

    def unlisted(self, job_id: str, scope: str) -> list[tuple[str, str]]:
        """Key and state of each document in ``scope`` that ``job_id`` has not taken (its listing did not
        name it), in key order. Attachments are never listed: they go with their parent."""
        taken = select(job_items.c.key).where(job_items.c.job_id == job_id, job_items.c.key == documents.c.key)
        with self._read() as conn:
            rows = conn.execute(select(documents.c.key, documents.c.state).where(
                _prefix(documents.c.key, scope, self.engine.dialect.name), documents.c.parent.is_(None),
                ~taken.exists())
                .order_by(documents.c.key)).all()
        return [(row.key, row.state) for row in rows]

    def start_versions(self, job_id: str, source_id: str, items: Sequence[NewVersion],
                       priority: int = 0) -> list[tuple[str, int]]:
        """Begin a new version of each document; return (key, version) to extract.

        A few statements for the whole batch, whatever its size: what older
        versions kept in flight (for a retry) goes, new documents are inserted
        in one statement and known ones updated in another.
        """
        now = time.time()
        rows: list[dict[str, Any]] = []
        known: list[bool] = []
        for item in items:
            ref, version = item.ref, (item.previous_version or 0) + 1
            rows.append(dict(
                key=ref.key, source=source_id, name=ref.name, locator=ref.locator, stamp=ref.stamp, size=ref.size,
                fingerprint=item.fingerprint, content_id=None, signature=item.signature, version=version,
                state=State.PENDING, stage=Stage.EXTRACT, attempts=0, error_kind=None, error=None,
                error_permanent=None, dead_letter=None,
                pages=None, ocr_pages=None, ocr_remaining=None, chunks=None, sent_at=None,
                metadata=json.dumps(dict(ref.metadata), default=str), priority=priority, job_id=job_id,
                updated_at=now, started_at=None, finished_at=None, extract_seconds=0.0,
                ocr_seconds=0.0, embed_seconds=0.0, store_seconds=0.0,
            ))
            known.append(item.previous_version is not None)
        if not rows:
            return []
        with self._write() as conn:
            clear_documents(conn, [row["key"] for row, was in zip(rows, known, strict=True) if was])
            fresh = [{**row, "created_at": now} for row, was in zip(rows, known, strict=True) if not was]
            if fresh:
                conn.execute(insert(documents), fresh)
            again = [{"b_key": row["key"], **{k: v for k, v in row.items() if k != "key"}}
                     for row, was in zip(rows, known, strict=True) if was]
            if again:
                conn.execute(update(documents).where(documents.c.key == bindparam("b_key")), again)
            add_items(conn, job_id, [job_item(row["key"], row["version"], State.PENDING) for row in rows])
        return [(row["key"], row["version"]) for row in rows]

    def restart(self, job_id: str, row: Document) -> list[tuple[str, int]]:
        """Start a new version of a document from what the ledger knows of it, to extract it again."""
        ref = DocumentRef(key=row.key, name=row.name, locator=row.locator, stamp=row.stamp, size=row.size,
                          metadata=json.loads(row.metadata or "{}"))
        return self.start_versions(job_id, row.source, [NewVersion(ref, row.fingerprint or "", row.signature or "",
                                                                   row.version)], row.priority)

    def mark_sent(self, items: Sequence[tuple[str, int]]) -> None:
        """These versions' first messages are with the transport."""
        if not items:
            return
        with self._write() as conn:
            conn.execute(update(documents).where(documents.c.key == bindparam("b_key"),
                                                 documents.c.version == bindparam("b_version"))
                         .values(sent_at=time.time()), [{"b_key": key, "b_version": version} for key, version in items])

    def record_unchanged(self, job_id: str, rows: Iterable[tuple[KnownDocument, DocumentRef]]) -> None:
        """Documents discovery found unchanged: their job items end as they stand.

        A version still in flight (elsewhere) joins the job as pending and ends with it.
        """
        rows = list(rows)
        touched = [{"b_key": ref.key, "stamp": ref.stamp, "name": ref.name, "locator": ref.locator}
                   for row, ref in rows if row.stamp != ref.stamp]  # touched but identical: the new stamp
        items = []
        for row, ref in rows:
            state = row.state if row.state in (State.FAILED, State.PENDING) else State.SKIPPED
            items.append(job_item(ref.key, row.version, state, unchanged=state != State.PENDING))
        with self._write() as conn:
            if touched:
                conn.execute(update(documents).where(documents.c.key == bindparam("b_key")), touched)
            add_items(conn, job_id, items)

    def start_relabels(self, job_id: str, items: Sequence[tuple[KnownDocument, DocumentRef, str]],
                       priority: int = 0) -> list[tuple[str, int]]:
        """Documents whose file is unchanged but whose labels changed: (key, version) to relabel in the store.

        The version stays; its stamp, fingerprint, name and metadata become
        the new ones. A document without chunks (skipped: no text) has nothing
        in the store to relabel and is only recorded.
        """
        now = time.time()
        started = []
        with self._write() as conn:
            for row, ref, fingerprint in items:
                values: dict[str, Any] = dict(name=ref.name, locator=ref.locator, stamp=ref.stamp, size=ref.size,
                                              fingerprint=fingerprint, updated_at=now,
                                              metadata=json.dumps(dict(ref.metadata), default=str))
                if row.state == State.DONE:
                    values.update(state=State.PENDING, stage=Stage.RELABEL, attempts=0, priority=priority,
                                  job_id=job_id, dead_letter=None, sent_at=None)
                conn.execute(update(documents).where(documents.c.key == ref.key,
                                                     documents.c.version == row.version).values(**values))
                if row.state == State.DONE:
                    add_item(conn, job_id, ref.key, row.version, State.PENDING, relabel=True)
                    started.append((ref.key, row.version))
                else:
                    add_item(conn, job_id, ref.key, row.version, row.state, relabel=True)
        return started

    def record_refused(self, job_id: str, source_id: str, ref: DocumentRef, previous: KnownDocument | None) -> None:
        """A document the source listed but will not serve: skipped, with its reason."""
        now = time.time()
        values = dict(source=source_id, name=ref.name, locator=ref.locator, stamp=ref.stamp, state=State.SKIPPED,
                      stage=Stage.DISCOVER, error_kind="refused", error=ref.skip_reason, error_permanent=True,
                      chunks=0, updated_at=now, finished_at=now, job_id=job_id)
        with self._write() as conn:
            if previous is None:
                version = 1
                conn.execute(insert(documents).values(key=ref.key, version=1, created_at=now, **values))
            else:
                version = previous.version
                conn.execute(update(documents).where(documents.c.key == ref.key).values(**values))
            add_item(conn, job_id, ref.key, version, State.SKIPPED, finished=now)

    def start_removals(self, job_id: str, keys: Iterable[str]) -> list[tuple[str, int]]:
        """Documents gone from their source: mark them, and their attachments' documents, for removal from the
        store."""
        started = []
        dialect = self.engine.dialect.name
        with self._write() as conn:
            for gone in keys:
                rows = conn.execute(select(documents.c.key, documents.c.version).where(
                    (documents.c.key == gone) | _prefix(documents.c.key, descendants_prefix(gone), dialect))).all()
                for key, version in rows:
                    self._start_removal(conn, job_id, key, version)
                    started.append((key, version))
        return started

    @staticmethod
    def _start_removal(conn: Any, job_id: str, key: str, version: int) -> None:
        conn.execute(update(documents).where(documents.c.key == key).values(
            state=State.DELETING, stage=Stage.REMOVE, attempts=0, updated_at=time.time(), job_id=job_id,
            dead_letter=None))
        add_item(conn, job_id, key, version, State.PENDING)
