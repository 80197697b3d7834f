"""`docmill sync NAME` (one sync of a named source, under its lease) and `docmill scheduler` (syncs on their
schedules)."""

from __future__ import annotations

import json
import sys

import click

from .. import app
from ..settings import load_settings
from .common import EXIT_DISCOVERY_FAILED, handles_configuration
from .render import progress_bar

__all__ = ["scheduler", "sync"]

#: Exit code of a sync skipped because another holder is syncing the source.
EXIT_COALESCED = 0


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
    found = app.sync_source(settings, name, full, prune=prune, retry_failed=retry_failed,
                            watch=progress_bar("Syncing"))
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

    from ..logs import configure_logging
    from ..scheduler import Scheduler

    configure_logging(2 if logging.getLogger().level <= logging.DEBUG else 1, service=True)
    Scheduler(load_settings()).run()
