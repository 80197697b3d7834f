"""docmill's one exception tree.

::

    DocmillError
    ├── PermanentError            never retried; the document is marked failed
    │   ├── UnsupportedDocument   type we cannot read
    │   ├── CorruptDocument       cannot be parsed (truncated, garbage, empty)
    │   ├── EncryptedDocument     needs a password we do not have
    │   └── DocumentTooLarge      over a size, page or pixel limit
    ├── TransientError            retried with backoff
    │   ├── SourceUnavailable     the source did not answer (5xx, timeout, refused)
    │   ├── RateLimited           429; carries retry_after
    │   ├── StoreUnavailable      the vector store is busy or down
    │   └── LedgerUnavailable     the ledger's database is busy or down
    └── DiskFull                  a disk docmill writes to is full: work stops, nothing is failed
    ConfigurationError            bad settings: reported at start-up, never mid-run
    └── UnknownSource             no source of that name is configured; carries name

Plugins raise these, wrapping their library's own errors with ``raise ... from``,
so the pipeline decides between retrying and failing without knowing any
library. An outage of the ledger or a full disk is nobody's document's fault:
the transport holds the work until the service answers (or stops an embedded
run), and fails no document for it. Every error carries a short ``kind``
(``"corrupt"``, ``"empty"``, ``"wrong type"``...) that the ledger records and
people read; the message is the one-line reason. Mistakes in calling docmill's own API are ``TypeError`` or
``RuntimeError``, never part of this tree, so ``except DocmillError`` hides no bug.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "CorruptDocument",
    "DiskFull",
    "DocmillError",
    "DocumentTooLarge",
    "EncryptedDocument",
    "LedgerUnavailable",
    "PermanentError",
    "RateLimited",
    "SourceUnavailable",
    "StoreUnavailable",
    "TransientError",
    "UnknownSource",
    "UnsupportedDocument",
]


class DocmillError(Exception):
    """Base of every error docmill raises on purpose."""

    #: Short, stable label for the ledger, ``docmill status`` and the DLQ.
    kind: str = "error"

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind

    @property
    def reason(self) -> str:
        """The one-line reason a person reads."""
        return " ".join(str(self).split())


class PermanentError(DocmillError):
    """The document cannot be processed as it is; retrying will not help."""

    kind = "permanent"


class UnsupportedDocument(PermanentError):
    """A type no extractor reads, or content that contradicts its file name."""

    kind = "unsupported"


class CorruptDocument(PermanentError):
    """The document cannot be parsed: truncated, garbage or empty."""

    kind = "corrupt"


class EncryptedDocument(PermanentError):
    """The document needs a password we do not have."""

    kind = "encrypted"


class DocumentTooLarge(PermanentError):
    """The document is over a size, page, pixel or time limit from settings."""

    kind = "too large"


class TransientError(DocmillError):
    """Something outside the document failed; retried with backoff."""

    kind = "transient"


class SourceUnavailable(TransientError):
    """The source did not answer (5xx, timeout, connection refused)."""

    kind = "source unavailable"


class RateLimited(TransientError):
    """The source answered 429; ``retry_after`` is in seconds, when it said."""

    kind = "rate limited"

    def __init__(self, message: str, *, retry_after: float | None = None, kind: str | None = None) -> None:
        super().__init__(message, kind=kind)
        self.retry_after = retry_after


class StoreUnavailable(TransientError):
    """The vector store is busy or down."""

    kind = "store unavailable"


class LedgerUnavailable(TransientError):
    """The ledger's database is busy (locked) or cannot be reached."""

    kind = "ledger unavailable"


class DiskFull(DocmillError):
    """A disk docmill writes to (the home with its ledger and store, the ledger's database server) is full.

    Not the document's fault and not worth retrying soon: an embedded run stops at once (exit code 7) and
    workers wait for space, and nothing is failed for it. Work in flight resumes on the next run.
    """

    kind = "disk full"


class ConfigurationError(DocmillError):
    """Bad settings, reported at start-up with the name of the setting."""

    kind = "configuration"


class UnknownSource(ConfigurationError):
    """No ``[[sources]]`` entry has this name; ``name`` is the name asked for (the message may list the names
    there are, for the operator: a front end serving others says less)."""

    kind = "unknown source"

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name
