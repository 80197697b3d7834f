"""What the index holds and what became of each document: the reports every front end shows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..core.errors import ConfigurationError
from ..core.filters import Filter
from ..core.hybrid import RankedHit
from ..core.interfaces import KeywordIndex, VectorStore
from ..core.ledger_records import State
from ..core.values import StoredChunk
from ..settings import Settings
from .backend import open_backend
from .specs import has_ledger, source_id

__all__ = ["JOB_PAGE", "dead_letters", "export", "hit_record", "index_status", "job_status", "ranked", "search"]


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


def ranked(store: VectorStore, embed: Callable[[str], Any], query: str, k: int, where: Filter = (),
           mode: str = "hybrid") -> list[RankedHit]:
    """``core.hybrid.search`` over ``store``; ConfigurationError when a store written before filters is asked to
    filter."""
    from ..core.hybrid import search as ranked_search

    try:
        return ranked_search(store, embed, query, k, where, mode)
    except TypeError as exc:
        if "where" not in str(exc):
            raise
        if where:
            raise ConfigurationError(f"the {store.name} store cannot filter a search") from exc
        return [RankedHit(h, (rank, h.score)) for rank, h in enumerate(store.query(embed(query), k), start=1)]


def search(settings: Settings, query: str, k: int = 5, where: Filter = (), mode: str = "hybrid"
           ) -> list[RankedHit]:
    """The ``k`` chunks that best answer ``query`` and pass ``where``, ranked as ``mode`` says
    (``core.hybrid``); none when nothing is indexed.

    Only the embedder, the store and the keyword index are built: a search opens no ledger, except once to fill
    an empty keyword index from the vector store's chunk texts (an index written before keyword search).
    ConfigurationError when ``where`` is given and the store cannot filter.
    """
    if not _has_index(settings):
        return []
    from ..core.indexes import paired

    plugins = settings.plugin_registry()
    embedder = plugins.embedder(settings)
    vectors = plugins.vector_store(settings, embedder.dimension, embedder.model)
    keywords = None
    try:
        keywords = plugins.keyword_index(settings) if mode != "dense" else None
        if not vectors.count():
            return []
        if keywords is not None and not keywords.count() and has_ledger(settings):
            _fill(settings, vectors, keywords)
        return ranked(paired(vectors, keywords), embedder.embed_query, query, k, where, mode)
    finally:
        if keywords is not None:
            keywords.close()
        vectors.close()


def hit_record(ranked: RankedHit, *, digits: int | None = None) -> dict[str, Any]:
    """A search result as the command line's ``--json`` and the HTTP API give it: doc, page, score, text, id and
    metadata, and each side's rank and score (``dense_rank``, ``dense_score``, ``keyword_rank``,
    ``keyword_score``; null where that side did not find the chunk)."""
    def number(value: float | None) -> float | None:
        return value if value is None or digits is None else round(value, digits)

    hit, dense, keyword = ranked.hit, ranked.dense, ranked.keyword
    return {"doc": hit.doc, "page": hit.page, "score": number(hit.score), "text": hit.text, "id": hit.id,
            "metadata": dict(hit.metadata), "dense_rank": dense[0] if dense else None,
            "dense_score": number(dense[1]) if dense else None, "keyword_rank": keyword[0] if keyword else None,
            "keyword_score": number(keyword[1]) if keyword else None}


def _fill(settings: Settings, vectors: VectorStore, keywords: KeywordIndex) -> None:
    """Fill the keyword index of an index written before keyword search, once (``core.keyword_fill``)."""
    from ..core.keyword_fill import fill_keywords
    from ..core.ledger import Ledger

    with Ledger(settings.ledger_database_url) as ledger:
        fill_keywords(ledger, vectors, keywords, settings.collection)


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
