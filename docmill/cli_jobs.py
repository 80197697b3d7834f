"""Distributed mode's commands: `worker`, `submit`, `wait`, and `status JOB`."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Any

import click

from .cli_common import (
    EXIT_INTERRUPTED,
    EXIT_TIMEOUT,
    folder_specs,
    handles_configuration,
    has_ledger,
    printable,
    warn,
)
from .core.errors import ConfigurationError
from .settings import Settings, load_settings

__all__ = ["show_job", "submit", "submit_and_wait", "wait", "watch_job", "worker"]


def _client(settings: Settings) -> Any:
    if not settings.distributed:
        raise ConfigurationError("DOCMILL_BROKER_URL is not set: this command needs RabbitMQ "
                                 "(`docmill ingest` runs everything in one process without it)")
    from .actors.distributed import DistributedClient

    return DistributedClient(settings)


def watch_job(client: Any, job_id: str, label: str, timeout: float | None = None) -> dict[str, Any]:
    """Show the job's progress until it ends (warning about queues nobody consumes); return its summary."""
    from .progress import watch

    deadline = None if timeout is None else time.monotonic() + timeout

    def poll() -> Any:
        progress = client.progress(job_id, warn)
        if deadline is not None and not progress.finished and time.monotonic() > deadline:
            raise TimeoutError
        return progress

    try:
        watch(poll, label=label)
    except TimeoutError:
        click.echo(f"docmill: job {job_id} has not finished after {timeout:g} s; it goes on in the workers", err=True)
        sys.exit(EXIT_TIMEOUT)
    except KeyboardInterrupt:
        click.echo(f"docmill: stopped watching; job {job_id} goes on in the workers "
                   f"(`docmill wait {job_id}` to watch again)", err=True)
        sys.exit(EXIT_INTERRUPTED)
    summary: dict[str, Any] = client.runtime.ledger.job_summary(job_id)
    return summary


def submit_and_wait(settings: Settings, specs: list[Any], priority: int,
                    kind: str = "ingest") -> tuple[str, dict[str, Any]]:
    """`docmill ingest` (or `sync`) in distributed mode: submit, then watch until the workers are done."""
    client = _client(settings)
    try:
        job_id = client.submit(specs, priority=priority, kind=kind)
        return job_id, watch_job(client, job_id, "Syncing" if kind == "sync" else "Ingesting")
    finally:
        client.close()


@click.command()
@click.option("--queues", default="discover,extract,ocr,embed,store", show_default=True, metavar="STAGES",
              help="Comma-separated stages whose queues this worker serves.")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 256),
              help="Worker processes; a process that dies is replaced.")
@click.option("--threads", default=None, type=click.IntRange(1, 256),
              help="Threads per process; default: one per core for OCR only, else 2.")
@handles_configuration
def worker(queues: str, processes: int, threads: int | None) -> None:
    """Process documents from RabbitMQ (DOCMILL_BROKER_URL) until SIGTERM, which drains."""
    import logging

    from .actors.stages import queue_names
    from .actors.worker import Supervisor

    if logging.getLogger().level > logging.INFO:  # a service says what it does by default
        logging.getLogger().setLevel(logging.INFO)
    settings = load_settings()
    stages = [s.strip() for s in queues.split(",") if s.strip()]
    try:
        queue_names(stages)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--queues") from None
    if threads is None:
        threads = settings.cpu_count if stages == ["ocr"] else 2
    client = _client(settings)  # checks RabbitMQ's queues once, before any process starts
    isolated_waiting = client.isolated_waiting(stages)
    client.close()
    click.echo(f"docmill: {processes} worker process(es) x {threads} thread(s) for {','.join(stages)}; "
               "SIGTERM or Ctrl-C drains", err=True)
    sys.exit(Supervisor(stages, processes, threads, isolated_waiting).run())


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--priority", default=0, type=click.IntRange(0, 9), show_default=True,
              help="Priority of these documents in every stage (9 first).")
@click.option("--include", multiple=True, metavar="GLOB", help="Only files matching (repeatable).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out files or folders matching (repeatable).")
@handles_configuration
def submit(paths: tuple[str, ...], priority: int, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
    """Queue files and folders for the workers; print the job id and return."""
    settings = load_settings()
    client = _client(settings)
    try:
        client.submit(folder_specs(settings, paths, include, exclude), priority=priority,
                      on_job=lambda job_id: click.echo(job_id))
    finally:
        client.close()


@click.command()
@click.argument("job")
@click.option("--timeout", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Give up watching after this long (exit code 5); the job goes on.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handles_configuration
def wait(job: str, timeout: float | None, as_json: bool) -> None:
    """Show a job's progress until it ends, then its summary."""
    from .progress import format_summary

    settings = load_settings()
    client = _client(settings)
    started = time.monotonic()
    try:
        try:
            client.runtime.ledger.job_info(job)
        except KeyError:
            raise click.BadParameter(f"no job {job!r} in the ledger", param_hint="JOB") from None
        summary = watch_job(client, job, "Waiting", timeout)
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps({"job": job, **summary}, ensure_ascii=False))
    else:
        click.echo(format_summary(summary, time.monotonic() - started))


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S") if epoch else "-"


def show_job(settings: Settings, job_id: str, as_json: bool) -> None:
    """`docmill status JOB`: the job's counts and one line per document."""
    from .core.ledger import Ledger

    if not has_ledger(settings):
        raise click.BadParameter(f"no job {job_id!r}: nothing ingested in {settings.home} yet", param_hint="JOB")
    ledger = Ledger(settings.ledger_database_url)
    try:
        info, items = ledger.job_info(job_id), ledger.job_items(job_id)
        progress = ledger.job_progress(job_id)
    except KeyError:
        raise click.BadParameter(f"no job {job_id!r} in the ledger", param_hint="JOB") from None
    finally:
        ledger.close()
    if as_json:
        click.echo(json.dumps({**info, "finished": progress.finished, "counts": progress.counts, "items": items},
                              ensure_ascii=False))
        return
    state = "finished" if progress.finished else "running"
    counts = ", ".join(f"{n} {s}" for s, n in sorted(progress.counts.items())) or "no documents yet"
    click.echo(f"job {job_id} ({info['kind']}, priority {info['priority']}, {state}): {counts}")
    for item in items:
        where = item["stage"] or "-"
        note = f"  {item['error']}: {printable(item['reason'])}" if item["error"] else ""
        click.echo(f"  {item['state']:<8} {where:<8} {_when(item['finished_at']):<19}  {printable(item['doc'])}{note}")
