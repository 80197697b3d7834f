"""A local server that answers like Paperless-ngx 3.0.5's REST API, for tests and benchmarks.

It holds generated documents in memory and serves them the way the real
server does, quirks included. ``tests/data/paperless/`` holds answers recorded
from a real 3.0.5 server, and a test replays every recorded request against
this one and compares status, headers and the shape of each body:

* API versions: ``Accept: application/json; version=N`` is served for 9 and 10
  only (406 ``Invalid version in "Accept" header.`` otherwise, checked before
  the token, without ``X-Api-Version``); no version means the newest; every
  authenticated answer carries ``X-Api-Version: 10`` and ``X-Version: 3.0.5``;
  list answers carry ``all`` (every matching id) in version 9 only;
* token auth (``Authorization: Token ...``): 401 ``Invalid token.`` for a wrong
  token, ``Authentication credentials were not provided.`` for none;
* ``count/next/previous/results`` pages with ``page_size`` (at most 100,000);
  ``next`` is an absolute URL keeping the query, and a page past the end is a
  404 ``Invalid page.``;
* ``ordering`` by ``id``, ``-id``, ``modified``, ``-modified`` or ``modified,id``;
* the filters ``modified__gt``, ``modified__gte``, ``added__gt`` and
  ``id__in``; every other filter (``id__gt``...) is silently ignored, as the
  real server ignores filters it does not know;
* ``fields=`` to trim results;
* ``modified`` with microsecond precision, in a +01:00 time zone, with ties;
* ``/api/`` (an HTML page), ``/api/documents/ID/`` and
  ``/api/documents/ID/metadata/`` (the files' sha256 checksums; a document
  without an archived version has ``null`` there, as born-digital PDFs do);
* ``/api/documents/ID/download/``: the archived PDF (or the original when
  there is none), or the original with ``?original=true``, with a
  Content-Disposition holding ``filename`` and ``filename*``;
* ``/api/tags/``, ``/api/correspondents/``, ``/api/document_types/`` and
  ``/api/custom_fields/``.

Tests change documents with :meth:`PaperlessServer.modify` (a new file),
:meth:`retag` (labels only), :meth:`delete` and :meth:`add`, make it answer
429 or 500 with :meth:`fail_next`, and read what was asked in
:attr:`PaperlessServer.requests`. ``versions`` and ``server_version`` make it
a Paperless of another release.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, overload
from urllib.parse import parse_qs, quote, urlencode, urlsplit

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
#: API versions Paperless-ngx 3.0.5 serves, and the versions whose list answers carry ``all``.
VERSIONS = (9, 10)
ALL_UP_TO = 9
BAD_VERSION = {"detail": 'Invalid version in "Accept" header.'}
API_PAGE = ("<!DOCTYPE html>\n<html>\n  <head>\n    <title>Paperless-ngx REST API</title>\n  </head>\n"
            "  <body><div id=\"swagger-ui\"></div></body>\n</html>\n")


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
    #: Whether Paperless made an archived (OCR'd) version; born-digital PDFs often have none.
    has_archive: bool = True

    def as_json(self) -> dict[str, Any]:
        """The document as 3.0.5 lists it (API versions 9 and 10 give the same fields)."""
        created = self.created.date().isoformat()
        return {
            "id": self.id, "correspondent": self.correspondent, "document_type": self.document_type,
            "storage_path": None, "title": self.title, "content": self.text, "tags": self.tags,
            "created": created, "created_date": created,
            "modified": self.modified.isoformat(), "added": self.added.isoformat(), "deleted_at": None,
            "archive_serial_number": None, "original_file_name": f"scan-{self.id:05d}.pdf",
            "archived_file_name": f"{created} {self.id:05d}.pdf" if self.has_archive else None,
            "duplicate_documents": [], "owner": 2, "user_can_change": True, "is_shared_by_requester": False,
            "notes": [], "custom_fields": [], "page_count": 1, "mime_type": "application/pdf",
            "root_document": None,
            # The real checksum is of the original file; the look-alike makes files only when they are
            # downloaded, so it stands in with a hash of the original's text here (nobody compares it).
            "versions": [{"id": self.id, "added": self.added.isoformat(), "version_label": None,
                          "checksum": hashlib.sha256(self.text.encode()).hexdigest(), "is_root": True}],
        }


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    authorization: str = field(default="", repr=False)
    #: The API version asked for in the Accept header, if any.
    version: int | None = None


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


class _Listed(Sequence[dict[str, Any]]):
    """Documents as a list answers them, each serialised only when its page is served: an archive of 100,000
    would otherwise be serialised whole for every page of 100."""

    def __init__(self, docs: list[Document], fields: set[str] | None) -> None:
        self.docs, self.fields = docs, fields

    def _one(self, doc: Document) -> dict[str, Any]:
        item = doc.as_json()
        return item if self.fields is None else {k: v for k, v in item.items() if k in self.fields}

    def __len__(self) -> int:
        return len(self.docs)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._one(doc) for doc in self.docs[index]]
        return self._one(self.docs[index])


class PaperlessServer:
    """A Paperless-ngx look-alike on 127.0.0.1 with ``count`` generated documents.

    Documents are modified about 7 seconds apart from ``START``; every 20th
    shares its timestamp with the one before (a tie), and ``tie`` documents in
    the middle share one timestamp, as a bulk edit leaves them.
    """

    def __init__(self, count: int, token: str, *, tie: int = 0, ignore: Sequence[str] = (), labels: bool = True,
                 versions: Sequence[int] = VERSIONS, server_version: str = "3.0.5") -> None:
        self.token = token
        self.ignore = set(ignore)  # filters to ignore as well, like an older or proxied server
        self.labels = labels  # tags, correspondents and document types (a fresh server has none)
        self.versions = tuple(versions)
        self.server_version = server_version
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
            tags=sorted({1 + n % 5, 1 + (n // 5) % 5}) if self.labels else [],
            correspondent=(1 + n % 4 if n % 7 else None) if self.labels else None,
            document_type=1 + n % 3 if self.labels else None)
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

    def retag(self, ids: Iterable[int], tags: Sequence[int], *, title: str | None = None) -> None:
        """Change these documents' tags (and title) only, as an edit in Paperless's UI does: ``modified`` moves."""
        with self._lock:
            when = self.now()
            for n in ids:
                doc = self.documents[n]
                doc.tags = sorted(tags)
                doc.title = title or doc.title
                doc.modified = when
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
        """The file ``/download/`` serves: the archived version, or the original (also without an archive)."""
        doc = self.documents[n]
        original = original or not doc.has_archive
        # The file's text is fixed when the document is made or its content modified, not by a new title.
        text = (f"Document {n} (original scan)\n{doc.text}" if original
                else f"Document {n}\n{doc.text}\nArchived by Paperless with an OCR text layer.")
        cache_key = (n, text, "original" if original else "archive")
        if cache_key not in self._pdfs:
            self._pdfs[cache_key] = _pdf(text)
        return self._pdfs[cache_key]

    def _checksum(self, data: bytes) -> str:
        """The checksum Paperless keeps of a file: SHA-256 from 3.0 on, MD5 before."""
        major = self.server_version.split(".", 1)[0]
        if major.isdigit() and int(major) < 3:
            return hashlib.md5(data, usedforsecurity=False).hexdigest()
        return hashlib.sha256(data).hexdigest()

    def _metadata(self, n: int) -> dict[str, Any]:
        doc = self.documents[n]
        original = self.download(n, original=True)
        archive = self.download(n) if doc.has_archive else None
        return {
            "original_checksum": self._checksum(original), "original_size": len(original),
            "original_mime_type": "application/pdf", "media_filename": f"{n:07d}.pdf",
            "has_archive_version": archive is not None, "original_metadata": [],
            "archive_checksum": self._checksum(archive) if archive is not None else None,
            "archive_media_filename": f"archive/{n:07d}.pdf" if archive is not None else None,
            "original_filename": f"scan-{n:05d}.pdf", "archive_size": len(archive) if archive is not None else None,
            "archive_metadata": [] if archive is not None else None, "lang": "en",
        }

    # ----- the API -----------------------------------------------------------------------------

    def _list(self, query: dict[str, str], items: Sequence[dict[str, Any]], path: str, version: int,
              ids: Sequence[int] | None = None, extra: dict[str, Any] | None = None) -> tuple[int, Any]:
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

        body: dict[str, Any] = {"count": len(items), "next": link(page + 1) if start + size < len(items) else None,
                                "previous": link(page - 1) if page > 1 else None}
        if version <= ALL_UP_TO:
            body["all"] = list(ids) if ids is not None else [item["id"] for item in items]
        body["results"] = list(items[start:start + size])
        return 200, {**body, **(extra or {})}

    def _documents(self, query: dict[str, str], version: int) -> tuple[int, Any]:
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
        fields = set(query["fields"].split(",")) if query.get("fields") else None
        return self._list(query, _Listed(docs, fields), "/api/documents/", version, ids=[d.id for d in docs])

    def _named(self, names: dict[int, str], query: dict[str, str], path: str, version: int) -> tuple[int, Any]:
        items = [{"id": n, "slug": name.lower().replace(" ", "-"), "name": name, "document_count": 0}
                 for n, name in sorted(names.items())] if self.labels else []
        extra = {"display_count": len(items)} if path == "/api/tags/" else None
        return self._list(query, items, path, version, extra=extra)

    def _version(self, accept: str) -> int | None:
        """The API version asked for (the newest when none), or None when it is not served."""
        found = re.search(r"version\s*=\s*([^;,\s]+)", accept)
        if found is None:
            return max(self.versions)
        value = found.group(1)
        return int(value) if value.isdigit() and int(value) in self.versions else None

    def answer(self, method: str, target: str, authorization: str,
               accept: str = "application/json") -> tuple[int, Any, dict[str, str]]:
        """Status, body (JSON-able, str for HTML, or bytes) and extra headers for one request."""
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            failing = [f for f in self._failures if parts.path.startswith(f[0])]
            if failing:
                self._failures.remove(failing[0])
                _, status, retry_after = failing[0]
                headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
                return status, {"detail": "Request was throttled."}, headers
            version = self._version(accept)
            if version is None:  # Django REST framework checks the version before the token
                return 406, BAD_VERSION, {}
            if not authorization:
                return 401, {"detail": "Authentication credentials were not provided."}, {"WWW-Authenticate": "Token"}
            if authorization != f"Token {self.token}":
                return 401, {"detail": "Invalid token."}, {"WWW-Authenticate": "Token"}
            status, body, headers = self._route(parts.path, query, version)
            return status, body, {"X-Api-Version": str(max(self.versions)), "X-Version": self.server_version,
                                  **headers}

    def _route(self, path: str, query: dict[str, str], version: int) -> tuple[int, Any, dict[str, str]]:
        if path == "/api/":
            return 200, API_PAGE, {"Content-Type": "text/html; charset=utf-8"}
        if path == "/api/documents/":
            return (*self._documents(query, version), {})
        lookups = {"/api/tags/": TAGS, "/api/correspondents/": CORRESPONDENTS,
                   "/api/document_types/": DOCUMENT_TYPES, "/api/custom_fields/": {}}
        if path in lookups:
            return (*self._named(lookups[path], query, path, version), {})
        found = re.fullmatch(r"/api/documents/(\d+)/(download/|metadata/)?", path)
        if found is None:
            return 404, {"detail": "Not found."}, {}
        number, what = int(found.group(1)), found.group(2)
        if number not in self.documents:
            return 404, {"detail": "No Document matches the given query."}, {}
        if what == "metadata/":
            return 200, self._metadata(number), {}
        if what is None:
            return 200, self.documents[number].as_json(), {}
        doc = self.documents[number]
        original = query.get("original", "").lower() == "true" or not doc.has_archive
        name = (f"{doc.created.date().isoformat()} scan-{number:05d}.pdf" if original
                else f"{doc.created.date().isoformat()} {number:05d}.pdf")
        return 200, self.download(number, original), {
            "Content-Type": "application/pdf",
            "Content-Disposition": f'attachment; filename="{name}"; filename*=utf-8\'\'{quote(name)}'}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                accept = self.headers.get("Accept", "application/json")
                status, body, headers = server.answer("GET", self.path, auth, accept)
                parts = urlsplit(self.path)
                asked = re.search(r"version\s*=\s*(\d+)", accept)
                with server._lock:
                    server.requests.append(Request("GET", parts.path,
                                                   {k: v[-1] for k, v in parse_qs(parts.query).items()}, status, auth,
                                                   int(asked.group(1)) if asked else None))
                data = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(
                    body).encode()
                self.send_response(status)
                if not isinstance(body, bytes | str):
                    self.send_header("Content-Type", "application/json")
                self.send_header("Allow", "GET, HEAD, OPTIONS")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
