"""The benchmark's own arithmetic and label checks, on small made-up inputs.

    .venv/bin/pytest benchmarks/search

pytest puts this folder first on sys.path (its default "prepend" import mode), so the benchmark's modules
import by name, as they do when run as scripts.
"""

from __future__ import annotations

from pathlib import Path

import check_queries
import pymupdf
from evaluate import judge, summarise
from rankers import BM25, Fusion, Hit, tokens

QUERY = {"id": "e01", "kind": "exact", "query": "INV-0042", "doc": "a.pdf", "page": 2, "pages": [2, 3],
         "evidence": "INV-0042"}


def test_judge_counts_ranks_of_the_labelled_document_and_pages() -> None:
    hits = [Hit("b.pdf", 2, 0.9), Hit("a.pdf", 1, 0.8), Hit("a.pdf", 5, 0.7), Hit("b.pdf", 1, 0.6),
            Hit("c.pdf", 1, 0.5), Hit("a.pdf", 3, 0.4)]
    assert judge(QUERY, hits) == {"doc@5": True, "page@5": False, "rr@10": 1 / 6, "rank": 6}
    assert judge(QUERY, hits[5:]) == {"doc@5": True, "page@5": True, "rr@10": 1.0, "rank": 1}
    assert judge(QUERY, [Hit("b.pdf", 2, 1.0)] * 10 + [Hit("a.pdf", 2, 0.1)])["rr@10"] == 0.0


def test_summarise_averages_per_kind_and_overall() -> None:
    queries = [QUERY, {**QUERY, "id": "s01", "kind": "semantic"}]
    results = {"x": {"queries": [{"id": "e01", "doc@5": True, "page@5": True, "rr@10": 1.0},
                                 {"id": "s01", "doc@5": True, "page@5": False, "rr@10": 0.0}]}}
    summary = summarise(queries, results)["x"]
    assert summary["exact"] == {"n": 1, "doc@5": 1.0, "page@5": 1.0, "mrr@10": 1.0}
    assert summary["all"] == {"n": 2, "doc@5": 1.0, "page@5": 0.5, "mrr@10": 0.5}


def test_bm25_ranks_the_chunk_holding_the_rare_term_first() -> None:
    chunks = [{"id": str(n), "doc": f"{n}.pdf", "page": 1, "text": text} for n, text in enumerate(
        ["the invoice is paid", "invoice INV-0042 for the shelves", "the shelves are oak", "nothing here"])]
    assert tokens("Rechnung INV-0042, user@example.org") == ["rechnung", "inv", "0042", "user", "example", "org"]
    hits = BM25(chunks)("INV-0042 shelves", 3)
    assert [hit.chunk for hit in hits] == ["1", "2"]
    assert BM25(chunks)("absent words", 3) == []


def test_fusion_adds_reciprocal_ranks_per_chunk() -> None:
    one = [Hit("a.pdf", 1, 0.9, "x"), Hit("a.pdf", 2, 0.8, "y")]
    two = [Hit("a.pdf", 2, 5.0, "y"), Hit("b.pdf", 1, 4.0, "z")]
    fused = Fusion([lambda q, k: one, lambda q, k: two], k=60)("q", 3)
    assert [hit.chunk for hit in fused] == ["y", "x", "z"]
    assert fused[0].score == 1 / 62 + 1 / 61
    assert fused[1].score == 1 / 61


def test_check_queries_reports_a_label_that_does_not_hold(tmp_path: Path) -> None:
    doc = pymupdf.open()
    for text in ("Page one mentions INV-0041.", "Page two: invoice INV-0042 is due."):
        doc.new_page().insert_text((72, 72), text)
    doc.save(tmp_path / "a.pdf")

    def labels(queries: list[dict[str, object]]) -> list[str]:
        return [p for p in check_queries.problems(queries, tmp_path) if not p.startswith("only ")]

    assert labels([{**QUERY, "pages": [2]}]) == []
    assert labels([QUERY, {**QUERY, "id": "e02", "page": 1, "pages": [1]}, {**QUERY, "id": "e03", "doc": "b.pdf"}]) == [
        "e01: pages [2, 3] not within 1..2 of a.pdf",
        "e02: evidence 'INV-0042' is not on page 1 of a.pdf",
        "e02: the term 'INV-0042' is not on page(s) [1] of a.pdf",
        "e03: b.pdf is not in the corpus",
    ]
