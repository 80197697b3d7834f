"""Talking to a WebDAV server (Apache mod_dav, Nextcloud, ownCloud...): PROPFIND one folder at a time, GET a file.

The network rules are the HTTP source's (``net_guard``): every connection
goes to an address the SSRF guard allowed (the configured server too: a
server on the LAN belongs in ``allow_hosts``), no proxy comes from the
environment, and answers are read within a cap, a PROPFIND answer as much
as a download. Redirects are followed by hand, each hop checked, and only on
the configured server (upgrades to https on its own port allowed): the
password goes to that server and nowhere else, so a redirect to another host
is refused; and only within the configured folder, so a login page is not
read as a file. A member of a listing that the server will not describe (a
status other than 200, no resource type) is an ``Entry`` with a ``problem``.

Folders are listed with ``Depth: 1`` and never ``Depth: infinity`` (servers
refuse it, and one answer for a whole tree has no bound). A 429 or 5xx
answer, or a connection that fails, is tried again after the server's
``Retry-After`` (capped) or an exponential backoff; then the error is
transient and the sync fails without deleting anything.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import httpx
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from docmill import DocumentTooLarge, PermanentError, RateLimited, SourceUnavailable, __version__

from .http_body import read_limited, retry_after
from .net_guard import Resolver, UrlGuard, guarded_client

__all__ = ["Entry", "WebdavClient", "strong"]

log = logging.getLogger(__name__)

DAV, OC = "{DAV:}", "{http://owncloud.org/ns}"
#: What a listing asks for: Nextcloud and ownCloud add ``oc:fileid``, the same for a file however it moves.
PROPFIND_BODY = (b'<?xml version="1.0" encoding="utf-8"?>\n'
                 b'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
                 b"<d:resourcetype/><d:getetag/><d:getlastmodified/><d:getcontentlength/><d:getcontenttype/>"
                 b"<oc:fileid/></d:prop></d:propfind>")
#: Bytes of one PROPFIND answer read at most (a folder of 10,000 files answers about 6 MB).
MAX_LISTING = 64 * 2**20
MAX_REDIRECTS = 5
#: Seconds: the longest wait between attempts, whatever Retry-After says.
MAX_WAIT = 60.0


def strong(etag: str | None) -> str | None:
    """An ETag without its weak mark: Apache calls the ETag of a file changed within the last second weak
    (``W/"5-66213..."``) and the same one strong a second later; by weak comparison (RFC 9110) they are equal."""
    return etag.removeprefix("W/") if etag else None


@dataclass(frozen=True)
class Entry:
    """A file or folder in a PROPFIND answer; ``path`` is relative to the base URL, decoded, folders ending in /."""

    path: str
    folder: bool
    etag: str | None = None
    modified: str | None = None
    size: int | None = None
    content_type: str | None = None
    fileid: str | None = None
    #: Why the server gave no usable description of it (a member answered 403, no resource type): whether it
    #: is a file or a folder, and what lies under it, is unknown, so nothing there may be taken as deleted.
    problem: str | None = None


class WebdavClient:
    """PROPFIND and GET under one base URL, as one user."""

    def __init__(self, base_url: str, user: str, password: str, *, allow_hosts: tuple[str, ...] = (),
                 timeout: float = 30.0, attempts: int = 4, backoff: float = 1.0, proxy: str | None = None,
                 resolve: Resolver | None = None, transport: httpx.BaseTransport | None = None,
                 max_listing: int = MAX_LISTING, on_request: Callable[[], None] = lambda: None) -> None:
        parts = urlsplit(base_url)
        #: The server as shown in messages, metadata and doctor: host and port, never a user or password
        #: that the URL may hold (make_webdav_source refuses those; this is the second guard).
        self.host = parts.netloc.rpartition("@")[2]
        self.base = f"{parts.scheme}://{self.host}{parts.path.rstrip('/')}/"
        self.base_path = unquote(urlsplit(self.base).path)
        self.guard = UrlGuard(allow_hosts, resolve)
        self.attempts, self.backoff, self.max_listing = max(1, attempts), backoff, max_listing
        headers = {"User-Agent": f"docmill/{__version__}"}
        if transport is not None:  # a look-alike server in the tests
            self.client = httpx.Client(transport=transport, timeout=timeout, headers=headers, trust_env=False)
        else:
            self.client = guarded_client(self.guard, timeout=timeout, headers=headers, proxy=proxy)
        self.client.event_hooks["request"].append(lambda _request: on_request())
        self._auth = httpx.BasicAuth(user, password)

    def close(self) -> None:
        self.client.close()

    def url(self, path: str) -> str:
        """The URL of a path relative to the base (decoded, as ``Entry.path``)."""
        return self.base + quote(path, safe="/")

    # ----- requests -----------------------------------------------------------------------------

    def _same_server(self, url: str) -> bool:
        here, there = urlsplit(self.base), urlsplit(url)
        if there.hostname != here.hostname or there.username is not None or there.password is not None:
            return False
        return (there.scheme == here.scheme and there.port == here.port) or \
            ((here.scheme, there.scheme) == ("http", "https") and there.port in (None, 443))

    def _hop(self, method: str, url: str, headers: dict[str, str], content: bytes | None) -> httpx.Response:
        """One request through redirects on the configured server; the body is not read yet."""
        for _ in range(MAX_REDIRECTS + 1):
            self.guard.check(url)
            request = self.client.build_request(method, url, headers=headers, content=content)
            response = self.client.send(request, stream=True, follow_redirects=False, auth=self._auth)
            stream = response.extensions.get("network_stream")
            peer = stream.get_extra_info("server_addr") if stream is not None else None
            try:
                self.guard.check_peer(url, peer[0] if peer else None)
            except PermanentError:
                response.close()
                raise
            if not (response.is_redirect and "Location" in response.headers):
                return response
            response.close()
            target = urljoin(url, response.headers["Location"])
            there = urlsplit(target)
            if not self._same_server(target):
                raise PermanentError(f"the WebDAV server at {self.host} redirected to "
                                     f"{there.netloc.rpartition('@')[2]}; docmill sends the password to the "
                                     "configured server only (give the URL it redirects to)", kind="refused address")
            if not unquote(there.path).startswith(self.base_path):
                # A login page, say: its HTML would be indexed as the file, or its folder listed as the share.
                raise PermanentError(f"the WebDAV server at {self.host} redirected {method} to {there.path}, "
                                     f"outside {self.base_path}: a login page? (give the URL of the folder itself)",
                                     kind="refused redirect")
            url = target
        raise PermanentError(f"more than {MAX_REDIRECTS} redirects from {url}", kind="too many redirects")

    def send(self, method: str, path: str, headers: dict[str, str] | None = None,
             content: bytes | None = None, attempts: int | None = None) -> httpx.Response:
        """One request to a path under the base, tried again on 429, 5xx and broken connections."""
        tries = attempts or self.attempts
        url = self.url(path)
        for attempt in range(tries):
            response: httpx.Response | None = None
            try:
                response = self._hop(method, url, headers or {}, content)
            except httpx.TransportError as exc:
                problem = f"the WebDAV server at {self.host} did not answer ({type(exc).__name__})"
            else:
                if response.status_code < 400:
                    return response
                response.close()
                problem = self._refuse(response, method, path)
            if attempt + 1 == tries:
                if response is not None and response.status_code == 429:
                    raise RateLimited(f"{problem} {tries} times", retry_after=retry_after(response))
                raise SourceUnavailable(f"{problem} {tries} times")
            asked = retry_after(response) if response is not None else None
            pause = min(asked if asked is not None else self.backoff * 2.0 ** attempt, MAX_WAIT)
            pause *= random.uniform(1.0, 1.1) if asked is not None else random.uniform(0.5, 1.0)
            log.warning("%s; trying again in %.1f s", problem, pause)
            time.sleep(pause)
        raise AssertionError("unreachable")

    def _refuse(self, response: httpx.Response, method: str, path: str) -> str:
        """Raise for an answer that trying again will not change; else describe it."""
        code, where = response.status_code, f"the WebDAV server at {self.host}"
        if code == 401:
            raise PermanentError(f"{where} refused the user name or app password (HTTP 401)", kind="unauthorized")
        if code == 403:
            raise PermanentError(f"{where} forbids {method} on /{path} (HTTP 403)", kind="forbidden")
        if code in (404, 410):
            raise PermanentError(f"{where} has no /{path} (HTTP {code})", kind="gone")
        if code != 429 and code < 500:
            raise PermanentError(f"{where} answered HTTP {code} to {method} /{path}: {response.reason_phrase}",
                                 kind=f"http {code}")
        return f"{where} answered HTTP {code} to {method}"

    # ----- listing and reading ------------------------------------------------------------------

    def propfind(self, path: str, depth: str = "1", attempts: int | None = None) -> list[Entry]:
        """The folder at ``path`` and (``depth`` 1) its members; never deeper."""
        if depth not in ("0", "1"):
            raise ValueError(f"PROPFIND with Depth {depth!r}: docmill walks folders with Depth 0 or 1")
        headers = {"Depth": depth, "Content-Type": "application/xml; charset=utf-8"}
        response = self.send("PROPFIND", path, headers, PROPFIND_BODY, attempts)
        try:
            if response.status_code != 207:
                raise PermanentError(f"the WebDAV server at {self.host} answered PROPFIND /{path} with HTTP "
                                     f"{response.status_code}, not a multistatus: is {self.base} a WebDAV folder?",
                                     kind="not webdav")
            data = self.read(response, self.max_listing, f"the listing of /{path}")
        except DocumentTooLarge as exc:
            raise PermanentError(f"{exc.reason}; docmill reads at most {self.max_listing // 2**20} MiB of one "
                                 "folder's listing", kind="answer too large") from exc
        finally:
            response.close()
        return list(self._entries(data, path))

    def _entries(self, data: bytes, path: str) -> Iterator[Entry]:
        try:
            root = ElementTree.fromstring(data, forbid_dtd=True)
        except (ElementTree.ParseError, DefusedXmlException) as exc:
            raise SourceUnavailable(f"the WebDAV server at {self.host} answered PROPFIND /{path} with XML docmill "
                                    f"cannot read ({type(exc).__name__}); a proxy's error page?") from exc
        for response in root.iter(f"{DAV}response"):
            # Only the href's path counts (a server behind a proxy may name another host); nothing is ever
            # fetched from the host an answer names: URLs are made from the configured base.
            decoded = unquote(urlsplit((response.findtext(f"{DAV}href") or "").strip()).path)
            if not decoded.startswith(self.base_path) and decoded.rstrip("/") + "/" != self.base_path:
                continue  # outside the configured folder
            rel = decoded[len(self.base_path):] if decoded.startswith(self.base_path) else ""
            if rel and any(part in ("", ".", "..") for part in rel.rstrip("/").split("/")):
                continue  # a path that would leave the folder, or is not one
            problem, props = _found_props(response)
            if problem is not None:
                yield Entry(rel, rel.endswith("/"), problem=f"the server's listing of /{path} says {problem} for it")
                continue
            folder = props[f"{DAV}resourcetype"].find(f"{DAV}collection") is not None
            if folder and rel and not rel.endswith("/"):
                rel += "/"
            size = _text(props, f"{DAV}getcontentlength") or ""
            yield Entry(rel, folder, etag=strong(_text(props, f"{DAV}getetag")),
                        modified=_text(props, f"{DAV}getlastmodified"), size=int(size) if size.isdigit() else None,
                        content_type=_text(props, f"{DAV}getcontenttype"), fileid=_text(props, f"{OC}fileid"))

    def read(self, response: httpx.Response, max_bytes: int, what: str) -> bytes:
        """A response's body within ``max_bytes``; one that cannot be decoded (a broken gzip stream) is a
        transient failure, as a connection that breaks off is."""
        try:
            return read_limited(response, max_bytes, what)
        except httpx.DecodingError as exc:
            raise SourceUnavailable(f"the WebDAV server at {self.host} sent {what} in an encoding that does not "
                                    f"decode ({type(exc).__name__}: a broken compressed stream?)") from exc

    @contextmanager
    def download(self, path: str) -> Iterator[httpx.Response]:
        """A GET of the file at ``path``, its body not read yet."""
        response = self.send("GET", path)
        try:
            yield response
        finally:
            response.close()


def _found_props(response: Any) -> tuple[str | None, dict[str, Any]]:
    """The properties of a ``response`` given with status 200, or what is wrong with it: a status other than 200
    for the member itself, or no resource type given with status 200 (then file or folder is unknown)."""
    status = (response.findtext(f"{DAV}status") or "").strip()
    if status and " 200 " not in f"{status} ":
        return f"HTTP status {status.removeprefix('HTTP/1.1 ')!r}", {}
    props: dict[str, Any] = {}
    for propstat in response.iter(f"{DAV}propstat"):
        if " 200 " not in f"{propstat.findtext(f'{DAV}status') or ''} ":
            continue
        for prop in propstat.iter(f"{DAV}prop"):
            props.update({child.tag: child for child in prop})
    if props.get(f"{DAV}resourcetype") is None:
        return "no resource type (file or folder?)", {}
    return None, props


def _text(props: dict[str, Any], tag: str) -> str | None:
    element = props.get(tag)
    text = (element.text or "").strip() if element is not None else ""
    return text or None
