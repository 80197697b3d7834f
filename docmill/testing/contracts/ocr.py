"""The OCR engine contract."""

from __future__ import annotations

import re

import pytest

from docmill.core.interfaces import OcrEngine
from docmill.core.values import PageImage

__all__ = ["OcrEngineContract", "render_text_page"]

SAMPLE = ("The quarterly report shows steady growth in every region.\n"
          "Shipping costs fell while customer numbers doubled.\n"
          "Please review the attached figures before Thursday.")


def render_text_page(text: str = SAMPLE, *, dpi: int = 200, number: int = 1) -> PageImage:
    """A page of typed text rendered to grey pixels, as a scanner would deliver it."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    if text:
        page.insert_text((72, 100), text, fontsize=12, lineheight=1.6)
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
    return PageImage(number, pix.width, pix.height, dpi, bytes(pix.samples))


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)}


class OcrEngineContract:
    """Provide ``engine``. Set ``reads_text = False`` for engines that do not really read (stubs)."""

    reads_text = True

    def test_a_typed_page_is_read(self, engine: OcrEngine) -> None:
        text = engine.recognize(render_text_page())
        assert isinstance(text, str)
        if self.reads_text:
            expected = _words(SAMPLE)
            assert len(_words(text) & expected) >= 0.9 * len(expected)

    def test_a_blank_page_gives_no_words(self, engine: OcrEngine) -> None:
        text = engine.recognize(render_text_page(""))
        if not self.reads_text:
            pytest.skip("this engine does not really read")
        assert _words(text) == set()
