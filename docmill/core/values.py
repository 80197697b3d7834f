"""The things that move through the pipeline.

Messages between stages carry only :class:`Task` arguments (job id, document
key, version, page numbers): JSON, a few hundred bytes. Everything bigger (page
texts, staged vectors) waits in the ledger, so a message never grows with the
document it is about.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .ledger_records import Stage

__all__ = [
    "Attachment",
    "Blob",
    "Chunk",
    "ChunkText",
    "DocumentRef",
    "Extracted",
    "Limits",
    "Listing",
    "Page",
    "PageImage",
    "SearchHit",
    "SourceSpec",
    "StoredChunk",
    "Task",
    "chunk_id",
    "text_hash",
]

#: Namespace of chunk UUIDs; fixed forever so IDs stay stable across releases.
CHUNK_NAMESPACE = uuid.UUID("6f1d3c1e-4c53-5bd4-9a57-d0c5c7a1e0de")


def text_hash(text: str) -> str:
    """Content hash of a chunk's text (hex sha256)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_id(doc_key: str, seq: int, digest: str) -> str:
    """Deterministic chunk ID from the document key, position and content hash.

    A UUID string, so every vector store accepts it; a replayed message writes
    the same IDs again instead of adding copies.
    """
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{doc_key}\x00{seq}\x00{digest}"))


@dataclass(frozen=True)
class Task:
    """The next step of a document, for the transport to deliver.

    ``stage`` names the stage function that carries it out; ``args`` are that
    function's keyword arguments and must be JSON-serialisable and hold no
    secrets. Build a document's tasks with :meth:`for_version`.
    """

    stage: Stage
    args: Mapping[str, Any]
    priority: int = 0

    @classmethod
    def for_version(cls, stage: Stage, job_id: str, key: str, version: int, priority: int = 0,
                    **extra: Any) -> Task:
        """The task of one document version's stage: the one way document task arguments are made."""
        return cls(Stage(stage), {"job_id": job_id, "key": key, "version": version, **extra}, priority)


@dataclass(frozen=True)
class DocumentRef:
    """A document as a source lists it, before anything is read.

    ``key`` is unique across all sources and stable over time (a URI);
    ``name`` is what people see (a path relative to the folder, a title);
    ``locator`` is whatever the source needs to fetch it again; ``stamp`` is a
    cheap change indicator (size and mtime) that lets discovery skip hashing
    unchanged files; ``skip_reason`` makes the source's refusal visible (a
    symlink leaving the folder) instead of silent.
    """

    key: str
    name: str
    locator: str
    stamp: str = ""
    size: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    skip_reason: str | None = None


@dataclass
class Listing:
    """What an incremental source lists in one discovery (see ``IncrementalSource``).

    ``refs`` are the documents to consider, read once. When ``complete`` they
    are every document in the source's scope, and keys no longer listed are
    removed from the index. Otherwise they are only what changed since the
    saved state; ``gone``, if given, is called after ``refs`` are read with
    the keys the ledger holds in scope that were not listed, and returns those
    that no longer exist (they are removed). When it is None, deletions are
    not looked for this time. ``undecided`` holds the keys whose existence
    the source could not tell this time (a folder it could not read): the
    source may fill it while ``refs`` are read or ``gone`` runs; they are
    neither removed, nor counted as left out by the filters, nor pruned.
    ``state`` is what the source wants back next time (a watermark, HTTP validators): it
    may change while ``refs`` are read, must be JSON, must hold no secrets, and
    is saved only after the whole listing succeeded.
    """

    refs: Iterable[DocumentRef]
    complete: bool = True
    gone: Callable[[list[str]], Collection[str]] | None = None
    state: dict[str, Any] = field(default_factory=dict)
    #: ``refs`` are every document the source's filters take now: a key not listed and not gone is one
    #: the filters leave out. It stays in the index (filters never destroy) unless the user prunes.
    filtered: bool = False
    #: Keys in scope whose existence is unknown this time: kept as they are, whatever ``complete`` says.
    undecided: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Blob:
    """A document's bytes, as fetched from its source.

    ``checksum`` is the source's own checksum of these bytes, in the notation
    its ``content_id`` uses (``sha256:...``), when the source can later tell
    whether a document's file changed without downloading it (see
    ``ContentCheckedSource``); discovery compares the two.
    """

    name: str
    data: bytes
    media_type: str = "application/octet-stream"
    path: Path | None = None
    checksum: str | None = None


