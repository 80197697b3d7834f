"""Distributed mode's worker processes, as `docmill worker` (or a container entry point) runs them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..settings import Settings
from .runs import _client

__all__ = ["check_stages", "serve_workers"]


def check_stages(stages: Sequence[str]) -> None:
    """Raise ValueError naming an unknown stage."""
    from ..actors.stages import queue_names

    queue_names(stages)


def serve_workers(settings: Settings, stages: Sequence[str], processes: int, threads: int,
                  on_ready: Callable[[], None] | None = None) -> int:
    """Check the store and RabbitMQ's queues once, then supervise the worker processes until a signal; the
    exit code."""
    from ..actors.worker import Supervisor

    client = _client(settings)  # declares and checks every queue before any process starts
    try:
        client.runtime.plugins.check_store_writers(settings, stages)
        isolated_waiting = client.isolated_waiting(stages)
    finally:
        client.close()
    if on_ready is not None:
        on_ready()
    return Supervisor(list(stages), processes, threads, isolated_waiting).run()
