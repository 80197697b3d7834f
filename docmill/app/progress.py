"""Following a job: progress snapshots until it ends, polled quickly at first, then at a steady rate."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is imported only by the commands that open it
    from ..core.ledger import JobProgress

__all__ = ["follow"]

#: Seconds between polls of the ledger: quick at first (a run with nothing to do ends
#: at once), then backing off to a steady rate for long runs.
POLL_FIRST, POLL_MAX = 0.02, 0.25


def follow(poll: Callable[[], JobProgress], *, timeout: float | None = None) -> Iterator[JobProgress]:
    """Each progress ``poll`` gives, until (and including) the one that says the job finished.

    Raises TimeoutError once ``timeout`` seconds have passed without the job finishing.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = POLL_FIRST
    while True:
        progress = poll()
        yield progress
        if progress.finished:
            return
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"the job has not finished after {timeout:g} s")
        time.sleep(pause)
        pause = min(pause * 1.5, POLL_MAX)
