"""`docmill dlq`: documents that failed for good, why, and retrying or forgetting them.

The ledger lists them (a failed document is a dead letter until it is
retried or purged); in distributed mode the same messages sit in RabbitMQ's
``.XQ`` queues, and retry and purge remove them there too, so the two agree.
"""

from __future__ import annotations

import json
import re
import sys
import time

import click

from .. import app
from ..settings import load_settings
from .common import handles_configuration, printable, warn
from .render import format_summary, progress_bar

__all__ = ["dlq"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Seconds in '90s', '30m', '12h', '7d' or '2w'."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration like 30m, 12h or 7d", param_hint="--older-than")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _when(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else "-"


@click.group()
def dlq() -> None:
    """Dead letters: documents that failed for good."""


@dlq.command("list")
@click.option("--limit", type=click.IntRange(min=0), default=app.JOB_PAGE, show_default=True,
              help="Dead letters to show (0: all), oldest first.")
@click.option("--after", metavar="ID", help="Start after this dead letter (the next page).")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@handles_configuration
def list_(limit: int, after: str | None, as_json: bool) -> None:
    """Each dead letter: id, document, stage, error kind, reason, attempts and when; a page at a time."""
    settings = load_settings()
    if not app.has_ledger(settings):
        click.echo("[]" if as_json else f"nothing ingested in {settings.home} yet")
        return
    entries, more, queued = app.dead_letters(settings, limit=limit or None, after=after)
    if as_json:
        click.echo(json.dumps(entries, ensure_ascii=False))
        if more:
            click.echo(f"{more:,} more: docmill dlq list --json --after {entries[-1]['id']}", err=True)
        return
    for e in entries:
        click.echo(f"{e['id']}  {_when(e['failed_at'])}  {e['stage']:<7} {e['error']} (attempts {e['attempts']})"
                   f"  {printable(e['doc'])}\n            {printable(e['reason'])}")
    note = ""
    if queued is not None:
        note = f"; {queued[0]} message(s) in RabbitMQ's dead-letter queues"
        if queued[1]:
            note += (f", and {queued[1]} more that no failed document stands for (superseded versions or "
                     "failed discoveries; `docmill dlq purge` removes them)")
        if queued[2]:
            note += (f"; {queued[2]} more whose documents are still pending: lost during an outage, not failed "
                     "(`docmill worker` queues them again as it starts, and so does `docmill submit`)")
    click.echo(f"{len(entries)} dead letter(s){note}", err=True)
    if more:
        click.echo(f"{more:,} more: docmill dlq list --after {entries[-1]['id']}", err=True)


@dlq.command()
@click.argument("ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Retry every dead letter.")
@click.option("--no-wait", is_flag=True, help="Distributed mode: print the job id and return.")
@handles_configuration
def retry(ids: tuple[str, ...], everything: bool, no_wait: bool) -> None:
    """Re-run dead letters from the stage that failed (fix the cause first)."""
    if bool(ids) == everything:
        raise click.UsageError("give dead-letter ids (from `docmill dlq list`) or --all")
    settings = load_settings()
    started = time.monotonic()
    job_id, summary = app.retry_dead_letters(settings, None if everything else list(ids), wait=not no_wait,
                                             watch=progress_bar("Retrying"), warn=warn)
    if job_id is None:
        click.echo("no such dead letter" + ("s" if everything else f": {', '.join(ids)}"), err=True)
        sys.exit(1)
    if summary is None:
        click.echo(job_id)
        return
    click.echo(format_summary(summary, time.monotonic() - started))


@dlq.command()
@click.option("--older-than", metavar="DURATION", help="Only dead letters older than this (30m, 12h, 7d).")
@handles_configuration
def purge(older_than: str | None) -> None:
    """Forget dead letters; their documents stay failed until they change or are retried."""
    settings = load_settings()
    purged = app.purge_dead_letters(settings, parse_duration(older_than) if older_than else None)
    click.echo(f"purged {purged} dead letter(s)")
