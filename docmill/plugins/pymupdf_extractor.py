"""The PyMuPDF extractor: PDF, XPS, EPUB, SVG and images.

Pages whose text layer is missing or unusable, and that carry an image, are
flagged for OCR; ``render`` draws them at the scan's own resolution (a
200-DPI scan is rendered at 200 DPI, not blown up to 300). Limits are checked
before anything big is allocated: the page count before reading pages, and an
image's pixel count from its header before it is decoded.

PyMuPDF is not thread-safe, even across documents, so every call into it runs
under one process-wide lock; extraction is fast (hundreds of pages a second)
and the slow part, OCR, happens outside it.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from docmill import (
    Blob,
    CorruptDocument,
    DocmillError,
    DocumentTooLarge,
    EncryptedDocument,
    Limits,
    Page,
    PageImage,
    hookimpl,
    image_size,
)

__all__ = ["PyMuPdfExtractor"]

_LOCK = threading.Lock()


@functools.cache
def _lib() -> Any:
    """PyMuPDF, imported on first use: importing it takes most of a second."""
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)  # MuPDF's warnings become our reasons, not stderr noise
    pymupdf.TOOLS.mupdf_display_warnings(False)
    return pymupdf

_FILETYPES = {
    "application/pdf": "pdf",
    "application/epub+zip": "epub",
    "application/oxps": "xps",
    "application/vnd.ms-xpsdocument": "xps",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/tiff": "tiff",
    "image/bmp": "bmp",
    "image/webp": "webp",
}
_FORMAT_NAMES = {"pdf": "PDF", "epub": "EPUB", "xps": "XPS", "svg": "SVG"}

#: A page needs OCR when its text layer has fewer letters and digits than this.
MIN_TEXT_CHARS = 20


def _usable(text: str) -> bool:
    alnum = sum(ch.isalnum() for ch in text)
    garbage = text.count("\ufffd")
    return alnum >= MIN_TEXT_CHARS and garbage < 0.3 * alnum


def _translated(exc: Exception, doing: str) -> DocmillError:
    """A MuPDF error as docmill's: running out of memory is ``too large``, anything else ``corrupt``."""
    message = " ".join(str(exc).split())
    if "malloc" in message or "out of memory" in message.lower():
        return DocumentTooLarge(f"{doing}: MuPDF ran out of memory ({message[:200]}; DOCMILL_MAX_PARSE_MEMORY)")
    if "too large" in message.lower():  # MuPDF's own bounds (a chapter of an EPUB bomb: "text too large")
        return DocumentTooLarge(f"{doing}: {message[:300]}")
    return CorruptDocument(f"{doing}: {message}")


def _dpi(page: Any, default: int) -> int:
    """The resolution of the page's largest image, or ``default`` for pages with none."""
    best, best_area = 0.0, 0.0
    for info in page.get_image_info():
        x0, y0, x1, y1 = info["bbox"]
        width_in, height_in = abs(x1 - x0) / 72, abs(y1 - y0) / 72
        if width_in * height_in <= best_area or width_in <= 0 or height_in <= 0:
            continue
        best_area = width_in * height_in
        best = max(info["width"] / width_in, info["height"] / height_in)
    return max(72, round(best)) if best else default



def _over_pixel_limit(limits: Limits) -> str:
    """The end of a refusal: the limit as the setting holds it (it read "the limit of 100" for 100000000)."""
    return f"over the limit of {limits.max_pixels:,} pixels (DOCMILL_MAX_PIXELS)"

