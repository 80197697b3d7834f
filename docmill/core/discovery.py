"""The discover stage: list a source, decide what changed, start exactly that.

For each listed document: new or changed (fingerprint or chunking/embedding
settings differ) starts a new version; unchanged is recorded and left alone;
a document the source refuses is recorded as skipped with its reason. Keys in
the source's scope that are no longer listed are removed from the index.
Files whose size and mtime match the ledger are not even read.

A source with a ``listing`` method (an incremental source) lists only what
changed since the state it left in the ledger last time, and says itself how
deletions are found; its new state is saved once the listing has been read
to the end, so a listing that breaks off starts again from the old state.

A source that can check a file's checksum without downloading it
(``ContentCheckedSource``) is asked when an indexed document's stamp moved:
if the file is the one already indexed, only its labels changed, and the
store relabels its chunks in place instead of processing it again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from .errors import PermanentError
from .interfaces import ContentCheckedSource, IncrementalSource, Source
from .ledger import NewVersion
from .models import DocumentRef, Listing, Task
from .records import KnownDocument, Stage, State
from .runtime import Runtime

__all__ = ["discover"]

log = logging.getLogger(__name__)

#: Documents per ledger transaction during discovery.
BATCH = 200
#: The error kind of an unexpected exception (a bug): tried again only with another docmill or plugin version.
INTERNAL_ERROR = "internal error"
#: Fingerprint prefix of a file that could not be read: checked again every time,
#: since fixing permissions changes neither its size nor its mtime.
UNREADABLE = "unreadable:"


def _fingerprint(source: Source, ref: DocumentRef, row: KnownDocument | None) -> str:
    if row is not None and row.fingerprint and not row.fingerprint.startswith(UNREADABLE) \
            and ref.stamp and row.stamp == ref.stamp:
        return row.fingerprint  # same size and mtime: trust the recorded content hash
    try:
        return source.fingerprint(ref)
    except PermanentError as exc:
        # Unreadable now: give it a version anyway, so the extract stage
        # records the failure and its reason like any other.
        return f"{UNREADABLE}{ref.stamp}:{exc.kind}"


def _is_unchanged(rt: Runtime, row: KnownDocument, fingerprint: str, retry_failed: bool = False) -> bool:
    if row.fingerprint != fingerprint or row.signature != rt.signature:
        return False
    if row.state == State.PENDING:
        # In flight elsewhere, unless this process owns the ledger (then it was abandoned).
        return not rt.recover_pending
    if row.state == State.FAILED:
        if retry_failed:
            return False
        if row.error_kind == INTERNAL_ERROR:  # a bug: tried again once docmill or a plugin is another version
            return bool(row.code_version == rt.code_version)
        return bool(row.error_permanent)  # transient failures get another chance
    return row.state in (State.DONE, State.SKIPPED)


def _same_file(rt: Runtime, source: Source, ref: DocumentRef, row: KnownDocument) -> bool:
    """Whether a document whose stamp moved still has the file its indexed version was made from."""
    if not isinstance(source, ContentCheckedSource) or not row.content_id or row.signature != rt.signature:
        return False
    if row.state not in (State.DONE, State.SKIPPED) or row.error_kind == "refused":
        return False
    try:
        return source.content_id(ref) == row.content_id
    except PermanentError:
        return False  # processed again, and the extract stage records why it cannot be read


def _never_sent(row: KnownDocument) -> bool:
    """A version a discovery committed but whose first message never went out (that process died)."""
    return bool(row.state == State.PENDING and row.stage in (Stage.EXTRACT, Stage.RELABEL) and not row.attempts
                and row.sent_at is None)


def _chunks(refs: Iterator[DocumentRef], size: int) -> Iterator[list[DocumentRef]]:
    batch: list[DocumentRef] = []
    for ref in refs:
        batch.append(ref)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def discover(rt: Runtime, job_id: str, source_id: str, priority: int = 0, full: bool = False,
             prune: bool = False, retry_failed: bool = False) -> None:
    """List the source and start what changed; remove what disappeared.

    ``full`` ignores the state an incremental source saved (its watermark)
    and lists everything. ``prune`` also removes documents that still exist
    but that the source's filters now leave out (kept otherwise).
    ``retry_failed`` processes failed documents again even if unchanged.
    """
    source = rt.source(source_id)
    known = rt.ledger.known(source.scope)
    if isinstance(source, IncrementalSource):
        listing = source.listing({} if full else rt.ledger.source_state(source_id), full=full)
    else:
        listing = Listing(source.discover())
    seen: set[str] = set()
    withdrawn: list[str] = []  # indexed before, refused now: their chunks go
    counts = {"new": 0, "changed": 0, "relabelled": 0, "unchanged": 0, "refused": 0}
    for batch in _chunks(iter(listing.refs), BATCH):
        starting: list[NewVersion] = []
        unchanged = []
        relabels = []
        for ref in batch:
            if ref.key in seen:
                continue
            seen.add(ref.key)
            row = known.get(ref.key)
            if ref.skip_reason:
                if row is not None and row.state not in (State.SKIPPED, State.FAILED):
                    # Indexed before, refused now: its chunks go first (below); the
                    # next discovery records the refusal.
                    withdrawn.append(ref.key)
                    continue
                rt.ledger.record_refused(job_id, source_id, ref, row)
                counts["refused"] += 1
                continue
            fingerprint = _fingerprint(source, ref, row)
            if row is not None and row.state != State.DELETING and _is_unchanged(rt, row, fingerprint, retry_failed):
                unchanged.append((row, ref))
                continue
            if row is not None and _same_file(rt, source, ref, row):
                relabels.append((row, ref, fingerprint))
                continue
            counts["new" if row is None else "changed"] += 1
            starting.append(NewVersion(ref, fingerprint, rt.signature, row.version if row else None))
        if unchanged:
            rt.ledger.record_unchanged(job_id, unchanged)
            counts["unchanged"] += len(unchanged)
        relabelled = rt.ledger.start_relabels(job_id, relabels, priority) if relabels else []
        counts["relabelled"] += len(relabels)
        for key, version in relabelled:
            rt.send(Task.for_version(Stage.RELABEL, job_id, key, version, priority))
        started = rt.ledger.start_versions(job_id, source_id, starting, priority)
        for key, version in started:
            rt.send(Task.for_version(Stage.EXTRACT, job_id, key, version, priority))
        unsent = [row for row, _ in unchanged if _never_sent(row)]
        for row in unsent:  # committed by a discovery that died before sending them
            rt.send(Task.for_version(row.stage, job_id, row.key, row.version, row.priority))
        if started or relabelled or unsent:
            rt.ledger.mark_sent([*started, *relabelled, *((row.key, row.version) for row in unsent)])
    unlisted = [key for key in known if key not in seen]
    left_out: list[str] = []
    if listing.complete:
        gone = unlisted
    elif listing.gone is not None and unlisted:
        missing = set(listing.gone(unlisted))
        gone = [key for key in unlisted if key in missing]
        if listing.filtered:  # still there, but the filters leave them out now: kept unless pruned
            left_out = [key for key in unlisted if key not in missing and known[key].state != State.DELETING]
            if prune:
                gone, left_out = gone + left_out, []
    else:
        gone = []
    gone += [key for key in withdrawn if key not in gone]
    if left_out:
        rt.ledger.record_left_out(job_id, len(left_out))
    for key, version in rt.ledger.start_removals(job_id, gone):
        rt.send(Task.for_version(Stage.REMOVE, job_id, key, version, priority))
    if isinstance(source, IncrementalSource):
        rt.ledger.save_source_state(source_id, listing.state)
    rt.ledger.end_discovery(job_id)
    log.info("discovered %s%s: %d new, %d changed, %d relabelled, %d unchanged, %d refused, %d gone, %d left out "
             "by the filters", source_id, "" if listing.complete else " (changes only)", counts["new"],
             counts["changed"], counts["relabelled"], counts["unchanged"], counts["refused"], len(gone),
             len(left_out))
