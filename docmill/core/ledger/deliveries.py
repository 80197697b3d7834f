"""Which messages are being processed: how a document that kills its worker is found out.

A message is marked running when a worker starts it and cleared when the
stage returns or raises. A message delivered again while still marked
running was held by a worker that died (out of memory, a crash in a C
library, an operator's kill): the delivery says so, and the transport
decides what that means (see ``docmill/actors/middleware/crashguard.py``). Only deaths
the transport charges (those of a message running alone) are counted.

Each mark is one statement (an upsert on SQLite and PostgreSQL), since it is
paid on every message, and it shares its transactions with the stage's: the
stage is claimed with the mark, and the mark is cleared with the stage's last
write. Rows go when their version's in-flight data does.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, bindparam, case, false

from ..ledger_records import Stage
from .base import END_MARK, Role, upsert
from .documents import claim as claim_stage
from .schema import deliveries


@dataclass(frozen=True)
class Delivery:
    """What a delivery found: whether the last worker holding it died, and the deaths charged to it."""

    died: bool
    crashes: int


@functools.cache
def _mark_statement(dialect: str, redelivered: bool, charge: bool) -> Any:
    """The upsert that marks a message running (built once for each case: it is paid on every message)."""
    statement = upsert(dialect)(deliveries).values(
        message_id=bindparam("b_message_id"), key=bindparam("b_key"), version=bindparam("b_version"),
        stage=bindparam("b_stage"), running=True, crashes=0, died=False, updated_at=bindparam("b_now", type_=Float))
    died = deliveries.c.running.is_(True) if redelivered else false()
    return statement.on_conflict_do_update(index_elements=[deliveries.c.message_id], set_={
        "running": True, "updated_at": statement.excluded.updated_at, "died": died,
        "crashes": deliveries.c.crashes + (case((died, 1), else_=0) if charge else 0),
    }).returning(deliveries.c.died, deliveries.c.crashes)


class Deliveries(Role):
    """Running marks and crash counts of messages."""

    def started(self, message_id: str, key: str, version: int, stage: Stage, *, redelivered: bool,
                         charge: bool, claim: bool = False) -> Delivery:
        """Mark the message running; say whether a worker died holding it (counted when ``charge``).

        With ``claim``, the stage is also claimed in the same transaction, unless the message is a suspect
        not being charged (it is handed on, not run): the stage's ``begin`` on this thread then returns that
        claim. The stage's last write clears the mark (``_final_write``); ``ended`` clears it
        otherwise.
        """
        self._delivery.running, self._delivery.settled, self._delivery.claim = message_id, None, None
        with self._write() as conn:
            row = conn.execute(_mark_statement(self.engine.dialect.name, redelivered, charge), {
                "b_message_id": message_id, "b_key": key, "b_version": version, "b_stage": stage,
                "b_now": time.time()}).one()
            delivery = Delivery(bool(row.died), int(row.crashes))
            if claim and (charge or not delivery.died):
                self._delivery.claim = ((key, version, stage), claim_stage(conn, key, version, stage))
        return delivery

    def ended(self, message_id: str) -> None:
        """The message's stage returned or raised (or it was handed on): its worker survived it."""
        self._delivery.claim = None
        if getattr(self._delivery, "settled", None) == message_id:  # cleared by the stage's last write
            self._delivery.settled = None
            return
        if getattr(self._delivery, "running", None) == message_id:
            self._delivery.running = None
        with self._write() as conn:
            conn.execute(END_MARK, {"b_message_id": message_id})
