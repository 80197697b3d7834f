"""Distributed mode's worker processes, as `docmill worker` (or a container entry point) runs them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..core.errors import ConfigurationError
from ..settings import Settings

__all__ = ["check_stages", "serve_metrics", "serve_workers"]


def check_stages(stages: Sequence[str]) -> None:
    """Raise ValueError naming an unknown stage."""
    from ..actors.stage_actors import queue_names

    queue_names(stages)


def serve_workers(settings: Settings, stages: Sequence[str], processes: int, threads: int,
                  on_ready: Callable[[], None] | None = None) -> int:
    """Check the store and RabbitMQ's queues once, queue again what an outage left dead-lettered although the
    ledger waits for it, then supervise the worker processes until a signal; the exit code."""
    from ..actors.backends import prepare_workers
    from ..actors.worker import Supervisor

    isolated_waiting = prepare_workers(settings, stages)  # declares and checks every queue first
    supervisor = Supervisor(list(stages), processes, threads, isolated_waiting)
    if settings.metrics_port:
        serve_metrics(settings, supervisor.serve_metrics)
    if on_ready is not None:
        on_ready()
    return supervisor.run()


def serve_metrics(settings: Settings, serve: Callable[[int, str], None] | None = None) -> None:
    """Serve Prometheus metrics as the settings say (``serve``: the supervisor's sum of its processes; default:
    this process's own); a taken port is a ConfigurationError naming the setting."""
    if not settings.metrics_port:
        return
    from .. import metrics

    try:
        (serve or metrics.serve)(settings.metrics_port, settings.metrics_host)
    except OSError as exc:
        raise ConfigurationError(f"DOCMILL_METRICS_PORT: cannot serve metrics on {settings.metrics_host}:"
                                 f"{settings.metrics_port}: {exc.strerror or exc} (choose another port, or 0 for "
                                 "none)") from exc
