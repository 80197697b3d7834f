"""Prometheus metrics: what docmill's services count, and the endpoint that serves them.

Nothing is recorded until a service turns metrics on (``docmill worker``,
``docmill scheduler``, ``docmill api``, with ``DOCMILL_METRICS_PORT``), so a
command such as ``docmill ingest`` pays nothing for them. The processes of
one ``docmill worker`` write their counts to files in a directory their
supervisor made (prometheus_client's multiprocess mode), and the supervisor
serves the sum: a worker process that dies keeps what it counted.

Labels name queues, stages, states, error kinds, outcomes and configured
source names; never a document, a path or a secret. docs/operations.md
lists every metric.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

__all__ = ["MULTIPROCESS_DIR", "api_request", "chunks", "crash_redelivery", "dead_letter", "document_finished",
           "enable", "enabled", "lease_takeover", "message", "ocr_pages", "process_died", "retry", "serve",
           "source_request", "sync_run"]

log = logging.getLogger(__name__)

#: The environment variable through which a supervisor hands its processes the metrics directory.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: Upper bounds (seconds) of the stage-duration histogram's buckets: a text file to a long OCR range.
STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200)

_lock = threading.Lock()
_metrics: dict[str, Any] | None = None


def _build() -> dict[str, Any]:
    from prometheus_client import Counter, Histogram

    return {
        "messages": Counter("docmill_messages", "Stage messages handled, by queue and outcome "
                            "(ok, retried, failed, skipped).", ["queue", "outcome"]),
        "stage_seconds": Histogram("docmill_stage_seconds", "Seconds a stage message ran, by stage.", ["stage"],
                                   buckets=STAGE_BUCKETS),
        "documents": Counter("docmill_documents", "Document versions that ended, by final state (done, skipped, "
                             "failed, deleted) and error kind ('' when none).", ["state", "kind"]),
        "ocr_pages": Counter("docmill_ocr_pages", "Pages read by OCR."),
        "chunks_embedded": Counter("docmill_chunks_embedded", "Chunks embedded by the model."),
        "chunks_reused": Counter("docmill_chunks_reused", "Chunks whose vector was reused from the store."),
        "retries": Counter("docmill_retries", "Stage messages retried after a transient error, by stage and "
                           "error kind.", ["stage", "kind"]),
        "dead_letters": Counter("docmill_dead_letters", "Stage messages that failed for good, by stage.",
                                ["stage"]),
        "crash_redeliveries": Counter("docmill_crash_redeliveries", "Messages delivered again after their worker "
                                      "died running them, by stage and whether they ran alone.",
                                      ["stage", "alone"]),
        "sync_runs": Counter("docmill_sync_runs", "Syncs of named sources, by source and outcome (ok, failed, "
                             "coalesced: skipped because one was running).", ["source", "outcome"]),
        "source_requests": Counter("docmill_source_requests", "HTTP requests made to sources, by source.",
                                   ["source"]),
        "lease_takeovers": Counter("docmill_lease_takeovers", "Source leases taken over from a holder that "
                                   "stopped renewing them.", ["source"]),
        "api_requests": Counter("docmill_api_requests", "HTTP API requests, by route and status.",
                                ["route", "status"]),
        "api_seconds": Histogram("docmill_api_request_seconds", "Seconds the HTTP API took to answer, by route.",
                                 ["route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)),
    }


def enable() -> None:
    """Start counting in this process (in multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` is set)."""
    global _metrics
    with _lock:
        if _metrics is None:
            _metrics = _build()


def enabled() -> bool:
    """Whether this process counts."""
    return _metrics is not None


def serve(port: int, host: str = "127.0.0.1", *, multiprocess_dir: str | None = None) -> None:
    """Serve ``/metrics`` on ``host:port`` from a background thread: this process's counts, or the sum of the
    processes writing to ``multiprocess_dir``. OSError when the port is taken."""
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    registry = REGISTRY
    if multiprocess_dir is not None:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
    else:
        enable()
    start_http_server(port, addr=host, registry=registry)
    log.info("metrics on http://%s:%d/metrics", host, port, extra={"event": "metrics.serving"})


def process_died(pid: int) -> None:
    """A process of this supervisor's metrics directory is gone (its gauges no longer count)."""
    path = os.environ.get(MULTIPROCESS_DIR)
    if path:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, path)


def _inc(name: str, amount: float = 1, **labels: str) -> None:
    metrics = _metrics
    if metrics is None or amount <= 0:
        return
    metric = metrics[name]
    (metric.labels(**labels) if labels else metric).inc(amount)


def message(queue: str, outcome: str, stage: str, seconds: float | None) -> None:
    """A stage message ended: ``ok``, ``retried``, ``failed`` (for good) or ``skipped``."""
    _inc("messages", queue=queue, outcome=outcome)
    if seconds is not None and _metrics is not None:
        _metrics["stage_seconds"].labels(stage=stage).observe(seconds)


def document_finished(state: str, kind: str | None = None) -> None:
    """A document version ended in ``state`` (with its error kind when it failed or was skipped)."""
    _inc("documents", state=state, kind=kind or "")


def ocr_pages(count: int) -> None:
    """Pages read by OCR."""
    _inc("ocr_pages", count)


def chunks(*, embedded: int, reused: int) -> None:
    """A document's chunks: how many were embedded, how many reused stored vectors."""
    _inc("chunks_embedded", embedded)
    _inc("chunks_reused", reused)


def retry(stage: str, kind: str) -> None:
    """A message will be tried again after a transient error of this kind."""
    _inc("retries", stage=stage, kind=kind)


def dead_letter(stage: str) -> None:
    """A message failed for good."""
    _inc("dead_letters", stage=stage)


def crash_redelivery(stage: str, *, alone: bool) -> None:
    """A message came back because its worker died running it."""
    _inc("crash_redeliveries", stage=stage, alone="true" if alone else "false")


def sync_run(source: str, outcome: str) -> None:
    """A sync of a named source ended: ``ok``, ``failed`` or ``coalesced``."""
    _inc("sync_runs", source=source, outcome=outcome)


def source_request(source: str) -> None:
    """An HTTP request to a source."""
    _inc("source_requests", source=source)


def lease_takeover(source: str) -> None:
    """A source's lease was taken from a holder that stopped renewing it."""
    _inc("lease_takeovers", source=source)


def api_request(route: str, status: int, seconds: float) -> None:
    """The HTTP API answered a request on ``route`` (its template, never the path asked for)."""
    _inc("api_requests", route=route, status=str(status))
    if _metrics is not None:
        _metrics["api_seconds"].labels(route=route).observe(seconds)
