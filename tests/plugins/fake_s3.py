"""A hand-written S3 server on a loopback port, for what moto will not do: a broken listing, a skewed clock.

It answers path-style ListObjectsV2 (``GET /BUCKET?list-type=2``) with the
pages the test wrote, each under the continuation token that asks for it
(``""`` for the first), GetObject (``GET /BUCKET/KEY``) with the bytes the
test put, and, while ``error`` is set, that S3 error to every request.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

__all__ = ["FakeS3", "Page"]


@dataclass
class Page:
    """One ListObjectsV2 answer: its keys, whether it says it is truncated, and the token it gives for the next."""

    keys: list[str]
    truncated: bool = False
    next_token: str | None = None


@dataclass
class FakeS3:
    """The server; ``pages`` by continuation token, ``objects`` by key, ``asked`` the continuation tokens of the
    list requests answered (``""`` for a first page).

    After ``max_lists`` list requests it answers an empty last page, so that a client that loops ends."""

    objects: dict[str, bytes] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)
    error: tuple[int, str, str] | None = None
    max_lists: int = 20
    asked: list[str] = field(default_factory=list)
    requests: int = 0
    url: str = ""
    _server: Any = None

    def _listing(self, token: str) -> bytes:
        self.asked.append(token)
        page = self.pages[token] if len(self.asked) <= self.max_lists else Page([])
        contents = "".join(
            f"<Contents><Key>{escape(key)}</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified>"
            f"<ETag>&quot;{hashlib.md5(self.objects[key]).hexdigest()}&quot;</ETag>"
            f"<Size>{len(self.objects[key])}</Size><StorageClass>STANDARD</StorageClass></Contents>"
            for key in page.keys)
        following = f"<NextContinuationToken>{page.next_token}</NextContinuationToken>" if page.next_token else ""
        return (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult '
                f'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>docs</Name><Prefix></Prefix>'
                f"<KeyCount>{len(page.keys)}</KeyCount><MaxKeys>1000</MaxKeys>"
                f"<IsTruncated>{str(page.truncated).lower()}</IsTruncated>{following}{contents}"
                "</ListBucketResult>").encode()

    def _answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        self.requests += 1
        if self.error is not None:
            status, code, message = self.error
            return status, {}, (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
                                f"<Message>{message}</Message></Error>").encode()
        _, _, key = unquote(path).lstrip("/").partition("/")
        if not key:
            return 200, {}, self._listing(query.get("continuation-token", [""])[0])
        if key not in self.objects:
            return 404, {}, b"<Error><Code>NoSuchKey</Code><Message>No such key</Message></Error>"
        data = self.objects[key]
        return 200, {"ETag": f'"{hashlib.md5(data).hexdigest()}"'}, data

    def start(self) -> FakeS3:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                status, headers, body = fake._answer(parts.path, parse_qs(parts.query, keep_blank_values=True))
                self.send_response(status)
                for name, value in {"Content-Type": "application/xml", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="fake-s3", daemon=True).start()
        return self

    def __enter__(self) -> FakeS3:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
