"""What every command shares: logging, the configuration-error exit, folder sources, the mode's client."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from .core.errors import ConfigurationError, TransientError
from .logs import configure_logging
from .settings import Settings

__all__ = ["EXIT_CONFIGURATION", "EXIT_INTERRUPTED", "EXIT_TIMEOUT", "EXIT_UNAVAILABLE", "FOLDER_SOURCE",
           "configure_logging", "folder_specs", "handles_configuration", "has_ledger", "printable", "warn"]

F = TypeVar("F", bound=Callable[..., Any])

#: The source type `docmill ingest PATH` reads through.
FOLDER_SOURCE = "folder"
EXIT_CONFIGURATION = 3
#: A service docmill needs (RabbitMQ, the ledger database) could not be reached.
EXIT_UNAVAILABLE = 4
#: `docmill wait --timeout` gave up before the job ended.
EXIT_TIMEOUT = 5
EXIT_INTERRUPTED = 130


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
                 exclude: tuple[str, ...], *, prune: bool = False, retry_failed: bool = False) -> list[Any]:
    """One folder source per path given on the command line."""
    from .actors.embedded import SourceSpec

    specs = []
    for path in paths:
        real = os.path.realpath(path)
        options = {"root": real, "label": path, "include": [*settings.include, *include],
                   "exclude": [*settings.exclude, *exclude]}
        specs.append(SourceSpec(id=f"{FOLDER_SOURCE}:{real}", type=FOLDER_SOURCE, options=options, prune=prune,
                                retry_failed=retry_failed))
    return specs


def has_ledger(settings: Settings) -> bool:
    """Whether there is a ledger to read: a database URL, or an embedded home that exists."""
    return settings.ledger_url is not None or settings.home.is_dir()


def printable(text: str | None) -> str:
    """``text`` for a terminal: control characters (a newline in a file name...) shown escaped, never acted on."""
    if text is None:
        return ""
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def warn(message: str) -> None:
    click.echo(f"docmill: warning: {message}", err=True)
