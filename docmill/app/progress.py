"""Following a job: progress snapshots until it ends, polled quickly at first, then at a steady rate."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ..core.errors import StoreUnavailable

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is imported only by the commands that open it
    from ..core.ledger import JobProgress

__all__ = ["follow"]

log = logging.getLogger(__name__)

#: Seconds between polls of the ledger: quick at first (a run with nothing to do ends
#: at once), then backing off to a steady rate for long runs.
POLL_FIRST, POLL_MAX = 0.02, 0.25
#: Seconds the ledger may stay unreachable before a watcher gives up: a database restarting, or a container's
#: name lookup failing for a moment (seen once in `make container-test`), should not end `docmill wait`.
OUTAGE = 60.0


def follow(poll: Callable[[], JobProgress], *, timeout: float | None = None,
           outage: float = OUTAGE) -> Iterator[JobProgress]:
    """Each progress ``poll`` gives, until (and including) the one that says the job finished.

    A ledger that is unreachable (StoreUnavailable) is polled again, for up to ``outage`` seconds in a row.
    Raises TimeoutError once ``timeout`` seconds have passed without the job finishing.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = POLL_FIRST
    down_since: float | None = None
    while True:
        try:
            progress = poll()
        except StoreUnavailable as exc:
            now = time.monotonic()
            down_since = now if down_since is None else down_since
            if now - down_since >= outage:
                raise
            log.warning("cannot read the job's progress (%s); trying again", exc.reason)
            time.sleep(min(1.0, outage / 10))
            continue
        down_since = None
        yield progress
        if progress.finished:
            return
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"the job has not finished after {timeout:g} s")
        time.sleep(pause)
        pause = min(pause * 1.5, POLL_MAX)
