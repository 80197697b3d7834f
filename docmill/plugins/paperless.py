"""The Paperless-ngx source: an archive's documents, listed by what changed, with their tags and names.

Listing is keyset pagination on (modified, id): ``ordering=modified,id`` with
``modified__gte`` set to the newest timestamp seen so far, dropping the ids
already seen at that timestamp (timestamps have microseconds, and tie). No
request goes deep into page numbers, except through a group of documents
sharing one timestamp that is bigger than a page (a bulk edit leaves those);
that group is then checked afterwards (every document that still has the
timestamp was seen) and read again if it shifted.

Paperless-ngx silently ignores filters it does not know (``id__gt`` returns
every document with HTTP 200), so only filters it honours are used, and every
page is checked against them: a server that ignores one fails the sync
loudly instead of looping or re-reading everything.

An incremental sync starts from the watermark kept in the ledger, minus a
small look-back for documents saved just before a listing but committed
after it. Deletions are found from every id Paperless holds (``all`` in API
version 9, a listing of ids alone in version 10), and each missing id is
confirmed with ``id__in`` before its chunks go. Downloads take the archived
version (Paperless has OCR'd it already) unless ``download = "original"``.
Every chunk carries the title, tags, correspondent, document type and created
date; names come from the tag, correspondent and document type lists, read
once per sync.

Paperless moves ``modified`` for a change of tags or title as much as for a
new file, so a document whose ``modified`` moved is first checked with one
small request (``/metadata/`` gives the files' checksums): when the file is
the one already indexed, only its chunks' metadata is updated.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from docmill import (
    Blob,
    ConfigurationError,
    DocumentRef,
    Listing,
    PermanentError,
    PluginContext,
    Register,
    SourceFactory,
    SourceUnavailable,
    hookimpl,
)

if TYPE_CHECKING:  # the client (httpx) is imported when a sync builds the source, not by every command
    from .paperless_client import PaperlessClient

__all__ = ["PaperlessSource"]

log = logging.getLogger(__name__)

DOCUMENTS = "/api/documents/"
LOOKUPS = {"tags": "/api/tags/", "correspondents": "/api/correspondents/", "document_types": "/api/document_types/"}
#: Ids per ``id__in`` request when deletions are confirmed.
CONFIRM_BATCH = 100
#: Ids per ``id__in`` request when a group sharing one timestamp is checked (URLs stay under 4 KB).
TIE_CHECK_BATCH = 500
#: Times a group of documents sharing one timestamp is read again when it shifted while being read.
TIE_ATTEMPTS = 3
#: The newest API version whose list answers carry ``all`` (every matching id); 10 dropped it.
ALL_IDS_UP_TO = 9


def _checksum(hexdigest: str) -> str:
    """A Paperless checksum in docmill's notation: the algorithm follows from its length."""
    return f"{ {32: 'md5', 64: 'sha256'}.get(len(hexdigest), 'checksum')}:{hexdigest.lower()}"


def _instant(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise PermanentError(f"Paperless gave a timestamp docmill cannot read: {value!r}",
                             kind="unexpected answer") from exc


class _Names:
    """Tag, correspondent and document type names, read once per listing and again only for an unknown id."""

    def __init__(self, client: PaperlessClient) -> None:
        self.client = client
        self._names: dict[str, dict[int, str]] = {}

    def _load(self, kind: str) -> dict[int, str]:
        names = {}
        for body in self.client.pages(LOOKUPS[kind], {"page_size": 1000}):
            names.update({int(item["id"]): str(item.get("name", item["id"])) for item in body.get("results", [])})
        self._names[kind] = names
        return names

    def name(self, kind: str, number: Any) -> str | None:
        if number is None:
            return None
        names = self._names.get(kind) or self._load(kind)
        if int(number) not in names:  # created during this sync
            names = self._load(kind)
        return names.get(int(number), f"#{number}")


class _Metadata(Mapping[str, Any]):
    """A document's chunk metadata, with names looked up only when read: unchanged documents cost no lookup."""

    def __init__(self, doc: Mapping[str, Any], names: _Names, url: str) -> None:
        self._doc, self._names, self._url = doc, names, url
        self._values: dict[str, Any] | None = None

    def _resolve(self) -> dict[str, Any]:
        if self._values is None:
            doc, names = self._doc, self._names
            self._values = {
                "paperless_id": int(doc["id"]), "title": doc.get("title") or "",
                "tags": [names.name("tags", t) for t in doc.get("tags") or []],
                "correspondent": names.name("correspondents", doc.get("correspondent")),
                "document_type": names.name("document_types", doc.get("document_type")),
                "created": str(doc.get("created_date") or doc.get("created") or "")[:10], "url": self._url,
            }
        return self._values

    def __getitem__(self, key: str) -> Any:
        return self._resolve()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolve())

    def __len__(self) -> int:
        return len(self._resolve())


