"""The ledger's tables and its database engine (SQLAlchemy Core).

SQLite by default, in WAL mode so readers (``docmill status``, the progress
bar) never wait for the pipeline's writers; any SQLAlchemy URL otherwise
(PostgreSQL when several hosts share one ledger). Only portable SQL is used
outside :func:`create_ledger_engine`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    inspect,
    literal_column,
    make_url,
)

metadata = MetaData()


def constant(value: str) -> Any:
    """A string written into a statement as a literal: not a parameter, which psycopg's prepared (generic)
    plans cannot match against a partial index, and which an IN list would render again at each execution."""
    if "'" in value:
        raise ValueError(f"not a plain constant: {value!r}")
    return literal_column(f"'{value}'")


def of_version(table: Table) -> tuple[Any, Any]:
    """The WHERE clause of one document version's rows in ``table``, its key and version bound as ``b_key`` and
    ``b_version`` (for statements built once)."""
    return table.c.key == bindparam("b_key"), table.c.version == bindparam("b_version")


#: One row per source document: what it is, where it stands, what it cost.
documents = Table(
    "documents",
    metadata,
    Column("key", String, primary_key=True),
    Column("source", String, nullable=False),
    Column("name", String, nullable=False),
    Column("locator", String, nullable=False),
    Column("stamp", String, nullable=False, default=""),
    Column("size", BigInteger),
    Column("fingerprint", String),
    # The source's checksum of the bytes fetched for the current version (Blob.checksum), when it gives one.
    Column("content_id", String),
    # docmill's and its plugins' versions when the version failed with an internal error (a bug).
    Column("code_version", String),
    # Chunker and embedder settings the current version was made with.
    Column("signature", String),
    Column("version", Integer, nullable=False),
    # pending, done, skipped, failed, deleting
    Column("state", String, nullable=False),
    # discover, extract, ocr, embed, store, remove, relabel
    Column("stage", String, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error_kind", String),
    Column("error", Text),
    Column("error_permanent", Boolean),
    Column("pages", Integer),
    Column("ocr_pages", Integer),
    Column("ocr_remaining", Integer),
    Column("chunks", Integer),
    # Of those chunks, how many were embedded and how many reused a stored vector.
    Column("embedded_chunks", Integer),
    Column("reused_chunks", Integer),
    Column("metadata", Text),
    # Short id of the version's dead letter while it is failed and not yet retried or purged.
    Column("dead_letter", String),
    Column("priority", Integer, nullable=False, default=0),
    Column("job_id", String),
    # When discovery handed the version's first message to the transport: a version discovery
    # committed but never sent (its process died in between) is sent by the next discovery.
    Column("sent_at", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("extract_seconds", Float, nullable=False, default=0.0),
    Column("ocr_seconds", Float, nullable=False, default=0.0),
    Column("embed_seconds", Float, nullable=False, default=0.0),
    Column("store_seconds", Float, nullable=False, default=0.0),
    # An attachment's parent document (its key), and the parent's version that last carried it: a child a
    # newer version no longer carries is removed once that version is stored.
    Column("parent", String),
    Column("parent_version", Integer),
    # Metadata the extractor found in the file itself (a mail's from, subject...), as JSON.
    Column("extracted", Text),
)
Index("documents_state", documents.c.state)
Index("documents_parent", documents.c.parent)
Index("documents_source", documents.c.source)
Index("documents_dead_letter", documents.c.dead_letter)

#: Page texts of versions in flight; deleted when the version is stored.
pages = Table(
    "pages",
    metadata,
    Column("key", String, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("number", Integer),
    Column("text", Text, nullable=False),
    Column("needs_ocr", Boolean, nullable=False),
    Column("section", String),
)

#: Chunks with vectors between the embed and store stages.
staged_chunks = Table(
    "staged_chunks",
    metadata,
    Column("key", String, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("id", String, nullable=False),
    Column("page", Integer),
    Column("text", Text, nullable=False),
    Column("hash", String, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Column("section", String),
)

#: The bytes of attachments (children of another document) whose version is in flight or failed: a child has
#: no source to fetch it from again. Dropped when its version ends done or skipped, or the child is removed.
attachment_data = Table(
    "attachment_data",
    metadata,
    Column("key", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

#: OCR page ranges of versions in flight: the fan-in's idempotency record.
ocr_tasks = Table(
    "ocr_tasks",
    metadata,
    Column("key", String, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("first_page", Integer, primary_key=True),
    Column("done", Boolean, nullable=False, default=False),
    # The range's page numbers, as JSON: what a retry re-sends.
    Column("page_numbers", Text),
)

#: Messages being processed, by Dramatiq message id: a message found still
#: running when it is delivered again took its worker down with it.
deliveries = Table(
    "deliveries",
    metadata,
    Column("message_id", String, primary_key=True),
    Column("key", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("stage", String, nullable=False),
    Column("running", Boolean, nullable=False, default=False),
    # Deaths of its worker while it ran alone, in an isolation process (only those count against it).
    Column("crashes", Integer, nullable=False, default=0),
    # Whether this delivery found that the worker of the last one died holding it.
    Column("died", Boolean, nullable=False, default=False),
    Column("updated_at", Float, nullable=False),
)
Index("deliveries_key", deliveries.c.key, deliveries.c.version)

#: Source definitions that workers rebuild sources from (never secrets).
sources = Table(
    "sources",
    metadata,
    Column("id", String, primary_key=True),
    Column("type", String, nullable=False),
    Column("options", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    # The last sync of a named source: when it started, how long it took, what it found (JSON).
    Column("last_sync_at", Float),
    Column("last_sync_seconds", Float),
    Column("last_sync", Text),
    # What the source asked to get back next time (a watermark, HTTP validators): JSON, no secrets.
    Column("state", Text),
)

#: Who is syncing a source now: one holder at a time, until its lease expires without a heartbeat.
leases = Table(
    "leases",
    metadata,
    Column("source", String, primary_key=True),
    Column("holder", String, nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

#: Every lease ever held, and every attempt refused because another holder had it.
lease_history = Table(
    "lease_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String, nullable=False),
    Column("holder", String, nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("released_at", Float),
    # held, released, expired (taken over after its holder stopped beating), coalesced (refused)
    Column("outcome", String, nullable=False),
)
Index("lease_history_source", lease_history.c.source, lease_history.c.acquired_at)

#: One row per ingest (or sync) job.
jobs = Table(
    "jobs",
    metadata,
    Column("id", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("discoveries_remaining", Integer, nullable=False),
    Column("discovered_at", Float),
    Column("error", Text),
    # Indexed documents that still exist but that the filters now leave out (kept, not deleted).
    Column("left_out", Integer, nullable=False, default=0),
    # The API caller that started the job (its token's name); None for the command line and the scheduler.
    Column("owner", String),
)
Index("jobs_owner", jobs.c.owner, jobs.c.created_at)

#: The HTTP API's callers, by name: a name is one identity for good. Recorded when an API starts with it
#: configured; once revoked (``docmill api --revoke``), no new token may carry it, so nobody inherits the
#: jobs and uploads it left.
callers = Table(
    "callers",
    metadata,
    Column("name", String, primary_key=True),
    Column("first_seen_at", Float, nullable=False),
    Column("revoked_at", Float),
    # What became of its uploads when it was revoked: kept (visible to no caller) or deleted.
    Column("uploads", String),
)

#: One-off upgrades of what an older release wrote, done once per ledger (name -> when).
upgrades = Table(
    "upgrades",
    metadata,
    Column("name", String, primary_key=True),
    Column("done_at", Float, nullable=False),
)

#: What became of each document a job touched.
job_items = Table(
    "job_items",
    metadata,
    Column("job_id", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("version", Integer, nullable=False),
    # pending, done, skipped, failed, deleted
    Column("state", String, nullable=False),
    Column("unchanged", Boolean, nullable=False, default=False),
    # Only the document's labels changed: its chunks' metadata was updated in place.
    Column("relabel", Boolean, nullable=False, default=False),
    Column("finished_at", Float),
    # The document's name, kept when it is forgotten (removed from the index), for the job to still say what.
    Column("name", String),
)
#: Finishing a version updates its pending items by key and version (:data:`ITEM_PENDING`). Only pending items
#: are indexed: the items a re-run writes for its unchanged documents, most of a re-run's, then cost one
#: insert into the primary key, which for one job is in key order, and none into an index by key that grows
#: with every job's history (writing job items was a fifth of an unchanged 200,000-file re-run on PostgreSQL).
#: The condition is a literal in the index and in the queries, so that both databases' planners match them.
ITEM_PENDING = job_items.c.state == constant("pending")
Index("job_items_pending", job_items.c.key, job_items.c.version, sqlite_where=ITEM_PENDING,
      postgresql_where=ITEM_PENDING)
#: Indexes that older releases made and this one no longer uses: dropped by :func:`upgrade`.
_RETIRED_INDEXES = ("job_items_key",)


#: PostgreSQL advisory lock key held while the schema is created or upgraded ("docmill" in ASCII).
SCHEMA_LOCK = 0x646F636D696C6C


def upgrade(conn: Connection) -> None:
    """Create missing tables, and add columns that newer releases define to existing ones.

    Only additive changes happen this way (new tables, new nullable or
    defaulted columns); anything else needs a written migration.
    """
    if conn.dialect.name == "postgresql":
        # Workers starting together would race to create the same tables; one at a time.
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
    metadata.create_all(conn)
    inspector = inspect(conn)
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            ddl = f"{column.type.compile(conn.dialect)}"
            default = getattr(column.default, "arg", None)
            if default is not None and not callable(default):
                ddl += f" DEFAULT {default!r}"
            conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {ddl}')
        for index in table.indexes:
            index.create(conn, checkfirst=True)
    for name in _RETIRED_INDEXES:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


def schema_gaps(conn: Connection) -> list[str]:
    """The tables and columns this docmill's ledger has that the database lacks (read only; empty when the
    schema is current). Any docmill process that opens the ledger adds them (see :func:`upgrade`)."""
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    gaps = []
    for table in metadata.sorted_tables:
        if table.name not in tables:
            gaps.append(f"table {table.name}")
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        gaps += [f"column {table.name}.{column.name}" for column in table.columns if column.name not in present]
    return gaps


def create_ledger_engine(url: str) -> Engine:
    """An engine for the ledger at ``url``, with SQLite tuned for many threads."""
    if not url.startswith("sqlite"):
        # No ping before each use (a round trip per transaction): a connection the server dropped
        # fails its statement as an OperationalError, which is a LedgerUnavailable, which is retried.
        # A server that does not answer at all fails a connection attempt within seconds, not when TCP gives
        # up minutes later: the workers then know the ledger is down, and hold their messages until it answers.
        query = make_url(url).query
        connect_args = {} if "connect_timeout" in query or not url.startswith("postgresql") else {"connect_timeout": 10}
        return create_engine(url, pool_recycle=3600, connect_args=connect_args)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front (BEGIN IMMEDIATE): upgrading a
        # read lock later can fail with "database is locked" however long the
        # busy timeout, while waiting for the lock at BEGIN honours it.
        mode = "IMMEDIATE" if conn.get_execution_options().get("docmill_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine
