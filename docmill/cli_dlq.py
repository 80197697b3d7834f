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
from typing import Any

import click

from .cli_common import handles_configuration, has_ledger
from .settings import Settings, load_settings

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


def _entry(row: Any) -> dict[str, Any]:
    return {"id": row.dead_letter, "doc": row.name, "stage": row.stage, "error": row.error_kind,
            "reason": row.error, "attempts": row.attempts, "failed_at": row.finished_at}


@click.group()
def dlq() -> None:
    """Dead letters: documents that failed for good."""


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@handles_configuration
def list_(as_json: bool) -> None:
    """Each dead letter: id, document, stage, error kind, reason, attempts and when."""
    from .core.ledger import Ledger

    settings = load_settings()
    if not has_ledger(settings):
        click.echo("[]" if as_json else f"nothing ingested in {settings.home} yet")
        return
    ledger = Ledger(settings.ledger_database_url)
    try:
        rows = ledger.dead_letters()
        entries = [_entry(row) for row in rows]
        keys = [{"key": row.key, "version": row.version} for row in rows]
    finally:
        ledger.close()
    queued = _queued(settings, {(row["key"], row["version"]) for row in keys})
    if as_json:
        click.echo(json.dumps(entries, ensure_ascii=False))
        return
    for e in entries:
        click.echo(f"{e['id']}  {_when(e['failed_at'])}  {e['stage']:<7} {e['error']} (attempts {e['attempts']})"
                   f"  {e['doc']}\n            {e['reason']}")
    note = ""
    if queued is not None:
        note = f"; {queued[0]} message(s) in RabbitMQ's dead-letter queues"
        if queued[1]:
            note += (f", and {queued[1]} more that no failed document stands for (superseded versions or "
                     "failed discoveries; `docmill dlq purge` removes them)")
    click.echo(f"{len(entries)} dead letter(s){note}", err=True)


def _queued(settings: Settings, versions: set[tuple[str, int]]) -> tuple[int, int] | None:
    """Dead messages in RabbitMQ: how many match the listed dead letters, and how many do not."""
    if not settings.distributed:
        return None
    from .actors.distributed import DistributedClient

    client = DistributedClient(settings)
    try:
        found = [(m.kwargs.get("key"), m.kwargs.get("version")) in versions for m in client.dead_messages()]
    finally:
        client.close()
    return sum(found), len(found) - sum(found)


@dlq.command()
@click.argument("ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Retry every dead letter.")
@click.option("--no-wait", is_flag=True, help="Distributed mode: print the job id and return.")
@handles_configuration
def retry(ids: tuple[str, ...], everything: bool, no_wait: bool) -> None:
    """Re-run dead letters from the stage that failed (fix the cause first)."""
    from .progress import format_summary

    if bool(ids) == everything:
        raise click.UsageError("give dead-letter ids (from `docmill dlq list`) or --all")
    settings = load_settings()
    started = time.monotonic()
    chosen = None if everything else list(ids)
    if settings.distributed:
        job_id, summary = _retry_distributed(settings, chosen, no_wait)
    else:
        job_id, summary = _retry_embedded(settings, chosen)
    if job_id is None:
        click.echo("no such dead letter" + ("s" if everything else f": {', '.join(ids)}"), err=True)
        sys.exit(1)
    if summary is None:
        click.echo(job_id)
        return
    click.echo(format_summary(summary, time.monotonic() - started))


def _retry_distributed(settings: Settings, ids: list[str] | None,
                       no_wait: bool) -> tuple[str | None, dict[str, Any] | None]:
    from .actors.distributed import DistributedClient
    from .cli_jobs import watch_job

    client = DistributedClient(settings)
    try:
        job_id, _rows = client.retry(ids)
        if job_id is None or no_wait:
            return job_id, None
        return job_id, watch_job(client, job_id, "Retrying")
    finally:
        client.close()


def _retry_embedded(settings: Settings, ids: list[str] | None) -> tuple[str | None, dict[str, Any] | None]:
    from .actors.embedded import EmbeddedPipeline
    from .core import deadletters
    from .progress import watch

    with EmbeddedPipeline(settings) as pipeline:
        job_id, _rows = deadletters.retry(pipeline.runtime, ids)
        if job_id is None:
            return None, None
        watch(lambda: pipeline.progress(job_id), label="Retrying")
        return job_id, pipeline.runtime.ledger.job_summary(job_id)


@dlq.command()
@click.option("--older-than", metavar="DURATION", help="Only dead letters older than this (30m, 12h, 7d).")
@handles_configuration
def purge(older_than: str | None) -> None:
    """Forget dead letters; their documents stay failed until they change or are retried."""
    from .core.ledger import Ledger

    settings = load_settings()
    before = time.time() - parse_duration(older_than) if older_than else None
    if not has_ledger(settings):
        click.echo("purged 0 dead letter(s)")
        return
    ledger = Ledger(settings.ledger_database_url)
    try:
        rows = ledger.dead_letters(before=before)
        if settings.distributed:
            from .actors.distributed import DistributedClient

            client = DistributedClient(settings)
            try:
                purged = client.purge(rows, everything=before is None)
            finally:
                client.close()
        else:
            purged = ledger.purge(rows)
    finally:
        ledger.close()
    click.echo(f"purged {purged} dead letter(s)")
