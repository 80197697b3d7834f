"""A local server that answers like Paperless-ngx 3.x's REST API, for tests and benchmarks.

It holds generated documents in memory and serves them the way the real
server does, quirks included:

* token auth (``Authorization: Token ...``; 401 without it);
* ``count/next/previous/results`` pages with ``page_size`` (at most 100,000);
  ``next`` is an absolute URL keeping the query, and a page past the end is 404;
* ``ordering`` by ``id``, ``-id``, ``modified``, ``-modified`` or ``modified,id``;
* the filters ``modified__gt``, ``modified__gte``, ``added__gt`` and
  ``id__in``; every other filter (``id__gt``...) is silently ignored, as the
  real server ignores filters it does not know;
* ``fields=`` to trim results;
* ``modified`` with microsecond precision, in a +01:00 time zone, with ties;
* ``/api/documents/ID/download/``: the archived PDF, or the original with
  ``?original=true``;
* ``/api/tags/``, ``/api/correspondents/`` and ``/api/document_types/``.

Tests change documents with :meth:`PaperlessServer.modify`, :meth:`delete`
and :meth:`add`, make it answer 429 or 500 with :meth:`fail_next`, and read
what was asked in :attr:`PaperlessServer.requests`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["CORRESPONDENTS", "DOCUMENT_TYPES", "TAGS", "PaperlessServer", "Request"]

ZONE = timezone(timedelta(hours=1))
START = datetime(2024, 1, 1, 8, 0, 0, 250_000, tzinfo=ZONE)
TAGS = {1: "invoice", 2: "tax", 3: "insurance", 4: "household", 5: "archive 2024"}
CORRESPONDENTS = {1: "Northwind Bakery", 2: "City Water Works", 3: "Acme Insurance", 4: "Dr. Alvarez"}
DOCUMENT_TYPES = {1: "Invoice", 2: "Letter", 3: "Contract"}
TOPICS = ("oak shelves for the shop", "the water meter reading", "a broken windscreen claim",
          "a dental check-up", "the annual property tax", "sourdough flour deliveries",
          "a roof leak in the attic", "the new heating contract")
MAX_PAGE_SIZE = 100_000
SUPPORTED_FILTERS = ("modified__gt", "modified__gte", "added__gt", "id__in")


@dataclass
class Document:
    id: int
    title: str
    text: str
    modified: datetime
    added: datetime
    created: datetime
    tags: list[int]
    correspondent: int | None
    document_type: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "content": self.text,
            "tags": self.tags, "correspondent": self.correspondent, "document_type": self.document_type,
            "created": self.created.isoformat(), "created_date": self.created.date().isoformat(),
            "modified": self.modified.isoformat(), "added": self.added.isoformat(),
            "original_file_name": f"scan-{self.id:05d}.pdf", "archived_file_name": f"{self.id:05d}.pdf",
            "mime_type": "application/pdf", "page_count": 1, "notes": [], "custom_fields": [],
        }


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    authorization: str = field(default="", repr=False)


def _pdf(text: str) -> bytes:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=420, height=300)
    page.insert_textbox(pymupdf.Rect(24, 24, 396, 276), text, fontsize=11)
    data: bytes = doc.tobytes()
    doc.close()
    return data


class _Quiet(ThreadingHTTPServer):
    """A client that hangs up early (a download cut off past the size limit) is not an error here."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class PaperlessServer:
    """A Paperless-ngx look-alike on 127.0.0.1 with ``count`` generated documents.

    Documents are modified about 7 seconds apart from ``START``; every 20th
    shares its timestamp with the one before (a tie), and ``tie`` documents in
    the middle share one timestamp, as a bulk edit leaves them.
    """

    def __init__(self, count: int, token: str, *, tie: int = 0, ignore: Sequence[str] = ()) -> None:
        self.token = token
        self.ignore = set(ignore)  # filters to ignore as well, like an older or proxied server
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._failures: list[tuple[str, int, float | None]] = []
        self._pdfs: dict[tuple[int, str, str], bytes] = {}
        self.documents: dict[int, Document] = {}
        self._next_id = 1
        when, bulk = START, range(count // 2 + 1, count // 2 + tie)
        for i in range(count):
            if i % 20 != 19 and i not in bulk:
                when += timedelta(seconds=7, microseconds=1_001 * (i % 997))
            self._new(when)
        self.server = _Quiet(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> PaperlessServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ----- what tests do to it ---------------------------------------------------------------

    def _new(self, modified: datetime) -> Document:
        n = self._next_id
        self._next_id += 1
        topic = TOPICS[n % len(TOPICS)]
        doc = Document(
            id=n, title=f"Document {n}: {topic}", modified=modified, added=modified,
            created=modified - timedelta(days=3),
            text=f"Paperless document number {n}. It is about {topic}. Reference code PX-{n:05d}.",
            tags=sorted({1 + n % 5, 1 + (n // 5) % 5}), correspondent=1 + n % 4 if n % 7 else None,
            document_type=1 + n % 3)
        self.documents[n] = doc
        return doc

    def now(self) -> datetime:
        """A fresh timestamp later than every document's."""
        latest = max((d.modified for d in self.documents.values()), default=START)
        return max(datetime.now(ZONE), latest + timedelta(microseconds=1))

    def modify(self, ids: Iterable[int], *, same_time: bool = False) -> None:
        """Edit these documents' text and bump their ``modified`` (one shared timestamp with ``same_time``)."""
        with self._lock:
            when = self.now()
            for n in ids:
                doc = self.documents[n]
                doc.text += " Amended: the amount was corrected."
                doc.modified = when
                if not same_time:
                    when += timedelta(microseconds=1_337)

    def delete(self, ids: Iterable[int]) -> None:
        with self._lock:
            for n in ids:
                del self.documents[n]

    def add(self, count: int) -> list[int]:
        with self._lock:
            when = self.now()
            return [self._new(when + timedelta(microseconds=i)).id for i in range(count)]

    def fail_next(self, count: int, status: int = 429, retry_after: float | None = 1.0, path: str = "/") -> None:
        """Answer the next ``count`` requests under ``path`` with this status (and Retry-After, in seconds)."""
        with self._lock:
            self._failures.extend([(path, status, retry_after)] * count)

    def asked(self, path_prefix: str, status: int | None = 200) -> list[Request]:
        """Requests whose path starts with this prefix (and had this status, unless None)."""
        return [r for r in self.requests if r.path.startswith(path_prefix) and (status is None or r.status == status)]

    def download(self, n: int, original: bool = False) -> bytes:
        doc = self.documents[n]
        text = (f"{doc.title} (original scan)\n{doc.text}" if original
                else f"{doc.title}\n{doc.text}\nArchived by Paperless with an OCR text layer.")
        cache_key = (n, text, "original" if original else "archive")
        if cache_key not in self._pdfs:
            self._pdfs[cache_key] = _pdf(text)
        return self._pdfs[cache_key]

    # ----- the API -----------------------------------------------------------------------------

    def _list(self, query: dict[str, str], items: Sequence[dict[str, Any]], path: str) -> tuple[int, Any]:
        try:
            size = min(int(query.get("page_size", "25")), MAX_PAGE_SIZE)
            page = int(query.get("page", "1"))
        except ValueError:
            return 404, {"detail": "Invalid page."}
        start = (page - 1) * size
        if page < 1 or (start >= len(items) and page != 1):
            return 404, {"detail": "Invalid page."}

        def link(n: int) -> str | None:
            return f"{self.url}{path}?{urlencode({**query, 'page': str(n)})}"

        body = {"count": len(items), "next": link(page + 1) if start + size < len(items) else None,
                "previous": link(page - 1) if page > 1 else None, "results": list(items[start:start + size])}
        return 200, body

    def _documents(self, query: dict[str, str]) -> tuple[int, Any]:
        docs = list(self.documents.values())
        for name in SUPPORTED_FILTERS:
            if name not in query or name in self.ignore:
                continue
            value = query[name]
            if name == "id__in":
                wanted = {int(v) for v in value.split(",") if v.strip().isdigit()}
                docs = [d for d in docs if d.id in wanted]
                continue
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                return 400, {name: ["Enter a valid date/time."]}
            if when.tzinfo is None:
                when = when.replace(tzinfo=ZONE)
            if name == "modified__gt":
                docs = [d for d in docs if d.modified > when]
            elif name == "modified__gte":
                docs = [d for d in docs if d.modified >= when]
            else:
                docs = [d for d in docs if d.added > when]
        ordering = query.get("ordering", "-created")
        if "ordering" in self.ignore:
            ordering = "-created"
        orders = {"id": lambda d: d.id, "-id": lambda d: -d.id, "modified": lambda d: (d.modified, d.id),
                  "-modified": lambda d: (d.modified, d.id), "modified,id": lambda d: (d.modified, d.id)}
        docs.sort(key=orders.get(ordering, lambda d: d.created), reverse=ordering in ("-modified", "-created"))
        items = [d.as_json() for d in docs]
        if query.get("fields"):
            fields = set(query["fields"].split(","))
            items = [{k: v for k, v in item.items() if k in fields} for item in items]
        return self._list(query, items, "/api/documents/")

    def _named(self, names: dict[int, str], query: dict[str, str], path: str) -> tuple[int, Any]:
        items = [{"id": n, "slug": name.lower().replace(" ", "-"), "name": name, "document_count": 0}
                 for n, name in sorted(names.items())]
        return self._list(query, items, path)

    def answer(self, method: str, target: str, authorization: str) -> tuple[int, Any, dict[str, str]]:
        """Status, body (JSON-able or bytes) and extra headers for one request."""
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            failing = [f for f in self._failures if parts.path.startswith(f[0])]
            if failing:
                self._failures.remove(failing[0])
                _, status, retry_after = failing[0]
                headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
                return status, {"detail": "Request was throttled."}, headers
            if authorization != f"Token {self.token}":
                return 401, {"detail": "Invalid token."}, {}
            path = parts.path
            if path == "/api/documents/":
                return (*self._documents(query), {})
            if path.startswith("/api/documents/") and path.endswith("/download/"):
                number = path.split("/")[3]
                if not number.isdigit() or int(number) not in self.documents:
                    return 404, {"detail": "No Document matches the given query."}, {}
                original = query.get("original", "").lower() == "true"
                name = f"scan-{int(number):05d}.pdf" if original else f"{int(number):05d}.pdf"
                return 200, self.download(int(number), original), {
                    "Content-Type": "application/pdf", "Content-Disposition": f'attachment; filename="{name}"'}
            lookups = {"/api/tags/": TAGS, "/api/correspondents/": CORRESPONDENTS,
                       "/api/document_types/": DOCUMENT_TYPES}
            if path in lookups:
                return (*self._named(lookups[path], query, path), {})
            return 404, {"detail": "Not found."}, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                status, body, headers = server.answer("GET", self.path, auth)
                parts = urlsplit(self.path)
                with server._lock:
                    server.requests.append(Request("GET", parts.path,
                                                   {k: v[-1] for k, v in parse_qs(parts.query).items()}, status, auth))
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                if not isinstance(body, bytes):
                    self.send_header("Content-Type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
