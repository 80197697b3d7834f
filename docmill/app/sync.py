"""Syncing a named source: once, under its lease, and recording what it found."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .. import metrics
from ..settings import Settings
from .runs import Watch, run
from .specs import source_spec

__all__ = ["sync_source"]


def _check_source(settings: Settings, spec: Any) -> None:
    """Build the source once, so bad options or a missing token are a configuration error before the lease."""

    source = settings.plugin_registry().source(spec.type, dict(spec.options), settings)
    source.close()


def sync_source(settings: Settings, name: str, full: bool = False, *, prune: bool = False,
                retry_failed: bool = False, watch: Watch | None = None,
                runner: Callable[..., tuple[str, Any]] | None = None) -> dict[str, Any] | None:
    """Sync one named source now; what it found, or None when another holder is syncing it (coalesced).

    ``full`` lists every document of the source instead of what changed since
    its watermark; ``prune`` removes documents its filters now leave out;
    ``retry_failed`` processes failed documents again. ``runner(specs,
    kind=...)`` runs the job and returns its id and summary; by default
    ``app.run`` (a process of its own: embedded mode locks the home), and a
    service that already runs a pipeline passes its own.
    """
    from ..core.lease_heartbeat import SourceLease
    from ..core.ledger import Ledger

    spec = source_spec(settings.source(name), full, prune=prune, retry_failed=retry_failed)
    _check_source(settings, spec)
    settings.home.mkdir(parents=True, exist_ok=True)
    with (Ledger(settings.ledger_database_url) as ledger,
          SourceLease(ledger, spec.id, on_takeover=metrics.lease_takeover) as held):
        if not held:
            metrics.sync_run(name, "coalesced")
            return None
        started, clock = time.time(), time.monotonic()
        if runner is None:
            job_id, summary = run(settings, [spec], kind="sync", watch=watch)
        else:
            job_id, summary = runner([spec], kind="sync")
        found = ledger.jobs.changes(job_id)
        ledger.sources.record_sync(spec.id, started, time.monotonic() - clock, found)
        metrics.sync_run(name, "failed" if summary.get("error") else "ok")
        return {"source": name, "job": job_id, **found, "chunks": summary["chunks"],
                "seconds": round(time.monotonic() - clock, 3), "error": summary.get("error")}
