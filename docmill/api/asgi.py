"""The base of the API's ASGI middleware: HTTP requests are its business, other scopes pass through."""

from __future__ import annotations

from typing import Any

__all__ = ["HttpMiddleware"]


class HttpMiddleware:
    """Wraps an ASGI app; ``http`` handles each HTTP request (lifespan and websocket scopes pass through)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Any, receive: Any, send: Any) -> None:
        """Handle one HTTP request, calling ``self.app`` as it sees fit."""
        await self.app(scope, receive, send)
