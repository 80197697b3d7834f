"""Rankers for the search benchmark: anything with ``rank(query, k) -> list[Hit]`` can be measured.

* ``DocmillDense``: docmill's own search, as a user runs it: ``docmill search QUERY -k K --json`` over a home
  where the corpus was ingested with ``docmill ingest``.
* ``BM25``: a plain Okapi BM25 over the chunk texts ``docmill export`` gives, with a simple tokeniser (words of
  letters and digits, case folded). A reference point only, not the product's keyword index.
* ``Fusion``: reciprocal-rank fusion of rankers (score = sum of 1 / (k + rank)), chunk by chunk.
* ``DocmillSearch``: docmill's own ranking in this process (``app.reports.ranked``, what ``docmill search`` and
  ``GET /v1/search`` run) over an index opened once, in a mode: ``dense``, ``keyword`` or ``hybrid``.
* ``KeywordOnly``: a keyword index (``docmill.KeywordIndex``) filled from the exported chunks, and
  ``Fused``: docmill's fusion (``core.hybrid.fuse``) of the dense side and such an index.

A ``Hit`` is ``(doc, page, score)`` plus, when the ranker knows it, the chunk's id (fusion needs it to tell
two chunks of one page apart). ``doc`` is the file name relative to the ingested folder.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple


class Hit(NamedTuple):
    doc: str
    page: int | None
    score: float
    chunk: str | None = None


Ranker = Callable[[str, int], list[Hit]]


def docmill_env(home: Path) -> dict[str, str]:
    """This process's environment with only ``DOCMILL_HOME`` of docmill's settings: the embedded default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCMILL_")}
    env["DOCMILL_HOME"] = str(home)
    return env


def docmill(home: Path, *args: str) -> str:
    """Run a docmill command of this checkout (the interpreter's) on ``home``; its standard output."""
    done = subprocess.run([sys.executable, "-m", "docmill", *args], env=docmill_env(home), capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"docmill {' '.join(args)} failed ({done.returncode}):\n{done.stderr.strip()}")
    return done.stdout


def export(home: Path) -> list[dict[str, Any]]:
    """Every chunk of the index, as ``docmill export`` prints it (id, doc, page, text, metadata)."""
    return [json.loads(line) for line in docmill(home, "export").splitlines() if line.strip()]


class DocmillDense:
    """``docmill search QUERY -k K --json --mode MODE``, one command per query: what a user of the CLI gets."""

    def __init__(self, home: Path, mode: str = "dense") -> None:
        self.home, self.mode = home, mode

    def __call__(self, query: str, k: int) -> list[Hit]:
        hits = json.loads(docmill(self.home, "search", query, "-k", str(k), "--json", "--mode", self.mode))
        return [Hit(h["doc"], h["page"], h["score"], h["id"]) for h in hits]


class DocmillSearch:
    """docmill's ranking (``app.reports.ranked``) in this process, over the index in ``home`` opened once."""

    def __init__(self, runtime: Any, mode: str) -> None:
        self.runtime, self.mode = runtime, mode

    def ranked(self, query: str, k: int) -> list[Any]:
        from docmill.app.reports import ranked

        return ranked(self.runtime.store, self.runtime.embedder.embed_query, query, k, (), self.mode)

    def __call__(self, query: str, k: int) -> list[Hit]:
        return [Hit(r.hit.doc, r.hit.page, r.hit.score, r.hit.id) for r in self.ranked(query, k)]


def fill(index: Any, chunks: Iterable[dict[str, Any]]) -> Any:
    """A keyword index holding the exported chunks, written a document at a time as the store stage does."""
    from docmill.core.values import Chunk, text_hash

    by_doc: dict[str, list[Any]] = defaultdict(list)
    for seq, chunk in enumerate(chunks):
        by_doc[chunk["doc"]].append(Chunk(chunk["id"], chunk["doc"], seq, chunk["page"], chunk["text"],
                                          text_hash(chunk["text"])))
    for doc, part in by_doc.items():
        index.upsert(part, doc=doc, version=1, metadata={})
    return index


