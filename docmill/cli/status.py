"""`docmill status` and `docmill status JOB`: what the index holds, and where each document of a job is."""

from __future__ import annotations

import json
import shlex
import time
from datetime import datetime
from typing import Any

import click

from .. import app
from ..core.attachments import NAME_SEPARATOR, depth_of
from ..core.ledger_records import Stage, State
from ..settings import Settings, load_settings
from .common import handles_configuration, printable

__all__ = ["format_sync", "status"]


def format_sync(last: dict[str, Any]) -> str:
    """A source's last sync, in a line."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last["at"]))
    return (f"last synced {when} in {last['seconds']:.1f} s: {last['new']} new, {last['changed']} changed, "
            f"{last.get('relabelled', 0)} relabelled, {last['deleted']} deleted, {last['unchanged']} unchanged, "
            f"{last.get('refused', 0)} refused, {last['failed']} failed")


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S") if epoch else "-"


def _label(item: dict[str, Any]) -> str:
    """A document's name, or an attachment's own name indented under its parent (which comes just before it:
    items are in key order, and an attachment's key extends its parent's)."""
    depth = depth_of(item["key"]) if item.get("parent") else 0
    if not depth:
        return printable(item["doc"])
    return "   " * (depth - 1) + "└─ " + printable(item["doc"].rsplit(NAME_SEPARATOR, 1)[-1])


def _show_job(settings: Settings, job_id: str, as_json: bool, page: dict[str, Any]) -> None:
    try:
        report = app.job_status(settings, job_id, **page)
    except KeyError:
        days = settings.job_history_days
        kept = f" (jobs older than {days:g} days are forgotten: DOCMILL_JOB_HISTORY_DAYS)" if days else ""
        raise click.BadParameter(f"no job {job_id!r} in the ledger{kept}", param_hint="JOB") from None
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    state = "finished" if report["finished"] else "running"
    counts = ", ".join(f"{n} {s}" for s, n in sorted(report["counts"].items())) or "no documents yet"
    click.echo(f"job {job_id} ({report['kind']}, priority {report['priority']}, {state}): {counts}")
    for item in report["items"]:
        where = item["stage"] or "-"
        note = f"  {item['error']}: {printable(item['reason'])}" if item["error"] else ""
        click.echo(f"  {item['state']:<8} {where:<8} {_when(item['finished_at']):<19}  {_label(item)}{note}")
    if report["more"]:
        click.echo(f"  ... {report['more']:,} more: docmill status {job_id} --after {shlex.quote(report['next'])}")


@click.command()
@click.argument("job", required=False)
@click.option("--limit", type=click.IntRange(min=0), default=app.JOB_PAGE, show_default=True,
              help="Documents to show (0: all): of JOB, or else failures and skips each.")
@click.option("--after", metavar="KEY", help="With JOB: start after this document key (the next page).")
@click.option("--state", type=click.Choice([s.value for s in State if s != State.DELETING]),
              help="With JOB: only documents in this state.")
@click.option("--stage", type=click.Choice([s.value for s in Stage]), help="With JOB: only documents at this stage.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@handles_configuration
def status(job: str | None, limit: int, after: str | None, state: str | None, stage: str | None,
           as_json: bool) -> None:
    """What the index holds and what failed; with JOB, where each of that job's documents is, a page at a time."""
    settings = load_settings()
    if job is not None:
        _show_job(settings, job, as_json, {"limit": limit or None, "after": after, "state": state, "stage": stage})
        return
    if after is not None or state is not None or stage is not None:
        raise click.UsageError("--after, --state and --stage page the documents of a JOB")
    report = app.index_status(settings, limit=limit or None)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    documents = report["documents"]
    where = "the ledger" if settings.ledger_url else str(settings.home)
    click.echo(f"{where}: {documents['total']} documents ({documents['done']} done, "
               f"{documents['skipped']} skipped, {documents['failed']} failed, {documents['pending']} pending), "
               f"{report['chunks']:,} chunks ({report['embedded']:,} embedded, {report['reused']:,} reused)")
    for f in report["failures"]:
        click.echo(f"  failed  {printable(f['doc'])}  [{f['stage']}] {f['error']}: {printable(f['reason'])}")
    if report["more_failures"]:
        click.echo(f"  ... {report['more_failures']:,} more failed (docmill dlq list pages through them)")
    skipped = report["skipped"]
    if skipped:
        more = len(skipped) - 10 + report["more_skipped"]
        click.echo(f"  {len(skipped) + report['more_skipped']:,} skipped, with a reason: " + "; ".join(
            f"{printable(r['doc'])} ({r['error']}: {printable(r['reason'])})" for r in skipped[:10])
            + (f"; ... and {more:,} more (docmill status --json --limit 0)" if more > 0 else ""))
    for name, last in report["sources"].items():
        click.echo(f"  source {name}: " + (format_sync(last) if last else "never synced"))
