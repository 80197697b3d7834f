"""Which messages are being processed: how a document that kills its worker is noticed and quarantined.

A message is marked running when a worker starts it and cleared when the
stage returns or raises. A message delivered again while still marked running
was held by a worker that died (out of memory, a crash in a C library); the
ledger counts such crashes per message, so the transport can stop a poison
document after a bounded number of them instead of losing a worker to it forever.

Each mark is one statement (an upsert on SQLite and PostgreSQL), since it is
paid on every message. Rows go when their version's in-flight data does.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import case, false, update
from sqlalchemy.dialects import postgresql, sqlite

from .base import LedgerBase
from .schema import deliveries


class DeliveriesMixin(LedgerBase):
    """Running marks and crash counts of messages."""

    def delivery_started(self, message_id: str, key: str, version: int, stage: str, *, redelivered: bool) -> int:
        """Mark the message running; return how many workers died holding it."""
        dialect: Any = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(deliveries).values(
            message_id=message_id, key=key, version=version, stage=stage, running=True, crashes=0,
            updated_at=time.time())
        crashed = deliveries.c.running.is_(True) if redelivered else false()
        statement = statement.on_conflict_do_update(index_elements=[deliveries.c.message_id], set_={
            "running": True, "updated_at": statement.excluded.updated_at,
            "crashes": deliveries.c.crashes + case((crashed, 1), else_=0),
        }).returning(deliveries.c.crashes)
        with self._write() as conn:
            return int(conn.execute(statement).scalar_one())

    def delivery_ended(self, message_id: str) -> None:
        """The message's stage returned or raised: its worker survived it."""
        with self._write() as conn:
            conn.execute(update(deliveries).where(deliveries.c.message_id == message_id).values(running=False))
