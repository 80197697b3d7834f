"""A Nextcloud look-alike for what Apache's mod_dav does not do: ``oc:fileid`` and Nextcloud's way of answering.

It is an ``httpx.MockTransport`` handler over an in-memory tree of files, and
answers as Nextcloud's WebDAV (SabreDAV with Nextcloud's file plugin) does,
by the shape ``tests/data/webdav/nextcloud/`` holds (see its README: those
answers follow Nextcloud's documentation and SabreDAV's serialiser; no real
Nextcloud was recorded):

* files under ``/remote.php/dav/files/USER/``, hrefs percent-encoded per
  segment; Basic auth, 401 with a SabreDAV error body otherwise;
* PROPFIND with ``Depth`` 0 or 1 (anything else is refused with 400 here:
  docmill never sends it), answering 207 ``application/xml; charset=utf-8``
  with the ``d:``, ``s:``, ``oc:`` and ``nc:`` namespaces declared on the
  root, ``getetag`` quoted as ``&quot;...&quot;``, and the properties a
  resource lacks in a 404 propstat;
* ``oc:fileid`` on every file and folder, kept when a file is renamed or
  moved (``move``); the file's ETag is kept too unless ``new_etag``;
* GET with ``ETag``, ``OC-ETag``, ``OC-FileId``, ``Last-Modified`` and the
  bytes.

What only a hostile or broken server does can be asked for: a folder in
``forbidden`` answers 403 (a member's sharing permissions withdrawn), and
a member in ``odd`` is described oddly in its parent's listing: ``"403"``
gives it a response-level 403 status and no properties, ``"hidden type"``
puts its ``resourcetype`` in a 404 propstat.

``requests`` records (method, path, Depth) of everything asked. ``serving()``
puts the same answers on a loopback port, for ``docmill sync`` in a subprocess.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

import httpx

__all__ = ["NextcloudLookalike"]

NAMESPACES = ('xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns" '
              'xmlns:nc="http://nextcloud.org/ns"')
#: The properties docmill asks for, as the look-alike knows them.
ASKED = ("d:resourcetype", "d:getetag", "d:getlastmodified", "d:getcontentlength", "d:getcontenttype", "oc:fileid")


@dataclass
class _File:
    data: bytes
    fileid: int
    etag: str
    mtime: float


@dataclass
class NextcloudLookalike:
    """Nextcloud's WebDAV for one user at ``https://cloud.example.com``; ``transport`` is what clients use."""

    user: str
    password: str
    host: str = "cloud.example.com"
    files: dict[str, _File] = field(default_factory=dict)
    folders: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    forbidden: set[str] = field(default_factory=set)
    odd: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ids = itertools.count(100)
        self._clock = itertools.count(1_790_000_000)
        self.folders[""] = next(self._ids)

    @property
    def root(self) -> str:
        return f"/remote.php/dav/files/{quote(self.user, safe='')}/"

    @property
    def url(self) -> str:
        return f"https://{self.host}{self.root}"

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @contextmanager
    def serving(self) -> Iterator[str]:
        """The look-alike on a free loopback port while the block runs; yields its base URL."""
        lookalike = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = httpx.Request(self.command, f"http://{self.headers.get('Host')}{self.path}",
                                        headers=dict(self.headers), content=self.rfile.read(length))
                response = lookalike.handle(request)
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            do_GET = do_PROPFIND = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}{self.root}"
        finally:
            server.shutdown()
            server.server_close()

    # ----- changing the tree --------------------------------------------------------------------

    def _etag(self) -> str:
        return hashlib.md5(str(next(self._clock)).encode(), usedforsecurity=False).hexdigest()[:13]

    def write(self, path: str, data: bytes | str) -> None:
        """Create or replace the file at ``path`` (a new ETag; a replaced file keeps its id)."""
        raw = data.encode() if isinstance(data, str) else data
        parts = path.split("/")
        for i in range(1, len(parts)):
            self.folders.setdefault("/".join(parts[:i]) + "/", next(self._ids))
        old = self.files.get(path)
        self.files[path] = _File(raw, old.fileid if old else next(self._ids), self._etag(), next(self._clock))

    def move(self, old: str, new: str, *, new_etag: bool = False) -> None:
        """Rename or move a file: the same id (and ETag, unless ``new_etag``)."""
        moved = self.files.pop(old)
        self.write(new, moved.data)
        self.files[new] = _File(moved.data, moved.fileid, self._etag() if new_etag else moved.etag, moved.mtime)

    def delete(self, path: str) -> None:
        del self.files[path]

    # ----- answering ----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.path)
        self.requests.append((request.method, path, request.headers.get("Depth", "")))
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="Nextcloud", charset="UTF-8"',
                                                "Content-Type": "application/xml; charset=utf-8"},
                                  content=_error("NotAuthenticated", "No public access to this resource., Username "
                                                 "or password was incorrect"))
        root = unquote(self.root)
        if not (path + "/").startswith(root):
            return httpx.Response(404, content=_error("NotFound", "File not found"))
        rel = path[len(root):]
        if request.method == "PROPFIND":
            return self._propfind(rel, request.headers.get("Depth", "1"))
        if request.method == "GET" and rel in self.files:
            found = self.files[rel]
            return httpx.Response(200, content=found.data, headers={
                "ETag": f'"{found.etag}"', "OC-ETag": f'"{found.etag}"',
                "OC-FileId": f"{found.fileid:08d}ocnca", "Content-Type": "application/octet-stream",
                "Last-Modified": formatdate(found.mtime, usegmt=True)})
        return httpx.Response(404, content=_error("NotFound", "File with name //" + rel + " could not be located"))

    def _propfind(self, rel: str, depth: str) -> httpx.Response:
        if depth not in ("0", "1"):
            return httpx.Response(400, content=_error("BadRequest", f"Depth {depth} is not served here"))
        folder = rel if rel.endswith("/") or not rel else rel + "/"
        if folder in self.forbidden:
            return httpx.Response(403, content=_error("Forbidden", "Permission denied"))
        if rel in self.files:
            answers = [self._response(rel, self.files[rel])]
        elif folder in self.folders or rel == "":
            folder = "" if rel == "" else folder
            answers = [self._response(folder, None)]
            if depth == "1":
                members = {p[len(folder):].split("/", 1)[0] + ("/" if "/" in p[len(folder):] else "")
                           for p in [*self.files, *self.folders] if p.startswith(folder) and p != folder}
                for name in sorted(members):
                    answers.append(self._response(folder + name, self.files.get(folder + name)))
        else:
            return httpx.Response(404, content=_error("NotFound", f"File with name {rel} could not be located"))
        body = f'<?xml version="1.0"?>\n<d:multistatus {NAMESPACES}>' + "".join(answers) + "</d:multistatus>\n"
        return httpx.Response(207, content=body.encode(), headers={"Content-Type": "application/xml; charset=utf-8"})

    def _response(self, rel: str, found: _File | None) -> str:
        href = self.root + quote(rel, safe="/")
        if self.odd.get(rel) == "403":
            return f"<d:response><d:href>{href}</d:href><d:status>HTTP/1.1 403 Forbidden</d:status></d:response>"
        if found is None:  # a folder: its ETag changes with anything under it
            stamps = [f.etag for p, f in sorted(self.files.items()) if p.startswith(rel)]
            etag = hashlib.md5("".join(stamps).encode(), usedforsecurity=False).hexdigest()[:13]
            mtime = max((f.mtime for p, f in self.files.items() if p.startswith(rel)), default=1_790_000_000.0)
            values = {"d:resourcetype": "<d:collection/>", "d:getetag": f"&quot;{etag}&quot;",
                      "d:getlastmodified": formatdate(mtime, usegmt=True), "oc:fileid": str(self.folders[rel])}
        else:
            values = {"d:resourcetype": "", "d:getetag": f"&quot;{found.etag}&quot;",
                      "d:getlastmodified": formatdate(found.mtime, usegmt=True),
                      "d:getcontentlength": str(len(found.data)), "d:getcontenttype": "text/plain",
                      "oc:fileid": str(found.fileid)}
        if self.odd.get(rel) == "hidden type":
            del values["d:resourcetype"]
        ok = "".join(f"<{name}>{values[name]}</{name}>" if values[name] else f"<{name}/>"
                     for name in ASKED if name in values)
        missing = "".join(f"<{name}/>" for name in ASKED if name not in values)
        stats = f"<d:propstat><d:prop>{ok}</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>"
        if missing:
            stats += f"<d:propstat><d:prop>{missing}</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>"
        return f"<d:response><d:href>{href}</d:href>{stats}</d:response>"


def _error(exception: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">\n'
            f"  <s:exception>Sabre\\DAV\\Exception\\{exception}</s:exception>\n  <s:message>{message}</s:message>\n"
            "</d:error>\n").encode()
