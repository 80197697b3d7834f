"""Each answer of the API counted for the metrics: its route (the template, never a key or a job id), its
status, and how long it took."""

from __future__ import annotations

import time
from typing import Any

from .. import metrics
from .asgi import HttpMiddleware

__all__ = ["RequestMetrics"]


class RequestMetrics(HttpMiddleware):
    """ASGI middleware: each answer's route (its template) and status, and how long it took, for the metrics."""

    async def http(self, scope: Any, receive: Any, send: Any) -> None:
        started, status = time.monotonic(), 500

        async def sent(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.api_request(route, status, time.monotonic() - started)