class PyMuPdfExtractor:
    """Reads documents PyMuPDF opens."""

    name = "pymupdf"

    def _open(self, blob: Blob, limits: Limits) -> Any:
        pymupdf = _lib()
        filetype = _FILETYPES[blob.media_type]
        label = _FORMAT_NAMES.get(filetype, "image")
        claimed = image_size(blob.data) if label == "image" else None
        if claimed is not None and claimed[0] * claimed[1] > limits.max_pixels:
            # Refused from the header: MuPDF is never asked to decode (or even allocate) it.
            pixels = claimed[0] * claimed[1]
            raise DocumentTooLarge(f"the image claims {claimed[0]:,} x {claimed[1]:,} pixels ({pixels / 1e6:,.0f} "
                                   f"megapixels), {_over_pixel_limit(limits)}")
        try:
            doc = pymupdf.open(stream=blob.data, filetype=filetype)
            pages, repaired, locked = doc.page_count, doc.is_repaired, doc.needs_pass
        except pymupdf.EmptyFileError as exc:
            raise CorruptDocument("the file is empty (0 bytes)", kind="empty") from exc
        except MemoryError:
            raise
        except Exception as exc:  # FileDataError, RuntimeError...: MuPDF could not parse it
            raise _translated(exc, f"cannot be opened as {label}") from exc
        if filetype == "pdf" and repaired and b"%%EOF" not in blob.data[-8192:]:
            # MuPDF rebuilt what it could of a file cut short: indexing its first pages would pass a
            # partial document off as whole. (A complete file with a broken index is repaired and read.)
            doc.close()
            raise CorruptDocument(f"the PDF is truncated: it stops after {len(blob.data):,} bytes without "
                                  "its end marker, so part of it is missing")
        if locked:
            doc.close()
            raise EncryptedDocument(f"the {label} is password-protected; docmill has no password for it")
        if pages == 0:
            warnings = " ".join(pymupdf.TOOLS.mupdf_warnings().split())
            doc.close()
            detail = f" (MuPDF: {warnings[:200]})" if warnings else ""
            raise CorruptDocument(f"the {label} is damaged: no readable pages, truncated or garbage{detail}")
        return doc

    @staticmethod
    def _check_limits(doc: Any, blob: Blob, limits: Limits) -> None:
        if doc.page_count > limits.max_pages:
            raise DocumentTooLarge(f"{doc.page_count:,} pages, over the limit of {limits.max_pages:,} "
                                   "(DOCMILL_MAX_PAGES)", kind="too many pages")
        if blob.media_type.startswith("image/") and blob.media_type != "image/svg+xml":
            for info in doc[0].get_image_info():  # read from the header; nothing is decoded yet
                pixels = info["width"] * info["height"]
                if pixels > limits.max_pixels:
                    raise DocumentTooLarge(
                        f"the image claims {info['width']:,} x {info['height']:,} pixels "
                        f"({pixels / 1e6:,.0f} megapixels), {_over_pixel_limit(limits)}")

    @contextlib.contextmanager
    def _document(self, blob: Blob, limits: Limits, failing: str) -> Iterator[Any]:
        """The open document, under the lock; MuPDF errors become CorruptDocument."""
        with _LOCK:
            _lib().TOOLS.reset_mupdf_warnings()
            doc = self._open(blob, limits)
            try:
                yield doc
            except (DocmillError, MemoryError):
                raise
            except Exception as exc:
                raise _translated(exc, failing) from exc
            finally:
                doc.close()

    def extract(self, blob: Blob, limits: Limits) -> list[Page]:
        is_image = blob.media_type.startswith("image/") and blob.media_type != "image/svg+xml"
        pymupdf = _lib()
        with self._document(blob, limits, "the document is damaged") as doc:
            self._check_limits(doc, blob, limits)
            pages, characters = [], 0
            for number, page in enumerate(doc, start=1):
                if is_image:
                    pages.append(Page(number, "", needs_ocr=True))
                    continue
                text = page.get_text("text", flags=pymupdf.TEXTFLAGS_TEXT | pymupdf.TEXT_DEHYPHENATE)
                characters += len(text)
                if characters > limits.max_text:
                    raise DocumentTooLarge(f"more than {limits.max_text:,} characters of text by page {number} "
                                           "(DOCMILL_MAX_TEXT)")
                needs_ocr = not _usable(text) and bool(page.get_images())
                pages.append(Page(number, "" if needs_ocr else text, needs_ocr))
            return pages

    def render(self, blob: Blob, pages: Sequence[int], limits: Limits) -> Iterator[PageImage]:
        images = []
        pymupdf = _lib()
        with self._document(blob, limits, "cannot render the page for OCR") as doc:
            for number in pages:
                page = doc[number - 1]
                dpi = _dpi(page, limits.ocr_dpi)
                width, height = page.rect.width * dpi / 72, page.rect.height * dpi / 72
                if width * height > limits.max_pixels:
                    raise DocumentTooLarge(
                        f"page {number} would be {width:,.0f} x {height:,.0f} pixels at {dpi} DPI, "
                        f"{_over_pixel_limit(limits)}")
                pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
                images.append(PageImage(number, pix.width, pix.height, dpi, bytes(pix.samples)))
                del pix, page
        return iter(images)


_EXTRACTOR = PyMuPdfExtractor()


@hookimpl
def docmill_extractor(blob: Blob) -> PyMuPdfExtractor | None:
    return _EXTRACTOR if blob.media_type in _FILETYPES else None
