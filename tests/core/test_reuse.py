"""Chunk-level reuse: editing one paragraph of a long document re-embeds only the chunks that changed."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from ..indexes import indexes_agree

pytestmark = pytest.mark.slow

WORDS = [
    "harbour", "ledger", "copper", "lantern", "orchard", "meadow", "thunder", "violin", "granite", "willow",
    "ember", "falcon", "marble", "saffron", "glacier", "cobalt", "juniper", "quarry", "tundra", "beacon",
    "canyon", "prairie", "lagoon", "summit", "vessel", "cipher",
]


def _paragraph(page: int, index: int) -> str:
    rng = random.Random(page * 100 + index)
    sentences = []
    for _ in range(5):
        words = rng.choices(WORDS, k=rng.randint(8, 14))
        sentences.append(" ".join(words).capitalize() + ".")
    return f"Section {page}.{index}. " + " ".join(sentences)


def write_report(path: Path, *, edited: bool) -> None:
    """A 12-page born-digital report; ``edited`` rewrites one paragraph on page 7."""
    doc = pymupdf.open()
    for number in range(1, 13):
        paragraphs = [_paragraph(number, i) for i in range(4)]
        if edited and number == 7:
            paragraphs[2] = ("Section 7.2. This paragraph was rewritten after the review: the budget for the "
                             "lighthouse restoration moved to next spring, and the contractor changed.")
        page = doc.new_page(width=595, height=842)
        page.insert_textbox(pymupdf.Rect(60, 60, 535, 800), "\n\n".join(paragraphs), fontsize=10)
    doc.save(path)


def test_editing_one_paragraph_re_embeds_only_the_changed_chunks(tmp_path: Path, cli: Any, exported: Any) -> None:
    # On Chroma, the default (the editing test in test_ingest_cli.py runs on Qdrant); the store contract
    # checks on both stores that vectors are found by their text's hash, which reuse rests on.
    root = tmp_path / "docs"
    root.mkdir()
    report = root / "report.pdf"
    write_report(report, edited=False)
    first = cli.json("ingest", str(root))
    assert first["done"] == 1 and first["embedded"] == first["chunks"] > 24 and first["reused"] == 0
    before = {c["text"] for c in exported()}

    write_report(report, edited=True)
    second = cli.json("ingest", str(root))
    after = exported()
    new_texts = [c for c in after if c["text"] not in before]
    assert second["done"] == 1 and second["chunks"] == len(after)
    assert second["embedded"] == len(new_texts) <= 3
    assert second["reused"] == len(after) - len(new_texts)
    assert {c["page"] for c in new_texts} == {7}
    status = cli.json("status")
    assert (status["chunks"], status["embedded"], status["reused"]) == (len(after), len(new_texts),
                                                                        len(after) - len(new_texts))
    assert cli.json("search", "lighthouse restoration budget", "-k", "1")[0]["page"] == 7
    # Reused vectors did not skip the keyword index: it holds the new version's chunks, and only them
    assert indexes_agree() == len(after)
    assert cli.json("search", "lighthouse restoration", "--mode", "keyword", "-k", "1")[0]["page"] == 7
