"""Which messages are being processed: how a document that kills its worker is noticed and quarantined.

A message is marked running when a worker starts it and cleared when the
stage returns or raises. A message delivered again while still marked running
was held by a worker that died (out of memory, a crash in a C library); the
ledger counts such crashes per message, so the transport can stop a poison
document after a bounded number of them instead of losing a worker to it forever.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .base import LedgerBase
from .schema import deliveries


class DeliveriesMixin(LedgerBase):
    """Running marks and crash counts of messages."""

    def delivery_started(self, message_id: str, key: str, version: int, stage: str, *, redelivered: bool) -> int:
        """Mark the message running; return how many workers died holding it."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute(select(deliveries.c.running, deliveries.c.crashes)
                               .where(deliveries.c.message_id == message_id).with_for_update()).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(deliveries).values(message_id=message_id, key=key, version=version,
                                                               stage=stage, running=True, crashes=0, updated_at=now))
                    return 0
                except IntegrityError:  # a duplicate delivery got there first
                    return 0
            crashes = int(row.crashes) + (1 if row.running and redelivered else 0)
            conn.execute(update(deliveries).where(deliveries.c.message_id == message_id).values(
                running=True, crashes=crashes, updated_at=now))
        return crashes

    def delivery_ended(self, message_id: str) -> None:
        """The message's stage returned or raised: its worker survived it."""
        with self._write() as conn:
            conn.execute(delete(deliveries).where(deliveries.c.message_id == message_id,
                                                  deliveries.c.crashes == 0))
            conn.execute(update(deliveries).where(deliveries.c.message_id == message_id).values(
                running=False, updated_at=time.time()))