class PaperlessSource:
    """A Paperless-ngx archive's documents; keys are ``source:NAME/ID``."""

    def __init__(self, name: str, url: str, client: PaperlessClient, *, max_bytes: int, original: bool = False,
                 page_size: int = 100, id_page_size: int = 100_000, lookback: float = 60.0,
                 deletion_check_every: float = 0.0) -> None:
        self.scope = f"source:{name}/"
        self.base = url.rstrip("/")
        self.client = client
        self.max_bytes = max_bytes
        self.original = original
        self.page_size = page_size
        self.id_page_size = id_page_size
        self.lookback = lookback
        self.deletion_check_every = deletion_check_every

    # ----- listing -----------------------------------------------------------------------------

    def discover(self) -> Iterator[DocumentRef]:
        yield from self.listing({}, full=True).refs

    def listing(self, state: Mapping[str, Any], *, full: bool) -> Listing:
        """What changed since the watermark in ``state`` (everything the first time, or when ``full``)."""
        since = None if full else state.get("modified")
        checked = 0.0 if full else float(state.get("deletions_checked_at", 0.0))
        out: dict[str, Any] = {"modified": since, "ids": [] if since is None else list(state.get("ids", [])),
                               "deletions_checked_at": checked}
        complete = since is None
        check = not complete and time.time() - checked >= self.deletion_check_every
        if complete or check:
            out["deletions_checked_at"] = time.time()
        return Listing(self._refs(out), complete=complete, gone=self._gone if check else None, state=out)

    def _refs(self, out: dict[str, Any]) -> Iterator[DocumentRef]:
        names = _Names(self.client)
        for doc in self._changed(out):
            yield self._ref(doc, names)

    def _ref(self, doc: Mapping[str, Any], names: _Names) -> DocumentRef:
        number = int(doc["id"])
        variant = "original" if self.original else "archived"
        return DocumentRef(key=f"{self.scope}{number}", name=str(doc.get("title") or f"document {number}"),
                           locator=str(number), stamp=f"{doc['modified']}|{variant}",
                           metadata=_Metadata(doc, names, f"{self.base}/documents/{number}/details"))

    def _check(self, results: Sequence[Mapping[str, Any]], floor: datetime | None) -> None:
        """Fail loudly when a page does not honour ``modified__gte`` or ``ordering=modified,id``."""
        previous: tuple[datetime, int] | None = None
        for doc in results:
            here = (_instant(doc["modified"]), int(doc["id"]))
            if floor is not None and here[0] < floor:
                raise PermanentError(
                    f"Paperless at {urlsplit(self.base).netloc} ignored the filter modified__gte: it listed "
                    f"document {here[1]} modified {doc['modified']}, before {floor.isoformat()}. docmill stops "
                    "rather than read the whole archive again; is a proxy dropping the query string?",
                    kind="filter ignored")
            if previous is not None and here < previous:
                raise PermanentError(
                    f"Paperless at {urlsplit(self.base).netloc} ignored ordering=modified,id (document {here[1]} "
                    f"came after {previous[1]}); docmill cannot list changes reliably from it",
                    kind="filter ignored")
            previous = here

    def _tie_size(self, when: str, ids: Sequence[int] = ()) -> int:
        """How many documents (of ``ids``, if given) have exactly this timestamp now."""
        extra = {"id__in": ",".join(map(str, ids))} if ids else {}
        gte, gt = (int(self.client.get_json(DOCUMENTS, {f"modified__{op}": when, "fields": "id", "page_size": 1,
                                                        **extra}).get("count", 0)) for op in ("gte", "gt"))
        if ids and gte > len(ids):
            raise PermanentError(f"Paperless at {urlsplit(self.base).netloc} ignored the filter id__in",
                                 kind="filter ignored")
        return gte - gt

    def _tie_complete(self, when: str, seen: set[int]) -> bool:
        """Whether every document that has this timestamp now was seen.

        Nothing joins a group sharing a past timestamp (a later save gets a
        later one), so the group was read whole when as many of the documents
        seen still have the timestamp as the group now holds.
        """
        size = self._tie_size(when)
        ordered = sorted(seen)
        live = sum(self._tie_size(when, ordered[i:i + TIE_CHECK_BATCH])
                   for i in range(0, len(ordered), TIE_CHECK_BATCH))
        return live >= size

    def _changed(self, out: dict[str, Any]) -> Iterator[Mapping[str, Any]]:
        """Documents modified at or after the watermark, oldest first; ``out`` follows the watermark."""
        mark: str | None = out["modified"]
        at_mark: set[int] = set(out["ids"])
        floor = (_instant(mark) - timedelta(seconds=self.lookback)).isoformat() if mark else None
        query: dict[str, Any] = {"ordering": "modified,id", "page_size": self.page_size}
        if floor:
            query["modified__gte"] = floor
        tie: tuple[str, set[int]] | None = None  # offset pages through a group sharing one timestamp
        tie_reads = 0
        while True:
            body = self.client.get_json(DOCUMENTS, query)
            results = body.get("results") or []
            self._check(results, _instant(floor) if floor else None)
            for doc in results:
                number, when = int(doc["id"]), _instant(doc["modified"])
                if tie is not None and when == _instant(tie[0]):
                    tie[1].add(number)
                if mark is not None and when == _instant(mark) and number in at_mark:
                    continue  # seen already, at the watermark's timestamp
                yield doc
                if mark is None or when > _instant(mark):
                    mark, at_mark = str(doc["modified"]), {number}
                elif when == _instant(mark):
                    at_mark.add(number)
            out["modified"], out["ids"] = mark, sorted(at_mark)
            last = _instant(results[-1]["modified"]) if results else None
            if tie is not None and (not body.get("next") or last != _instant(tie[0])):
                if not self._tie_complete(*tie):  # the group shifted under the offsets: read it again
                    tie_reads += 1
                    if tie_reads >= TIE_ATTEMPTS:
                        raise SourceUnavailable(f"the {len(tie[1])}+ documents modified at {tie[0]} kept changing "
                                                f"while being listed ({TIE_ATTEMPTS} tries); sync again later")
                    query = {"ordering": "modified,id", "page_size": self.page_size, "modified__gte": tie[0]}
                    floor, tie = tie[0], (tie[0], set())
                    continue
                tie = None
            if not body.get("next"):
                return
            if floor is not None and last == _instant(floor):
                # The whole page shares the timestamp the query started at: more of them than a page holds.
                tie = tie or (floor, {int(d["id"]) for d in results})
                _, query = self.client.follow(DOCUMENTS, str(body["next"]))
                continue
            assert mark is not None
            floor = mark
            # Room for the ids already seen at the watermark, which come first, plus a full page of new ones.
            query = {"ordering": "modified,id", "modified__gte": mark,
                     "page_size": self.page_size + (len(at_mark) if len(at_mark) <= self.page_size else 0)}

    def _present(self) -> set[int]:
        """Every id Paperless holds now: ``all`` of a one-document page when the API version gives it, or
        else a listing of ids alone."""
        if self.client.negotiate() <= ALL_IDS_UP_TO:
            body = self.client.get_json(DOCUMENTS, {"fields": "id", "page_size": 1})
            everything = body.get("all")
            if isinstance(everything, list) and len(everything) == body.get("count"):
                return {int(n) for n in everything}
        present: set[int] = set()
        for body in self.client.pages(DOCUMENTS, {"fields": "id", "ordering": "id", "page_size": self.id_page_size}):
            present.update(int(doc["id"]) for doc in body.get("results", []))
        return present

    def _gone(self, keys: list[str]) -> list[str]:
        """Of these keys (indexed, not listed this time), those whose document Paperless no longer has."""
        numbers = {int(k[len(self.scope):]): k for k in keys if k[len(self.scope):].isdigit()}
        present = self._present()
        missing = sorted(n for n in numbers if n not in present)
        still = set()
        for start in range(0, len(missing), CONFIRM_BATCH):  # offsets shift under deletions: ask for each by id
            batch = missing[start:start + CONFIRM_BATCH]
            body = self.client.get_json(DOCUMENTS, {"id__in": ",".join(map(str, batch)), "fields": "id",
                                                    "page_size": len(batch)})
            found = {int(doc["id"]) for doc in body.get("results", [])}
            if not found <= set(batch):
                raise PermanentError(f"Paperless at {urlsplit(self.base).netloc} ignored the filter id__in; "
                                     "docmill deletes nothing it cannot confirm", kind="filter ignored")
            still |= found
        log.info("%s: %d of %d indexed documents are gone from Paperless", self.scope, len(missing) - len(still),
                 len(numbers))
        return [numbers[n] for n in missing if n not in still]

    # ----- documents ---------------------------------------------------------------------------

    def close(self) -> None:
        self.client.close()

    def fingerprint(self, ref: DocumentRef) -> str:
        return f"paperless:{ref.stamp}"  # Paperless bumps ``modified`` whenever the file or its metadata change

    def fetch(self, ref: DocumentRef) -> Blob:
        params = {"original": "true"} if self.original else {}
        data, name = self.client.download(f"{DOCUMENTS}{ref.locator}/download/", params, self.max_bytes)
        # The checksum Paperless itself keeps of the file: SHA-256 from 3.0 on, MD5 before.
        major = (self.client.server_version or "3").split(".", 1)[0]
        old = major.isdigit() and int(major) < 3
        digest = hashlib.md5(data, usedforsecurity=False) if old else hashlib.sha256(data)
        return Blob(name or f"{ref.locator}.pdf", data, checksum=_checksum(digest.hexdigest()))

    def content_id(self, ref: DocumentRef) -> str | None:
        """The checksum of the file ``fetch`` would download now, from ``/metadata/`` (a small answer).

        The archived file's when Paperless made one (and the original was not asked for), else the original's.
        """
        meta = self.client.get_json(f"{DOCUMENTS}{ref.locator}/metadata/")
        value = meta.get("original_checksum") if self.original else (
            meta.get("archive_checksum") or meta.get("original_checksum"))
        return _checksum(str(value)) if value else None


