"""What every command shares: exit codes, the configuration-error exit, escaping for a terminal, warnings."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..core.errors import ConfigurationError, DiskFull, TransientError

__all__ = ["EXIT_CONFIGURATION", "EXIT_DISCOVERY_FAILED", "EXIT_DISK_FULL", "EXIT_INTERRUPTED", "EXIT_TIMEOUT",
           "EXIT_UNAVAILABLE", "handles_configuration", "printable", "warn"]

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CONFIGURATION = 3
#: A service docmill needs (RabbitMQ, the ledger database) could not be reached.
EXIT_UNAVAILABLE = 4
#: `docmill wait --timeout` gave up before the job ended.
EXIT_TIMEOUT = 5
#: `docmill sync` could not list its source (refused token, server down past the retries...).
EXIT_DISCOVERY_FAILED = 6
#: A disk docmill writes to (the home, the ledger's) is full: the run stopped; free space and run it again.
EXIT_DISK_FULL = 7
EXIT_INTERRUPTED = 130


def handles_configuration(command: F) -> F:
    """Exit 3 with one clear line on a configuration error, 4 when a needed service is down, 7 when a disk is
    full."""

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
        except DiskFull as exc:
            click.echo(f"docmill: {exc.reason}. Free some space and run the command again: nothing is lost, the "
                       "documents in flight start again.", err=True)
            sys.exit(EXIT_DISK_FULL)

    return wrapper  # type: ignore[return-value]


def printable(text: str | None) -> str:
    """``text`` for a terminal: control characters (a newline in a file name...) shown escaped, never acted on."""
    if text is None:
        return ""
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def warn(message: str) -> None:
    click.echo(f"docmill: warning: {message}", err=True)
