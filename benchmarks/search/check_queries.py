"""Check that every label of queries.jsonl is true of the built corpus.

    .venv/bin/python benchmarks/search/check_queries.py [--corpus DIR]

For each query: the fields are there and well-formed; the labelled document is in the corpus and the pages
are in range; the evidence phrase is on the labelled page (compared in pages.normal form); and for an
"exact" query, the term is on every labelled page and in no other document (compared without case or
accents, as a user would type it), so the labels name every document that holds it. Exits non-zero listing
every failure. Without --corpus, builds the corpus in a temporary folder first (corpus.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pages import normal, page_texts

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "queries.jsonl"
KINDS = ("exact", "semantic")
MINIMUM = 40  # queries of each kind


def folded(text: str) -> str:
    """Without case or accents: "Kraków" and "krakow" are one."""
    return "".join(c for c in unicodedata.normalize("NFKD", normal(text)) if not unicodedata.combining(c)).casefold()


def load(path: Path = QUERIES) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def answer_pages(query: Mapping[str, Any]) -> list[int]:
    """The pages that answer a query: ``pages`` when given, else ``page``."""
    return list(query.get("pages") or [query["page"]])


def problems(queries: list[dict[str, Any]], docs: Path) -> list[str]:
    """Everything wrong with the labels, one line each (none: all true)."""
    found: list[str] = []
    texts = {pdf.name: [normal(t) for t in page_texts(pdf)] for pdf in sorted(docs.glob("*.pdf"))}
    folds = {name: [folded(t) for t in pages] for name, pages in texts.items()}
    ids: set[str] = set()
    for q in queries:
        label = q.get("id", "?")
        missing = {"id", "kind", "query", "doc", "page", "evidence"} - q.keys()
        if missing:
            found.append(f"{label}: missing {', '.join(sorted(missing))}")
            continue
        if label in ids:
            found.append(f"{label}: id used twice")
        ids.add(label)
        if q["kind"] not in KINDS:
            found.append(f"{label}: kind {q['kind']!r} is not one of {KINDS}")
        pages = answer_pages(q)
        if q["page"] not in pages:
            found.append(f"{label}: page {q['page']} is not among pages {pages}")
        if q["doc"] not in texts:
            found.append(f"{label}: {q['doc']} is not in the corpus")
            continue
        doc = texts[q["doc"]]
        if not all(isinstance(p, int) and 1 <= p <= len(doc) for p in pages):
            found.append(f"{label}: pages {pages} not within 1..{len(doc)} of {q['doc']}")
            continue
        if normal(q["evidence"]) not in doc[q["page"] - 1]:
            found.append(f"{label}: evidence {q['evidence']!r} is not on page {q['page']} of {q['doc']}")
        if q["kind"] == "exact":
            term = folded(q["query"])
            absent = [p for p in pages if term not in folds[q["doc"]][p - 1]]
            if absent:
                found.append(f"{label}: the term {q['query']!r} is not on page(s) {absent} of {q['doc']}")
            elsewhere = [name for name, texts_ in folds.items()
                         if name != q["doc"] and any(term in t for t in texts_)]
            if elsewhere:
                found.append(f"{label}: the term {q['query']!r} is also in {', '.join(elsewhere)}")
    for kind in KINDS:
        count = sum(q.get("kind") == kind for q in queries)
        if count < MINIMUM:
            found.append(f"only {count} {kind} queries (at least {MINIMUM} wanted)")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="a corpus built by corpus.py (default: build one now)")
    args = parser.parse_args()
    queries = load()
    with tempfile.TemporaryDirectory(prefix="docmill-search-") as scratch:
        corpus = args.corpus
        if corpus is None:
            import corpus as builder

            corpus = Path(scratch)
            builder.build(corpus)
        wrong = problems(queries, corpus / "docs")
    kinds = {kind: sum(q.get("kind") == kind for q in queries) for kind in KINDS}
    if wrong:
        print("\n".join(wrong), file=sys.stderr)
        sys.exit(f"check_queries.py: {len(wrong)} problem(s) in {len(queries)} queries")
    print(f"{len(queries)} queries ({kinds['exact']} exact, {kinds['semantic']} semantic): every label holds")


if __name__ == "__main__":
    main()
