"""The HTTP source's implementation: a list of URLs, each a document, fetched with httpx.

Every request, and every redirect, passes the SSRF guard (``net_guard``). A
document is refused before its body is read when its content type is not one
docmill reads, and cut off when it grows past ``DOCMILL_MAX_FILE_SIZE``.
Discovery asks each URL with a conditional GET (``If-None-Match``,
``If-Modified-Since``) from the validators the last sync saved in the ledger:
an unchanged page answers 304 and is not downloaded at all. A server that
ignores them still answers with the same validators, and the body is not read.
Keys are ``source:NAME/URL``, so a URL dropped from the list is removed from
the index by the next sync.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from docmill import (
    Blob,
    DocumentRef,
    Listing,
    PermanentError,
    RateLimited,
    SourceUnavailable,
    UnsupportedDocument,
    __version__,
)

from .http_body import read_limited, retry_after
from .net_guard import Resolver, UrlGuard, guarded_client

__all__ = ["HttpSource"]

#: Content types fetched by default: what docmill's extractors read.
CONTENT_TYPES = ("application/pdf", "text/plain", "text/markdown", "text/html", "text/csv", "image/png", "image/jpeg",
                 "image/tiff")
MAX_REDIRECTS = 5


class HttpSource:
    """URLs as documents, behind the SSRF guard."""

    def __init__(self, name: str, urls: Sequence[str], *, max_bytes: int, allow_hosts: Sequence[str] = (),
                 content_types: Sequence[str] = CONTENT_TYPES, timeout: float = 30.0,
                 client: httpx.Client | None = None, resolve: Resolver | None = None,
                 proxy: str | None = None, on_request: Callable[[], None] = lambda: None) -> None:
        self.scope = f"source:{name}/"
        self.urls = list(dict.fromkeys(urls))
        self.max_bytes = max_bytes
        self.content_types = tuple(t.lower() for t in content_types)
        self.guard = UrlGuard(allow_hosts, resolve)
        self.client = client or guarded_client(self.guard, timeout=timeout, proxy=proxy,
                                               headers={"User-Agent": f"docmill/{__version__}"})
        self.client.event_hooks["request"].append(lambda _request: on_request())

    def _send(self, method: str, url: str, headers: Mapping[str, str] | None = None) -> httpx.Response:
        """One request, following redirects by hand so that each hop is checked; the body is not read yet."""
        for _ in range(MAX_REDIRECTS + 1):
            self.guard.check(url)
            try:
                response = self.client.send(self.client.build_request(method, url, headers=headers), stream=True,
                                            follow_redirects=False)
            except httpx.TransportError as exc:
                raise SourceUnavailable(f"{urlsplit(url).hostname} did not answer: {type(exc).__name__}") from exc
            stream = response.extensions.get("network_stream")
            peer = stream.get_extra_info("server_addr") if stream is not None else None
            try:
                self.guard.check_peer(url, peer[0] if peer else None)
            except PermanentError:
                response.close()
                raise
            if response.is_redirect and "Location" in response.headers:
                response.close()
                url = urljoin(url, response.headers["Location"])
                continue
            self._raise_for_status(response, url)
            return response
        raise PermanentError(f"more than {MAX_REDIRECTS} redirects from {url}", kind="too many redirects")

    @staticmethod
    def _raise_for_status(response: httpx.Response, url: str) -> None:
        code = response.status_code
        if code < 400:
            return
        response.close()
        if code == 429:
            raise RateLimited(f"HTTP 429 from {urlsplit(url).hostname}", retry_after=retry_after(response))
        if code >= 500:
            raise SourceUnavailable(f"HTTP {code} from {urlsplit(url).hostname}")
        if code in (404, 410):
            raise PermanentError(f"HTTP {code}: {url} is gone", kind="gone")
        raise PermanentError(f"HTTP {code} for {url}", kind=f"http {code}")

    def _check_type(self, response: httpx.Response, url: str) -> None:
        media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media and media not in self.content_types:
            response.close()
            raise UnsupportedDocument(f"{url} is {media}, not a type docmill reads here "
                                      f"({', '.join(self.content_types)})", kind="unsupported")

    def discover(self) -> Iterator[DocumentRef]:
        yield from self.listing({}, full=True).refs

    def listing(self, state: Mapping[str, Any], *, full: bool) -> Listing:
        """Every URL, asked with the validators of the last sync; their new validators become the state."""
        previous: dict[str, Any] = {} if full else dict(state.get("validators", {}))
        validators: dict[str, Any] = {}

        def refs() -> Iterator[DocumentRef]:
            for url in self.urls:
                ref, kept = self._probe(url, previous.get(url))
                if kept:
                    validators[url] = kept
                yield ref

        return Listing(refs(), complete=True, state={"validators": validators})

    def _probe(self, url: str, previous: Mapping[str, Any] | None) -> tuple[DocumentRef, dict[str, Any] | None]:
        """The URL's ref, from a conditional GET whose body is not read, and the validators to keep."""
        key, name = self.scope + url, url
        headers = {}
        if previous and previous.get("etag"):
            headers["If-None-Match"] = previous["etag"]
        if previous and previous.get("last_modified"):
            headers["If-Modified-Since"] = previous["last_modified"]
        try:
            response = self._send("GET", url, headers)
        except PermanentError as exc:  # gone, refused address, ...: listed as skipped, with the reason
            return DocumentRef(key=key, name=name, locator=url, skip_reason=exc.reason), None
        response.close()
        if response.status_code == 304 and previous:
            return DocumentRef(key=key, name=name, locator=url, stamp=previous["stamp"], size=previous.get("size"),
                               metadata={"url": url}), dict(previous)
        try:
            self._check_type(response, url)
        except UnsupportedDocument as exc:
            return DocumentRef(key=key, name=name, locator=url, skip_reason=exc.reason), None
        etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        length = response.headers.get("Content-Length")
        size = int(length) if length and length.isdigit() else None
        if not (etag or modified):  # nothing to compare by: download and hash
            return DocumentRef(key=key, name=name, locator=url, size=size, metadata={"url": url}), None
        stamp = f"{etag or modified}|{length}"
        ref = DocumentRef(key=key, name=name, locator=url, stamp=stamp, size=size, metadata={"url": url})
        return ref, {"etag": etag, "last_modified": modified, "stamp": stamp, "size": size}

    def _download(self, url: str) -> bytes:
        response = self._send("GET", url)
        try:
            self._check_type(response, url)
            return read_limited(response, self.max_bytes, url)
        finally:
            response.close()

    def close(self) -> None:
        self.client.close()

    def fingerprint(self, ref: DocumentRef) -> str:
        data = self._download(ref.locator)
        return "sha256:" + hashlib.sha256(data).hexdigest()

    def fetch(self, ref: DocumentRef) -> Blob:
        data = self._download(ref.locator)
        name = PurePosixPath(urlsplit(ref.locator).path).name or "index"
        return Blob(name, data)
