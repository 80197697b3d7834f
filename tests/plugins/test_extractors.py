"""Extractors on real documents from the corpus, and their limits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pymupdf
import pytest

from docmill.core.errors import CorruptDocument, DocumentTooLarge, EncryptedDocument
from docmill.core.sniff import media_type_of
from docmill.core.values import Blob, Limits
from docmill.plugins.pymupdf_extractor import PyMuPdfExtractor
from docmill.plugins.text_extractor import TextExtractor, decode_text, html_to_text

LIMITS = Limits(max_file_size=10**9, max_pages=2000, max_pixels=100_000_000, ocr_timeout=60, ocr_dpi=300)


def _blob(path: Path) -> Blob:
    data = path.read_bytes()
    return Blob(path.name, data, media_type_of(path.name, data), path)


def test_born_digital_pdf_pages_have_text_and_need_no_ocr(corpus: Path) -> None:
    pdf = sorted((corpus / "text").iterdir())[1]
    pages = PyMuPdfExtractor().extract(_blob(pdf), LIMITS)
    assert [p.number for p in pages] == list(range(1, len(pages) + 1))
    assert all(not p.needs_ocr for p in pages) and sum(len(p.text) for p in pages) > 500


def test_scanned_pages_are_flagged_and_rendered_at_the_scans_own_resolution(corpus: Path) -> None:
    blob = _blob(corpus / "scanned" / "scan-001.pdf")
    pages = PyMuPdfExtractor().extract(blob, LIMITS)
    assert [(p.number, p.needs_ocr, p.text) for p in pages] == [(1, True, ""), (2, True, "")]
    with pymupdf.open(blob.path) as doc:
        [scan] = doc[1].get_image_info()
    images = list(PyMuPdfExtractor().render(blob, [2], LIMITS))
    assert [(i.number, i.dpi, i.width, i.height) for i in images] == [(2, 200, scan["width"], scan["height"])]
    assert len(images[0].pixels) == scan["width"] * scan["height"]


def test_a_photo_is_one_page_to_ocr_at_its_pixel_size(corpus: Path) -> None:
    blob = _blob(corpus / "scanned" / "photo-000.jpg")
    assert [(p.number, p.needs_ocr) for p in PyMuPdfExtractor().extract(blob, LIMITS)] == [(1, True)]
    [image] = PyMuPdfExtractor().render(blob, [1], LIMITS)
    assert (image.width, image.height) == (1653, 2339)  # an A4 page photographed at 200 DPI


@pytest.mark.parametrize(("name", "error", "kind"), [
    ("truncated.pdf", CorruptDocument, "corrupt"),
    ("locked.pdf", EncryptedDocument, "encrypted"),
    ("5000-blank-pages.pdf", DocumentTooLarge, "too many pages"),
    ("bomb.png", DocumentTooLarge, "too large"),
])
def test_bad_files_fail_with_their_kind(corpus: Path, name: str, error: type[Exception], kind: str) -> None:
    with pytest.raises(error) as caught:
        PyMuPdfExtractor().extract(_blob(corpus / "bad" / name), LIMITS)
    assert caught.value.kind == kind  # type: ignore[attr-defined]


def test_the_pixel_bomb_is_refused_without_decoding_it(corpus: Path) -> None:
    probe = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from docmill.core.values import Blob, Limits\n"
        "from docmill.plugins.pymupdf_extractor import PyMuPdfExtractor\n"
        "limits = Limits(10**9, 2000, 100_000_000, 60, 300)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    PyMuPdfExtractor().extract(Blob('bomb.png', Path(sys.argv[1]).read_bytes(), 'image/png'), limits)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(corpus / "bad" / "bomb.png")], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0] == "DocumentTooLarge"
    assert int(out[1]) < 50_000  # KiB: decoding 60000 x 60000 would take 3.6 GB


def test_pages_over_the_pixel_limit_are_not_rendered(corpus: Path) -> None:
    small = Limits(10**9, 2000, max_pixels=1_000_000, ocr_timeout=60, ocr_dpi=300)
    with pytest.raises(DocumentTooLarge, match=r"over the limit of 1,000,000 pixels \(DOCMILL_MAX_PIXELS\)"):
        list(PyMuPdfExtractor().render(_blob(corpus / "scanned" / "scan-000.pdf"), [1], small))


def test_the_pixel_limit_is_quoted_as_it_is_set() -> None:
    # The message said "over the limit of 100 (DOCMILL_MAX_PIXELS)" for the default of 100000000
    import struct
    import zlib

    header = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + header
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    with pytest.raises(DocumentTooLarge) as refused:
        PyMuPdfExtractor().extract(Blob("huge.png", png, "image/png"), LIMITS)
    assert refused.value.reason.endswith("400 megapixels), over the limit of 100,000,000 pixels (DOCMILL_MAX_PIXELS)")


def test_text_in_latin1_is_detected_and_html_keeps_only_visible_text(corpus: Path) -> None:
    [page] = TextExtractor().extract(_blob(corpus / "plain" / "latin1.txt"), LIMITS)
    assert page.number is None and page.text.startswith("Café, naïve, Zürich")
    html = html_to_text("<html><head><title>Tax 2023</title><style>p{}</style></head>"
                        "<body><p>Line one</p><script>evil()</script><p>Line&nbsp;two</p></body></html>")
    assert html == "Tax 2023\n\nLine one\n\nLine\xa0two"
    assert decode_text('<meta charset="iso-8859-1"><p>caf\xe9</p>'.encode("latin-1"), html=True).endswith("café</p>")


@pytest.mark.parametrize(("text", "encoding"), [
    ("Grüße aus München, schöne Straße.", "cp1252"),
    ("Привет, как дела? Это длинный русский текст про погоду и новости дня.", "cp1251"),
    ("Zażółć gęślą jaźń, powiedział Paweł.", "utf-8"),
])
def test_legacy_encodings_decode_to_the_original_text(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding)) == text
