"""The extractor contract."""

from __future__ import annotations

from dataclasses import replace

import pytest

from docmill.core.errors import PermanentError
from docmill.core.interfaces import Extractor
from docmill.core.values import Blob, Extracted, Limits, Page

__all__ = ["ExtractorContract", "pages_of"]

LIMITS = Limits(max_file_size=100_000_000, max_pages=2000, max_pixels=100_000_000, ocr_timeout=60, ocr_dpi=300)


def pages_of(found: list[Page] | Extracted) -> list[Page]:
    """The pages of what an extractor returned (a list of pages, or :class:`~docmill.Extracted`)."""
    return found.pages if isinstance(found, Extracted) else found


class ExtractorContract:
    """Provide ``extractor``, ``sample`` (a Blob it reads) and ``damaged`` (a Blob of its type it cannot)."""

    def test_pages_are_numbered_in_order_and_hold_text_or_ask_for_ocr(self, extractor: Extractor,
                                                                      sample: Blob) -> None:
        pages = pages_of(extractor.extract(sample, LIMITS))
        assert pages
        numbers = [p.number for p in pages]
        assert numbers == [None] or numbers == list(range(1, len(pages) + 1))
        assert all(p.text.strip() or p.needs_ocr for p in pages)

    def test_pages_flagged_for_ocr_render_at_a_real_resolution(self, extractor: Extractor, sample: Blob) -> None:
        flagged = [p.number for p in pages_of(extractor.extract(sample, LIMITS)) if p.needs_ocr and p.number]
        if not flagged:
            pytest.skip("the sample has no page needing OCR")
        [image] = extractor.render(sample, flagged[:1], LIMITS)
        assert image.number == flagged[0] and image.dpi >= 72
        assert len(image.pixels) == image.width * image.height

    def test_a_damaged_document_is_a_permanent_error(self, extractor: Extractor, damaged: Blob) -> None:
        with pytest.raises(PermanentError):
            extractor.extract(damaged, LIMITS)

    def test_the_page_limit_is_respected(self, extractor: Extractor, sample: Blob) -> None:
        pages = pages_of(extractor.extract(sample, LIMITS))
        if pages[0].number is None or len(pages) < 2:
            pytest.skip("the sample has fewer than two pages")
        with pytest.raises(PermanentError):
            extractor.extract(sample, replace(LIMITS, max_pages=len(pages) - 1))
