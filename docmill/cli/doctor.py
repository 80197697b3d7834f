"""`docmill doctor`: what the configured mode needs, checked, with the fix for each problem."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .common import printable

__all__ = ["doctor"]

#: Exit code when a check found a problem.
EXIT_PROBLEMS = 1


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the settings and the checks as JSON.")
@click.option("--quick", is_flag=True, help="Skip loading the embedding model (what a container health check runs).")
def doctor(as_json: bool, quick: bool) -> None:
    """Check Tesseract, the model, the ledger, the broker, the store and the named sources; exit 1 with the
    fix for each problem found."""
    from ..app.doctor import as_json as doctor_json
    from ..app.doctor import diagnose

    summary, findings = diagnose(quick=quick)
    problems = [f for f in findings if not f.ok]
    if as_json:
        click.echo(json.dumps(doctor_json(summary, findings)))
    else:
        if summary is not None:
            click.echo(f"docmill doctor: {summary['mode']} mode")
            _print_settings(summary)
        click.echo("checks:")
        for finding in findings:
            mark = "ok  " if finding.ok and not finding.skipped else "skip" if finding.ok else "FAIL"
            click.echo(f"  {mark}  {finding.check:<24} {printable(finding.detail)}")
            if not finding.ok and finding.fix:
                click.echo(f"        {'':<24} fix: {finding.fix}")
        click.echo(f"{len(problems)} problem(s)" if problems else "everything docmill needs is in place")
    sys.exit(EXIT_PROBLEMS if problems else 0)


def _print_settings(summary: dict[str, Any]) -> None:
    click.echo("settings (secrets masked):")
    for key in ("home", "ledger", "broker", "store", "embedder", "ocr", "collection", "metrics", "log_format"):
        if summary.get(key) is not None:
            click.echo(f"  {key:<12} {printable(str(summary[key]))}")
    for name, values in summary["plugins"].items():
        shown = ", ".join(f"{k}={v}" for k, v in values.items() if v is not None)
        if shown:
            click.echo(f"  [plugins.{name}] {printable(shown)}")
    for source in summary["sources"]:
        shown = ", ".join(f"{k}={v}" for k, v in source.items() if k != "name" and v is not None)
        click.echo(f"  source {source['name']}: {printable(shown)}")
