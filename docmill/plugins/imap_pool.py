"""Logged-in IMAP connections to one server, reused by the threads of a process and dropped when broken.

A connection is made when no idle one is left (at most ``size`` at once),
tried again with a backoff when the server does not answer. One idle for a
minute is checked with NOOP before it is reused (servers log idle clients
out after 30 minutes). Only a connection whose last command was answered
(OK, NO, BAD) goes back to the pool: after any other error it may be broken
or in the middle of an answer, and is closed.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator

from docmill import PermanentError, SourceUnavailable

from .imap_client import ImapClient, ImapServer

__all__ = ["ImapPool"]

log = logging.getLogger(__name__)

#: Seconds a pooled connection may sit idle before it is checked with NOOP (servers log idle clients out).
IDLE_CHECK = 60.0


class ImapPool:
    """At most ``size`` logged-in connections to one server, reused; a broken one is dropped, not reused."""

    def __init__(self, server: ImapServer, password: str, *, size: int = 4,
                 on_request: Callable[[], None] = lambda: None, max_bytes: int = 1 << 26) -> None:
        self.server = server
        self.max_bytes = max_bytes
        self._password = password
        self.on_request = on_request
        self._idle: list[ImapClient] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, size))

    def __repr__(self) -> str:
        return f"ImapPool({self.server.where}, user {self.server.user!r})"

    def _connect(self) -> ImapClient:
        """A new connection, tried again after a backoff when the server does not answer."""
        for attempt in range(self.server.attempts):
            try:
                return ImapClient(self.server, self._password, on_request=self.on_request, max_bytes=self.max_bytes)
            except SourceUnavailable as exc:
                if attempt + 1 == self.server.attempts:
                    raise SourceUnavailable(f"{exc.reason} ({self.server.attempts} tries)") from None
                pause = min(self.server.backoff * 2.0 ** attempt, 60.0) * random.uniform(0.5, 1.0)
                log.warning("%s; trying again in %.1f s", exc.reason, pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def connection(self) -> Iterator[ImapClient]:
        """A connection for this thread alone until the block ends."""
        with self._slots:
            client = None
            while client is None:
                with self._lock:
                    client = self._idle.pop() if self._idle else None
                if client is None:
                    client = self._connect()
                elif time.monotonic() - client.used > IDLE_CHECK and not client.alive():
                    client.close()
                    client = None
            try:
                yield client
            except PermanentError:  # the server answered (NO, BAD, or an answer docmill refuses): still usable
                with self._lock:
                    self._idle.append(client)
                raise
            except BaseException:  # the connection broke, or may be mid-answer: never reused
                client.close()
                raise
            with self._lock:
                self._idle.append(client)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for client in idle:
            client.close()