def _number(options: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigurationError(f"the paperless source's {key} must be a number from {low:g} to {high:g}, "
                                 f"not {value!r}")
    return float(value)


def make_paperless_source(options: Any, context: PluginContext) -> PaperlessSource:
    """Build a Paperless-ngx source from its options and the token of its [[sources]] entry."""
    from .paperless_client import PaperlessClient

    options = dict(options)
    name, url = str(options.get("name", "paperless")), str(options.get("url", ""))
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ConfigurationError(f"the paperless source {name!r} needs url = \"https://paperless.example.lan\" "
                                 f"(got {url!r})")
    token = context.token
    if token is None or not token.get_secret_value():
        raise ConfigurationError(f"the paperless source {name!r} has no token: set token in its [[sources]] entry "
                                 "or DOCMILL_SOURCES__<n>__TOKEN (a Paperless API token)")
    download = options.get("download", "archived")
    if download not in ("archived", "original"):
        raise ConfigurationError(f"the paperless source's download must be 'archived' or 'original', not {download!r}")
    client = PaperlessClient(url, token.get_secret_value(),
                             per_second=_number(options, "requests_per_second", 10, 0, 1000),
                             attempts=int(_number(options, "attempts", 5, 1, 20)),
                             timeout=_number(options, "timeout", 30, 1, 600),
                             backoff=_number(options, "backoff_seconds", 1, 0.01, 60), proxy=options.get("proxy"),
                             on_request=context.on_request)
    return PaperlessSource(
        name, url, client, max_bytes=context.limits.max_file_size, original=download == "original",
        page_size=int(_number(options, "page_size", 100, 1, 100_000)),
        id_page_size=int(_number(options, "id_page_size", 100_000, 1, 100_000)),
        lookback=_number(options, "lookback_seconds", 60, 0, 86_400),
        deletion_check_every=60 * _number(options, "deletion_check_minutes", 0, 0, 525_600))


@hookimpl
def docmill_register_sources(register: Register[SourceFactory]) -> None:
    register("paperless", make_paperless_source)
