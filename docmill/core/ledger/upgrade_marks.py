"""The one-off upgrades done on this ledger (``core/upgrades.py`` runs them; this remembers which ran)."""

from __future__ import annotations

import time

from sqlalchemy import select

from .base import Role, upsert
from .schema import upgrades

__all__ = ["UpgradeMarks"]


class UpgradeMarks(Role):
    """Which one-off upgrades were done."""

    def done(self, name: str) -> bool:
        """Whether the one-off upgrade ``name`` was done on this ledger."""
        with self._read() as conn:
            return conn.execute(select(upgrades.c.done_at).where(upgrades.c.name == name)).first() is not None

    def record(self, name: str) -> None:
        """Mark the one-off upgrade ``name`` done."""
        with self._write() as conn:
            statement = upsert(conn.dialect.name)(upgrades).on_conflict_do_nothing(index_elements=[upgrades.c.name])
            conn.execute(statement, {"name": name, "done_at": time.time()})
