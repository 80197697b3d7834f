"""Sources as the ledger keeps them: how to rebuild each, the state it asked to get back, its last sync."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update

from ..ledger_records import JsonObject, LastSync
from .base import Role, put_source
from .schema import sources

__all__ = ["Sources"]


class Sources(Role):
    """Named sources: definitions, listing state and last syncs."""

    def put(self, source_id: str, type_name: str, options: Mapping[str, Any]) -> None:
        """Remember how to rebuild a source (options must hold no secrets).

        A source registered again with the same type and options keeps its
        state and last sync; other options (another server, say) start afresh.
        """
        with self._write() as conn:
            put_source(conn, source_id, type_name, options)

    def get(self, source_id: str) -> tuple[str, JsonObject] | None:
        """The type and options of a source, or None."""
        with self._read() as conn:
            row = conn.execute(select(sources.c.type, sources.c.options).where(sources.c.id == source_id)).first()
        options: JsonObject | None = json.loads(row.options) if row else None
        return (row.type, options) if row and options is not None else None

    def state(self, source_id: str) -> JsonObject:
        """What the source asked to get back after its last successful listing ({} if nothing)."""
        with self._read() as conn:
            value = conn.execute(select(sources.c.state).where(sources.c.id == source_id)).scalar()
        state: JsonObject = json.loads(value) if value else {}
        return state

    def save_state(self, source_id: str, state: Mapping[str, Any]) -> None:
        """Keep the source's state for its next listing."""
        with self._write() as conn:
            conn.execute(update(sources).where(sources.c.id == source_id).values(
                state=json.dumps(dict(state), sort_keys=True)))

    def record_sync(self, source_id: str, started_at: float, seconds: float, found: Mapping[str, int]) -> None:
        """What the last sync of a named source found, for `docmill status`."""
        with self._write() as conn:
            conn.execute(update(sources).where(sources.c.id == source_id).values(
                last_sync_at=started_at, last_sync_seconds=seconds, last_sync=json.dumps(dict(found))))

    def last_syncs(self) -> dict[str, LastSync]:
        """Source id -> its last sync (when, seconds, counts), for sources that were ever synced."""
        with self._read() as conn:
            rows = conn.execute(select(sources.c.id, sources.c.last_sync_at, sources.c.last_sync_seconds,
                                       sources.c.last_sync).where(sources.c.last_sync_at.is_not(None))).all()
        found: dict[str, LastSync] = {}
        for r in rows:
            found[r.id] = {"at": r.last_sync_at, "seconds": r.last_sync_seconds}
            found[r.id].update(json.loads(r.last_sync or "{}"))
        return found
