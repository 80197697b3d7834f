"""Filling the keyword index from the chunk texts the vector store holds: how an older index gains keyword search.

An index written before keyword search (or under another tokeniser, or whose
keyword index was lost) has every chunk's text in its vector store. The fill
reads them a page at a time and writes them to the keyword index with their
document's name, metadata and version: nothing is extracted or embedded
again. The ledger then remembers it (:func:`fill_name`), so it runs once.

It may run while workers write (distributed mode): a chunk is copied only
when the ledger says its document is done at the chunk's version, and a
document that moved on while its page was copied has its copied chunks of
that version taken out again (its new version's store stage writes both
indexes anyway), so the fill never brings back a chunk a worker deleted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from .access import access_of
from .errors import DocmillError
from .interfaces import KeywordIndex, Signed, VectorStore
from .ledger_records import State
from .values import Chunk, StoredChunk, text_hash

__all__ = ["fill_keywords", "fill_name", "needs_fill"]

log = logging.getLogger(__name__)

#: Chunks read from the vector store and written to the keyword index at a time.
PAGE = 500
#: Seconds between progress lines.
REPORT_EVERY = 10.0

Progress = Callable[[int, int], None]


def fill_name(index: KeywordIndex, collection: str) -> str:
    """The name under which the ledger remembers that this keyword index was filled (its tokeniser included)."""
    signature = index.signature if isinstance(index, Signed) else index.name
    return f"keywords-filled:{index.name}:{collection}:{signature}"


def needs_fill(ledger: Any, index: KeywordIndex, store: VectorStore, collection: str) -> bool:
    """Whether the keyword index should be filled: never done on this ledger, or empty beside a store that is
    not (its file was lost)."""
    if not ledger.upgrades.done(fill_name(index, collection)):
        return True
    return index.count() == 0 and store.count() > 0


def _log(message: str, *args: Any, event: str) -> None:
    log.warning(message, *args, extra={"event": f"upgrade.keywords.{event}"})


def fill_keywords(ledger: Any, store: VectorStore, index: KeywordIndex, collection: str,
                  progress: Progress | None = None) -> int:
    """Copy every chunk the vector store holds, and the keyword index lacks, into the keyword index, then record
    it done; how many chunks were written. ``progress(done, total)`` hears how far it got."""
    total = store.count()
    if total:
        _log("filling the keyword index from the %d chunk texts the vector store holds (once, after an upgrade; "
             "nothing is embedded again)", total, event="started")
    written, seen, reported = 0, 0, time.monotonic()
    page: list[StoredChunk] = []
    for chunk in store.iter_chunks():
        page.append(chunk)
        if len(page) == PAGE:
            written += _copy(ledger, index, page)
            seen += len(page)
            page = []
            if progress is not None:
                progress(seen, total)
            if time.monotonic() - reported > REPORT_EVERY:
                reported = time.monotonic()
                _log("filled the keyword index with %d of %d chunks", seen, total, event="progress")
    if page:
        written += _copy(ledger, index, page)
        seen += len(page)
    if progress is not None:
        progress(seen, total)
    # A store whose chunks were given grants in bulk holds them beside the metadata the fill copied.
    index.grant_unlabelled(access_of)
    ledger.upgrades.record(fill_name(index, collection))
    if total:
        _log("the keyword index holds the %d chunks of the vector store", index.count(), event="done")
    return written


def _copy(ledger: Any, index: KeywordIndex, page: list[StoredChunk]) -> int:
    """Write one page of stored chunks whose document the ledger has done at their version; undo those whose
    document moved on meanwhile."""
    before = {key: ledger.documents.document(key) for key in {c.doc_key for c in page}}
    by_version: dict[tuple[str, int], list[StoredChunk]] = {}
    for chunk in page:
        doc = before[chunk.doc_key]
        if doc is None or doc.state != State.DONE:
            continue  # gone, or being processed: its store stage writes both indexes
        version = chunk.version if chunk.version is not None else doc.version
        if version == doc.version:
            by_version.setdefault((chunk.doc_key, version), []).append(chunk)
    written = 0
    for (key, version), chunks in by_version.items():
        first = chunks[0]
        try:
            index.upsert([Chunk(c.id, c.doc_key, c.seq, c.page, c.text, text_hash(c.text)) for c in chunks],
                         doc=first.doc, version=version, metadata=first.metadata)
        except DocmillError as exc:  # this document's chunks stay out of keyword search until it is processed
            log.warning("could not add the chunks of %s to the keyword index: %s", key, exc.reason,
                        extra={"event": "upgrade.keywords.failed"})
            continue
        written += len(chunks)
        after = ledger.documents.document(key)
        if after is None:
            index.delete_document(key)
        elif (after.version, after.state) != (version, State.DONE):
            index.delete_stale(key, keep_version=after.version)
    return written
