"""Holding a source's lease for the length of a sync, with a heartbeat so a crash lets go."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from types import TracebackType

from .ledger import Ledger

__all__ = ["SourceLease", "holder_name"]

log = logging.getLogger(__name__)

#: Seconds a lease lasts without a heartbeat; a crashed holder blocks its source this long at most.
LEASE_TTL = 60.0


def holder_name() -> str:
    """Who is asking: host and process, as the lease history shows it."""
    return f"{socket.gethostname()}:{os.getpid()}"


class SourceLease:
    """``with SourceLease(ledger, source) as held:`` runs the body only if ``held``; renews while it runs."""

    def __init__(self, ledger: Ledger, source: str, *, holder: str | None = None, ttl: float = LEASE_TTL,
                 on_takeover: Callable[[str], None] | None = None) -> None:
        """``on_takeover`` hears the source when its lease is taken from a holder that stopped renewing it."""
        self.ledger, self.source, self.ttl = ledger, source, ttl
        self.on_takeover = on_takeover
        self.holder = holder or holder_name()
        self.held = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> bool:
        self.held = self.ledger.leases.acquire(self.source, self.holder, self.ttl, on_takeover=self.on_takeover)
        if self.held:
            self._beat = threading.Thread(target=self._heartbeat, name=f"lease {self.source}", daemon=True)
            self._beat.start()
        return self.held

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not self.ledger.leases.renew(self.source, self.holder, self.ttl):
                    log.error("lost the lease on %s: another holder took it after a missed heartbeat", self.source)
                    return
            except Exception as exc:  # the ledger is down for a moment: try again at the next beat
                log.warning("could not renew the lease on %s: %s", self.source, exc)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        if self.held:
            self.ledger.leases.release(self.source, self.holder)