class KeywordOnly:
    """A keyword index's own ranking."""

    def __init__(self, index: Any) -> None:
        self.index = index

    def __call__(self, query: str, k: int) -> list[Hit]:
        return [Hit(h.doc, h.page, h.score, h.id) for h in self.index.search(query, k)]


class Fused:
    """docmill's fusion (``core.hybrid.fuse``) of docmill's dense side and a keyword index, each ``depth`` deep."""

    def __init__(self, dense: DocmillSearch, index: Any, depth: int = 50) -> None:
        self.dense, self.index, self.depth = dense, index, depth

    def __call__(self, query: str, k: int) -> list[Hit]:
        from docmill.core.hybrid import fuse

        dense = [r.hit for r in self.dense.ranked(query, self.depth)]
        fused = fuse(query, dense, self.index.search(query, self.depth), k)
        return [Hit(r.hit.doc, r.hit.page, r.hit.score, r.hit.id) for r in fused]


_WORD = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """Runs of letters and digits, NFKC-normalised and case folded: "INV-0042" is ["inv", "0042"]."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


class BM25:
    """Okapi BM25 (k1 = 1.2, b = 0.75, Lucene's idf) over chunks, held in memory."""

    def __init__(self, chunks: Iterable[dict[str, Any]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.chunks: list[dict[str, Any]] = list(chunks)
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.lengths: list[int] = []
        for number, chunk in enumerate(self.chunks):
            counts = Counter(tokens(chunk["text"]))
            self.lengths.append(sum(counts.values()))
            for term, count in counts.items():
                self.postings[term].append((number, count))
        self.average = sum(self.lengths) / max(len(self.lengths), 1)

    def idf(self, term: str) -> float:
        having = len(self.postings.get(term, ()))
        return math.log(1 + (len(self.chunks) - having + 0.5) / (having + 0.5))

    def __call__(self, query: str, k: int) -> list[Hit]:
        scores: dict[int, float] = defaultdict(float)
        for term in set(tokens(query)):
            idf = self.idf(term)
            for number, count in self.postings.get(term, ()):
                norm = self.k1 * (1 - self.b + self.b * self.lengths[number] / self.average)
                scores[number] += idf * count * (self.k1 + 1) / (count + norm)
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [Hit(self.chunks[n]["doc"], self.chunks[n]["page"], score, self.chunks[n]["id"]) for n, score in best]


class Fusion:
    """Reciprocal-rank fusion: each ranker's top ``depth`` hits, score = sum of 1 / (k + rank)."""

    def __init__(self, rankers: Sequence[Ranker], k: int = 60, depth: int = 50) -> None:
        self.rankers, self.k, self.depth = list(rankers), k, depth

    def fuse(self, lists: Sequence[Sequence[Hit]], k: int) -> list[Hit]:
        scores: dict[Any, float] = defaultdict(float)
        first: dict[Any, Hit] = {}
        for hits in lists:
            for rank, hit in enumerate(hits, start=1):
                key = hit.chunk or (hit.doc, hit.page)
                scores[key] += 1 / (self.k + rank)
                first.setdefault(key, hit)
        best = sorted(scores, key=lambda key: -scores[key])[:k]  # stable: ties keep the first ranker's order
        return [first[key]._replace(score=scores[key]) for key in best]

    def __call__(self, query: str, k: int) -> list[Hit]:
        return self.fuse([rank(query, self.depth) for rank in self.rankers], k)


class Cached:
    """A ranker's answers kept, deepest first, so that fusion and the plain ranker share one call per query."""

    def __init__(self, ranker: Ranker, depth: int) -> None:
        self.ranker, self.depth = ranker, depth
        self.answers: dict[str, list[Hit]] = {}

    def __call__(self, query: str, k: int) -> list[Hit]:
        if k > self.depth:
            return self.ranker(query, k)
        if query not in self.answers:
            self.answers[query] = self.ranker(query, self.depth)
        return self.answers[query][:k]
