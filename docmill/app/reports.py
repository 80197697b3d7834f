"""What the index holds and what became of each document: the reports every front end shows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..core.errors import ConfigurationError
from ..core.filters import Filter
from ..core.interfaces import VectorStore
from ..core.ledger_records import State
from ..core.values import SearchHit, StoredChunk
from ..settings import Settings
from .backend import open_backend
from .specs import has_ledger, source_id

__all__ = ["JOB_PAGE", "dead_letters", "export", "filtered_query", "index_status", "job_status", "search"]


def index_status(settings: Settings, *, limit: int | None = None) -> dict[str, Any]:
    """Documents by state, chunk totals, failures and skips with their reasons, and each source's last sync.

    With ``limit``, only the first ``limit`` failures and skips (by name); ``more_failures`` and
    ``more_skipped`` say how many are left out.
    """
    from ..core.ledger import Ledger

    counts: dict[str, int] = {}
    totals: dict[str, int] = {"chunks": 0, "embedded": 0, "reused": 0}
    failures: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    more_failures = more_skipped = 0
    syncs: dict[str, Any] = {}
    if has_ledger(settings):
        with Ledger(settings.ledger_database_url) as ledger:
            counts, totals = ledger.documents.state_counts(), ledger.documents.chunk_totals()
            failed, more_failures = ledger.documents.failures(limit)
            failures = [{"doc": r.name, "stage": r.stage, "error": r.error_kind, "reason": r.error} for r in failed]
            skips, more_skipped = ledger.documents.skips(limit)
            skipped = [{"doc": r.name, "error": r.error_kind, "reason": r.error} for r in skips]
            syncs = ledger.sources.last_syncs()
    documents = {"total": sum(counts.values()), **{state.value: counts.get(state, 0) for state in State if state.final},
                 "pending": counts.get(State.PENDING, 0) + counts.get(State.DELETING, 0)}
    return {"documents": documents, **totals, "failures": failures, "more_failures": more_failures,
            "skipped": skipped, "more_skipped": more_skipped,
            "sources": {s.name: syncs.get(source_id(s.name)) for s in settings.sources}}


#: Items of a job shown unless a front end asks for another page size.
JOB_PAGE = 100


def job_status(settings: Settings, job_id: str, *, limit: int | None = JOB_PAGE, after: str | None = None,
               state: str | None = None, stage: str | None = None) -> dict[str, Any]:
    """One job: its kind, priority and times, whether it finished, counts, and a page of its documents.

    ``items`` are the first ``limit`` documents (None: all) in key order after
    ``after``, of the ``state`` and ``stage`` asked for; ``more`` counts those
    that match after them, and ``next`` is the ``after`` of the next page
    (None when there is none). KeyError if there is no such job.
    """
    from ..core.ledger import Ledger

    if not has_ledger(settings):
        raise KeyError(job_id)
    with Ledger(settings.ledger_database_url) as ledger:
        info = ledger.jobs.info(job_id)
        progress = ledger.jobs.progress(job_id)  # first: a finished job's items are then all written
        items, more = ledger.jobs.items(job_id, limit=limit, after=after, state=state, stage=stage)
    return {**info, "finished": progress.finished, "counts": progress.counts, "items": items, "more": more,
            "next": items[-1]["key"] if more else None}


def dead_letters(settings: Settings, *, limit: int | None = None, after: str | None = None
                 ) -> tuple[list[dict[str, Any]], int, tuple[int, int, int] | None]:
    """A page of dead letters (oldest first: the first ``limit`` after the dead letter ``after``), how many
    follow it, and (distributed mode) how many of RabbitMQ's dead messages match a dead letter, how many no
    failed document stands for, and how many the ledger still waits for (lost in an outage, not failed)."""
    from ..core.ledger import Ledger

    if not has_ledger(settings):
        return [], 0, None
    with Ledger(settings.ledger_database_url) as ledger:
        rows = ledger.dead_letters.entries(limit=limit, after=after)
        more = 0 if limit is None or len(rows) < limit else ledger.dead_letters.count(after=rows[-1].dead_letter)
    entries = [{"id": r.dead_letter, "doc": r.name, "stage": r.stage, "error": r.error_kind, "reason": r.error,
                "attempts": r.attempts, "failed_at": r.finished_at} for r in rows]
    backend = open_backend(settings)
    try:
        return entries, more, backend.dead_messages()
    finally:
        backend.close()


def _has_index(settings: Settings) -> bool:
    """Whether there is an index to read without creating one: a ledger, or a store on a server."""

    return has_ledger(settings) or settings.plugin_registry().store_is_remote(settings)


def filtered_query(store: VectorStore, vector: Any, k: int, where: Filter = ()) -> list[SearchHit]:
    """The store's ``k`` nearest chunks that pass ``where`` (``core.search.nearest``: copies of one text do not
    hide what lies beyond them); ConfigurationError when a store written before filters is asked to filter."""
    from ..core.search import nearest

    try:
        return nearest(store, vector, k, where)
    except TypeError as exc:
        if "where" not in str(exc):
            raise
        if where:
            raise ConfigurationError(f"the {store.name} store cannot filter a search") from exc
        return store.query(vector, k)


def search(settings: Settings, query: str, k: int = 5, where: Filter = ()) -> list[SearchHit]:
    """The ``k`` chunks closest in meaning to ``query`` that pass ``where`` (none when nothing is indexed).

    Only the embedder and the store are built: a search opens no ledger.
    ConfigurationError when ``where`` is given and the store cannot filter.
    """
    if not _has_index(settings):
        return []

    plugins = settings.plugin_registry()
    embedder = plugins.embedder(settings)
    store = plugins.vector_store(settings, embedder.dimension, embedder.model)
    try:
        if not store.count():
            return []
        return filtered_query(store, embedder.embed_query(query), k, where)
    finally:
        store.close()


def export(settings: Settings, *, vectors: bool = False) -> Iterator[StoredChunk]:
    """Every stored chunk (with its vector when asked)."""
    if not _has_index(settings):
        return
    from ..core.runtime import Runtime

    runtime = Runtime(settings, plugins=settings.plugin_registry())
    try:
        yield from runtime.store.iter_chunks(with_vectors=vectors)
    finally:
        runtime.close()
