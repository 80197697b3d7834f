"""What each stage does to one document version, as plain functions.

Each stage claims its step in the ledger (a stale or replayed message finds
nothing to claim and returns), does its work, writes the result durably, and
only then sends the next task: a crash anywhere leaves either nothing done or
a replay that converges. The transport (Dramatiq actors) calls these and
decides retries from the error class raised.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from .access import ACCESS, access_of
from .attachments import NAME_SEPARATOR, remove_stale_children, start_attachments
from .discover_step import CODE_BOUND, discover
from .errors import DocmillError, DocumentTooLarge, PermanentError, StoreUnavailable
from .filters import source_label
from .interfaces import RelabellingStore
from .ledger_records import Document, Stage, State
from .runtime import Runtime
from .sniff import media_type_of
from .values import Blob, Chunk, DocumentRef, Page, Task, chunk_id, text_hash

__all__ = ["chunk_metadata", "discover", "embed", "extract", "ocr", "record_failure", "relabel", "remove",
           "store"]

log = logging.getLogger(__name__)


def _fetch(rt: Runtime, doc: Document) -> Blob:
    """The document's bytes, within the size limit, with their real media type (an attachment's from the
    ledger, where its parent's extract stage left them)."""
    def check(size: int | None) -> None:
        if size is not None and size > rt.limits.max_file_size:
            raise DocumentTooLarge(f"the file is {size:,} bytes, over the limit of "
                                   f"{rt.limits.max_file_size:,} (DOCMILL_MAX_FILE_SIZE)")

    check(doc.size)  # from the listing: refuse before reading
    if doc.parent is not None:
        data = rt.ledger.children.attachment_bytes(doc.key, doc.version)
        if data is None:
            raise PermanentError("the attachment's bytes are no longer held: ingest the document carrying it again",
                                 kind="gone")
        name = doc.name.rsplit(NAME_SEPARATOR, 1)[-1]
        return Blob(name, data, media_type_of(name, data))
    blob = rt.source(doc.source).fetch(DocumentRef(key=doc.key, name=doc.name, locator=doc.locator,
                                                   stamp=doc.stamp or "", size=doc.size))
    check(len(blob.data))  # the source may not know the size, or the file grew
    return Blob(blob.name, blob.data, media_type_of(blob.name, blob.data), blob.path, blob.checksum)


