"""Proof that code does not phone home: record every network connection attempt.

Uses an audit hook (PEP 578), which sees connections from any library in the
process, including ones made by C extensions through Python's socket module::

    audit = ConnectionAudit()
    with audit:
        ingest_something()
    assert audit.attempts == []

Audit hooks cannot be removed; the hook is installed once per process and
records only while some ConnectionAudit is active.
"""

from __future__ import annotations

import socket
import sys
import threading
from typing import Any

__all__ = ["ConnectionAudit"]

_EVENTS = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto", "socket.sendmsg"}
_active: list[ConnectionAudit] = []
_lock = threading.Lock()
_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event not in _EVENTS or not _active:
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock = args[0]
        if getattr(sock, "family", None) == getattr(socket, "AF_UNIX", None):
            return  # a local socket file is not the network
        detail = repr(args[1]) if len(args) > 1 else ""
    else:
        detail = repr(args[0]) if args else ""
    for audit in list(_active):
        audit.attempts.append(f"{event} {detail}")


class ConnectionAudit:
    """Collects network connection attempts made while it is active."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def __enter__(self) -> ConnectionAudit:
        global _installed
        with _lock:
            if not _installed:
                sys.addaudithook(_hook)
                _installed = True
            _active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        with _lock:
            _active.remove(self)
