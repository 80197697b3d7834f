"""Real Tesseract on a real scan."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pymupdf
import pytesseract
import pytest
from PIL import Image

from docmill.core.errors import ConfigurationError, DocumentTooLarge
from docmill.core.values import Blob, Limits, PageImage
from docmill.plugins.pymupdf_extractor import PyMuPdfExtractor
from docmill.plugins.tesseract_ocr import TesseractOcr

LIMITS = Limits(max_file_size=10**9, max_pages=2000, max_pixels=100_000_000, ocr_timeout=60, ocr_dpi=300)


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)}


def _page_image(corpus: Path, number: int = 1) -> object:
    path = corpus / "scanned" / "scan-001.pdf"
    [image] = PyMuPdfExtractor().render(Blob(path.name, path.read_bytes(), "application/pdf"), [number], LIMITS)
    return image


def test_ocr_reads_most_words_of_the_ground_truth(corpus: Path) -> None:
    text = TesseractOcr("eng", timeout=60, concurrency=1).recognize(_page_image(corpus))  # type: ignore[arg-type]
    truth = (corpus / "scanned" / "scan-001.pdf.truth.txt").read_text().split("\f")[0]
    found, expected = _words(text), _words(truth)
    assert len(found & expected) / len(expected) > 0.85


def test_a_page_over_the_time_limit_fails_as_an_ocr_timeout(corpus: Path) -> None:
    with pytest.raises(DocumentTooLarge) as caught:
        TesseractOcr("eng", timeout=0.05, concurrency=1).recognize(_page_image(corpus))  # type: ignore[arg-type]
    assert caught.value.kind == "ocr timeout" and "DOCMILL_OCR_TIMEOUT" in caught.value.reason


def test_a_missing_language_is_a_configuration_error_naming_the_package() -> None:
    with pytest.raises(ConfigurationError, match="tesseract-ocr-klingon"):
        TesseractOcr("eng+klingon", timeout=60, concurrency=1)


def _sparse_noisy_page() -> PageImage:
    """One line of text on an otherwise blank page, scanned at 200 DPI with speckle noise (as build.py does)."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((100, 80), "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod", fontsize=10)
    pix = page.get_pixmap(dpi=200, colorspace=pymupdf.csGRAY)
    pixels = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width).astype(np.int16)
    noisy = np.clip(pixels + np.random.default_rng(0).normal(0, 18, pixels.shape) - 12, 0, 255).astype(np.uint8)
    return PageImage(1, pix.width, pix.height, 200, noisy.tobytes())


def test_a_sparse_speckled_page_is_read_despite_the_noise() -> None:
    image = _sparse_noisy_page()
    raw = pytesseract.image_to_string(Image.frombytes("L", (image.width, image.height), image.pixels),
                                      lang="eng", config="--dpi 200 --psm 3")
    assert len(_words(raw)) < 3  # Tesseract alone finds (next to) nothing on this page
    text = TesseractOcr("eng", timeout=60, concurrency=1).recognize(image)
    assert {"lorem", "ipsum", "dolor", "consectetur", "adipiscing"} <= _words(text)
