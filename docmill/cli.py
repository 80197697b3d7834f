"""The command line: wires settings, plugins and the broker together, and prints.

Exit codes: 0 when the work ended (documents that failed are reported, not an
error of the command), 2 for usage errors, 3 for configuration errors,
4 when a service docmill needs (RabbitMQ, the ledger database) is unreachable,
130 when interrupted. Distributed-mode commands live in ``cli_jobs`` and
``cli_dlq``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click

from . import __version__
from .cli_common import (
    EXIT_INTERRUPTED,
    FOLDER_SOURCE,
    configure_logging,
    folder_specs,
    handles_configuration,
    has_ledger,
    printable,
)
from .settings import Settings, load_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debugging).")
@click.version_option(__version__, prog_name="docmill")
def cli(verbose: int) -> None:
    """docmill turns documents into searchable, chunked vectors and keeps them in sync."""
    configure_logging(verbose)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--include", multiple=True, metavar="GLOB", help="Only files matching (repeatable).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out files or folders matching (repeatable).")
@click.option("--priority", default=0, type=click.IntRange(0, 9), help="Priority of these documents (9 first).")
@click.option("--prune", is_flag=True,
              help="Also remove indexed files that still exist but that --include/--exclude now leave out.")
@click.option("--retry-failed", is_flag=True, help="Process failed files again even if they did not change.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handles_configuration
def ingest(paths: tuple[str, ...], include: tuple[str, ...], exclude: tuple[str, ...], priority: int,
           prune: bool, retry_failed: bool, as_json: bool) -> None:
    """Index files and folders; unchanged files are skipped, deleted ones removed.

    Files the filters leave out are not indexed, and those indexed before stay
    (counted as left out) unless --prune. With DOCMILL_BROKER_URL set, the
    work goes to `docmill worker` processes and this waits for it (`docmill
    submit` returns at once instead).
    """
    from .progress import format_summary

    settings = load_settings()
    started = time.monotonic()
    specs = folder_specs(settings, paths, include, exclude, prune=prune, retry_failed=retry_failed)
    if settings.distributed:
        from .cli_jobs import submit_and_wait

        job_id, summary = submit_and_wait(settings, specs, priority)
    else:
        job_id, summary = ingest_embedded(settings, specs, priority)
    seconds = time.monotonic() - started
    counts = summary["counts"]
    if as_json:
        click.echo(json.dumps({
            "done": counts.get("done", 0), "skipped": counts.get("skipped", 0), "failed": counts.get("failed", 0),
            "deleted": counts.get("deleted", 0), "chunks": summary["chunks"], "embedded": summary["embedded"],
            "reused": summary["reused"], "seconds": round(seconds, 3),
            "unchanged": summary["unchanged"], "left_out": summary["left_out"], "job": job_id,
        }))
    else:
        click.echo(format_summary(summary, seconds))


def ingest_embedded(settings: Settings, specs: list[Any], priority: int,
                     kind: str = "ingest") -> tuple[str, dict[str, Any]]:
    from .actors.embedded import EmbeddedPipeline
    from .progress import watch

    pipeline = EmbeddedPipeline(settings, on_wait=lambda: click.echo(
        f"docmill: another docmill run is using {settings.home}; waiting for it to finish", err=True))
    finished = False
    try:
        pipeline.start()
        job_id = pipeline.submit(specs, priority=priority, kind=kind)
        watch(lambda: pipeline.progress(job_id), label="Syncing" if kind == "sync" else "Ingesting")
        summary = pipeline.runtime.ledger.job_summary(job_id)
        finished = True
    except KeyboardInterrupt:
        click.echo("docmill: interrupted; documents in progress resume on the next ingest", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        pipeline.stop(timeout=60 if finished else 10)
    return job_id, summary


def _runtime(settings: Settings) -> Any:
    from .core.runtime import Runtime

    return Runtime(settings)


@cli.command()
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 1000), help="How many results.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@handles_configuration
def search(query: str, k: int, as_json: bool) -> None:
    """Find the chunks closest in meaning to QUERY."""
    settings = load_settings()
    hits = []
    if has_ledger(settings) or settings.chroma_url or settings.qdrant_url:
        runtime = _runtime(settings)
        if runtime.store.count():
            hits = runtime.store.query(runtime.embedder.embed_query(query), k)
    if as_json:
        click.echo(json.dumps([{"doc": h.doc, "page": h.page, "score": round(h.score, 4), "text": h.text,
                                "id": h.id, "metadata": dict(h.metadata)} for h in hits], ensure_ascii=False))
        return
    if not hits:
        click.echo(f"Nothing indexed in {settings.home} yet: run `docmill ingest PATH` first.")
    for rank, hit in enumerate(hits, start=1):
        where = printable(hit.doc) + (f", page {hit.page}" if hit.page is not None else "")
        snippet = " ".join(hit.text.split())
        click.echo(f"{rank}. [{hit.score:.3f}] {where}\n   {snippet[:300]}{'...' if len(snippet) > 300 else ''}")


@cli.command()
@click.argument("job", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@handles_configuration
def status(job: str | None, as_json: bool) -> None:
    """What the index holds and what failed; with JOB, where each of that job's documents is."""
    from .cli_sync import format_sync, source_id
    from .core.ledger import Ledger

    settings = load_settings()
    if job is not None:
        from .cli_jobs import show_job

        show_job(settings, job, as_json)
        return
    counts: dict[str, int] = {}
    totals, failures, skipped = {"chunks": 0, "embedded": 0, "reused": 0}, [], []
    syncs_by_id: dict[str, Any] = {}
    if has_ledger(settings):
        ledger = Ledger(settings.ledger_database_url)
        counts, totals = ledger.state_counts(), ledger.chunk_totals()
        failures = [{"doc": r.name, "stage": r.stage, "error": r.error_kind, "reason": r.error}
                    for r in ledger.failures()]
        skipped = [{"doc": r.name, "error": r.error_kind, "reason": r.error} for r in ledger.skips()]
        syncs_by_id = ledger.last_syncs()
        ledger.close()
    documents = {"total": sum(counts.values()), "done": counts.get("done", 0), "skipped": counts.get("skipped", 0),
                 "failed": counts.get("failed", 0), "pending": counts.get("pending", 0) + counts.get("deleting", 0)}
    syncs = {source.name: syncs_by_id.get(source_id(source.name)) for source in settings.sources}
    if as_json:
        click.echo(json.dumps({"documents": documents, **totals, "failures": failures, "skipped": skipped,
                               "sources": syncs}, ensure_ascii=False))
        return
    where = "the ledger" if settings.ledger_url else str(settings.home)
    click.echo(f"{where}: {documents['total']} documents ({documents['done']} done, "
               f"{documents['skipped']} skipped, {documents['failed']} failed, {documents['pending']} pending), "
               f"{totals['chunks']:,} chunks ({totals['embedded']:,} embedded, {totals['reused']:,} reused)")
    for f in failures:
        click.echo(f"  failed  {printable(f['doc'])}  [{f['stage']}] {f['error']}: {printable(f['reason'])}")
    if skipped:
        click.echo(f"  {len(skipped)} skipped, with a reason: " + "; ".join(
            f"{printable(r['doc'])} ({r['error']}: {printable(r['reason'])})" for r in skipped[:10])
            + (f"; ... and {len(skipped) - 10} more (docmill status --json)" if len(skipped) > 10 else ""))
    for name, last in syncs.items():
        click.echo(f"  source {name}: " + (format_sync(last) if last else "never synced"))


