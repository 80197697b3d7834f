"""The command line: wires settings, plugins and the broker together, and prints.

Exit codes: 0 when the work ended (documents that failed are reported, not an
error of the command), 2 for usage errors, 3 for configuration errors,
130 when interrupted.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from . import __version__
from .core.errors import ConfigurationError
from .settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])

#: The source type `docmill ingest PATH` reads through.
FOLDER_SOURCE = "folder"
EXIT_CONFIGURATION = 3
EXIT_INTERRUPTED = 130


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("docmill: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Dramatiq logs every retried exception with a traceback; docmill's own
    # middleware reports the same event in one line.
    logging.getLogger("dramatiq").setLevel(logging.DEBUG if verbose >= 2 else logging.CRITICAL)


def _handles_configuration(command: F) -> F:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigurationError as exc:
            click.echo(f"docmill: configuration error: {exc}", err=True)
            sys.exit(EXIT_CONFIGURATION)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debugging).")
@click.version_option(__version__, prog_name="docmill")
def cli(verbose: int) -> None:
    """docmill turns documents into searchable, chunked vectors and keeps them in sync."""
    _configure_logging(verbose)


def _folder_specs(settings: Settings, paths: Iterable[str], include: tuple[str, ...],
                  exclude: tuple[str, ...]) -> list[Any]:
    from .actors.embedded import SourceSpec

    specs = []
    for path in paths:
        real = os.path.realpath(path)
        options = {"root": real, "label": path, "include": [*settings.include, *include],
                   "exclude": [*settings.exclude, *exclude]}
        specs.append(SourceSpec(id=f"{FOLDER_SOURCE}:{real}", type=FOLDER_SOURCE, options=options))
    return specs


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--include", multiple=True, metavar="GLOB", help="Only files matching (repeatable).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out files or folders matching (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_handles_configuration
def ingest(paths: tuple[str, ...], include: tuple[str, ...], exclude: tuple[str, ...], as_json: bool) -> None:
    """Index files and folders; unchanged files are skipped, deleted ones removed."""
    from .actors.embedded import EmbeddedPipeline
    from .progress import format_summary, watch

    settings = load_settings()
    started = time.monotonic()
    pipeline = EmbeddedPipeline(settings, on_wait=lambda: click.echo(
        f"docmill: another docmill run is using {settings.home}; waiting for it to finish", err=True))
    finished = False
    try:
        pipeline.start()
        job_id = pipeline.submit(_folder_specs(settings, paths, include, exclude))
        watch(lambda: pipeline.progress(job_id), label="Ingesting")
        summary = pipeline.runtime.ledger.job_summary(job_id)
        finished = True
    except KeyboardInterrupt:
        click.echo("docmill: interrupted; documents in progress resume on the next ingest", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        pipeline.stop(timeout=60 if finished else 10)
    seconds = time.monotonic() - started
    counts = summary["counts"]
    if as_json:
        click.echo(json.dumps({
            "done": counts.get("done", 0), "skipped": counts.get("skipped", 0), "failed": counts.get("failed", 0),
            "deleted": counts.get("deleted", 0), "chunks": summary["chunks"], "embedded": summary["embedded"],
            "reused": summary["reused"], "seconds": round(seconds, 3),
            "unchanged": summary["unchanged"], "job": job_id,
        }))
    else:
        click.echo(format_summary(summary, seconds))


def _runtime(settings: Settings) -> Any:
    from .core.runtime import Runtime

    return Runtime(settings)


@cli.command()
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 1000), help="How many results.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@_handles_configuration
def search(query: str, k: int, as_json: bool) -> None:
    """Find the chunks closest in meaning to QUERY."""
    settings = load_settings()
    hits = []
    if settings.home.is_dir():
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
        where = f"{hit.doc}" + (f", page {hit.page}" if hit.page is not None else "")
        snippet = " ".join(hit.text.split())
        click.echo(f"{rank}. [{hit.score:.3f}] {where}\n   {snippet[:300]}{'...' if len(snippet) > 300 else ''}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@_handles_configuration
def status(as_json: bool) -> None:
    """What the index holds and what failed."""
    from .core.ledger import Ledger

    settings = load_settings()
    counts: dict[str, int] = {}
    totals, failures = {"chunks": 0, "embedded": 0, "reused": 0}, []
    if settings.home.is_dir():
        ledger = Ledger(settings.ledger_database_url)
        counts, totals = ledger.state_counts(), ledger.chunk_totals()
        failures = [{"doc": r.name, "stage": r.stage, "error": r.error_kind, "reason": r.error}
                    for r in ledger.failures()]
        ledger.close()
    documents = {"total": sum(counts.values()), "done": counts.get("done", 0), "skipped": counts.get("skipped", 0),
                 "failed": counts.get("failed", 0), "pending": counts.get("pending", 0) + counts.get("deleting", 0)}
    if as_json:
        click.echo(json.dumps({"documents": documents, **totals, "failures": failures}, ensure_ascii=False))
        return
    click.echo(f"{settings.home}: {documents['total']} documents ({documents['done']} done, "
               f"{documents['skipped']} skipped, {documents['failed']} failed, {documents['pending']} pending), "
               f"{totals['chunks']:,} chunks ({totals['embedded']:,} embedded, {totals['reused']:,} reused)")
    for f in failures:
        click.echo(f"  failed  {f['doc']}  [{f['stage']}] {f['error']}: {f['reason']}")


@cli.command()
@click.option("--vectors", is_flag=True, help="Include each chunk's vector.")
@_handles_configuration
def export(vectors: bool) -> None:
    """Every stored chunk as JSON lines: id, doc, page, text, metadata (and vector)."""
    settings = load_settings()
    if not settings.home.is_dir():
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
@_handles_configuration
def plugins(as_json: bool) -> None:
    """Every plugin: what it provides, from which package, and whether settings use it."""
    from .core.plugins import load_plugins

    settings = load_settings()
    rows = load_plugins(settings.load_plugins).catalog(settings, source_types=[FOLDER_SOURCE])
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


def main() -> None:
    """Entry point of the ``docmill`` command."""
    cli()
