"""The nearest chunks that pass a filter, also where many chunks hold one and the same text.

A store's nearest-neighbour index (Chroma's HNSW; Qdrant's once a collection
is large enough to get one) walks a graph with a beam of ``ef`` candidates
(100 in Chroma) and stops when no unvisited neighbour is closer than the
worst candidate it holds. Copies of one text, say one file uploaded hundreds
of times, are one point repeated: the beam fills with copies at one
distance, their links lead to more copies, and the walk ends among them
whatever lies beyond. Asked for "annual leave days per year", a Chroma
collection holding 352 copies of a one-word note answered three copies at
0.002 and never the handbook page at 0.82, at any k: a filter that leaves
the copies in does not help, and one that leaves them out (``owner!=alice``)
found the page, because the store's filtered walk passes through what the
filter refuses without collecting it.

So :func:`nearest` asks for a few more hits than wanted, and when two of them
hold the same text, asks again with those texts filtered out (the store then
walks through the copies rather than stopping in them) and merges the two
answers by score: the copies keep their place, and what they hid is found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from .filters import Condition, Filter
from .interfaces import VectorStore
from .values import SearchHit, text_hash

__all__ = ["nearest"]

#: Hits asked for beyond ``k``: enough for two copies of one text to show among them.
EXTRA = 2
#: Searches at most per query: each further one leaves out the texts found copied in the one before.
MAX_ROUNDS = 4


def nearest(store: VectorStore, vector: Sequence[float] | Any, k: int, where: Filter = ()) -> list[SearchHit]:
    """The ``k`` chunks nearest ``vector`` that pass ``where``, best first, copies of one text included
    without hiding the chunks beyond them (module docstring). Stores filter on ``hash``, the text hash every
    store keeps per chunk."""
    fetch = k + EXTRA
    found: dict[str, SearchHit] = {}
    left_out: set[str] = set()
    hits = _query(store, vector, fetch, where)
    for _ in range(MAX_ROUNDS):
        found.update((hit.id, hit) for hit in hits)
        copied = {digest for digest, count in Counter(text_hash(hit.text) for hit in hits).items() if count > 1}
        if not copied - left_out:
            break
        left_out |= copied
        hits = _query(store, vector, fetch, where + tuple(Condition("hash", "!=", d) for d in sorted(left_out)))
    return sorted(found.values(), key=lambda hit: hit.score, reverse=True)[:k]


def _query(store: VectorStore, vector: Any, k: int, where: Filter) -> list[SearchHit]:
    return store.query(vector, k, where=where) if where else store.query(vector, k)
