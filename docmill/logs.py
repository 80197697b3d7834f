"""Logging set-up for docmill's commands and worker processes (one place, no CLI dependency)."""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["configure_logging"]


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
