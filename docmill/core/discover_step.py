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

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .errors import PermanentError
from .fairness import FairShare, raised
from .interfaces import ContentCheckedSource, IncrementalSource, Source
from .ledger import NewVersion
from .ledger_records import KnownDocument, Stage, State
from .runtime import Runtime
from .values import DocumentRef, Listing, Task

__all__ = ["discover"]

log = logging.getLogger(__name__)

#: Documents per ledger transaction during discovery (and per RabbitMQ transaction when submitting): 1,000
#: queued 3,100 small files a second into PostgreSQL where 200 queued 2,500 (make bench-scale, 50,000 files).
BATCH = 1000
#: The error kind of an unexpected exception (a bug): tried again only with another docmill or plugin version.
INTERNAL_ERROR = "internal error"
#: Failures that another docmill or plugin version may not have: a bug, or a type no extractor read (Office
#: files failed ``unsupported`` before docmill read them). Tried again once the code differs, not every time.
CODE_BOUND = (INTERNAL_ERROR, "unsupported")
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
        if row.error_kind in CODE_BOUND:  # tried again once docmill or a plugin is another version
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


class _Seen:
    """The keys a discovery has taken, as a Bloom filter of a fixed 8 MiB, so memory stays flat however long
    the listing. It may answer "maybe" for a key it was never given (about once in 10,000 keys at a million);
    the ledger, which holds the job's items, settles those and the keys really listed twice."""

    BITS = 1 << 26

    def __init__(self) -> None:
        self._bits = bytearray(self.BITS // 8)

    def _slots(self, key: str) -> list[int]:
        digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=12).digest()
        return [int.from_bytes(digest[i:i + 4], "little") % self.BITS for i in (0, 4, 8)]

    def add(self, key: str) -> bool:
        """Take ``key``; whether it may have been taken before."""
        bits, before = self._bits, True
        for slot in self._slots(key):
            byte, bit = slot >> 3, 1 << (slot & 7)
            if not bits[byte] & bit:
                before = False
                bits[byte] |= bit
        return before


class _Behind:
    """One ledger write at a time on a thread of its own, when a database server does the work (``served``), so
    that the next batch is listed and looked up while the last one's unchanged documents are written (a fifth of
    an unchanged 200,000-file re-run on PostgreSQL was waiting for those writes). A failed write is raised by
    the next call. Without a server the write is made at once."""

    def __init__(self, served: bool) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="docmill-discovery") if served else None
        self._last: Future[None] | None = None

    def submit(self, write: Callable[..., None], *args: Any) -> None:
        self.wait()
        if self._pool is None:
            write(*args)
        else:
            self._last = self._pool.submit(write, *args)

    def wait(self) -> None:
        """Until the last write is done (raising what it raised)."""
        last, self._last = self._last, None
        if last is not None:
            last.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown()


