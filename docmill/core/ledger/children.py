"""Attachments as documents of their own: children keyed under their parent, started by its extract stage.

A child's row is a document like any other (same states, stages and job
items) with ``parent`` set; its bytes wait in ``attachment_data`` while its
version is in flight (or failed, for a retry), since no source can fetch it
again. Children are never listed by a source: discovery leaves them out of
what it finds gone, and removing a document removes its descendants (keys
under ``KEY#``) with it. A parent's version that no longer carries a child
removes it once that version's own chunks are stored (write before delete).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from ..ledger_records import Document, Stage, State
from .base import Role
from .inflight import clear_documents
from .jobs import add_items
from .jobs import item as job_item
from .schema import attachment_data, documents

__all__ = ["ATTACHMENT", "Children", "NewChild", "descendants_prefix"]

#: What joins a parent's key and its child's place: ``mail.eml#attachment/2/invoice.pdf``.
ATTACHMENT = "#attachment/"


@dataclass(frozen=True)
class NewChild:
    """An attachment of a parent's version, as the ledger records it: ``skip_reason`` (with ``skip_kind``)
    records it skipped instead of starting it (nested past the depth limit)."""

    key: str
    name: str
    data: bytes
    fingerprint: str
    metadata: dict[str, Any]
    skip_kind: str | None = None
    skip_reason: str | None = None


def descendants_prefix(key: str) -> str:
    """The prefix every descendant of ``key`` has."""
    return key + ATTACHMENT


class Children(Role):
    """Starting, fetching and retiring the children of a document."""

    def start(self, job_id: str, parent: Document, children: Sequence[NewChild],
                       signature: str) -> list[tuple[str, int]]:
        """Record the attachments a parent's version carries; (key, version) of each child to extract.

        A child whose bytes and settings are those of its current version is left as it is (recorded in the
        job as unchanged), unless that version is still in flight, which is sent again (a replayed extract of
        the parent: a duplicate message finds nothing to claim). Any other starts a new version.
        """
        now = time.time()
        started: list[tuple[str, int]] = []
        items: list[dict[str, Any]] = []
        with self._write() as conn:
            rows = {row.key: row for row in conn.execute(select(
                documents.c.key, documents.c.version, documents.c.state, documents.c.fingerprint,
                documents.c.signature).where(documents.c.key.in_([c.key for c in children])))} if children else {}
            for child in children:
                row = rows.get(child.key)
                same = row is not None and row.fingerprint == child.fingerprint and row.signature == signature \
                    and row.state != State.DELETING and child.skip_reason is None
                if same and row is not None:
                    conn.execute(update(documents).where(documents.c.key == child.key).values(
                        parent_version=parent.version, name=child.name))
                    if row.state == State.PENDING:
                        started.append((child.key, row.version))
                        items.append(job_item(child.key, row.version, State.PENDING))
                    else:
                        state = State.FAILED if row.state == State.FAILED else State.SKIPPED
                        items.append(job_item(child.key, row.version, state, unchanged=True))
                    continue
                version = (row.version + 1) if row is not None else 1
                skipped = child.skip_reason is not None
                values: dict[str, Any] = dict(
                    source=parent.source, name=child.name, locator="", stamp="", size=len(child.data),
                    fingerprint=child.fingerprint, content_id=None, signature=signature, version=version,
                    state=State.SKIPPED if skipped else State.PENDING,
                    stage=Stage.EXTRACT, attempts=0, error_kind=child.skip_kind, error=child.skip_reason,
                    error_permanent=True if skipped else None, dead_letter=None, pages=None, ocr_pages=None,
                    ocr_remaining=None, chunks=0 if skipped else None, sent_at=None,
                    metadata=json.dumps(child.metadata, default=str, ensure_ascii=False), priority=parent.priority,
                    job_id=job_id, updated_at=now, started_at=None, finished_at=now if skipped else None,
                    extract_seconds=0.0, ocr_seconds=0.0, embed_seconds=0.0, store_seconds=0.0,
                    parent=parent.key, parent_version=parent.version, extracted=None)
                if row is None:
                    conn.execute(insert(documents).values(key=child.key, created_at=now, **values))
                else:
                    clear_documents(conn, [child.key])
                    conn.execute(update(documents).where(documents.c.key == child.key).values(**values))
                conn.execute(delete(attachment_data).where(attachment_data.c.key == child.key))
                if skipped:
                    items.append(job_item(child.key, version, State.SKIPPED))
                    continue
                conn.execute(insert(attachment_data).values(key=child.key, version=version, data=child.data))
                items.append(job_item(child.key, version, State.PENDING))
                started.append((child.key, version))
            add_items(conn, job_id, items)
        return started

    def attachment_bytes(self, key: str, version: int) -> bytes | None:
        """The bytes of a child's version, while it is in flight or failed; None once gone."""
        with self._read() as conn:
            data = conn.execute(select(attachment_data.c.data).where(
                attachment_data.c.key == key, attachment_data.c.version == version)).scalar()
        return bytes(data) if data is not None else None

    def stale(self, key: str, version: int) -> list[str]:
        """Children of ``key`` that its version ``version`` no longer carries (those being removed too: their
        removal is sent again, in case the process that started it died first)."""
        with self._read() as conn:
            return list(conn.execute(select(documents.c.key).where(
                documents.c.parent == key, documents.c.parent_version < version).order_by(documents.c.key)).scalars())

    def exist(self, key: str) -> bool:
        """Whether the document carries attachments that are documents of their own."""
        with self._read() as conn:
            return conn.execute(select(documents.c.key).where(documents.c.parent == key).limit(1)).first() \
                is not None


#: Drops a child's bytes (its version ended done or skipped, or it was removed).
DROP_ATTACHMENT = delete(attachment_data).where(attachment_data.c.key == bindparam("b_key"))