def _ocr_ranges(pages: Sequence[Page], per_task: int, spread: int) -> list[list[int]]:
    """The scanned pages in ranges of at most ``per_task``, and in at least ``spread`` ranges when there are
    enough pages: a 3-page scan read on one core while the other idles took half again as long."""
    numbers = [p.number for p in pages if p.needs_ocr and p.number is not None]
    count = max(-(-len(numbers) // per_task), min(len(numbers), spread))
    size, extra = divmod(len(numbers), count) if count else (0, 0)
    ranges, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        ranges.append(numbers[start:end])
        start = end
    return ranges


def extract(rt: Runtime, job_id: str, key: str, version: int) -> None:
    """Read the document's text; send its scanned pages to OCR, or the text to embedding."""
    doc = rt.ledger.documents.begin(key, version, Stage.EXTRACT)
    if doc is None:
        _resend_ocr(rt, job_id, key, version)
        return
    started = time.monotonic()
    blob = _fetch(rt, doc)
    found = rt.extract(blob)
    # NUL characters mean nothing in text, and PostgreSQL cannot store them.
    extracted = [replace(p, text=p.text.replace("\x00", "")) for p in found.pages]
    if len(extracted) > rt.limits.max_pages:
        raise DocumentTooLarge(f"{len(extracted)} pages, over the limit of {rt.limits.max_pages} "
                               "(DOCMILL_MAX_PAGES)", kind="too many pages")
    characters = sum(len(p.text) for p in extracted)
    if characters > rt.limits.max_text:  # an extractor that did not stop at the limit itself
        raise DocumentTooLarge(f"{characters:,} characters of text, over the limit of {rt.limits.max_text:,} "
                               "(DOCMILL_MAX_TEXT)")
    spread = rt.settings.ocr_workers or rt.settings.cpu_count
    ranges = _ocr_ranges(extracted, rt.settings.ocr_pages_per_task, spread) if rt.ocr_engine is not None else []
    start_attachments(rt, job_id, doc, found.attachments)  # before the parent's last write: a replay sends again
    rt.ledger.inflight.save_pages(key, version, extracted, ranges, time.monotonic() - started, blob.checksum,
                                  found.metadata)
    if not ranges:
        rt.send(Task.for_version(Stage.EMBED, job_id, doc.key, doc.version, doc.priority))
    for numbers in ranges:
        rt.send(Task.for_version(Stage.OCR, job_id, doc.key, doc.version, doc.priority,
                                 first_page=numbers[0], pages=numbers))


def _resend_ocr(rt: Runtime, job_id: str, key: str, version: int) -> None:
    """A replayed extract after OCR began: its worker may have died between two of its OCR messages.

    Ranges not read yet are sent again (a range read twice is recorded once),
    so a fan-out cut short cannot leave the document waiting forever.
    """
    doc = rt.ledger.documents.document(key)
    if doc is None or doc.version != version or doc.state != State.PENDING or doc.stage != Stage.OCR:
        return
    for numbers in rt.ledger.inflight.ocr_ranges_left(key, version):
        rt.send(Task.for_version(Stage.OCR, job_id, doc.key, doc.version, doc.priority,
                                 first_page=numbers[0], pages=numbers))


def ocr(rt: Runtime, job_id: str, key: str, version: int, first_page: int, pages: list[int]) -> None:
    """Read one range of scanned pages; the last range to finish sends the document to embedding."""
    doc = rt.ledger.documents.begin(key, version, Stage.OCR)
    if doc is None:
        return
    engine = rt.ocr_engine
    if engine is None:
        raise PermanentError("scanned pages need OCR, but OCR is off on this worker (DOCMILL_OCR=none)",
                             kind="ocr off")
    started = time.monotonic()
    blob = _fetch(rt, doc)
    texts = {image.number: engine.recognize(image).replace("\x00", "") for image in rt.render(blob, pages)}
    rt.events.ocr_pages(len(texts))
    remaining = rt.ledger.inflight.save_ocr(key, version, first_page, texts, time.monotonic() - started)
    if remaining == 0:
        rt.send(Task.for_version(Stage.EMBED, job_id, doc.key, doc.version, doc.priority))


def _stored_vectors(rt: Runtime, hashes: list[str]) -> Mapping[str, Any]:
    """Vectors the store already holds for these texts; none when it cannot say (the store stage retries)."""
    try:
        return rt.store.vectors_for(hashes)
    except StoreUnavailable as exc:
        log.warning("cannot look up stored vectors (%s); embedding every chunk", exc.reason)
        return {}


def embed(rt: Runtime, job_id: str, key: str, version: int) -> None:
    """Chunk the document's pages and embed the chunks whose text has no stored vector yet."""
    doc = rt.ledger.documents.begin(key, version, Stage.EMBED)
    if doc is None:
        return
    started = time.monotonic()
    pieces = rt.chunker.chunk(rt.ledger.inflight.load_pages(key, version))
    if len(pieces) > rt.settings.max_chunks:
        raise DocumentTooLarge(f"{len(pieces):,} chunks, over the limit of {rt.settings.max_chunks:,} "
                               "(DOCMILL_MAX_CHUNKS)")
    chunks = []
    for seq, piece in enumerate(pieces):
        digest = text_hash(piece.text)
        chunks.append(Chunk(chunk_id(key, seq, digest), key, seq, piece.page, piece.text, digest, piece.section))
    # The collection holds one model's vectors, so a stored vector for the same
    # text is exactly what embedding it again would give.
    known = _stored_vectors(rt, [c.hash for c in chunks]) if chunks else {}
    fresh = [c for c in chunks if c.hash not in known]
    embedded = iter(rt.embedder.embed_documents([c.text for c in fresh]) if fresh else [])
    vectors = [known[c.hash] if c.hash in known else next(embedded) for c in chunks]
    rt.ledger.inflight.stage_chunks(key, version, chunks, vectors, time.monotonic() - started, embedded=len(fresh))
    rt.events.chunks(embedded=len(fresh), reused=len(chunks) - len(fresh))
    rt.send(Task.for_version(Stage.STORE, job_id, doc.key, doc.version, doc.priority))


def chunk_metadata(doc: Document) -> dict[str, Any]:
    """What a document's chunks carry: what its extractor found in the file (a mail's ``from``...) under its
    source's metadata, which source it came from (``source``, a field searches filter on), and who may see it
    through the API (``access``, docmill's grant: ``core.access``)."""
    metadata: dict[str, Any] = {**json.loads(doc.extracted or "{}"), **json.loads(doc.metadata or "{}")}
    metadata["source"] = source_label(doc.source)
    metadata[ACCESS] = access_of(doc.key)
    return metadata


#: The metadata field holding a chunk's section (a heading path, a sheet's name, a slide's title): search shows
#: it and filters on it like any other.
SECTION = "section"


def _sections(chunks: Sequence[Chunk]) -> list[tuple[int, int, str | None]]:
    """The runs of chunks of one section, as (first, end, section): each run is written with its section."""
    runs: list[tuple[int, int, str | None]] = []
    for seq, chunk in enumerate(chunks):
        if runs and runs[-1][2] == chunk.section:
            runs[-1] = (runs[-1][0], seq + 1, chunk.section)
        else:
            runs.append((seq, seq + 1, chunk.section))
    return runs


def _no_text_reason(doc: Document, ocr_off: bool) -> str:
    pages = doc.pages or 0
    if ocr_off and doc.ocr_pages:
        return f"no text layer on {doc.ocr_pages} of {pages} pages, and OCR is off (DOCMILL_OCR=none)"
    if doc.ocr_pages:
        return f"no text found: {pages} page(s), {doc.ocr_pages} read by OCR"
    return f"no text found in {pages} page(s)" if pages else "no text found"


def store(rt: Runtime, job_id: str, key: str, version: int) -> None:
    """Write the version's chunks, then delete chunks of older versions: no gap, no stale tail."""
    doc = rt.ledger.documents.begin(key, version, Stage.STORE)
    if doc is None:
        return
    started = time.monotonic()
    chunks, vectors = rt.ledger.inflight.load_staged(key, version)
    metadata = chunk_metadata(doc)
    for first, last, section in _sections(chunks):
        rt.store.upsert(chunks[first:last], vectors[first:last], doc=doc.name, version=version,
                        metadata=metadata if section is None else {**metadata, SECTION: section})
    rt.store.delete_stale(key, keep_version=version)
    remove_stale_children(rt, job_id, doc)
    seconds = time.monotonic() - started
    if chunks or rt.ledger.children.exist(key):  # a mailbox's text is in its messages
        finish(rt, key, version, State.DONE, stage=Stage.STORE, chunks=len(chunks), seconds=seconds)
    else:
        finish(rt, key, version, State.SKIPPED, stage=Stage.STORE, chunks=0, seconds=seconds, error_kind="no text",
               reason=_no_text_reason(doc, rt.ocr_engine is None), permanent=True)


def relabel(rt: Runtime, job_id: str, key: str, version: int) -> None:
    """Give the chunks of a document whose labels alone changed its new name and metadata, in place."""
    doc = rt.ledger.documents.begin(key, version, Stage.RELABEL)
    if doc is None:
        return
    started = time.monotonic()
    store = rt.store
    if not isinstance(store, RelabellingStore):  # a store plugin that cannot update chunks in place
        log.info("the %s store cannot relabel chunks; processing %s again", store.name, doc.name)
        restarted = rt.ledger.versions.restart(job_id, doc)
        rt.send_all([Task.for_version(Stage.EXTRACT, job_id, key, version, doc.priority) for key, version in restarted])
        rt.ledger.versions.mark_sent(restarted)
        return
    store.relabel(key, doc=doc.name, metadata=chunk_metadata(doc))
    finish(rt, key, version, State.DONE, stage=Stage.RELABEL, seconds=time.monotonic() - started)


def remove(rt: Runtime, job_id: str, key: str, version: int) -> None:
    """Delete the chunks of a document that left its source, then forget it."""
    if rt.ledger.documents.begin(key, version, Stage.REMOVE) is None:
        return
    rt.store.delete_document(key)
    if rt.ledger.documents.removed(key, version):
        rt.events.document_finished(State.DELETED)


def record_failure(rt: Runtime, stage: Stage, args: Mapping[str, Any], error: BaseException) -> None:
    """Write down a failure that will not be retried: the document (or discovery) ends failed."""
    if isinstance(error, DocmillError):
        kind, reason = error.kind, error.reason
    else:  # a bug or an untranslated library error: say what it was (ParseFailed names the child's error)
        name = getattr(error, "type_name", type(error).__name__)
        kind, reason = "internal error", f"{name}: {' '.join(str(error).split())}"[:500]
    if stage == Stage.DISCOVER:
        rt.ledger.jobs.end_discovery(args["job_id"], error=f"{args.get('source_id')}: {reason}")
        return
    finish(rt, args["key"], args["version"], State.FAILED, stage=stage, error_kind=kind, reason=reason,
           permanent=isinstance(error, PermanentError),
           code_version=rt.code_version if kind in CODE_BOUND else None)


def finish(rt: Runtime, key: str, version: int, state: State, *, stage: Stage, error_kind: str | None = None,
           **outcome: Any) -> bool:
    """End a version in ``state`` (``Documents.finish``), and report it to ``rt.events`` when this call ended it
    (a replayed message's finds it ended already, and counts nothing)."""
    ended = rt.ledger.documents.finish(key, version, state, stage=stage, error_kind=error_kind, **outcome)
    if ended:
        rt.events.document_finished(state, error_kind)
    return ended
