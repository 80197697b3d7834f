"""Data of versions in flight: page texts, the OCR fan-in, and staged vectors."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Float, bindparam, delete, insert, select, text, update

from ..ledger_records import Stage
from ..values import Chunk, Page
from .base import Role
from .schema import deliveries, documents, ocr_tasks, of_version, pages, staged_chunks

if TYPE_CHECKING:
    import numpy as np

    from ..interfaces import Vectors


#: The in-flight tables, each keyed by document and version.
_INFLIGHT = (pages, staged_chunks, ocr_tasks, deliveries)

_WHERE_VERSION = "WHERE key = :key AND version <= :version"
#: On PostgreSQL, clearing a version is one statement (data-modifying CTEs always run to completion): it is paid
#: twice for every document, in the extract and store stages' last writes, and four statements were four round
#: trips.
_CLEAR_VERSION = text(
    "WITH " + ", ".join(f"c{i} AS (DELETE FROM {t.name} {_WHERE_VERSION})" for i, t in enumerate(_INFLIGHT[:-1]))
    + f" DELETE FROM {_INFLIGHT[-1].name} {_WHERE_VERSION}")


#: Elsewhere, one DELETE a table.
_CLEAR_TABLES = [delete(t).where(t.c.key == bindparam("key"), t.c.version <= bindparam("version")) for t in _INFLIGHT]


def clear_version(conn: Connection, key: str, version: int) -> None:
    """Drop in-flight data of this version and older ones."""
    params = {"key": key, "version": version}
    for statement in [_CLEAR_VERSION] if conn.dialect.name == "postgresql" else _CLEAR_TABLES:
        conn.execute(statement, params)


def clear_documents(conn: Connection, keys: Sequence[str]) -> None:
    """Drop all in-flight data of these documents (before their new versions start), one statement a table."""
    if keys:
        for table in _INFLIGHT:
            conn.execute(delete(table).where(table.c.key.in_(keys)))


# The statements of each document's stages, built once (building one could take longer than running it).
_SECONDS = bindparam("b_seconds", type_=Float)
_PAGES_SAVED = update(documents).where(*of_version(documents)).values(
    pages=bindparam("b_pages"), ocr_pages=bindparam("b_ocr_pages"), content_id=bindparam("b_content_id"),
    extracted=bindparam("b_extracted"),
    ocr_remaining=bindparam("b_ocr_remaining"), extract_seconds=documents.c.extract_seconds + _SECONDS)
_LOAD_PAGES = select(pages.c.number, pages.c.text, pages.c.needs_ocr, pages.c.section).where(
    *of_version(pages)).order_by(pages.c.idx)
_CHUNKS_STAGED = update(documents).where(*of_version(documents)).values(
    embed_seconds=documents.c.embed_seconds + _SECONDS, embedded_chunks=bindparam("b_embedded"),
    reused_chunks=bindparam("b_reused"))
_UNSTAGE = delete(staged_chunks).where(*of_version(staged_chunks))
_LOAD_STAGED = select(staged_chunks).where(*of_version(staged_chunks)).order_by(staged_chunks.c.seq)
_INSERT = {table.name: insert(table) for table in (pages, ocr_tasks, staged_chunks)}


class InFlight(Role):
    """Page texts, OCR ranges and staged chunks of versions being processed."""

    def save_pages(self, key: str, version: int, extracted: Sequence[Page], ocr_ranges: Sequence[Sequence[int]],
                   seconds: float, content_id: str | None = None, found: Mapping[str, Any] | None = None) -> None:
        """Store extracted page texts and the OCR ranges (lists of page numbers) still to do.

        ``content_id`` is the source's checksum of the bytes the pages came from (Blob.checksum); ``found`` the
        metadata the extractor found in the file (a mail's headers).
        """
        with self._final_write() as conn:
            # First: the row lock it takes makes two copies of one message write in turn (on SQLite writers are
            # serialised already).
            conn.execute(_PAGES_SAVED, {
                "b_key": key, "b_version": version, "b_pages": len(extracted),
                "b_ocr_pages": sum(p.needs_ocr for p in extracted), "b_content_id": content_id,
                "b_ocr_remaining": len(ocr_ranges), "b_seconds": seconds,
                "b_extracted": json.dumps(dict(found), default=str, ensure_ascii=False) if found else None})
            clear_version(conn, key, version)
            if extracted:
                conn.execute(_INSERT["pages"], [
                    {"key": key, "version": version, "idx": idx, "number": page.number, "text": page.text,
                     "needs_ocr": page.needs_ocr, "section": page.section} for idx, page in enumerate(extracted)])
            if ocr_ranges:
                conn.execute(_INSERT["ocr_tasks"], [{"key": key, "version": version, "first_page": numbers[0],
                                                  "page_numbers": json.dumps(list(numbers)), "done": False}
                                                 for numbers in ocr_ranges])

    def load_pages(self, key: str, version: int) -> list[Page]:
        """The version's pages in order."""
        with self._read() as conn:
            rows = conn.execute(_LOAD_PAGES, {"b_key": key, "b_version": version}).all()
        return [Page(r.number, r.text, r.needs_ocr, r.section) for r in rows]

    def save_ocr(self, key: str, version: int, first_page: int, texts: Mapping[int, str],
                 seconds: float) -> int:
        """Record one OCR range's page texts; return how many ranges remain.

        Idempotent: a replayed range changes nothing and reports the same count,
        and exactly one range sees the count reach zero for the first time.
        """
        with self._final_write() as conn:
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

    def stage_chunks(self, key: str, version: int, chunks: Sequence[Chunk], vectors: Vectors | Sequence[Any],
                     seconds: float, *, embedded: int | None = None) -> None:
        """Hold a version's chunks and vectors until the store stage writes them.

        ``embedded`` says how many of the vectors were computed now; the rest were reused.
        """
        import numpy as np  # here, not at import: commands that embed nothing start faster

        vectors = np.asarray(vectors, dtype=np.float32)
        embedded = len(chunks) if embedded is None else embedded
        with self._final_write() as conn:
            # First, for its row lock (as in save_pages).
            this = {"b_key": key, "b_version": version}
            conn.execute(_CHUNKS_STAGED, {**this, "b_seconds": seconds, "b_embedded": embedded,
                                          "b_reused": len(chunks) - embedded})
            conn.execute(_UNSTAGE, this)
            if chunks:
                conn.execute(_INSERT["staged_chunks"], [
                    {"key": key, "version": version, "seq": c.seq, "id": c.id, "page": c.page, "text": c.text,
                     "hash": c.hash, "vector": vectors[i].tobytes(), "section": c.section}
                    for i, c in enumerate(chunks)])

    def load_staged(self, key: str, version: int) -> tuple[list[Chunk], np.ndarray]:
        """The chunks and vectors staged for a version."""
        import numpy as np

        with self._read() as conn:
            rows = conn.execute(_LOAD_STAGED, {"b_key": key, "b_version": version}).all()
        chunks = [Chunk(r.id, key, r.seq, r.page, r.text, r.hash, r.section) for r in rows]
        vectors = np.stack([np.frombuffer(r.vector, dtype=np.float32) for r in rows]) if rows else np.empty((0, 0))
        return chunks, vectors

    def ocr_ranges_left(self, key: str, version: int) -> list[list[int]]:
        """Page numbers of each OCR range of this version not read yet."""
        with self._read() as conn:
            rows = conn.execute(select(ocr_tasks.c.first_page, ocr_tasks.c.page_numbers).where(
                ocr_tasks.c.key == key, ocr_tasks.c.version == version, ocr_tasks.c.done.is_(False))
                .order_by(ocr_tasks.c.first_page)).all()
        return [json.loads(r.page_numbers) if r.page_numbers else [r.first_page] for r in rows]

    def has_inflight(self, key: str, version: int, stage: Stage) -> bool:
        """Whether the data ``stage`` starts from (pages, or staged chunks) is still held."""
        table = staged_chunks if stage == Stage.STORE else pages
        with self._read() as conn:
            return conn.execute(select(table.c.key).where(table.c.key == key, table.c.version == version)
                                .limit(1)).first() is not None
