"""What the HTTP-based sources share: a body read within the size limit, and the server's Retry-After."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx

from docmill import DocumentTooLarge, SourceUnavailable

__all__ = ["read_limited", "retry_after"]


def retry_after(response: httpx.Response) -> float | None:
    """The server's Retry-After in seconds (a number or an HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def read_limited(response: httpx.Response, max_bytes: int, what: str) -> bytes:
    """A streamed response's body, refused from its Content-Length or cut off once past ``max_bytes``."""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise DocumentTooLarge(f"{what} is {int(length):,} bytes, over the limit of {max_bytes:,} "
                               "(DOCMILL_MAX_FILE_SIZE)")
    parts, total = [], 0
    try:
        for part in response.iter_bytes():
            total += len(part)
            if total > max_bytes:
                raise DocumentTooLarge(f"{what} grew past the limit of {max_bytes:,} bytes (DOCMILL_MAX_FILE_SIZE)")
            parts.append(part)
    except httpx.TransportError as exc:
        raise SourceUnavailable(f"the download of {what} broke off: {type(exc).__name__}") from exc
    return b"".join(parts)