@dataclass
class _Discovery:
    """One discovery of one source: what it decided so far. What the ledger knows is read a batch at a time,
    and what it has taken is a fixed-size filter over the job's items, so memory stays flat however long
    the listing."""

    rt: Runtime
    source: Source
    job_id: str
    source_id: str
    priority: int
    retry_failed: bool
    share: FairShare
    withdrawn: set[str] = field(default_factory=set)  # indexed before, refused now: their chunks go
    counts: Counter[str] = field(default_factory=Counter)
    seen: _Seen = field(default_factory=_Seen)
    behind: _Behind = field(init=False)

    def __post_init__(self) -> None:
        self.behind = _Behind(self.rt.ledger.served)

    def take(self, batch: list[DocumentRef]) -> None:
        """Sort a batch of listed documents: refused, unchanged, relabelled, or new or changed; start them."""
        fresh = {ref.key: ref for ref in reversed(batch) if ref.key not in self.withdrawn}  # the first of repeats
        known = self.rt.ledger.versions.known(list(fresh))
        maybe_taken = [key for key in fresh if self.seen.add(key)]
        if maybe_taken:
            self.behind.wait()  # the job's items so far are all written
        taken = self.rt.ledger.versions.taken(self.job_id, maybe_taken)
        starting: list[NewVersion] = []
        unchanged: list[tuple[KnownDocument, DocumentRef]] = []
        relabels: list[tuple[KnownDocument, DocumentRef, str]] = []
        for ref in batch:
            if fresh.get(ref.key) is not ref or ref.key in taken:  # listed twice: taken the first time
                continue
            row = known.get(ref.key)
            if ref.skip_reason:
                self._refused(ref, row)
                continue
            fingerprint = _fingerprint(self.source, ref, row)
            if row is not None and row.state != State.DELETING and _is_unchanged(self.rt, row, fingerprint,
                                                                                 self.retry_failed):
                unchanged.append((row, ref))
            elif row is not None and _same_file(self.rt, self.source, ref, row):
                relabels.append((row, ref, fingerprint))
            else:
                self.counts["new" if row is None else "changed"] += 1
                starting.append(NewVersion(ref, fingerprint, self.rt.signature, row.version if row else None))
        self._start(starting, unchanged, relabels)

    def _refused(self, ref: DocumentRef, row: KnownDocument | None) -> None:
        if row is not None and row.state not in (State.SKIPPED, State.FAILED):
            # Indexed before, refused now: its chunks go first (with the removals);
            # the next discovery records the refusal.
            self.withdrawn.add(ref.key)
            return
        self.rt.ledger.versions.record_refused(self.job_id, self.source_id, ref, row)
        self.rt.events.document_finished(State.SKIPPED, "refused")
        self.counts["refused"] += 1

    def _start(self, starting: list[NewVersion], unchanged: list[tuple[KnownDocument, DocumentRef]],
               relabels: list[tuple[KnownDocument, DocumentRef, str]]) -> None:
        rt, job_id, priority = self.rt, self.job_id, self.priority
        if unchanged:
            self.behind.submit(rt.ledger.versions.record_unchanged, job_id, unchanged)
            self.counts["unchanged"] += len(unchanged)
        relabelled = rt.ledger.versions.start_relabels(job_id, relabels, priority) if relabels else []
        self.counts["relabelled"] += len(relabels)
        shared = self.share.room(len(starting))  # the caller's fair share goes one level up (core.fairness)
        raised_ = rt.ledger.versions.start_versions(job_id, self.source_id, starting[:shared], raised(priority))
        started = rt.ledger.versions.start_versions(job_id, self.source_id, starting[shared:], priority)
        unsent = [row for row, _ in unchanged if _never_sent(row)]  # committed by a discovery that died first
        tasks = [*(Task.for_version(Stage.RELABEL, job_id, key, version, priority) for key, version in relabelled),
                 *(Task.for_version(Stage.EXTRACT, job_id, key, version, raised(priority))
                   for key, version in raised_),
                 *(Task.for_version(Stage.EXTRACT, job_id, key, version, priority) for key, version in started),
                 *(Task.for_version(row.stage, job_id, row.key, row.version, row.priority) for row in unsent)]
        if tasks:
            rt.expect_work()
            rt.send_all(tasks)  # with the transport before the ledger says so: a version marked sent was sent
            rt.ledger.versions.mark_sent([*raised_, *started, *relabelled, *((row.key, row.version) for row in unsent)])

    def removals(self, listing: Listing, prune: bool) -> tuple[list[str], list[str]]:
        """The keys to remove from the index, and those kept although the filters now leave them out.

        A key the listing calls undecided (its existence unknown this time) is neither: it stays as it is."""
        if not listing.complete and listing.gone is None:
            return sorted(self.withdrawn), []
        unlisted = [(key, state) for key, state in self.rt.ledger.versions.unlisted(self.job_id, self.source.scope)
                    if key not in self.withdrawn]
        left_out: list[str] = []
        if listing.complete:
            missing = {key for key, _ in unlisted}
        elif unlisted:
            assert listing.gone is not None
            missing = set(listing.gone([key for key, _ in unlisted]))
        else:
            missing = set()
        undecided = listing.undecided  # read after gone, which may add to it
        gone = [key for key, _ in unlisted if key in missing and key not in undecided]
        if listing.filtered and not listing.complete:  # still there, but the filters leave them out now
            left_out = [key for key, state in unlisted
                        if key not in missing and key not in undecided and state != State.DELETING]
            if prune:
                gone, left_out = gone + left_out, []
        if undecided:
            log.info("%s: %d indexed documents kept as they are: the source could not tell whether they still "
                     "exist", self.source_id, sum(1 for key, _ in unlisted if key in undecided))
        return gone + sorted(key for key in self.withdrawn if key not in gone), left_out


def discover(rt: Runtime, job_id: str, source_id: str, priority: int = 0, full: bool = False,
             prune: bool = False, retry_failed: bool = False) -> None:
    """List the source and start what changed; remove what disappeared.

    ``full`` ignores the state an incremental source saved (its watermark)
    and lists everything. ``prune`` also removes documents that still exist
    but that the source's filters now leave out (kept otherwise).
    ``retry_failed`` processes failed documents again even if unchanged.
    """
    source = rt.source(source_id)
    try:
        owner = rt.ledger.jobs.info(job_id)["owner"]
    except KeyError:  # a job forgotten while it ran (DOCMILL_JOB_HISTORY_DAYS): nobody's share
        owner = None
    found = _Discovery(rt, source, job_id, source_id, priority, retry_failed, FairShare(rt.ledger, owner))
    if isinstance(source, IncrementalSource):
        listing = source.listing({} if full else rt.ledger.sources.state(source_id), full=full)
    else:
        listing = Listing(source.discover())
    try:
        for batch in _chunks(iter(listing.refs), BATCH):
            found.take(batch)
    finally:
        found.behind.close()  # every item written before the unlisted are looked for
    gone, left_out = found.removals(listing, prune)
    if left_out:
        rt.ledger.jobs.record_left_out(job_id, len(left_out))
    rt.send_all([Task.for_version(Stage.REMOVE, job_id, key, version, priority)
                 for key, version in rt.ledger.versions.start_removals(job_id, gone)])
    if isinstance(source, IncrementalSource):
        rt.ledger.sources.save_state(source_id, listing.state)
    rt.ledger.jobs.end_discovery(job_id)
    counts = found.counts
    log.info("discovered %s%s: %d new, %d changed, %d relabelled, %d unchanged, %d refused, %d gone, %d left out "
             "by the filters", source_id, "" if listing.complete else " (changes only)", counts["new"],
             counts["changed"], counts["relabelled"], counts["unchanged"], counts["refused"], len(gone),
             len(left_out))
