"""On-demand syncs of named sources in a long-running front end (the HTTP API's webhooks).

One sync of a source at a time in this process, and a burst of triggers
while it runs is folded into one more run after it, not one each; across
processes and hosts, the source's lease decides. Once the front end stops,
nothing new starts: a queued run is dropped (the next webhook or the
schedule catches up), and a running one stops waiting for its job, which
resumes with the pipeline on its next start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ..settings import Settings

__all__ = ["SyncInterrupted", "SyncRunners"]

log = logging.getLogger(__name__)


class SyncInterrupted(Exception):
    """The front end is stopping: a sync stops waiting for its job."""


class SyncRunners:
    """Every source's on-demand syncs; ``runner(specs, kind=...)`` runs a sync's job on the front end's
    pipeline (``app.sync_source``'s ``runner``)."""

    def __init__(self, settings: Settings, runner: Callable[..., tuple[str, Any]]) -> None:
        self.settings, self.runner = settings, runner
        self._lock = threading.Lock()
        self._running: dict[str, threading.Thread] = {}
        self._again: set[str] = set()
        self._stopping = threading.Event()

    @property
    def stopping(self) -> bool:
        """Whether the front end is stopping (a running sync stops waiting, no queued one starts)."""
        return self._stopping.is_set()

    def trigger(self, name: str) -> bool:
        """Start a sync of ``name`` in the background; False when one is running (one more run follows it) or
        the front end is stopping (none does)."""
        with self._lock:
            if self._stopping.is_set():
                return False
            if name in self._running:
                self._again.add(name)
                return False
            thread = threading.Thread(target=self._run, args=(name,), name=f"docmill-sync-{name}", daemon=True)
            self._running[name] = thread
            thread.start()
            return True

    def _run(self, name: str) -> None:
        from .sync import sync_source

        while True:
            try:
                found = sync_source(self.settings, name, runner=self.runner)
                if found is None:
                    log.info("sync of %s coalesced: another process is syncing it", name,
                             extra={"event": "sync.coalesced"})
            except SyncInterrupted:
                log.info("sync of %s stopped with the API; its job resumes when the pipeline starts again", name,
                         extra={"event": "sync.interrupted"})
            except Exception:
                log.exception("sync of %s failed", name, extra={"event": "sync.failed"})
            with self._lock:
                if name in self._again and not self._stopping.is_set():
                    self._again.discard(name)
                    continue
                if name in self._again:
                    self._again.discard(name)
                    log.info("a queued sync of %s is dropped: the API is stopping (the next webhook or the "
                             "schedule catches up)", name, extra={"event": "api.stopping"})
                del self._running[name]
                return

    def stop(self) -> None:
        """Start nothing more, and wait for the running syncs to stop waiting for their jobs (at once)."""
        with self._lock:
            self._stopping.set()
            running = dict(self._running)
            queued = set(self._again)
        for name, thread in running.items():
            log.info("stopping: waiting for the sync of %s to stop%s", name,
                     " (and dropping the one queued after it)" if name in queued else "",
                     extra={"event": "api.stopping"})
            thread.join()
