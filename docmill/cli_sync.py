"""`docmill sync NAME`: one discovery of a named source, under its lease, and what it found."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from .cli_common import handles_configuration
from .settings import Settings, load_settings
from .sources_config import SourceConfig

__all__ = ["format_sync", "scheduler", "source_id", "sync", "sync_source"]

#: Exit code of a sync skipped because another holder is syncing the source.
EXIT_COALESCED = 0
#: Exit code of a sync whose source could not be listed (refused token, server down past the retries...).
EXIT_DISCOVERY_FAILED = 6


def source_id(name: str) -> str:
    """The ledger's id of a named source."""
    return f"source:{name}"


def source_spec(config: SourceConfig, full: bool = False, *, prune: bool = False, retry_failed: bool = False) -> Any:
    """How workers rebuild the source: its type and options, and its name (to find its token in their settings)."""
    from .actors.embedded import SourceSpec

    return SourceSpec(id=source_id(config.name), type=config.type, options={**config.options, "name": config.name},
                      full=full, prune=prune, retry_failed=retry_failed)


def format_sync(last: dict[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last["at"]))
    return (f"last synced {when} in {last['seconds']:.1f} s: {last['new']} new, {last['changed']} changed, "
            f"{last.get('relabelled', 0)} relabelled, {last['deleted']} deleted, {last['unchanged']} unchanged, "
            f"{last.get('refused', 0)} refused, {last['failed']} failed")


def _check_source(settings: Settings, spec: Any) -> None:
    """Build the source once here, so bad options or a missing token are a configuration error (exit 3)."""
    from .core.plugins import load_plugins

    source = load_plugins(settings.load_plugins).source(spec.type, dict(spec.options), settings)
    close = getattr(source, "close", None)
    if close is not None:
        close()


def sync_source(settings: Settings, name: str, full: bool = False, *, prune: bool = False,
                retry_failed: bool = False) -> dict[str, Any] | None:
    """Sync one named source now; None when another holder is syncing it (the run is coalesced).

    ``full`` lists every document of the source instead of what changed since its watermark; ``prune``
    removes documents its filters now leave out; ``retry_failed`` processes failed documents again.
    """
    from .cli import ingest_embedded
    from .core.leasing import SourceLease
    from .core.ledger import Ledger

    config = settings.source(name)
    spec = source_spec(config, full, prune=prune, retry_failed=retry_failed)
    _check_source(settings, spec)
    settings.home.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(settings.ledger_database_url)
    try:
        with SourceLease(ledger, spec.id) as held:
            if not held:
                return None
            started, clock = time.time(), time.monotonic()
            if settings.distributed:
                from .cli_jobs import submit_and_wait

                job_id, summary = submit_and_wait(settings, [spec], 0, kind="sync")
            else:
                job_id, summary = ingest_embedded(settings, [spec], 0, kind="sync")
            found = ledger.job_changes(job_id)
            ledger.record_sync(spec.id, started, time.monotonic() - clock, found)
            return {"source": name, "job": job_id, **found, "chunks": summary["chunks"],
                    "seconds": round(time.monotonic() - clock, 3), "error": summary.get("error")}
    finally:
        ledger.close()


@click.command()
@click.argument("name")
@click.option("--full", is_flag=True,
              help="List every document of the source, not only what changed since its last sync "
                   "(unchanged documents are still not processed again).")
@click.option("--prune", is_flag=True, help="Also remove documents that the source's filters now leave out.")
@click.option("--retry-failed", is_flag=True, help="Process failed documents again even if they did not change.")
@click.option("--json", "as_json", is_flag=True, help="Print what the sync found as JSON.")
@handles_configuration
def sync(name: str, full: bool, prune: bool, retry_failed: bool, as_json: bool) -> None:
    """Sync the named source (from [[sources]] in docmill.toml) once: new, changed, deleted, unchanged."""
    settings = load_settings()
    found = sync_source(settings, name, full, prune=prune, retry_failed=retry_failed)
    if found is None:
        click.echo(f"docmill: source {name!r} is being synced by another process; this run is coalesced "
                   "into that one", err=True)
        sys.exit(EXIT_COALESCED)
    if as_json:
        click.echo(json.dumps(found))
    else:
        click.echo(f"{name}: {found['new']} new, {found['changed']} changed, {found['relabelled']} relabelled, "
                   f"{found['deleted']} deleted, "
                   f"{found['unchanged']} unchanged, {found['refused']} refused, {found['failed']} failed "
                   f"in {found['seconds']:.1f} s ({found['chunks']:,} chunks written)"
                   + (f"; {found['left_out']} left out by the filters, kept (--prune removes them)"
                      if found["left_out"] else ""))
    if found["error"]:
        click.echo(f"docmill: the source could not be listed: {found['error']}", err=True)
        sys.exit(EXIT_DISCOVERY_FAILED)


@click.command()
@handles_configuration
def scheduler() -> None:
    """Sync the sources on their schedules until SIGTERM (run two for safety: leases keep them apart)."""
    import logging

    from .logs import configure_logging
    from .scheduler import Scheduler

    configure_logging(2 if logging.getLogger().level <= logging.DEBUG else 1, service=True)
    Scheduler(load_settings()).run()
