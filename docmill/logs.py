"""Logging set-up for docmill's commands and worker processes (one place, no CLI dependency).

Plain lines by default; with ``DOCMILL_LOG_FORMAT=json``, one JSON object per
line: ``time``, ``level``, ``logger``, ``event``, ``message``, ``pid`` and,
while a stage message runs, the ``job``, the ``doc`` (the document's key) and
the ``stage`` it is about (set by the actors' ``LogContext`` middleware).
``event`` names what happened (``document.failed``, ``message.retry``,
``worker.died``...; the logger's name where a line gives none).

Every record passes a redacting filter on its way out, at every verbosity and
from every library (httpx and httpcore at -vv log request headers): each
configured secret value (source tokens, the broker's and Qdrant's
credentials) is replaced by ``[redacted]``, in the forms a log line may show it
(as given, stripped of whitespace, escaped as ``repr`` shows it, URL-quoted).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from urllib.parse import quote

__all__ = ["LOG_FORMATS", "JsonFormatter", "Redactor", "configure_logging", "log_context", "redact_secrets"]

#: Values of ``DOCMILL_LOG_FORMAT``.
LOG_FORMATS = ("plain", "json")

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


_context = threading.local()
#: Fields of the context a JSON line carries.
CONTEXT_FIELDS = ("job", "doc", "stage")


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """What this thread's log lines are about (``job``, ``doc``, ``stage``) until the block ends."""
    before = getattr(_context, "fields", {})
    _context.fields = {**before, **{k: v for k, v in fields.items() if v is not None}}
    try:
        yield
    finally:
        _context.fields = before


class JsonFormatter(logging.Formatter):
    """One JSON object per record, scrubbed of secrets as a whole (the context included)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name,
            "event": getattr(record, "event", None) or record.name.rsplit(".", 1)[-1],
            "message": record.getMessage(), "pid": record.process,
        }
        for name, value in getattr(_context, "fields", {}).items():
            entry.setdefault(name, value)
        for name in CONTEXT_FIELDS:  # a line may say what it is about itself
            if getattr(record, name, None) is not None:
                entry[name] = getattr(record, name)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["error"] = record.exc_text
        return REDACTOR.scrub(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(verbose: int, *, service: bool = False) -> None:
    """Log to stderr: warnings by default, -v for progress notes, -vv for debugging.

    ``DOCMILL_LOG_FORMAT=json`` (read here, before any settings are: logging
    comes first) gives JSON lines; an unknown value falls back to plain, with
    a warning.
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    wanted = os.environ.get("DOCMILL_LOG_FORMAT", "plain").strip().lower() or "plain"
    if wanted == "json":
        handler.setFormatter(JsonFormatter())
    elif os.environ.get("DOCMILL_WORKER_INDEX") or service:  # a long-running process: when matters
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
    # At DEBUG botocore prints every request with its headers (a session token among them) and whole answers,
    # and urllib3 each connection: INFO at most, even at -vv.
    for name in ("botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    if wanted not in LOG_FORMATS:
        logging.getLogger(__name__).warning("DOCMILL_LOG_FORMAT=%s: not one of %s; logging plain lines", wanted,
                                            ", ".join(LOG_FORMATS))
