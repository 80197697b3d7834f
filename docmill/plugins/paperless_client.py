"""Talking to Paperless-ngx's REST API: token auth, a client-side rate limit, backoff, safe pagination.

Every request waits its turn under the rate limit (requests per second, per
process). A 429 or 5xx answer, or a connection that fails, is tried again
after the server's ``Retry-After`` (capped) or an exponential backoff with
jitter; when the attempts run out the error says how long the server asked
to wait, so the pipeline's own retry honours it.

The token goes only to the configured server: a ``next`` link is followed by
its query alone, on the configured base URL, so a proxy that rewrites hosts
or schemes (or a hostile answer) cannot send it elsewhere. It is never
logged, and no error message carries a header.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from docmill import __version__
from docmill.core.errors import PermanentError, RateLimited, SourceUnavailable

from .http_body import read_limited, retry_after

__all__ = ["PaperlessClient", "RateLimit"]

log = logging.getLogger(__name__)

#: Seconds: the longest wait between attempts, whatever Retry-After says.
MAX_WAIT = 60.0


class RateLimit:
    """At most ``per_second`` requests per second from this process (0: no limit)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class PaperlessClient:
    """GET requests to one Paperless-ngx server, as one API user."""

    def __init__(self, base_url: str, token: str, *, per_second: float = 10.0, attempts: int = 5,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.host = urlsplit(self.base).netloc
        self.rate = RateLimit(per_second)
        self.attempts = max(1, attempts)
        self.client = httpx.Client(
            base_url=self.base, timeout=timeout, transport=transport, follow_redirects=False,
            headers={"Authorization": f"Token {token}", "Accept": "application/json; version=5",
                     "User-Agent": f"docmill/{__version__}"})

    def close(self) -> None:
        self.client.close()

    def _wait(self, attempt: int, response: httpx.Response | None) -> float:
        asked = retry_after(response) if response is not None else None
        if asked is not None:
            return min(asked, MAX_WAIT) * random.uniform(1.0, 1.1)
        return min(2.0 ** attempt, MAX_WAIT) * random.uniform(0.5, 1.0)

    def send(self, path: str, params: Mapping[str, Any] | None = None, *, stream: bool = False) -> httpx.Response:
        """One GET, tried again on 429, 5xx and broken connections; other errors raise at once."""
        what = f"Paperless at {self.host}"
        for attempt in range(self.attempts):
            self.rate.wait()
            request = self.client.build_request("GET", path, params=params)
            response: httpx.Response | None = None
            try:
                response = self.client.send(request, stream=stream)
            except httpx.TransportError as exc:
                problem = f"{what} did not answer ({type(exc).__name__})"
            else:
                if response.status_code < 400:
                    return response
                response.close()
                problem = self._refuse(response, what, urlsplit(str(request.url)).path)
            if attempt + 1 == self.attempts:
                wait = retry_after(response) if response is not None else None
                if response is not None and response.status_code == 429:
                    raise RateLimited(f"{problem} {self.attempts} times", retry_after=wait)
                raise SourceUnavailable(f"{problem} {self.attempts} times")
            pause = self._wait(attempt, response)
            log.warning("%s; trying again in %.1f s", problem, pause)
            time.sleep(pause)
        raise AssertionError("unreachable")

    @staticmethod
    def _refuse(response: httpx.Response, what: str, path: str) -> str:
        """Raise for an answer that trying again will not change; else describe it."""
        code = response.status_code
        if code in (401, 403):
            raise PermanentError(f"{what} refused the token (HTTP {code}): give the source the API token "
                                 "of a user who may read the documents", kind="unauthorized")
        if code == 404:
            raise PermanentError(f"{what} has no {path}", kind="gone")
        if code != 429 and code < 500:
            raise PermanentError(f"{what} answered HTTP {code} to {path}: {response.reason_phrase}",
                                 kind=f"http {code}")
        return f"{what} answered HTTP {code}"

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = self.send(path, params)
        try:
            body = response.json()
        except ValueError as exc:
            raise SourceUnavailable(f"Paperless at {self.host} answered {path} with something that is not JSON "
                                    "(a proxy's error page?)") from exc
        if not isinstance(body, dict):
            raise PermanentError(f"Paperless at {self.host} answered {path} with an unexpected "
                                 f"{type(body).__name__}", kind="unexpected answer")
        return body

    def follow(self, path: str, next_url: str) -> tuple[str, dict[str, str]]:
        """A ``next`` link as (path, query) on the configured server: only its query is kept."""
        link = urlsplit(next_url)
        if link.path.rstrip("/") != urlsplit(self.base + path).path.rstrip("/"):
            raise PermanentError(f"Paperless at {self.host} gave a next page on another path ({link.path}); "
                                 "docmill does not follow it", kind="unexpected answer")
        return path, dict(parse_qsl(link.query))

    def pages(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every page of a list, following ``next`` (offset pages: for small lists and id listings only)."""
        query: dict[str, Any] = dict(params)
        while True:
            body = self.get_json(path, query)
            yield body
            if not body.get("next"):
                return
            path, query = self.follow(path, str(body["next"]))

    def download(self, path: str, params: Mapping[str, Any], max_bytes: int) -> tuple[bytes, str | None]:
        """A file's bytes, cut off past ``max_bytes``, and the file name the server gave."""
        response = self.send(path, params, stream=True)
        try:
            data = read_limited(response, max_bytes, f"{path} from Paperless at {self.host}")
            disposition = response.headers.get("Content-Disposition", "")
            name = disposition.split("filename=", 1)[1].strip('"; ') if "filename=" in disposition else None
            return data, name
        finally:
            response.close()
