"""The command line: thin commands over ``docmill.app``, and the rendering of what they report.

Exit codes: 0 when the work ended (documents that failed are reported, not an
error of the command), 2 for usage errors, 3 for configuration errors,
4 when a service docmill needs (RabbitMQ, the ledger database) is unreachable,
5 when `wait --timeout` gives up, 6 when `sync` could not list its source,
7 when a disk docmill writes to is full, 130 when interrupted. Nothing outside this package imports it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

import click

from .. import __version__
from ..logs import configure_logging
from .api import api
from .dlq import dlq
from .doctor import doctor
from .index import export, ingest, search
from .jobs import submit, wait, worker
from .plugins import plugins
from .status import status
from .sync import scheduler, sync

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debugging).")
@click.version_option(__version__, prog_name="docmill")
def cli(verbose: int) -> None:
    """docmill turns documents into searchable, chunked vectors and keeps them in sync."""
    configure_logging(verbose)


for _command in (ingest, search, status, export, plugins, doctor, worker, submit, wait, dlq, sync, scheduler,
                 api):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``docmill`` command.

    Once a command has returned, everything it wrote is durable (the ledger
    committed, stores closed, parsing processes stopped), so the process
    leaves at once instead of tearing the interpreter down: unloading the
    model runtime and the store's libraries took half a second at every
    command's end.
    """
    try:
        cli()
    except SystemExit as done:
        code = done.code
    else:  # pragma: no cover - click always exits in standalone mode
        code = 0
    _leave(code)


def _leave(code: int | str | None) -> None:
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()  # flush and close the log handlers
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (docmill export | head): nothing to flush into
            stream.flush()
    os._exit(code or 0)
