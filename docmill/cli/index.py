"""`docmill ingest`, `search` and `export`: putting documents in and getting chunks out."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click

from .. import app
from ..settings import load_settings
from .common import EXIT_INTERRUPTED, handles_configuration, printable
from .render import format_summary, progress_bar

__all__ = ["export", "ingest", "search"]


def summary_json(job_id: str, summary: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The `--json` end-of-run summary of an ingest."""
    counts = summary["counts"]
    return {"done": counts.get("done", 0), "skipped": counts.get("skipped", 0), "failed": counts.get("failed", 0),
            "deleted": counts.get("deleted", 0), "chunks": summary["chunks"], "embedded": summary["embedded"],
            "reused": summary["reused"], "seconds": round(seconds, 3), "unchanged": summary["unchanged"],
            "left_out": summary["left_out"], "job": job_id}


@click.command()
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
    settings = load_settings()
    started = time.monotonic()
    specs = app.folder_specs(settings, paths, include, exclude, prune=prune, retry_failed=retry_failed)
    jobs: list[str] = []
    try:
        job_id, summary = app.run(
            settings, specs, priority=priority, watch=progress_bar("Ingesting"), on_job=jobs.append,
            warn=lambda message: click.echo(f"docmill: warning: {message}", err=True),
            on_wait=lambda: click.echo(f"docmill: another docmill run is using {settings.home}; waiting for it "
                                       "to finish", err=True))
    except KeyboardInterrupt as exc:
        detached = isinstance(exc, app.RunInterrupted) and exc.detached
        where = (f"; job {jobs[0]} goes on in the workers (`docmill wait {jobs[0]}`)" if detached
                 else "; documents in progress resume on the next ingest")
        click.echo(f"docmill: interrupted{where}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    seconds = time.monotonic() - started
    if as_json:
        click.echo(json.dumps(summary_json(job_id, summary, seconds)))
    else:
        click.echo(format_summary(summary, seconds))


@click.command()
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 1000), help="How many results.")
@click.option("--where", "where", multiple=True, metavar="FIELD OP VALUE",
              help="Only chunks that pass (repeatable, all must hold): tags=invoice, page>=2, "
                   "modified>=2024-01-01, source=archive, correspondent!=Acme.")
@click.option("--as", "caller", metavar="CALLER", default=None,
              help="Only what the API caller CALLER may see: the sources' documents and its own uploads.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default="hybrid", show_default=True,
              help="Rank by meaning and words together, by meaning alone (dense), or by words alone (keyword).")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON (with each side's rank and score).")
@handles_configuration
def search(query: str, k: int, where: tuple[str, ...], caller: str | None, mode: str, as_json: bool) -> None:
    """Find the chunks that best answer QUERY, by meaning and by its words (everything indexed, unless --as)."""
    from ..core.access import visible_to
    from ..core.filters import parse

    try:
        conditions = parse(where)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--where") from None
    if caller is not None:
        conditions = (*conditions, visible_to(caller))
    settings = load_settings()
    ranked = app.search(settings, query, k, conditions, mode=mode)
    hits = [r.hit for r in ranked]
    if as_json:
        click.echo(json.dumps([app.hit_record(r, digits=4) for r in ranked], ensure_ascii=False))
        return
    if not hits:
        click.echo("No chunk passes the filters." if conditions else
                   f"Nothing indexed in {settings.home} yet: run `docmill ingest PATH` first.")
    for rank, hit in enumerate(hits, start=1):
        place = printable(hit.doc) + (f", page {hit.page}" if hit.page is not None else "")
        snippet = " ".join(hit.text.split())
        click.echo(f"{rank}. [{hit.score:.3f}] {place}\n   {snippet[:300]}{'...' if len(snippet) > 300 else ''}")


@click.command()
@click.option("--vectors", is_flag=True, help="Include each chunk's vector.")
@handles_configuration
def export(vectors: bool) -> None:
    """Every stored chunk as JSON lines: id, doc, page, text, metadata (and vector)."""
    settings = load_settings()
    out = sys.stdout
    try:
        for chunk in app.export(settings, vectors=vectors):
            record: dict[str, Any] = {"id": chunk.id, "doc": chunk.doc, "page": chunk.page, "text": chunk.text,
                                      "metadata": dict(chunk.metadata)}
            if vectors:
                record["vector"] = chunk.vector
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    except BrokenPipeError:  # `docmill export | head` is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
