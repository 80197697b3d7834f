"""Search by meaning, by words, or both: how docmill ranks (``docmill search --mode``, ``GET /v1/search?mode=``).

* ``dense``: the chunks whose vectors are nearest the query's (``core.search.nearest``).
* ``keyword``: the chunks that best match the query's words in the keyword index (BM25).
* ``hybrid``, the default: both, fused. Each side gives its best :data:`DEPTH`
  chunks that pass the filter (the same filter, the caller's grant included,
  goes to both before anything is ranked, so ``k`` results that pass come
  back whenever that many exist); each side's scores are scaled to 0..1
  over its list (min-max), and a chunk's score is
  ``(1 - w) * dense + w * keyword``, 0 on a side that did not find it.
  Coverage is the share of the query's words that a chunk holds. When the
  best keyword match holds every word of the query (an invoice number, a
  macro name, a person's name), the words decide: ``w`` = 0.999, so that
  meaning only breaks ties. Otherwise ``w`` is ``0.25 + 0.5 * coverage`` of
  the best keyword match: a question in other words than the page's leans on
  meaning (``w`` near 0.25), and the keyword side adds what it is sure of:
  each keyword hit's scaled score is multiplied by its own coverage, so a
  chunk that shares one word of three with the query (``crossing`` in a page
  on pruning, for "animals crossing the savanna") cannot lift itself above
  the chunk that is clearly nearest in meaning.

Measured on the search benchmark (benchmarks/search, 132 queries written
before any measuring): reciprocal-rank fusion with equal weights lost the
keyword side's first place on identifier queries (exact page@5 0.93
against 1.00) and the dense side's on questions (0.56 against 0.61); this
weighting keeps exact queries at the keyword side's figures and raises
questions above dense alone (page@5 0.62, MRR@10 0.511 against 0.61 and
0.482; benchmarks/search/README.md has the table, and what scaling each
keyword hit by its own coverage cost and fixed).

A query with no words to look for (stop words only) has no keyword side:
hybrid search answers it by meaning alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError
from .filters import Filter
from .indexes import keywords_of
from .interfaces import VectorStore
from .search import nearest
from .tokenizer import query_terms, text_terms
from .values import SearchHit

__all__ = ["DEPTH", "MODES", "RankedHit", "coverage", "fuse", "search"]

#: The ways to rank.
MODES = ("hybrid", "dense", "keyword")
#: Hits each side gives the fusion.
DEPTH = 50
#: The keyword weight: BASE + SPAN * coverage of the query by the best keyword match, 1 when it holds them all.
BASE, SPAN = 0.25, 0.5
#: How much meaning counts where the words decide: enough to break a tie, never to reorder.
TIE = 1e-3


@dataclass(frozen=True)
class RankedHit:
    """A result and how each side ranked it: ``dense`` and ``keyword`` are (rank, score) on that side, 1-based,
    or None where that side did not find it (or was not asked)."""

    hit: SearchHit
    dense: tuple[int, float] | None = None
    keyword: tuple[int, float] | None = None


def coverage(query: str, text: str) -> float:
    """The share of the query's words that ``text`` holds, as the keyword index matches them (whole, as a part of
    a long word, or as the start of a word); 0 for a query without words."""
    terms = query_terms(query)
    if not terms:
        return 0.0
    words, parts = text_terms(text)
    held = set(words) | set(parts)
    found = sum(1 for t in terms if t.word in held or (t.prefix and any(w.startswith(t.word) for w in words)))
    return found / len(terms)


def _scaled(hits: Sequence[SearchHit]) -> dict[str, float]:
    low, high = min(h.score for h in hits), max(h.score for h in hits)
    return {h.id: (h.score - low) / (high - low) if high > low else 1.0 for h in hits}


def fuse(query: str, dense: Sequence[SearchHit], keyword: Sequence[SearchHit], k: int) -> list[RankedHit]:
    """The best ``k`` of both lists, by the weighted sum of their scaled scores (module docstring)."""
    dense_at = {h.id: (rank, h.score) for rank, h in enumerate(dense, start=1)}
    keyword_at = {h.id: (rank, h.score) for rank, h in enumerate(keyword, start=1)}
    if not keyword:
        return [RankedHit(h, dense_at[h.id], None) for h in dense[:k]]
    if not dense:
        return [RankedHit(h, None, keyword_at[h.id]) for h in keyword[:k]]
    covered = coverage(query, keyword[0].text)
    weight = 1.0 - TIE if covered >= 1.0 else BASE + SPAN * covered
    on_dense, on_keyword = _scaled(dense), _scaled(keyword)
    if covered < 1.0:
        on_keyword = {h.id: on_keyword[h.id] * coverage(query, h.text) for h in keyword}
    hits = {h.id: h for h in (*keyword, *dense)}
    scores = {i: (1 - weight) * on_dense.get(i, 0.0) + weight * on_keyword.get(i, 0.0) for i in hits}
    best = sorted(hits, key=lambda i: -scores[i])[:k]  # stable: a tie keeps the keyword side's order
    return [RankedHit(_rescored(hits[i], scores[i]), dense_at.get(i), keyword_at.get(i)) for i in best]


def _rescored(hit: SearchHit, score: float) -> SearchHit:
    return SearchHit(hit.id, hit.doc, hit.page, score, hit.text, hit.metadata)


def search(store: VectorStore, embed: Callable[[str], Any], query: str, k: int, where: Filter = (),
           mode: str = "hybrid") -> list[RankedHit]:
    """The ``k`` best chunks for ``query`` that pass ``where``, ranked as ``mode`` says (module docstring).
    ``embed`` gives the query's vector (not called by a keyword search). ConfigurationError for a keyword
    search where no keyword index is configured, or an unknown mode."""
    if mode not in MODES:
        raise ConfigurationError(f"unknown search mode {mode!r}: one of {', '.join(MODES)}")
    keywords = keywords_of(store)
    if mode == "keyword":
        if keywords is None:
            raise ConfigurationError("keyword search needs a keyword index, and DOCMILL_KEYWORD_INDEX is none")
        return [RankedHit(h, None, (rank, h.score)) for rank, h in enumerate(keywords.search(query, k, where), 1)]
    if mode == "dense" or keywords is None:
        return [RankedHit(h, (rank, h.score), None) for rank, h in
                enumerate(nearest(store, embed(query), k, where), start=1)]
    depth = max(DEPTH, k)
    found = keywords.search(query, depth, where)
    return fuse(query, nearest(store, embed(query), depth, where), found, k)