@cli.command()
@click.option("--vectors", is_flag=True, help="Include each chunk's vector.")
@handles_configuration
def export(vectors: bool) -> None:
    """Every stored chunk as JSON lines: id, doc, page, text, metadata (and vector)."""
    settings = load_settings()
    if not (has_ledger(settings) or settings.chroma_url or settings.qdrant_url):
        return
    out = sys.stdout
    try:
        for chunk in _runtime(settings).store.iter_chunks(with_vectors=vectors):
            record: dict[str, Any] = {"id": chunk.id, "doc": chunk.doc, "page": chunk.page, "text": chunk.text,
                                      "metadata": dict(chunk.metadata)}
            if vectors:
                record["vector"] = chunk.vector
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    except BrokenPipeError:  # `docmill export | head` is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@handles_configuration
def plugins(as_json: bool) -> None:
    """Every plugin: what it provides, from which package, and whether settings use it."""
    from .core.plugins import load_plugins

    settings = load_settings()
    source_types = [FOLDER_SOURCE, *(source.type for source in settings.sources)]
    rows = load_plugins(settings.load_plugins).catalog(settings, source_types=source_types)
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        package = f"{r['package']} {r['version'] or ''}".strip()
        if r["error"]:
            click.echo(f"{r['kind']:<10} {r['plugin'] or '-':<14} {package}: {r['error']}")
            continue
        mark = "*" if r["active"] else " "
        click.echo(f"{r['kind']:<10} {mark} {r['name']:<12} {package}  (plugin {r['plugin']})")
    click.echo("* = selected by settings")


def _add_commands() -> None:
    from .cli_dlq import dlq
    from .cli_jobs import submit, wait, worker
    from .cli_sync import scheduler, sync

    for command in (worker, submit, wait, dlq, sync, scheduler):
        cli.add_command(command)


_add_commands()


def main() -> None:
    """Entry point of the ``docmill`` command."""
    cli()
