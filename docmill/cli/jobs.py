"""Distributed mode's commands: `worker`, `submit` and `wait`."""

from __future__ import annotations

import json
import sys

import click

from .. import app
from ..core.ledger_records import PIPELINE, Stage
from ..settings import load_settings
from .common import EXIT_INTERRUPTED, EXIT_TIMEOUT, handles_configuration, warn
from .render import format_summary, progress_bar

__all__ = ["submit", "wait", "worker"]


@click.command()
@click.option("--queues", default=",".join(PIPELINE), show_default=True, metavar="STAGES",
              help="Comma-separated stages whose queues this worker serves.")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 256),
              help="Worker processes; a process that dies is replaced.")
@click.option("--threads", default=None, type=click.IntRange(1, 256),
              help="Threads per process; default: one per core for OCR only, else 2.")
@handles_configuration
def worker(queues: str, processes: int, threads: int | None) -> None:
    """Process documents from RabbitMQ (DOCMILL_BROKER_URL) until SIGTERM, which drains."""
    import logging

    if logging.getLogger().level > logging.INFO:  # a service says what it does by default
        logging.getLogger().setLevel(logging.INFO)
    settings = load_settings()
    stages = [s.strip() for s in queues.split(",") if s.strip()]
    try:
        app.check_stages(stages)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--queues") from None
    if threads is None:
        threads = settings.cpu_count if stages == [Stage.OCR] else 2
    banner = (f"docmill: {processes} worker process(es) x {threads} thread(s) for {','.join(stages)}; "
              "SIGTERM or Ctrl-C drains")
    sys.exit(app.serve_workers(settings, stages, processes, threads, on_ready=lambda: click.echo(banner, err=True)))


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
    app.submit(settings, app.folder_specs(settings, paths, include, exclude), priority=priority,
               on_job=lambda job_id: click.echo(job_id))


@click.command()
@click.argument("job")
@click.option("--timeout", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Give up watching after this long (exit code 5); the job goes on.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handles_configuration
def wait(job: str, timeout: float | None, as_json: bool) -> None:
    """Show a job's progress until it ends, then its summary."""
    settings = load_settings()
    try:
        summary = app.wait(settings, job, timeout=timeout, watch=progress_bar("Waiting"), warn=warn)
    except KeyError:
        raise click.BadParameter(f"no job {job!r} in the ledger", param_hint="JOB") from None
    except TimeoutError:
        click.echo(f"docmill: job {job} has not finished after {timeout:g} s; it goes on in the workers", err=True)
        sys.exit(EXIT_TIMEOUT)
    except KeyboardInterrupt:
        click.echo(f"docmill: stopped watching; job {job} goes on in the workers "
                   f"(`docmill wait {job}` to watch again)", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if as_json:
        click.echo(json.dumps({"job": job, **summary}, ensure_ascii=False))
    else:
        click.echo(format_summary(summary, summary["seconds"]))  # the job's time, not this command's
