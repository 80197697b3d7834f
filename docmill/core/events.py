"""What the pipeline reports as it works, for whoever counts: docmill's metrics, or a test.

The core never imports a metrics library. Whoever builds a
:class:`~docmill.core.runtime.Runtime` hands it an :class:`Events`; the
services that serve Prometheus metrics hand it ``docmill.metrics`` (whose
functions have these signatures), and everything else the silent default.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["SILENT", "Events"]


class Events(Protocol):
    """Happenings worth counting; each call is cheap and never raises."""

    def document_finished(self, state: str, kind: str | None = None) -> None:
        """A document version ended in ``state`` (with its error kind when it failed or was skipped)."""

    def chunks(self, *, embedded: int, reused: int) -> None:
        """A document's chunks: how many were embedded, how many reused stored vectors."""

    def ocr_pages(self, count: int) -> None:
        """Pages read by OCR."""

    def source_request(self, source: str) -> None:
        """A source sent its server a request."""

    def lease_takeover(self, source: str) -> None:
        """A source's lease was taken from a holder that stopped renewing it."""


class _Silent:
    """Counts nothing."""

    def document_finished(self, state: str, kind: str | None = None) -> None:
        pass

    def chunks(self, *, embedded: int, reused: int) -> None:
        pass

    def ocr_pages(self, count: int) -> None:
        pass

    def source_request(self, source: str) -> None:
        pass

    def lease_takeover(self, source: str) -> None:
        pass


#: The default: nothing counts.
SILENT: Events = _Silent()