@dataclass(frozen=True)
class Limits:
    """The bounds every extractor and OCR engine must respect.

    ``max_text`` is the most characters of text an extractor may return for a
    document: it stops and raises DocumentTooLarge as soon as it has more.
    ``max_attachments`` is the most attachments (files inside a mail, an
    Office document...) one document may carry, and ``max_messages`` the most
    messages of one mailbox: past either the extractor raises DocumentTooLarge
    with the kind ``too many attachments`` or ``too many messages``.
    """

    max_file_size: int
    max_pages: int
    max_pixels: int
    ocr_timeout: float
    ocr_dpi: int
    max_text: int = 10_000_000
    max_attachments: int = 100
    max_messages: int = 10_000


@dataclass(frozen=True)
class Page:
    """One page of extracted text.

    ``number`` is 1-based, or ``None`` for formats without pages (plain text).
    ``needs_ocr`` flags a page with no usable text layer. ``section`` says
    where in the document the text stands when a page number does not say it
    all: the heading path of a Word file (``Contract › 4 Payment terms``), a
    sheet's name, a slide's title. A chunk never spans two pages, so an
    extractor gives each sheet, slide or section a page of its own.
    """

    number: int | None
    text: str
    needs_ocr: bool = False
    section: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file carried inside a document (a mail's attachment, a file embedded in an Office document, a message
    of a mailbox): it becomes a document of its own, keyed under its parent. ``name`` is the name the document
    gave it (untrusted: docmill makes it safe before use), ``media_type`` what the document declared (the bytes
    are sniffed again)."""

    name: str
    data: bytes
    media_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Extracted:
    """What an extractor found beyond page texts: the pages, metadata of the document itself (a mail's
    ``from``, ``subject``...: JSON scalars or lists of strings, filterable like a source's metadata) and the
    files it carries. An extractor may return this instead of a plain list of pages."""

    pages: list[Page]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)


@dataclass(frozen=True)
class PageImage:
    """A page rendered for OCR: 8-bit grey pixels at ``dpi``."""

    number: int
    width: int
    height: int
    dpi: int
    pixels: bytes


@dataclass(frozen=True)
class ChunkText:
    """A piece of a document's text as a chunker cut it, with the page (and section) it came from."""

    page: int | None
    text: str
    section: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A chunk ready for the store: identity, place and text; the vector travels beside it."""

    id: str
    doc_key: str
    seq: int
    page: int | None
    text: str
    hash: str
    section: str | None = None


@dataclass(frozen=True)
class SearchHit:
    """One search result; ``score`` is cosine similarity (higher is better)."""

    id: str
    doc: str
    page: int | None
    score: float
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as the store holds it, for export; ``version`` is the document version that wrote it, where the
    store says (the keyword index is filled from these after an upgrade, ``core.keyword_fill``)."""

    id: str
    doc: str
    doc_key: str
    seq: int
    page: int | None
    text: str
    metadata: Mapping[str, Any]
    vector: list[float] | None = None
    version: int | None = None


@dataclass(frozen=True)
class SourceSpec:
    """A source to discover: its ledger id, plugin type and options (no secrets), and how.

    ``full`` makes an incremental source list everything, ignoring its saved state;
    ``prune`` removes documents the source's filters now leave out (kept otherwise);
    ``retry_failed`` processes failed documents again even when unchanged.
    """

    id: str
    type: str
    options: Mapping[str, Any]
    full: bool = False
    prune: bool = False
    retry_failed: bool = False

    def discover_task(self, job_id: str, priority: int, *, queued_at: int | None = None) -> Task:
        """The discover stage's task for this source: its documents go at ``priority``, and the task itself at
        ``queued_at`` (default: the same; a caller's fair share is one level up, ``core.fairness``)."""
        return Task(Stage.DISCOVER, {"job_id": job_id, "source_id": self.id, "priority": priority,
                                     "full": self.full, "prune": self.prune, "retry_failed": self.retry_failed},
                    priority if queued_at is None else queued_at)
