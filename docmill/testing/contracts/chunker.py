"""The chunker contract."""

from __future__ import annotations

import re

from docmill.core.interfaces import Chunker, Signed
from docmill.core.values import Page

__all__ = ["ChunkerContract"]

PAGES = [
    Page(1, " ".join(f"Page one sentence {i} about apples and pears." for i in range(80))),
    Page(2, ""),
    Page(3, "Page three has a single short paragraph about plums."),
    Page(None, "A page without a number, as plain text files have."),
]


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text))


class ChunkerContract:
    """Provide ``chunker``."""

    def test_every_chunk_keeps_the_page_it_came_from(self, chunker: Chunker) -> None:
        by_number = {p.number: p for p in PAGES}
        for chunk in chunker.chunk(PAGES):
            assert chunk.page in by_number and chunk.text.strip()
            assert _words(chunk.text) <= _words(by_number[chunk.page].text)

    def test_no_word_is_lost(self, chunker: Chunker) -> None:
        chunks = chunker.chunk(PAGES)
        assert _words(" ".join(c.text for c in chunks)) == _words(" ".join(p.text for p in PAGES))

    def test_the_same_pages_give_the_same_chunks(self, chunker: Chunker) -> None:
        assert chunker.chunk(PAGES) == chunker.chunk(list(PAGES))

    def test_it_states_a_signature_for_re_processing(self, chunker: Chunker) -> None:
        assert isinstance(chunker, Signed), "state a `signature`: what decides the chunks (see core.interfaces)"
        assert isinstance(chunker.signature, str) and chunker.signature and chunker.signature == chunker.signature

    def test_no_text_gives_no_chunks(self, chunker: Chunker) -> None:
        assert chunker.chunk([Page(1, ""), Page(2, "  \n ")]) == []
