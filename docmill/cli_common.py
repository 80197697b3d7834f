"""What every command shares: logging, the configuration-error exit, folder sources, the mode's client."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from .core.errors import ConfigurationError, TransientError
from .settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

#: The source type `docmill ingest PATH` reads through.
FOLDER_SOURCE = "folder"
EXIT_CONFIGURATION = 3
#: A service docmill needs (RabbitMQ, the ledger database) could not be reached.
EXIT_UNAVAILABLE = 4
#: `docmill wait --timeout` gave up before the job ended.
EXIT_TIMEOUT = 5
EXIT_INTERRUPTED = 130


def configure_logging(verbose: int, *, service: bool = False) -> None:
    """Log to stderr: warnings by default, -v for progress notes, -vv for debugging."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("DOCMILL_WORKER_INDEX") or service:  # a long-running process: when matters
        tag = f"docmill[{os.getpid()}]" if os.environ.get("DOCMILL_WORKER_INDEX") else "docmill"
        handler.setFormatter(logging.Formatter(f"%(asctime)s {tag}: %(levelname)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("docmill: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Dramatiq logs every retried exception with a traceback; docmill's own
    # middleware reports the same event in one line.
    logging.getLogger("dramatiq").setLevel(logging.DEBUG if verbose >= 2 else logging.CRITICAL)
    logging.getLogger("pika").setLevel(logging.DEBUG if verbose >= 2 else logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)


def handles_configuration(command: F) -> F:
    """Exit 3 with one clear line on a configuration error, 4 when a needed service is down."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigurationError as exc:
            click.echo(f"docmill: configuration error: {exc}", err=True)
            sys.exit(EXIT_CONFIGURATION)
        except TransientError as exc:
            click.echo(f"docmill: {exc.reason}", err=True)
            sys.exit(EXIT_UNAVAILABLE)

    return wrapper  # type: ignore[return-value]


def folder_specs(settings: Settings, paths: Iterable[str], include: tuple[str, ...],
                 exclude: tuple[str, ...]) -> list[Any]:
    """One folder source per path given on the command line."""
    from .actors.embedded import SourceSpec

    specs = []
    for path in paths:
        real = os.path.realpath(path)
        options = {"root": real, "label": path, "include": [*settings.include, *include],
                   "exclude": [*settings.exclude, *exclude]}
        specs.append(SourceSpec(id=f"{FOLDER_SOURCE}:{real}", type=FOLDER_SOURCE, options=options))
    return specs


def warn(message: str) -> None:
    click.echo(f"docmill: warning: {message}", err=True)
