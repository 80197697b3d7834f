"""The one contract both modes keep: start, follow, retry and report jobs, whoever does the work.

``docmill.actors.backends`` holds the two implementations (embedded: every stage in this process; distributed:
a client of RabbitMQ and the ledger, the workers elsewhere) and ``open_backend``, which picks one from the
settings. Nothing in ``docmill.app`` or in a front end asks which mode it runs in; what differs is said here, as
properties of the backend. ``docmill.testing.contracts.backend`` holds the tests both implementations pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..core.ledger import JobProgress
    from ..core.ledger_records import Document, JobSummary
    from ..core.runtime import Runtime
    from ..core.values import SourceSpec
    from ..settings import Settings

__all__ = ["Backend", "mode_of", "open_backend", "queue_report"]


class Backend(Protocol):
    """Where jobs run, as the front ends use it."""

    #: "embedded" or "distributed", for people (status lines, ``/v1/health``); never branched on.
    mode: str
    #: Whether a job goes on when this process ends (workers elsewhere) or stops with it (resuming next run).
    detached: bool

    @property
    def runtime(self) -> Runtime:
        """The runtime jobs are submitted through: its ledger, store and embedder."""

    def start(self) -> None:
        """Begin working (embedded: the worker threads); nothing for a client of remote workers."""

    def submit(self, specs: Sequence[SourceSpec], *, kind: str = "ingest", priority: int = 0,
               owner: str | None = None, queued_at: int | None = None) -> str:
        """A job for ``owner`` whose discovery of these sources is queued (at ``queued_at``, default
        ``priority``); its id, at once: nothing is listed here (what an HTTP request does)."""

    def discover(self, specs: Sequence[SourceSpec], *, kind: str = "ingest", priority: int = 0,
                 on_job: Callable[[str], None] | None = None) -> str:
        """A job that lists these sources from this process (paths named here are read here) and queues what
        changed; its id (``on_job`` hears it as soon as there is one)."""

    def progress(self, job_id: str, warn: Callable[[str], None] | None = None) -> JobProgress:
        """The job's counts by state; KeyError for an unknown job. ``warn`` hears about work nobody will do
        (a queue without a worker)."""

    def pause(self, seconds: float) -> None:
        """Wait between two progress polls, or less when the work may have ended meanwhile."""

    def summary(self, job_id: str) -> JobSummary:
        """The end-of-run report: counts, chunks written, failures with their reasons."""

    def retry(self, ids: Sequence[str] | None, *, owner: str | None = None) -> tuple[str | None, list[Document]]:
        """Run these dead letters (all when None) again from the stage that failed, as one job of ``owner``; the
        job (None when there was nothing to retry) and the dead letters it took."""

    def purge(self, rows: Sequence[Document], *, everything: bool = False) -> int:
        """Forget these dead letters wherever they are kept; how many. ``everything``: also the broker's dead
        messages no failed document stands for (never one the ledger still waits for)."""

    def dead_messages(self) -> tuple[int, int, int] | None:
        """What a broker's dead-letter queues hold: (messages a dead letter stands for, messages none does,
        messages the ledger still waits for); None where there is no broker."""

    def close(self, timeout: float = 60.0) -> None:
        """Stop; work in progress gets ``timeout`` seconds to finish, or resumes later."""


def open_backend(settings: Settings, *, detached: bool = False, on_wait: Callable[[], None] | None = None,
                 stop_on_full_disk: bool = False) -> Backend:
    """The backend these settings ask for (see ``docmill.actors.backends.open_backend``)."""
    from ..actors.backends import open_backend as chosen

    return chosen(settings, detached=detached, on_wait=on_wait, stop_on_full_disk=stop_on_full_disk)


def mode_of(settings: Settings) -> str:
    """"embedded" or "distributed", as status lines tell it (without opening a backend)."""
    from ..actors.backends import mode_of as chosen

    return chosen(settings)


def queue_report(settings: Settings, *, patience: float = 3.0) -> tuple[set[str], list[Any]] | None:
    """The broker's queues and their statistics for ``docmill doctor``; None where there is no broker."""
    from ..actors.backends import queue_report as report

    return report(settings, patience=patience)
