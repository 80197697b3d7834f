"""Showing a job's progress (a rich bar on a terminal, a line every few seconds otherwise) and its summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from .common import printable

if TYPE_CHECKING:
    from ..core.ledger import JobProgress

__all__ = ["format_summary", "progress_bar"]

#: Seconds between lines when the output is not a terminal.
PLAIN_EVERY = 10.0


def _finished(progress: JobProgress) -> int:
    return progress.total - progress.pending


def _counts(progress: JobProgress) -> str:
    c = progress.counts
    text = f"{c.get('done', 0)} done, {c.get('skipped', 0)} skipped, {c.get('failed', 0)} failed"
    return text + (f", {c['deleted']} removed" if c.get("deleted") else "")


def progress_bar(label: str = "Ingesting", stream: TextIO = sys.stderr) -> Callable[[Iterator[JobProgress]], None]:
    """A ``watch`` for ``docmill.app``: renders the progress snapshots it is given on ``stream``."""

    def watch(snapshots: Iterator[JobProgress]) -> None:
        if stream.isatty():
            _bar(snapshots, stream, label)
        else:
            _plain(snapshots, stream, label)

    return watch


def _bar(snapshots: Iterator[JobProgress], stream: TextIO, label: str) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(file=stream)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"{label} (discovering)", total=None, counts="")
        for progress in snapshots:
            description = label if progress.discovered else f"{label} (discovering)"
            bar.update(task, description=description, completed=_finished(progress),
                       total=progress.total if progress.discovered else None, counts=_counts(progress))


def _plain(snapshots: Iterator[JobProgress], stream: TextIO, label: str) -> None:
    started = last = time.monotonic()
    for progress in snapshots:
        now = time.monotonic()
        if not progress.finished and now - last >= PLAIN_EVERY:
            total = str(progress.total) if progress.discovered else f"{progress.total}+"
            print(f"{label.lower()}: {_finished(progress)}/{total} documents ({_counts(progress)}), "
                  f"{now - started:.0f} s", file=stream, flush=True)
            last = now


def format_summary(summary: dict[str, Any], seconds: float) -> str:
    """The human end-of-run report."""
    counts = summary["counts"]
    total = sum(counts.values())
    lines = [f"{total} document(s) in {seconds:.1f} s: {counts.get('done', 0)} done, "
             f"{counts.get('skipped', 0)} skipped ({summary['unchanged']} unchanged), "
             f"{counts.get('failed', 0)} failed; {summary['chunks']:,} chunks written "
             f"({summary['embedded']:,} embedded, {summary['reused']:,} reused from the index)."]
    if counts.get("deleted"):
        lines.append(f"{counts['deleted']} document(s) gone from the source were removed from the index.")
    if summary.get("left_out"):
        lines.append(f"{summary['left_out']} indexed document(s) that the filters now leave out were kept "
                     "(--prune removes them).")
    if summary.get("error"):
        lines.append(f"Discovery problems: {summary['error']}")
    failures = summary["failures"]
    if failures:
        lines.append("Failed:")
        width = min(48, max(len(f["doc"]) for f in failures))
        for f in failures[:50]:
            note = " (unchanged since)" if f["unchanged"] else ""
            lines.append(f"  {printable(f['doc']):<{width}}  {f['stage']:<8} {f['error']}: "
                         f"{printable(f['reason'])}{note}")
        if len(failures) > 50:
            lines.append(f"  ... and {len(failures) - 50} more (docmill status)")
    return "\n".join(lines)
