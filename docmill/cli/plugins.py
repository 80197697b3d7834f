"""`docmill plugins`: every plugin, what it provides, and whether the settings use it."""

from __future__ import annotations

import json

import click

from ..app import FOLDER_SOURCE
from ..settings import load_settings
from .common import handles_configuration

__all__ = ["plugins"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@handles_configuration
def plugins(as_json: bool) -> None:
    """Every plugin: what it provides, from which package, and whether settings use it."""

    settings = load_settings()
    source_types = [FOLDER_SOURCE, *(source.type for source in settings.sources)]
    rows = settings.plugin_registry().catalog(settings, source_types=source_types)
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
