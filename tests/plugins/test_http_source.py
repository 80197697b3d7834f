"""The HTTP source: the SSRF guard on every hop, type and size checks, and syncs that skip unchanged pages."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from docmill.core.errors import DocumentTooLarge, PermanentError, RateLimited
from docmill.core.values import DocumentRef
from docmill.plugins.url_source import HttpSource

from ..conftest import Cli

ADDRESSES = {"docs.example.com": ["93.184.216.34"], "intranet.example.com": ["10.1.2.3"],
             "localhost": ["127.0.0.1"], "127.0.0.1": ["127.0.0.1"], "169.254.169.254": ["169.254.169.254"]}


def _remote(request: httpx.Request) -> httpx.Response:
    """A pretend internet: a public docs site that misbehaves on some paths."""
    path = request.url.path
    if path == "/to-loopback":
        return httpx.Response(302, headers={"Location": "http://127.0.0.1/admin"})
    if path == "/to-intranet":
        return httpx.Response(301, headers={"Location": "http://intranet.example.com/secret.txt"})
    if path == "/archive.zip":
        return httpx.Response(200, headers={"Content-Type": "application/zip"}, content=b"PK")
    if path == "/huge.pdf":
        return httpx.Response(200, headers={"Content-Type": "application/pdf", "Content-Length": "999999"},
                              content=b"%PDF" if request.method == "GET" else b"")
    if path == "/endless.txt":
        return httpx.Response(200, headers={"Content-Type": "text/plain"}, content=iter([b"x" * 600] * 10))
    if path == "/busy.txt":
        return httpx.Response(429, headers={"Retry-After": "7"})
    if path == "/no-validators.txt":
        return httpx.Response(200, headers={"Content-Type": "text/plain"}, text="no ETag, no Last-Modified")
    return httpx.Response(200, headers={"Content-Type": "text/plain", "ETag": '"v1"'},
                          text=f"fetched {request.url.host}{path}")


def _source(*urls: str, allow: tuple[str, ...] = ()) -> HttpSource:
    return HttpSource("web", list(urls), max_bytes=4000, allow_hosts=allow,
                      client=httpx.Client(transport=httpx.MockTransport(_remote)), resolve=ADDRESSES.__getitem__)


def _ref(url: str) -> DocumentRef:
    return DocumentRef(key=f"source:web/{url}", name=url, locator=url)


def test_a_redirect_to_loopback_is_refused_unless_the_host_is_allow_listed() -> None:
    with pytest.raises(PermanentError, match="loopback") as refused:
        _source().fetch(_ref("http://docs.example.com/to-loopback"))
    assert refused.value.kind == "refused address"
    assert _source(allow=("127.0.0.1",)).fetch(_ref("http://docs.example.com/to-loopback")).data == \
        b"fetched 127.0.0.1/admin"
    with pytest.raises(PermanentError, match="private"):
        _source().fetch(_ref("http://docs.example.com/to-intranet"))
    with pytest.raises(PermanentError, match="link-local"):
        _source().fetch(_ref("http://169.254.169.254/latest/meta-data/"))
    with pytest.raises(PermanentError, match="not an http"):
        _source().fetch(_ref("file:///etc/passwd"))


def test_discovery_lists_refusals_with_their_reason_and_stamps_pages_by_their_validators() -> None:
    urls = ["http://docs.example.com/a.txt", "http://docs.example.com/archive.zip", "http://localhost/x.txt",
            "http://docs.example.com/no-validators.txt"]
    refs = {r.locator: r for r in _source(*urls).discover()}
    assert refs[urls[0]].stamp.startswith('"v1"|') and refs[urls[0]].skip_reason is None
    assert "application/zip" in (refs[urls[1]].skip_reason or "")
    assert "loopback" in (refs[urls[2]].skip_reason or "")
    assert refs[urls[3]].stamp == "" and refs[urls[3]].skip_reason is None  # nothing to compare: hashed


def test_size_limit_rate_limits_and_fingerprints() -> None:
    source = _source()
    with pytest.raises(DocumentTooLarge, match="999,999 bytes"):
        source.fetch(_ref("http://docs.example.com/huge.pdf"))
    with pytest.raises(DocumentTooLarge, match="grew past"):
        source.fetch(_ref("http://docs.example.com/endless.txt"))
    with pytest.raises(RateLimited) as limited:
        source.fetch(_ref("http://docs.example.com/busy.txt"))
    assert limited.value.retry_after == 7
    expected = "sha256:" + hashlib.sha256(b"fetched docs.example.com/a.txt").hexdigest()
    assert source.fingerprint(_ref("http://docs.example.com/a.txt")) == expected


class _Site(BaseHTTPRequestHandler):
    """A wiki that honours If-None-Match, logging (method, path, status) of every request."""

    pages: dict[str, str] = {}
    log: list[tuple[str, str, int]] = []

    def _status(self, code: int) -> None:
        self.log.append((self.command, self.path, code))
        self.send_response(code)

    def do_GET(self) -> None:
        text = self.pages.get(self.path)
        if text is None:
            self._status(404)
            self.end_headers()
            return
        data = text.encode()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self._status(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self._status(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    _Site.pages = {f"/p{i}.txt": f"Page {i} of the intranet wiki, about printers and badges." for i in range(3)}
    _Site.log = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _config(work: Path, base: str, pages: list[str], allow: bool = True) -> None:
    urls = ", ".join(json.dumps(base + p) for p in pages)
    allow_line = 'allow_hosts = ["127.0.0.1"]' if allow else ""
    (work / "docmill.toml").write_text(f'[[sources]]\nname = "wiki"\ntype = "http"\nurls = [{urls}]\n{allow_line}\n')


@pytest.mark.slow
def test_an_http_source_syncs_and_unchanged_pages_cost_a_304(cli: Cli, isolated: Path, site: str) -> None:
    pages = ["/p0.txt", "/p1.txt", "/p2.txt"]
    _config(isolated, site, pages, allow=False)
    refused = cli.json("sync", "wiki")
    assert (refused["new"], refused["refused"]) == (0, 3)  # listed, refused: loopback addresses
    assert cli.json("status")["documents"]["skipped"] == 3
    assert not _Site.log  # nothing asked
    _config(isolated, site, pages)
    assert cli.json("sync", "wiki")["changed"] == 3
    hits = cli.json("search", "printers and badges", "-k", "1")
    assert hits and hits[0]["doc"].startswith(site)
    _Site.log.clear()
    again = cli.json("sync", "wiki")
    assert (again["unchanged"], again["changed"]) == (3, 0)
    assert sorted(_Site.log) == [("GET", p, 304) for p in pages]  # one 304 per page, nothing downloaded
    _Site.pages["/p1.txt"] = "Page 1, rewritten: the printers moved to the second floor."
    _config(isolated, site, ["/p0.txt", "/p1.txt"])
    last = cli.json("sync", "wiki")
    assert (last["changed"], last["deleted"], last["unchanged"]) == (1, 1, 1)
    _Site.log.clear()
    full = cli.json("sync", "wiki", "--full")  # no validators sent: every page answers 200, none is read again
    assert (full["unchanged"], full["changed"]) == (2, 0)
    assert sorted(_Site.log) == [("GET", "/p0.txt", 200), ("GET", "/p1.txt", 200)]


class _Counted:
    """An events sink that keeps what the sources report (the metrics' stand-in: the counting is what is tested)."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    def document_finished(self, state: str, kind: str | None = None) -> None: ...
    def chunks(self, *, embedded: int, reused: int) -> None: ...
    def ocr_pages(self, count: int) -> None: ...
    def lease_takeover(self, source: str) -> None: ...

    def source_request(self, source: str) -> None:
        self.requests.append(source)


def test_each_request_a_named_source_sends_is_reported_under_its_name(isolated: Path, site: str) -> None:
    # Given the runtime's events and a named http source built the way a worker builds it
    from docmill.app import source_spec
    from docmill.core.runtime import Runtime
    from docmill.settings import load_settings

    _config(isolated, site, ["/p0.txt", "/p1.txt"])
    settings = load_settings(home=isolated / "home")
    events = _Counted()
    runtime = Runtime(settings, events=events)
    try:
        spec = source_spec(settings.source("wiki"))
        runtime.ledger.sources.put(spec.id, spec.type, spec.options)
        source = runtime.source(spec.id)
        # When it fetches both pages
        for ref in source.discover():
            source.fetch(ref)
    finally:
        runtime.close()
    # Then every request it sent is counted for the source "wiki", and no page's URL is a label
    assert events.requests == ["wiki"] * len(_Site.log) and len(_Site.log) >= 2
