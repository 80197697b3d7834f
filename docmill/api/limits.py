"""A request body larger than the limit is refused while it streams in, before it fills a disk.

ASGI middleware: a declared ``Content-Length`` over the limit is answered 413
at once; a body without one (chunked) is counted as it arrives, and reading
past the limit raises ``BodyTooLarge``, which the API answers with 413.
"""

from __future__ import annotations

import json
from typing import Any

from .asgi import HttpMiddleware

__all__ = ["FORM_ALLOWANCE", "BodyLimit", "BodyTooLarge", "too_large"]


#: Bytes a request may carry beyond one file at the size limit: the multipart form around it.
FORM_ALLOWANCE = 1 << 20


class BodyTooLarge(Exception):
    """The request body went past the limit while it was read."""

    def __init__(self, file_limit: int) -> None:
        super().__init__(f"the request body is over the limit: DOCMILL_MAX_FILE_SIZE is {file_limit:,} bytes a "
                         f"file, and a request may carry {FORM_ALLOWANCE >> 20} MiB more for its form")


def too_large(file_limit: int) -> dict[str, Any]:
    """The JSON body of a 413."""
    return {"error": {"status": 413, "message": str(BodyTooLarge(file_limit))}}


class BodyLimit(HttpMiddleware):
    """Wraps an ASGI app; HTTP requests' bodies are limited to a file at ``file_limit`` bytes and its form."""

    def __init__(self, app: Any, file_limit: int) -> None:
        super().__init__(app)
        self.file_limit, self.limit = file_limit, file_limit + FORM_ALLOWANCE

    async def http(self, scope: Any, receive: Any, send: Any) -> None:
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            body = json.dumps(too_large(self.file_limit)).encode()
            await send({"type": "http.response.start", "status": 413, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
            return
        received = 0

        async def counted() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.file_limit)
            return message

        await self.app(scope, counted, send)
