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

API versions are negotiated before the first request: Paperless-ngx answers
406 to an ``Accept: application/json; version=N`` it does not serve (3.x
serves 9 and 10 only) and names the newest it serves in ``X-Api-Version``.
The client asks for the newest version it reads that the server serves; when
there is none, the error names both ranges and is never retried.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from docmill import DocumentTooLarge, PermanentError, RateLimited, SourceUnavailable, __version__

from .http_body import read_limited, retry_after

__all__ = ["API_VERSIONS", "PaperlessClient", "RateLimit", "attachment_name"]

log = logging.getLogger(__name__)

#: Seconds: the longest wait between attempts, whatever Retry-After says.
MAX_WAIT = 60.0
#: Bytes of one JSON answer read at most (an id listing of 100,000 documents is about 2 MB).
MAX_JSON = 64 * 2**20
#: The Paperless-ngx REST API versions docmill reads, oldest first.
API_VERSIONS = (9, 10)
#: Versions probed at most when a server serves none of ``API_VERSIONS`` (to name its range).
MAX_PROBES = 12


def _span(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}\u2013{high}"


def attachment_name(disposition: str) -> str | None:
    """The file name in a Content-Disposition header: ``filename*`` (RFC 6266) first, then ``filename``."""
    plain = None
    for part in disposition.split(";"):
        name, _, value = part.strip().partition("=")
        name, value = name.strip().lower(), value.strip()
        if name == "filename*" and "''" in value:
            return unquote(value.split("''", 1)[1]) or None
        if name == "filename":
            plain = value.strip('"') or None
    return plain


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
                 timeout: float = 30.0, backoff: float = 1.0, transport: httpx.BaseTransport | None = None,
                 proxy: str | None = None, on_request: Callable[[], None] = lambda: None) -> None:
        self.base = base_url.rstrip("/")
        self.host = urlsplit(self.base).netloc
        self.rate = RateLimit(per_second)
        self.attempts = max(1, attempts)
        self.backoff = backoff  # seconds before the first try again, doubling (when no Retry-After says)
        # No proxy from the environment: the token goes to the configured server and nowhere else.
        self.client = httpx.Client(
            base_url=self.base, timeout=timeout, transport=transport, follow_redirects=False, trust_env=False,
            proxy=proxy, headers={"Authorization": f"Token {token}", "Accept": "application/json",
                                  "User-Agent": f"docmill/{__version__}"},
            event_hooks={"request": [lambda _request: on_request()]})
        #: The API version asked for, once negotiated; the server's own version (``X-Version``).
        self.version: int | None = None
        self.server_version: str | None = None
        self._negotiating = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def negotiate(self) -> int:
        """The API version to ask for, chosen once: the newest of ours that the server's newest allows."""
        with self._negotiating:
            if self.version is None:
                self.version = self._choose()
            return self.version

    def _choose(self, below: int | None = None) -> int:
        """Read the server's newest version (``X-Api-Version`` of ``GET /api/``) and pick ours.

        Without the header (a proxy dropped it), or when the server refused the
        version it allowed (``below``), ours are tried in turn, newest first.
        """
        response = self._send("/api/", None, stream=False, version=None)
        response.close()
        self.server_version = response.headers.get("X-Version") or None
        header = response.headers.get("X-Api-Version", "").strip()
        newest = int(header) if header.isdigit() else None
        candidates = [v for v in reversed(API_VERSIONS)
                      if (newest is None or v <= newest) and (below is None or v < below)]
        if newest is not None and below is None and candidates:
            chosen = candidates[0]
        else:
            chosen = next((v for v in candidates if self._serves(v)), 0)
        if not chosen:
            self._unsupported(newest)
        log.debug("Paperless at %s (%s) speaks API version %d", self.host, self.server_version or "version unknown",
                  chosen)
        return chosen

    def _serves(self, version: int) -> bool:
        response = self._send("/api/documents/", {"page_size": 1, "fields": "id"}, stream=False, version=version,
                              refuse_406=False)
        response.close()
        return response.status_code != 406

    def _unsupported(self, newest: int | None) -> None:
        """Fail for good, naming the versions the server serves (probed downwards from its newest) and ours."""
        served = "none of them"
        if newest is not None:
            low = newest
            for version in range(newest - 1, max(0, newest - MAX_PROBES), -1):
                if not self._serves(version):
                    break
                low = version
            served = f"API versions {_span(low, newest)}"
        what = f"Paperless {self.server_version}" if self.server_version else f"Paperless at {self.host}"
        raise PermanentError(f"{what} serves {served}; docmill speaks {_span(API_VERSIONS[0], API_VERSIONS[-1])}. "
                             "Use a docmill release that reads this Paperless version",
                             kind="unsupported version")

    def _wait(self, attempt: int, response: httpx.Response | None) -> float:
        asked = retry_after(response) if response is not None else None
        if asked is not None:
            return min(asked, MAX_WAIT) * random.uniform(1.0, 1.1)
        return min(self.backoff * 2.0 ** attempt, MAX_WAIT) * random.uniform(0.5, 1.0)

    def send(self, path: str, params: Mapping[str, Any] | None = None, *, stream: bool = False) -> httpx.Response:
        """One GET in the negotiated API version, tried again on 429, 5xx and broken connections.

        Other errors raise at once. A 406 after negotiation means the server
        was upgraded meanwhile: an older version of ours is tried, once.
        """
        version = self.negotiate()
        try:
            return self._send(path, params, stream=stream, version=version)
        except PermanentError as exc:
            if exc.kind != "http 406":
                raise
        log.info("Paperless at %s refused API version %d; negotiating again", self.host, version)
        with self._negotiating:
            self.version = self._choose(below=version)
        return self._send(path, params, stream=stream, version=self.version)

    def _send(self, path: str, params: Mapping[str, Any] | None, *, stream: bool, version: int | None,
              refuse_406: bool = True) -> httpx.Response:
        what = f"Paperless at {self.host}"
        accept = {"Accept": f"application/json; version={version}"} if version is not None else {}
        for attempt in range(self.attempts):
            self.rate.wait()
            request = self.client.build_request("GET", path, params=params, headers=accept)
            response: httpx.Response | None = None
            try:
                response = self.client.send(request, stream=stream)
            except httpx.TransportError as exc:
                problem = f"{what} did not answer ({type(exc).__name__})"
            else:
                if response.status_code < 400 or (response.status_code == 406 and not refuse_406):
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
        """A JSON object; an offset page past the end of a list (404 ``Invalid page.``) is an empty last page.

        A page can fall past the end when documents are deleted while a list is read through its pages.
        """
        try:
            response = self.send(path, params, stream=True)
        except PermanentError as exc:
            if exc.kind == "gone" and str((params or {}).get("page", "1")) != "1":
                return {"count": 0, "next": None, "previous": None, "results": []}
            raise
        try:
            data = read_limited(response, MAX_JSON, f"the answer of Paperless at {self.host} to {path}")
        except DocumentTooLarge as exc:
            raise PermanentError(f"{exc.reason}; docmill reads at most {MAX_JSON // 2**20} MiB of one JSON answer "
                                 "(lower the source's page_size)", kind="answer too large") from exc
        finally:
            response.close()
        try:
            body = json.loads(data)
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
            return data, attachment_name(response.headers.get("Content-Disposition", ""))
        finally:
            response.close()
