"""The shared keyword index: PostgreSQL full-text search, in the ledger's database (or one of its own).

Distributed workers share it as they share the ledger: one table per
collection (``docmill_keywords_COLLECTION``) holds each chunk's text,
identity, version, filterable fields (``jsonb``) and a ``tsvector`` of its
terms as docmill's tokeniser gives them (``docmill.text_terms``), built
directly rather than by PostgreSQL's parser, which would split ``inv-0042``
or ``\\ledinnernote`` its own way: words at weight A, the parts of long words
at weight D, with a GIN index.

PostgreSQL's ``ts_rank`` has no inverse document frequency: alone it would
rank a chunk full of "invoice" above the one holding the rare number. So a
search first counts, through the GIN index, how many chunks hold each query
term, and scores ``sum(idf(term) * ts_rank(terms, term))`` with BM25's idf
and ``ts_rank``'s length normalisation (``1``: divided by 1 + the log of the
length): BM25's shape (a saturating term frequency, rare terms first, long
chunks damped) from what PostgreSQL ships, without an extension.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from docmill import (
    ACCESS,
    ONE_OF,
    TOKENIZER_SIGNATURE,
    Chunk,
    Condition,
    ConfigurationError,
    Filter,
    KeywordIndexFactory,
    PluginContext,
    Register,
    SearchHit,
    StoredChunk,
    StoreUnavailable,
    hookimpl,
    query_terms,
    text_terms,
)

from .keyword_rows import chunk_fields, fields_of, hit, meta_json

__all__ = ["PostgresKeywordSettings", "PostgresKeywords"]

#: Weights of ts_rank for D, C, B, A: the parts of long words (D) count half as much as words (A).
WEIGHTS = "{0.5, 0.5, 0.5, 1.0}"
#: Rows written or read per statement.
BATCH = 500
#: Positions PostgreSQL keeps per lexeme, and the highest position it stores.
MAX_POSITIONS, MAX_POSITION = 255, 16383


def _lexeme(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector(text: str) -> str:
    """The ``tsvector`` literal of a chunk's terms: words at weight A, parts of long words at weight D."""
    words, parts = text_terms(text)
    positions: dict[tuple[str, str], list[int]] = {}
    for weight, terms, offset in (("A", words, 0), ("D", parts, len(words))):
        for at, term in enumerate(terms, start=offset + 1):
            held = positions.setdefault((term, weight), [])
            if len(held) < MAX_POSITIONS:
                held.append(min(at, MAX_POSITION))
    merged: dict[str, list[str]] = {}
    for (term, weight), places in positions.items():
        merged.setdefault(term, []).extend(f"{p}{weight}" for p in places)
    return " ".join(f"{_lexeme(term)}:{','.join(places[:MAX_POSITIONS])}" for term, places in merged.items())


def _condition(condition: Condition, n: int) -> tuple[str, dict[str, Any]]:
    """One condition as SQL over the row's ``fields``, holding exactly where ``docmill.matches`` does."""
    key, value = f"k{n}", f"v{n}"
    field = f"fields -> :{key}"
    params: dict[str, Any] = {key: condition.key}
    if condition.op == ONE_OF:
        params[value] = list(condition.value) if isinstance(condition.value, tuple) else [condition.value]
        return (f"CASE WHEN jsonb_typeof({field}) = 'string' THEN (fields ->> :{key}) = ANY(:{value}) ELSE false "
                "END"), params
    params[value] = condition.value
    if condition.contains:
        has = (f"CASE WHEN jsonb_typeof({field}) = 'array' THEN ({field}) @> jsonb_build_array(CAST(:{value} AS "
               "text)) ELSE false END")
        return (has if condition.op == "=" else f"NOT ({has})"), params
    if isinstance(condition.value, str):
        equal = f"CASE WHEN jsonb_typeof({field}) = 'string' THEN (fields ->> :{key}) = :{value} ELSE false END"
        return (equal if condition.op == "=" else f"NOT ({equal})"), params
    test = "=" if condition.op == "!=" else condition.op
    compared = (f"CASE WHEN jsonb_typeof({field}) = 'number' THEN CAST(fields ->> :{key} AS double precision) "
                f"{test} :{value} ELSE false END")
    return (f"NOT ({compared})" if condition.op == "!=" else compared), params


