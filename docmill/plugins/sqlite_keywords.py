"""The embedded keyword index: SQLite's FTS5, in a file of the home, ranked by BM25; no server.

``DOCMILL_HOME/keywords/COLLECTION.sqlite3`` holds a table of chunks (their
text, identity, version and filterable fields) and an FTS5 index of their
tokens as docmill's tokeniser gives them (``docmill.text_terms``): a column
of words and a column of the parts of long words, the parts weighing half as
much in BM25. FTS5 splits what it is given at white space only, so an
identifier such as ``inv-0042`` is one term. The index is contentless: the
words are made again from the stored text to delete a chunk, so the file is
not twice the text; it records the tokeniser's signature and starts empty
when the tokeniser changed (the keyword index is then filled again from the
vector store, ``core.keyword_fill``).

Writes are transactions in WAL mode with ``synchronous=FULL``: durable when
they return. One process writes (embedded mode holds the home); others read
at the same time (a ``docmill search`` beside a running ingest).
"""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from docmill import (
    ACCESS,
    ONE_OF,
    TOKENIZER_SIGNATURE,
    Chunk,
    Condition,
    DiskFull,
    Filter,
    KeywordIndexFactory,
    PluginContext,
    QueryTerm,
    Register,
    SearchHit,
    StoredChunk,
    StoreUnavailable,
    hookimpl,
    query_terms,
    text_terms,
)

from .keyword_rows import chunk_fields, fields_of, hit, meta_json

__all__ = ["SqliteKeywordSettings", "SqliteKeywords"]

#: Weight of a match in the parts of long words against one in the words themselves.
PART_WEIGHT = 0.5
#: Chunks read or deleted per statement.
BATCH = 500
#: FTS5 keeps what it is given, split at white space only: docmill's tokeniser has decided the terms.
_TOKENIZE = "unicode61 remove_diacritics 0 categories 'L* M* N* P* S* Co Cn'"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS chunks (
        rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc_key TEXT NOT NULL, version INTEGER NOT NULL,
        doc TEXT NOT NULL, seq INTEGER NOT NULL, page INTEGER, hash TEXT NOT NULL, text TEXT NOT NULL,
        meta TEXT NOT NULL, fields TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_key, version)",
    f'CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5(words, parts, content="", tokenize="{_TOKENIZE}")',
)
#: Free bytes under which a failed write is put down to a full disk.
NEARLY_FULL = 64 << 20


def _path(key: str) -> str:
    return '$."' + key + '"'


def _condition(condition: Condition) -> tuple[str, list[Any]]:
    """One condition as SQL over the row's ``fields``, holding exactly where ``docmill.matches`` does."""
    path, value = _path(condition.key), condition.value
    if condition.op == ONE_OF:
        names = list(value) if isinstance(value, tuple) else [value]
        marks = ", ".join("?" * len(names))
        return (f"(json_type(c.fields, ?) = 'text' AND json_extract(c.fields, ?) IN ({marks}))",
                [path, path, *names])
    if condition.contains:
        has = ("(json_type(c.fields, ?) = 'array' AND EXISTS (SELECT 1 FROM json_each(c.fields, ?) "
               "WHERE json_each.type = 'text' AND json_each.value = ?))")
        return (has if condition.op == "=" else f"NOT {has}"), [path, path, value]
    kinds = "('text')" if isinstance(value, str) else "('integer', 'real')"
    if condition.op in ("=", "!="):
        equal = f"(coalesce(json_type(c.fields, ?) IN {kinds}, 0) AND json_extract(c.fields, ?) = ?)"
        return (equal if condition.op == "=" else f"NOT {equal}"), [path, path, value]
    return (f"(coalesce(json_type(c.fields, ?) IN ('integer', 'real'), 0) AND json_extract(c.fields, ?) "
            f"{condition.op} ?)", [path, path, value])


def _where(where: Filter) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for condition in where:
        clause, values = _condition(condition)
        clauses.append(clause)
        params += values
    return "".join(f" AND {clause}" for clause in clauses), params


