"""The ledger's foundation: one database (engine, transactions, error translation) that every role shares."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, insert, literal, make_url, select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from ..errors import DiskFull, LedgerUnavailable
from ..ledger_records import State
from .schema import create_ledger_engine, deliveries, sources, upgrade

#: States a version ends in.
FINAL_STATES = tuple(state for state in State if state.final)


def upsert(dialect: str) -> Any:
    """The ``insert`` with ``on_conflict_do_update`` of the ledger's database (each dialect has its own; the
    PostgreSQL one is imported only where it is used, a SQLite ledger's commands start 40 ms sooner)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert

def put_source(conn: Connection, source_id: str, type_name: str, options: Mapping[str, Any]) -> None:
    """``Sources.put`` within a transaction of the caller's."""
    encoded = json.dumps(dict(options), sort_keys=True)
    row = conn.execute(select(sources.c.type, sources.c.options).where(sources.c.id == source_id)).first()
    if row is not None and row.type == type_name and json.loads(row.options) == json.loads(encoded):
        return
    if row is not None:
        conn.execute(delete(sources).where(sources.c.id == source_id))
    # Parameters beside the statement, not in it: one compiled statement serves every call.
    conn.execute(insert(sources), {"id": source_id, "type": type_name, "options": encoded, "created_at": time.time()})


#: A message's running mark cleared: it ended, and its worker survived it.
END_MARK = update(deliveries).where(deliveries.c.message_id == bindparam("b_message_id")).values(running=False)


class LedgerError(RuntimeError):
    """The database rejected a statement: a bug, not an outage (it is not retried as one)."""


def describe_database(url: str) -> str:
    """The ledger's database as messages name it: its kind and where it is (never a password)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return f"SQLite at {parsed.database}"
    where = f"{parsed.host or 'localhost'}{f':{parsed.port}' if parsed.port else ''}/{parsed.database or ''}"
    return f"{'PostgreSQL' if backend == 'postgresql' else backend} at {where}"


#: SQLSTATE of PostgreSQL's disk_full.
_PG_DISK_FULL = "53100"


def _disk_full(error: BaseException | None) -> bool:
    """Whether the database driver's error says the disk is full (SQLite's SQLITE_FULL, PostgreSQL's 53100)."""
    if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return True
    return getattr(error, "sqlstate", None) == _PG_DISK_FULL


@contextlib.contextmanager
def _unavailable_when_down(where: str) -> Iterator[None]:
    """A locked, busy or unreachable database is a LedgerUnavailable (retried), a full disk a DiskFull; a bad
    query is neither."""
    try:
        yield
    except DBAPIError as exc:
        if _disk_full(exc.orig):
            raise DiskFull(f"the disk holding the ledger ({where}) is full: {exc.orig}") from exc
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            raise LedgerUnavailable(f"the ledger ({where}) is busy or unreachable: {exc.orig}") from exc
        # A bug (ours or a plugin's data): say what the database said, without the statement and
        # its parameters, which hold document text.
        raise LedgerError(f"the ledger refused a write: {type(exc.orig).__name__}: {exc.orig}") from exc


class Database:
    """One SQLAlchemy engine, with read and write transactions; the roles of the ledger share it."""

    def __init__(self, url: str, *, job_history: float = 0.0) -> None:
        """``job_history``: seconds a job is kept once it started (0: for ever), see ``Jobs.forget_jobs``."""
        self.url = url
        self.where = describe_database(url)
        self.job_history = job_history
        self.engine = create_ledger_engine(url)
        self._writer = self.engine.execution_options(docmill_write=True)
        # PostgreSQL reads outside a transaction: the same snapshots as its READ COMMITTED (one per statement)
        # without the BEGIN and ROLLBACK round trips around each read.
        self._reader = (self.engine.execution_options(isolation_level="AUTOCOMMIT")
                        if self.engine.dialect.name == "postgresql" else self.engine)
        # The message this thread runs, when a worker marked it running (deliveries.py): its claim, made in
        # the mark's transaction, and its mark, cleared in the stage's last write instead of one of its own.
        self.delivery = threading.local()
        with self.write() as conn:
            upgrade(conn)

    @property
    def served(self) -> bool:
        """Whether a database server does the work of a statement (PostgreSQL), so that a write on a thread of
        its own overlaps with this process's work. SQLite's work is this process's: a second thread only
        contends for the GIL (an unchanged 200,000-file re-run took 40% longer so)."""
        return self.engine.dialect.name != "sqlite"

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        with _unavailable_when_down(self.where), self._writer.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def final_write(self) -> Iterator[Connection]:
        """A stage's last write. The message this thread runs has survived its work: its running mark is
        cleared in the same transaction (and, once that commits, ``delivery_ended`` has nothing left to do)."""
        running = getattr(self.delivery, "running", None)
        with self.write() as conn:
            yield conn
            if running is not None:
                conn.execute(END_MARK, {"b_message_id": running})
        if running is not None:
            self.delivery.running, self.delivery.settled = None, running

    def take_claim(self, key: str, version: int, stage: str) -> tuple[Any] | None:
        """The claim made for this stage with its message's running mark, once: ``(document or None,)``."""
        made = getattr(self.delivery, "claim", None)
        self.delivery.claim = None
        if made is None or made[0] != (key, version, stage):
            return None
        return (made[1],)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with _unavailable_when_down(self.where), self._reader.connect() as conn:
            yield conn

    def ping(self) -> None:
        """Return once the database has answered a query; LedgerUnavailable (or DiskFull) when it cannot."""
        with self.read() as conn:
            conn.execute(select(literal(1)))


class Role:
    """One concern of the ledger (jobs, versions, dead letters...), over the database every role shares."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def engine(self) -> Engine:
        return self.db.engine

    @property
    def job_history(self) -> float:
        return self.db.job_history

    @property
    def _delivery(self) -> threading.local:
        return self.db.delivery

    def _write(self) -> contextlib.AbstractContextManager[Connection]:
        return self.db.write()

    def _final_write(self) -> contextlib.AbstractContextManager[Connection]:
        return self.db.final_write()

    def _read(self) -> contextlib.AbstractContextManager[Connection]:
        return self.db.read()

    def _take_claim(self, key: str, version: int, stage: str) -> tuple[Any] | None:
        return self.db.take_claim(key, version, stage)
