"""Security headers on every answer: what a browser may do with the page and the API's answers.

* ``Content-Security-Policy``: scripts, styles and requests only from the
  API's own origin, no inline script or style (the page's script is a file of
  its own), no plugins, no base or form targets, and ``frame-ancestors
  'none'``: no other page, on this site or another, may frame the status page
  and have its buttons pressed through it (``X-Frame-Options: DENY`` says so
  to browsers older than CSP 2).
* ``X-Content-Type-Options: nosniff``: a JSON answer or an uploaded name is
  never run as a script or rendered as HTML.
* ``Referrer-Policy: no-referrer``: nothing of a URL leaves with a request.
* ``Cache-Control: no-store`` on every API answer: what a token was shown is
  kept by no browser or proxy cache (the page and its files are public and
  may be revalidated).
"""

from __future__ import annotations

from typing import Any

from .asgi import HttpMiddleware

__all__ = ["CONTENT_SECURITY_POLICY", "SecurityHeaders"]

CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                           "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_ALWAYS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class SecurityHeaders(HttpMiddleware):
    """ASGI middleware adding the headers above to every HTTP answer (replacing the app's own Cache-Control on
    the API's answers)."""

    async def http(self, scope: Any, receive: Any, send: Any) -> None:
        api = scope.get("path", "").startswith("/v1/")

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", [])
                           if name.lower() not in _NAMES and not (api and name.lower() == b"cache-control")]
                headers += _ALWAYS
                headers.append((b"cache-control", b"no-store" if api else b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


_NAMES = {name for name, _ in _ALWAYS}