class SqliteKeywords:
    """One collection's keyword index in one SQLite file."""

    name = "sqlite"
    signature = TOKENIZER_SIGNATURE

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._connect()
            self._db.execute("PRAGMA journal_mode = WAL")
            self._prepare()
        except sqlite3.Error as exc:
            self._raise_if_disk_full(exc)
            raise StoreUnavailable(f"cannot open the keyword index {path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA synchronous = FULL")
        return db

    def _prepare(self) -> None:
        """The tables, empty when the tokeniser that wrote them is not this one. Writes nothing when they are as
        they should be: a process opening the index beside another that reads it changes nothing under it."""
        db = self._db
        ready = db.execute("SELECT count(*) FROM sqlite_master WHERE name IN ('meta', 'chunks', 'terms')").fetchone()
        held = db.execute("SELECT value FROM meta WHERE key = 'tokenizer'").fetchone() if ready[0] == 3 else None
        if held is not None and held[0] == TOKENIZER_SIGNATURE:
            return
        with self._write() as db:
            for statement in _SCHEMA:
                db.execute(statement)
            held = db.execute("SELECT value FROM meta WHERE key = 'tokenizer'").fetchone()
            if held is not None and held[0] != TOKENIZER_SIGNATURE:
                db.execute("DELETE FROM chunks")
                db.execute("DROP TABLE terms")
                db.execute(_SCHEMA[-1])
            db.execute("INSERT OR REPLACE INTO meta VALUES ('tokenizer', ?)", (TOKENIZER_SIGNATURE,))

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (durably) when the block ends."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._raise_if_disk_full(exc)
                raise StoreUnavailable(f"the keyword index {self._path} could not be written: {exc}") from exc

    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
            with self._lock:
                self._readers.append(db)
        return db

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the keyword index {self._path} could not be read: {exc}") from exc

    def _raise_if_disk_full(self, error: BaseException) -> None:
        try:
            free: int | None = shutil.disk_usage(self._path.parent).free
        except OSError:
            free = None
        full = isinstance(error, sqlite3.OperationalError) and "full" in str(error).lower()
        cause = error.__cause__
        if full or (isinstance(cause, OSError) and cause.errno == errno.ENOSPC) or (
                free is not None and free < NEARLY_FULL):
            left = "" if free is None else f" ({free:,} bytes free)"
            raise DiskFull(f"the disk holding the keyword index ({self._path}) is full{left}: {error}") from error

    # Writing ------------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk], *, doc: str, version: int, metadata: Mapping[str, Any]) -> None:
        meta = meta_json(metadata)
        with self._write() as db:
            for start in range(0, len(chunks), BATCH):
                part = chunks[start:start + BATCH]
                marks = ", ".join("?" * len(part))
                held = {row[0] for row in db.execute(f"SELECT id FROM chunks WHERE id IN ({marks})",
                                                     [c.id for c in part])}
                for chunk in part:
                    fields = json.dumps(chunk_fields(chunk, doc, metadata), default=str)
                    if chunk.id in held:  # the same ID is the same text: only the labels and version can differ
                        db.execute("UPDATE chunks SET version = ?, doc = ?, page = ?, meta = ?, fields = ? "
                                   "WHERE id = ?", (version, doc, chunk.page, meta, fields, chunk.id))
                        continue
                    row = db.execute(
                        "INSERT INTO chunks (id, doc_key, version, doc, seq, page, hash, text, meta, fields) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (chunk.id, chunk.doc_key, version, doc, chunk.seq,
                                                                  chunk.page, chunk.hash, chunk.text, meta, fields))
                    words, parts = text_terms(chunk.text)
                    db.execute("INSERT INTO terms (rowid, words, parts) VALUES (?, ?, ?)",
                               (row.lastrowid, " ".join(words), " ".join(parts)))

    def _delete(self, db: sqlite3.Connection, where: str, params: Sequence[Any]) -> int:
        rows = db.execute(f"SELECT rowid, text FROM chunks WHERE {where}", params).fetchall()
        for rowid, text in rows:  # a contentless index is told the words it held
            words, parts = text_terms(text)
            db.execute("INSERT INTO terms (terms, rowid, words, parts) VALUES ('delete', ?, ?, ?)",
                       (rowid, " ".join(words), " ".join(parts)))
        for start in range(0, len(rows), BATCH):
            part = [rowid for rowid, _ in rows[start:start + BATCH]]
            db.execute(f"DELETE FROM chunks WHERE rowid IN ({', '.join('?' * len(part))})", part)
        return len(rows)

    def delete_stale(self, doc_key: str, keep_version: int) -> int:
        with self._write() as db:
            return self._delete(db, "doc_key = ? AND version != ?", (doc_key, keep_version))

    def delete_document(self, doc_key: str) -> int:
        with self._write() as db:
            return self._delete(db, "doc_key = ?", (doc_key,))

    def relabel(self, doc_key: str, *, doc: str, metadata: Mapping[str, Any]) -> int:
        meta = meta_json(metadata)
        with self._write() as db:
            rows = db.execute("SELECT rowid, page, hash FROM chunks WHERE doc_key = ?", (doc_key,)).fetchall()
            db.executemany("UPDATE chunks SET doc = ?, meta = ?, fields = ? WHERE rowid = ?", [
                (doc, meta, json.dumps(fields_of(metadata, doc=doc, page=page, hash=digest), default=str), rowid)
                for rowid, page, digest in rows])
            return len(rows)

    def grant_unlabelled(self, access_of: Callable[[str], str]) -> int:
        with self._write() as db:
            rows = db.execute("SELECT rowid, doc_key FROM chunks WHERE json_type(fields, ?) IS NULL",
                              (_path(ACCESS),)).fetchall()
            db.executemany("UPDATE chunks SET fields = json_set(fields, ?, ?) WHERE rowid = ?",
                           [(_path(ACCESS), access_of(key), rowid) for rowid, key in rows])
            return len(rows)

    # Reading ------------------------------------------------------------------

    def search(self, query: str, k: int, where: Filter = ()) -> list[SearchHit]:
        match = query_terms(query)
        if not match:
            return []
        filters, params = _where(where)
        # Ranked first by rowid alone, the texts read for the k best only: carrying every match's text and
        # metadata through the sort took more than half the time at 200,000 chunks (benchmarks/search).
        joined = " JOIN chunks c ON c.rowid = terms.rowid" if filters else ""
        rows = self._read(
            "SELECT r.id, r.doc, r.page, r.text, r.meta, best.score FROM ("
            f"SELECT terms.rowid AS at, -bm25(terms, 1.0, {PART_WEIGHT}) AS score FROM terms{joined} "
            f"WHERE terms MATCH ?{filters} ORDER BY score DESC LIMIT ?"
            ") best JOIN chunks r ON r.rowid = best.at ORDER BY best.score DESC",
            [_fts_query(match), *params, k])
        return [hit(*row) for row in rows]

    def iter_chunks(self) -> Iterator[StoredChunk]:
        after = 0
        while True:
            rows = self._read("SELECT rowid, id, doc, doc_key, seq, page, text, meta, version FROM chunks "
                              "WHERE rowid > ? ORDER BY rowid LIMIT ?", (after, BATCH))
            for _, id_, doc, doc_key, seq, page, text, meta, version in rows:
                yield StoredChunk(id_, doc, doc_key, seq, page, text, json.loads(meta), None, version)
            if len(rows) < BATCH:
                return
            after = rows[-1][0]

    def count(self) -> int:
        return int(self._read("SELECT count(*) FROM chunks")[0][0])

    def close(self) -> None:
        with self._lock:
            for db in [self._db, *self._readers]:
                with contextlib.suppress(sqlite3.Error):
                    db.close()
            self._readers.clear()


def _fts_query(terms: Sequence[QueryTerm]) -> str:
    """FTS5's query: any of the terms, each quoted (a term may hold punctuation); a prefix term also as a prefix."""
    quoted = ['"' + term.word.replace('"', '""') + '"' for term in terms]
    return " OR ".join([*quoted, *(f"{q}*" for q, term in zip(quoted, terms, strict=True) if term.prefix)])


class SqliteKeywordSettings(BaseModel):
    """``[plugins.sqlite]``: nothing to set; the index lives in the home, beside the ledger."""

    model_config = ConfigDict(extra="forbid")

    @property
    def remote(self) -> bool:
        return False


def make_sqlite_keywords(context: PluginContext) -> SqliteKeywords:
    """The keyword index of the collection, in ``keywords/`` of the home."""
    return SqliteKeywords(context.home / "keywords" / f"{context.collection}.sqlite3")


@hookimpl
def docmill_register_keyword_indexes(register: Register[KeywordIndexFactory]) -> None:
    register("sqlite", make_sqlite_keywords, settings=SqliteKeywordSettings)
