"""Following a job: progress snapshots until it ends, polled quickly at first, then at a steady rate."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from ..core.errors import TransientError

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is imported only by the commands that open it
    from ..core.ledger import JobProgress

__all__ = ["follow", "patiently"]

T = TypeVar("T")

log = logging.getLogger(__name__)

#: Seconds between polls of the ledger: quick at first (a run with nothing to do ends
#: at once), then backing off to a steady rate for long runs.
POLL_FIRST, POLL_MAX = 0.02, 0.25
#: Seconds the ledger (or RabbitMQ) may stay unreachable before a watcher gives up: a database restarting, or a
#: container's name lookup failing for a moment (seen once in `make container-test`), should not end
#: `docmill wait`.
OUTAGE = 60.0


def patiently(call: Callable[[], T], *, outage: float = OUTAGE) -> T:
    """``call()``, tried again while it raises a TransientError (a service unreachable), for up to ``outage``
    seconds; then that error. One warning when the outage starts and one when it ends, however long it lasts."""
    down_since: float | None = None
    while True:
        try:
            result = call()
        except TransientError as exc:
            now = time.monotonic()
            if down_since is None:
                down_since = now
                log.warning("%s (since %s); trying again for up to %.0f s", exc.reason, time.strftime("%H:%M:%S"),
                            outage)
            elif now - down_since >= outage:
                raise
            time.sleep(min(1.0, outage / 10))
            continue
        if down_since is not None:
            log.warning("reachable again after %.0f s", time.monotonic() - down_since)
        return result


def follow(poll: Callable[[], JobProgress], *, timeout: float | None = None, outage: float = OUTAGE,
           sleep: Callable[[float], None] = time.sleep) -> Iterator[JobProgress]:
    """Each progress ``poll`` gives, until (and including) the one that says the job finished.

    Between polls it calls ``sleep(seconds)``, which may return early: embedded mode wakes it as soon as its
    broker has run out of work, so a job's end is seen at once instead of at the next poll.
    A ledger that is unreachable is polled again, for up to ``outage`` seconds in a row (``patiently``).
    Raises TimeoutError once ``timeout`` seconds have passed without the job finishing.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = POLL_FIRST
    while True:
        progress = patiently(poll, outage=outage)
        yield progress
        if progress.finished:
            return
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"the job has not finished after {timeout:g} s")
        sleep(pause)
        pause = min(pause * 1.5, POLL_MAX)
