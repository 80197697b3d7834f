"""The text chunker: bounded, page-aware, overlapping, deterministic."""

from __future__ import annotations

import itertools

import pytest

from docmill.core.values import Page
from docmill.plugins.chunker import TextChunker

PROSE = " ".join(f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(120))


def test_chunks_respect_the_size_and_never_span_pages() -> None:
    pages = [Page(1, PROSE), Page(2, ""), Page(3, "A short closing remark on page three.")]
    chunks = TextChunker(300, 60).chunk(pages)
    assert all(len(c.text) <= 300 for c in chunks)
    assert {c.page for c in chunks} == {1, 3}
    assert chunks[-1].text == "A short closing remark on page three."


def test_consecutive_chunks_overlap_and_together_cover_the_text() -> None:
    chunks = TextChunker(300, 80).chunk([Page(1, PROSE)])
    for before, after in itertools.pairwise(chunks):
        shared = max(k for k in range(81) if before.text.endswith(after.text[:k]))
        assert 40 <= shared <= 80, (before.text[-90:], after.text[:90])
    words = set(" ".join(c.text for c in chunks).split())
    assert words == set(PROSE.split())


def test_lines_of_a_paragraph_are_joined_and_paragraphs_kept_apart() -> None:
    text = "The quick brown\nfox jumps over\nthe lazy dog.\n\nA second paragraph\nstarts here."
    [chunk] = TextChunker(800, 100).chunk([Page(None, text)])
    assert chunk.page is None
    assert chunk.text == "The quick brown fox jumps over the lazy dog. A second paragraph starts here."


def test_words_longer_than_a_chunk_are_cut_and_noise_is_dropped() -> None:
    chunks = TextChunker(100, 10).chunk([Page(1, "x" * 250), Page(2, "7"), Page(3, "  \n \n ")])
    assert len(chunks) == 3 and all(len(c.text) <= 100 and c.page == 1 for c in chunks)
    assert sum(c.text.count("x") for c in chunks) >= 250


def test_the_same_pages_always_give_the_same_chunks() -> None:
    pages = [Page(1, PROSE), Page(2, PROSE[::-1])]
    assert TextChunker(400, 50).chunk(pages) == TextChunker(400, 50).chunk(pages)


def test_overlap_must_be_smaller_than_size() -> None:
    with pytest.raises(ValueError):
        TextChunker(100, 100)
