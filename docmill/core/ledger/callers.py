"""The HTTP API's callers as identities, and their uploaded documents."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from ..access import upload_key
from ..ledger_records import State
from .base import Role, upsert
from .schema import callers, documents

__all__ = ["Caller", "Callers"]


@dataclass(frozen=True)
class Caller:
    """A caller the ledger knows: when an API first served it, and whether (and how) it was revoked."""

    name: str
    first_seen_at: float
    revoked_at: float | None
    uploads: str | None  # what became of its uploads when revoked: "kept" or "deleted"


class Callers(Role):
    """Callers, each name one identity for good."""

    def admit(self, names: Iterable[str]) -> list[Caller]:
        """Record these configured callers (first seen now, unless known); the revoked ones among them, whose
        names may not be given to a token again."""
        wanted = sorted(set(names))
        now = time.time()
        with self._write() as conn:
            if wanted:
                statement = upsert(conn.dialect.name)(callers).on_conflict_do_nothing(index_elements=[callers.c.name])
                conn.execute(statement, [{"name": name, "first_seen_at": now} for name in wanted])
            rows = conn.execute(select(callers).where(callers.c.name.in_(wanted),
                                                      callers.c.revoked_at.is_not(None))).all()
        return [Caller(r.name, r.first_seen_at, r.revoked_at, r.uploads) for r in rows]

    def caller(self, name: str) -> Caller | None:
        """What the ledger knows of a caller, or None."""
        with self._read() as conn:
            row = conn.execute(select(callers).where(callers.c.name == name)).first()
        return None if row is None else Caller(row.name, row.first_seen_at, row.revoked_at, row.uploads)

    def revoke(self, name: str, uploads: str) -> None:
        """Record that ``name`` is revoked for good, and what became of its uploads."""
        now = time.time()
        with self._write() as conn:
            done = conn.execute(update(callers).where(callers.c.name == name).values(revoked_at=now, uploads=uploads))
            if not done.rowcount:
                conn.execute(insert(callers), {"name": name, "first_seen_at": now, "revoked_at": now,
                                               "uploads": uploads})

    def uploads_of(self, owner: str) -> list[tuple[str, int, int]]:
        """(key, version, chunks) of every document the caller ``owner`` uploaded that is still indexed or
        on its way there (none being removed already)."""
        with self._read() as conn:
            rows = conn.execute(select(documents.c.key, documents.c.version, documents.c.chunks).where(
                documents.c.key.startswith(upload_key(owner, ""), autoescape=True),
                documents.c.state != State.DELETING).order_by(documents.c.key)).all()
        return [(r.key, r.version, r.chunks or 0) for r in rows]
