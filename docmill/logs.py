"""Logging set-up for docmill's commands and worker processes (one place, no CLI dependency).

Every record passes a redacting filter on its way out, at every verbosity and
from every library (httpx and httpcore at -vv log request headers): each
configured secret value (source tokens, the broker's and Qdrant's
credentials) is replaced by ``[redacted]``, in the forms a log line may show it
(as given, stripped of whitespace, escaped as ``repr`` shows it, URL-quoted).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterable
from urllib.parse import quote

__all__ = ["Redactor", "configure_logging", "redact_secrets"]

REDACTED = "[redacted]"
#: Secrets shorter than this are not redacted (they would blank out ordinary words).
MIN_SECRET = 6


class Redactor(logging.Filter):
    """Replaces every registered secret in a record's message (formatted with its arguments) and traceback."""

    def __init__(self) -> None:
        super().__init__()
        self._forms: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> None:
        forms = set()
        for secret in secrets:
            for form in (secret, secret.strip(), repr(secret)[1:-1], quote(secret, safe=""), quote(secret.strip(),
                                                                                                    safe="")):
                if len(form) >= MIN_SECRET:
                    forms.add(form)
        with self._lock:
            self._forms |= forms

    def scrub(self, text: str) -> str:
        for form in sorted(self._forms, key=len, reverse=True):
            text = text.replace(form, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._forms:
            return True
        message = self.scrub(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


#: The one redactor of this process, on every handler configure_logging installs.
REDACTOR = Redactor()


def redact_secrets(secrets: Iterable[str]) -> None:
    """Register secret values that must never appear in a log line."""
    REDACTOR.add(secrets)


def configure_logging(verbose: int, *, service: bool = False) -> None:
    """Log to stderr: warnings by default, -v for progress notes, -vv for debugging."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("DOCMILL_WORKER_INDEX") or service:  # a long-running process: when matters
        tag = f"docmill[{os.getpid()}]" if os.environ.get("DOCMILL_WORKER_INDEX") else "docmill"
        handler.setFormatter(logging.Formatter(f"%(asctime)s {tag}: %(levelname)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("docmill: %(levelname)s: %(message)s"))
    handler.addFilter(REDACTOR)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Dramatiq logs every retried exception with a traceback; docmill's own
    # middleware reports the same event in one line.
    logging.getLogger("dramatiq").setLevel(logging.DEBUG if verbose >= 2 else logging.CRITICAL)
    logging.getLogger("pika").setLevel(logging.DEBUG if verbose >= 2 else logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