class PostgresKeywords:
    """One collection's keyword index in one PostgreSQL table."""

    name = "postgres"
    signature = TOKENIZER_SIGNATURE

    def __init__(self, url: str, collection: str) -> None:
        import sqlalchemy

        self._sql = sqlalchemy
        self._table = '"docmill_keywords_' + collection.replace('"', "") + '"'
        self._lock = threading.Lock()
        self._total: tuple[float, int] | None = None
        try:
            self._engine = sqlalchemy.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)
            self._prepare()
        except sqlalchemy.exc.ArgumentError as exc:
            raise ConfigurationError(f"the postgres keyword index cannot use {url.split('@')[-1]!r}: {exc}") from exc
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise StoreUnavailable(f"cannot open the keyword index in PostgreSQL: {exc}") from exc

    def _prepare(self) -> None:
        table, name = self._table, self._table.strip('"')
        with self._engine.begin() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
            conn.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {table} (id text PRIMARY KEY, doc_key text NOT NULL, version integer "
                "NOT NULL, doc text NOT NULL, seq integer NOT NULL, page integer, hash text NOT NULL, text text NOT "
                "NULL, meta jsonb NOT NULL, fields jsonb NOT NULL, terms tsvector NOT NULL)")
            conn.exec_driver_sql(f'CREATE INDEX IF NOT EXISTS "{name}_doc" ON {table} (doc_key, version)')
            conn.exec_driver_sql(f'CREATE INDEX IF NOT EXISTS "{name}_terms" ON {table} USING gin (terms)')
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS docmill_keyword_tables (name text PRIMARY KEY, "
                                 "tokenizer text NOT NULL)")
            held = conn.exec_driver_sql("SELECT tokenizer FROM docmill_keyword_tables WHERE name = %s",
                                        (name,)).scalar()
            if held is not None and held != TOKENIZER_SIGNATURE:  # written under another tokeniser: filled again
                conn.exec_driver_sql(f"TRUNCATE {table}")
            conn.exec_driver_sql("INSERT INTO docmill_keyword_tables VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
                                 "SET tokenizer = EXCLUDED.tokenizer", (name, TOKENIZER_SIGNATURE))

    def _run(self, what: str, work: Callable[[Any], Any]) -> Any:
        try:
            with self._engine.begin() as conn:
                return work(conn)
        except self._sql.exc.SQLAlchemyError as exc:
            raise StoreUnavailable(f"the keyword index in PostgreSQL could not {what}: {exc}") from exc

    # Writing ------------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk], *, doc: str, version: int, metadata: Mapping[str, Any]) -> None:
        meta = meta_json(metadata)
        rows = [{"id": c.id, "doc_key": c.doc_key, "version": version, "doc": doc, "seq": c.seq, "page": c.page,
                 "hash": c.hash, "text": c.text, "meta": meta,
                 "fields": json.dumps(chunk_fields(c, doc, metadata), default=str), "terms": tsvector(c.text)}
                for c in chunks]
        statement = self._sql.text(
            f"INSERT INTO {self._table} (id, doc_key, version, doc, seq, page, hash, text, meta, fields, terms) "
            "VALUES (:id, :doc_key, :version, :doc, :seq, :page, :hash, :text, CAST(:meta AS jsonb), "
            "CAST(:fields AS jsonb), CAST(:terms AS tsvector)) ON CONFLICT (id) DO UPDATE SET version = "
            "EXCLUDED.version, doc = EXCLUDED.doc, page = EXCLUDED.page, meta = EXCLUDED.meta, "
            "fields = EXCLUDED.fields")

        def write(conn: Any) -> None:
            for start in range(0, len(rows), BATCH):
                conn.execute(statement, rows[start:start + BATCH])

        if rows:
            self._run("write chunks", write)

    def _delete(self, where: str, params: Mapping[str, Any]) -> int:
        return int(self._run("delete chunks", lambda conn: conn.execute(
            self._sql.text(f"DELETE FROM {self._table} WHERE {where}"), params).rowcount))

    def delete_stale(self, doc_key: str, keep_version: int) -> int:
        return self._delete("doc_key = :key AND version != :version", {"key": doc_key, "version": keep_version})

    def delete_document(self, doc_key: str) -> int:
        return self._delete("doc_key = :key", {"key": doc_key})

    def relabel(self, doc_key: str, *, doc: str, metadata: Mapping[str, Any]) -> int:
        meta = meta_json(metadata)

        def write(conn: Any) -> int:
            held = conn.execute(self._sql.text(f"SELECT id, page, hash FROM {self._table} WHERE doc_key = :key"),
                                {"key": doc_key}).all()
            if held:
                conn.execute(self._sql.text(
                    f"UPDATE {self._table} SET doc = :doc, meta = CAST(:meta AS jsonb), fields = CAST(:fields AS "
                    "jsonb) WHERE id = :id"),
                    [{"id": id_, "doc": doc, "meta": meta,
                      "fields": json.dumps(fields_of(metadata, doc=doc, page=page, hash=digest), default=str)}
                     for id_, page, digest in held])
            return len(held)

        return int(self._run("relabel chunks", write))

    def grant_unlabelled(self, access_of: Callable[[str], str]) -> int:
        def write(conn: Any) -> int:
            keys = conn.execute(self._sql.text(
                f"SELECT DISTINCT doc_key FROM {self._table} WHERE NOT fields ? :access"), {"access": ACCESS}).scalars()
            given = 0
            for key in list(keys):
                given += conn.execute(self._sql.text(
                    f"UPDATE {self._table} SET fields = fields || jsonb_build_object(CAST(:access AS text), "
                    "CAST(:grant AS text)) WHERE doc_key = :key AND NOT fields ? :access"),
                    {"access": ACCESS, "grant": access_of(key), "key": key}).rowcount
            return given

        return int(self._run("label chunks", write))

    # Reading ------------------------------------------------------------------

    def _chunks_held(self, conn: Any) -> int:
        """How many chunks the table holds: counted while small, PostgreSQL's estimate once large (idf needs the
        order of magnitude, and counting 200,000 rows costs a search 20 ms)."""
        estimate = conn.execute(self._sql.text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                                {"t": self._table}).scalar()
        if estimate is not None and estimate >= 50_000:
            return int(estimate)
        return int(conn.execute(self._sql.text(f"SELECT count(*) FROM {self._table}")).scalar())

    def search(self, query: str, k: int, where: Filter = ()) -> list[SearchHit]:
        terms = query_terms(query)
        if not terms:
            return []
        queries = [_lexeme(t.word) for t in terms] + [f"{_lexeme(t.word)}:*" for t in terms if t.prefix]
        params: dict[str, Any] = {f"q{i}": q for i, q in enumerate(queries)}
        params["all"] = " | ".join(queries)
        clauses = []
        for n, condition in enumerate(where):
            clause, values = _condition(condition, n)
            clauses.append(clause)
            params.update(values)
        filters = "".join(f" AND {clause}" for clause in clauses)

        def read(conn: Any) -> list[Any]:
            counts = ", ".join(f"(SELECT count(*) FROM {self._table} WHERE terms @@ CAST(:q{i} AS tsquery))"
                               for i in range(len(queries)))
            held = conn.execute(self._sql.text(f"SELECT {counts}"), params).one()
            total = self._chunks_held(conn)
            idf = [math.log(1 + (max(total, df) - df + 0.5) / (df + 0.5)) for df in held]
            score = " + ".join(f"{weight!r} * ts_rank('{WEIGHTS}', terms, CAST(:q{i} AS tsquery), 1)"
                               for i, weight in enumerate(idf) if held[i])
            if not score:
                return []
            return list(conn.execute(self._sql.text(
                f"SELECT id, doc, page, text, meta, {score} AS score FROM {self._table} "
                f"WHERE terms @@ CAST(:all AS tsquery){filters} ORDER BY score DESC, id LIMIT :k"),
                {**params, "k": k}).all())

        return [hit(*row) for row in self._run("search", read)]

    def iter_chunks(self) -> Iterator[StoredChunk]:
        after = ""
        statement = self._sql.text(f"SELECT id, doc, doc_key, seq, page, text, meta, version FROM {self._table} "
                                   "WHERE id > :after ORDER BY id LIMIT :n")
        def read(conn: Any, after: str) -> list[Any]:
            return list(conn.execute(statement, {"after": after, "n": BATCH}).all())

        while True:
            rows: list[Any] = self._run("read chunks", partial(read, after=after))
            for id_, doc, doc_key, seq, page, text, meta, version in rows:
                yield StoredChunk(id_, doc, doc_key, seq, page, text, meta, None, version)
            if len(rows) < BATCH:
                return
            after = rows[-1][0]

    def count(self) -> int:
        return int(self._run("count chunks", lambda conn: conn.execute(
            self._sql.text(f"SELECT count(*) FROM {self._table}")).scalar()))

    def close(self) -> None:
        self._engine.dispose()


class PostgresKeywordSettings(BaseModel):
    """``[plugins.postgres]`` in docmill.toml, or ``DOCMILL_PLUGINS__POSTGRES__<FIELD>``."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="SQLAlchemy URL of the PostgreSQL database holding the keyword index "
                            "(postgresql+psycopg://user@host/db); unset: the ledger's database.")

    @field_validator("url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() if value and value.strip() else None

    @property
    def remote(self) -> bool:
        return True


def make_postgres_keywords(context: PluginContext) -> PostgresKeywords:
    """The keyword index in ``url``'s database, or else the ledger's, which must then be PostgreSQL."""
    url = context.settings.url or context.ledger_url
    if not url or not url.startswith("postgresql"):
        raise ConfigurationError("DOCMILL_KEYWORD_INDEX=postgres keeps the keyword index in PostgreSQL: set "
                                 "DOCMILL_LEDGER_URL to a PostgreSQL database, or DOCMILL_PLUGINS__POSTGRES__URL")
    return PostgresKeywords(url, context.collection)


@hookimpl
def docmill_register_keyword_indexes(register: Register[KeywordIndexFactory]) -> None:
    register("postgres", make_postgres_keywords, settings=PostgresKeywordSettings)
