"""The text chunker: page-aware, sized in characters, with overlap.

A chunk never spans two pages, so every chunk knows its page (and its
section, where the extractor gave one: a sheet, a slide, a heading path). Within a page,
lines are joined into paragraphs (PDF text breaks every line), paragraphs
are cut into sentences, and sentences are packed greedily up to
``chunk_size`` characters; a sentence longer than that is cut between words.
Each chunk after the first on a page starts with the last ``chunk_overlap``
characters of the one before (from a word boundary), so a fact straddling a
cut is still found whole in one of them. Deterministic: the same pages always
give the same chunks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from docmill import ChunkerFactory, ChunkText, Page, PluginContext, Register, hookimpl

__all__ = ["TextChunker"]

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
#: Chunks with fewer letters or digits than this (a lone page number) are dropped.
MIN_ALNUM = 3


def _paragraphs(text: str) -> list[str]:
    out = []
    for block in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        joined = " ".join(block.split())
        if joined:
            out.append(joined)
    return out


def _pieces(sentence: str, size: int) -> Iterator[str]:
    """Cut a too-long sentence between words (or anywhere, for a word longer than size).

    Linear in the sentence's length: the cuts move an index along it, never
    copying what is left (a single 8 MB sentence would otherwise take minutes).
    """
    start, end = 0, len(sentence)
    while end - start > size:
        cut = sentence.rfind(" ", start, start + size + 1)
        if cut <= start:
            cut = start + size
        yield sentence[start:cut].rstrip()
        start = cut
        while start < end and sentence[start].isspace():
            start += 1
    if start < end:
        yield sentence[start:]


def _has_alnum(text: str, wanted: int) -> bool:
    """Whether ``text`` holds at least ``wanted`` letters or digits (stops counting there)."""
    found = 0
    for ch in text:
        if ch.isalnum():
            found += 1
            if found >= wanted:
                return True
    return False


def _tail(text: str, overlap: int) -> str:
    if overlap <= 0 or len(text) <= overlap:
        return "" if overlap <= 0 else text
    tail = text[-overlap:]
    space = tail.find(" ")
    return tail[space + 1:] if 0 <= space < len(tail) - 1 else tail


class TextChunker:
    """Greedy sentence packing within pages."""

    name = "text"

    def __init__(self, size: int, overlap: int) -> None:
        if not 0 <= overlap < size:
            raise ValueError("overlap must be at least 0 and smaller than size")
        self.size = size
        self.overlap = overlap

    @property
    def signature(self) -> str:
        """What decides the chunks: another size or overlap re-processes documents."""
        return f"{self.name}:{self.size}:{self.overlap}"

    def _page_chunks(self, text: str) -> Iterator[str]:
        current = ""
        fresh = False  # does current hold more than the overlap carried over?
        for paragraph in _paragraphs(text):
            for sentence in _SENTENCE_END.split(paragraph):
                for unit in _pieces(sentence, self.size):
                    joined = f"{current} {unit}" if current else unit
                    if len(joined) <= self.size:
                        current, fresh = joined, True
                        continue
                    if fresh:
                        yield current
                    carried = _tail(current, self.overlap) if fresh else ""
                    joined = f"{carried} {unit}" if carried else unit
                    current = joined if len(joined) <= self.size else unit
                    fresh = True
        if fresh and current:
            yield current

    def chunk(self, pages: Sequence[Page]) -> list[ChunkText]:
        chunks = []
        for page in pages:
            for text in self._page_chunks(page.text):
                if _has_alnum(text, MIN_ALNUM):
                    chunks.append(ChunkText(page.number, text, page.section))
        return chunks


def make_text_chunker(context: PluginContext) -> TextChunker:
    """Build the chunker from ``DOCMILL_CHUNK_SIZE`` and ``DOCMILL_CHUNK_OVERLAP``."""
    return TextChunker(context.chunk_size, context.chunk_overlap)


@hookimpl
def docmill_register_chunkers(register: Register[ChunkerFactory]) -> None:
    register("text", make_text_chunker)
