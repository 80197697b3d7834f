"""Per-source leases: one sync of a source at a time, across processes and hosts.

A holder takes the lease for ``ttl`` seconds and renews it by heartbeat while
it works. Another holder gets it only once it has expired, so a crashed
holder blocks its source for at most ``ttl``. Every grant, release, takeover
and refusal is written to ``history``, which is what proves that two
syncs of one source never overlapped.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from .base import Role
from .schema import lease_history, leases


class Leases(Role):
    """Taking, renewing and releasing source leases."""

    def acquire(self, source: str, holder: str, ttl: float, *, on_takeover: Callable[[str], None] | None = None
                ) -> bool:
        """Take the source's lease for ``ttl`` seconds; False (and a 'coalesced' record) if someone holds it.
        ``on_takeover`` hears the source when the lease is taken from a holder that stopped renewing it."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute(select(leases).where(leases.c.source == source).with_for_update()).first()
            if row is not None and row.expires_at > now and row.holder != holder:
                conn.execute(insert(lease_history).values(source=source, holder=holder, acquired_at=now,
                                                          released_at=now, outcome="coalesced"))
                return False
            values = dict(holder=holder, acquired_at=now, heartbeat_at=now, expires_at=now + ttl)
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(leases).values(source=source, **values))
                except IntegrityError:  # another holder inserted it first
                    conn.execute(insert(lease_history).values(source=source, holder=holder, acquired_at=now,
                                                              released_at=now, outcome="coalesced"))
                    return False
            else:
                if row.holder != holder:  # its holder stopped beating: close its record
                    if on_takeover is not None:
                        on_takeover(source)
                    conn.execute(update(lease_history).where(
                        lease_history.c.source == source, lease_history.c.holder == row.holder,
                        lease_history.c.outcome == "held").values(released_at=row.expires_at, outcome="expired"))
                conn.execute(update(leases).where(leases.c.source == source).values(**values))
            conn.execute(insert(lease_history).values(source=source, holder=holder, acquired_at=now, outcome="held"))
        return True

    def renew(self, source: str, holder: str, ttl: float) -> bool:
        """Extend a lease this holder still has; False if it lost it (it expired and was taken)."""
        now = time.time()
        with self._write() as conn:
            # Still ours even if it ran out, as long as no one else took it.
            return bool(conn.execute(update(leases).where(leases.c.source == source, leases.c.holder == holder)
                                     .values(heartbeat_at=now, expires_at=now + ttl)).rowcount)

    def release(self, source: str, holder: str) -> None:
        """Give the lease back."""
        now = time.time()
        with self._write() as conn:
            released = conn.execute(update(leases).where(leases.c.source == source, leases.c.holder == holder)
                                    .values(expires_at=now)).rowcount
            if released:
                conn.execute(update(lease_history).where(
                    lease_history.c.source == source, lease_history.c.holder == holder,
                    lease_history.c.outcome == "held").values(released_at=now, outcome="released"))

    def history(self, source: str) -> list[tuple[str, float, float | None, str]]:
        """(holder, acquired_at, released_at, outcome) of every lease event of the source, in order."""
        with self._read() as conn:
            rows = conn.execute(select(lease_history.c.holder, lease_history.c.acquired_at,
                                       lease_history.c.released_at, lease_history.c.outcome)
                                .where(lease_history.c.source == source).order_by(lease_history.c.id)).all()
        return [(r.holder, r.acquired_at, r.released_at, r.outcome) for r in rows]
