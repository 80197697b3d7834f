"""Mutated PDFs, PNGs, EPUBs and texts, fed to the sniffer and the extractors (in a real parsing process):
every outcome is pages or one of docmill's errors with its kind; never an internal error, a hang or a crash
of the caller."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pymupdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docmill.core.errors import DocmillError
from docmill.core.sandbox import ParsePool
from docmill.core.sniff import media_type_of
from docmill.core.values import Blob, Limits
from docmill.plugins.pymupdf_extractor import PyMuPdfExtractor
from docmill.plugins.text_extractor import TextExtractor

from .generators import CONTAINER, OPF

pytestmark = pytest.mark.slow

LIMITS = Limits(max_file_size=10**8, max_pages=200, max_pixels=20_000_000, ocr_timeout=30, ocr_dpi=150,
                max_text=2_000_000)
#: Kinds a hostile input may end with; anything else (an internal error above all) fails the test.
KINDS = {"corrupt", "empty", "wrong type", "unsupported", "encrypted", "too large", "too many pages", "timeout",
         "crashed"}
RAN: dict[str, int] = {}


def _pdf() -> bytes:
    doc = pymupdf.open()
    for number in range(2):
        page = doc.new_page(width=300, height=200)
        page.insert_text((20, 40), f"Page {number + 1} of a small report about rainwater tanks.", fontsize=9)
        page.draw_rect(pymupdf.Rect(20, 60, 120, 120), fill=(0.8, 0.8, 0.8))
    data: bytes = doc.tobytes(deflate=True)
    return data


def _png() -> bytes:
    pix = pymupdf.Pixmap(pymupdf.csGRAY, pymupdf.IRect(0, 0, 64, 48), False)
    pix.clear_with(200)
    data: bytes = pix.tobytes("png")
    return data


def _epub() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        archive.writestr("META-INF/container.xml", CONTAINER)
        archive.writestr("content.opf", OPF)
        archive.writestr("c.xhtml", '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>A chapter about '
                                    "pruning apple trees in late winter.</p></body></html>")
    return out.getvalue()


SEEDS = {"report.pdf": _pdf(), "scan.png": _png(), "book.epub": _epub(),
         "notes.txt": "Café notes, naïve and plain: the orchard, the bees, the hives.\n".encode() * 20}


@st.composite
def mutated(draw: st.DrawFn, seeds: dict[str, bytes] = SEEDS) -> tuple[str, bytes]:
    """A seed file with a few of its bytes flipped, a slice cut out or repeated, random bytes spliced in, or
    its end cut off."""
    name = draw(st.sampled_from(sorted(seeds)))
    data = bytearray(seeds[name])
    keep = 16 if draw(st.integers(0, 9)) else 0  # mostly past the magic bytes, so the parsers get to work
    for _ in range(draw(st.integers(1, 4))):
        if len(data) <= keep:
            break
        at = draw(st.integers(keep, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "repeat", "splice", "truncate"]))
        if action == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif action == "repeat":
            data[at:at] = data[at:at + draw(st.integers(1, 256))] * draw(st.integers(2, 50))
        elif action == "splice":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            del data[at:]
    return name, bytes(data)


@pytest.fixture(scope="module")
def pool() -> Iterator[ParsePool]:
    parsers = ParsePool(2, memory=2**30, timeout=20)
    yield parsers
    parsers.close()
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(RAN.items()))
    print(f"\nhostile property run: {sum(RAN.values())} cases ({counts})")


@settings(max_examples=3000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated())
def test_mutated_files_end_with_pages_or_a_kind_never_an_internal_error(pool: ParsePool,
                                                                       case: tuple[str, bytes]) -> None:
    name, data = case
    try:
        blob = Blob(name, data, media_type_of(name, data))
        extractor = TextExtractor() if blob.media_type.startswith("text/") else PyMuPdfExtractor()
        pages = pool.run(extractor, "extract", blob, LIMITS)
        outcome = "pages"
        assert isinstance(pages, list)
        numbers = [p.number for p in pages if p.needs_ocr]
        if numbers:  # what OCR would render, within its limits too
            pool.run(extractor, "render", blob, numbers[:2], LIMITS)
    except DocmillError as exc:
        outcome = exc.kind
        assert exc.kind in KINDS, (name, exc.kind, exc.reason)
    RAN[outcome] = RAN.get(outcome, 0) + 1
