"""The Tesseract OCR engine, through pytesseract.

One Tesseract process per page, each single-threaded (``OMP_THREAD_LIMIT=1``:
Tesseract's own threads fight each other on small machines), at most one per
core at a time, each told the scan's real resolution, each killed when over
the per-page time limit.

Speckle noise on a mostly blank page can make Tesseract's page layout analysis
find no text at all (seen on a sparse, noisy 200-DPI scan: nothing read, where
a 3x3 median filter first gave 92% of the words). A page that yields almost
nothing is therefore read once more, despeckled, within the same time budget;
filtering every page would cost time and a little accuracy on clean ones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from docmill import (
    ConfigurationError,
    CorruptDocument,
    DocumentTooLarge,
    OcrEngineFactory,
    PageImage,
    PluginContext,
    Register,
    hookimpl,
)

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["TesseractOcr", "TesseractSettings"]

LANGUAGES_SETTING = "DOCMILL_PLUGINS__TESSERACT__LANGUAGES"

#: Fewer letters than this in a page's OCR text means "read it again, despeckled".
MIN_LETTERS = 20


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def _installed_languages(binary: str) -> set[str]:
    """Languages tesseract has data for (without importing pytesseract, at start-up)."""
    try:
        listed = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigurationError(f"DOCMILL_OCR: tesseract does not start: {exc}") from exc
    # "List of available languages in ... (2):" then one code per line
    return {line.strip() for line in listed.stdout.splitlines()[1:] if line.strip()}


INSTALL_HINT = "install it with: apt-get install tesseract-ocr tesseract-ocr-eng (or set DOCMILL_OCR=none)"


class TesseractOcr:
    """Tesseract, bounded in concurrency and time."""

    name = "tesseract"

    def __init__(self, languages: str, *, timeout: float, concurrency: int) -> None:
        binary = shutil.which("tesseract")
        if binary is None:
            raise ConfigurationError(f"DOCMILL_OCR: tesseract is not installed; {INSTALL_HINT}")
        # pytesseract starts tesseract with our environment; this is the only way to pass it.
        os.environ["OMP_THREAD_LIMIT"] = "1"
        installed = _installed_languages(binary)
        missing = [lang for lang in languages.split("+") if lang not in installed]
        if missing:
            packages = " ".join(f"tesseract-ocr-{lang.lower().replace('_', '-')}" for lang in missing)
            raise ConfigurationError(
                f"{LANGUAGES_SETTING}: tesseract has no data for {', '.join(missing)} "
                f"(installed: {', '.join(sorted(installed - {'osd'})) or 'none'}); "
                f"install it with: apt-get install {packages}")
        self.languages = languages
        self.timeout = timeout
        self._slots = threading.BoundedSemaphore(concurrency)

    def recognize(self, image: PageImage) -> str:
        from PIL import Image, ImageFilter

        picture = Image.frombytes("L", (image.width, image.height), image.pixels)
        with self._slots:
            deadline = time.monotonic() + self.timeout
            text = self._read(picture, image, self.timeout)
            if _letters(text) < MIN_LETTERS:
                despeckled = self._read(picture.filter(ImageFilter.MedianFilter(3)), image,
                                        max(deadline - time.monotonic(), 0.01))
                if _letters(despeckled) > _letters(text):
                    text = despeckled
        return text

    def _read(self, picture: Image.Image, image: PageImage, timeout: float) -> str:
        import pytesseract

        config = f"--dpi {image.dpi} --psm 3"
        # Handed over as an uncompressed PGM file: pytesseract would write a PNG, and compressing a
        # 300-DPI page cost a fifth of the time tesseract takes to read it.
        with tempfile.NamedTemporaryFile(prefix="docmill-ocr-", suffix=".pgm") as handle:
            picture.save(handle, format="PPM")
            handle.flush()
            text = self._run(pytesseract, handle.name, image, config, timeout)
        return text

    def _run(self, pytesseract: Any, path: str, image: PageImage, config: str, timeout: float) -> str:
        try:
            text: str = pytesseract.image_to_string(path, lang=self.languages, config=config, timeout=timeout)
        except RuntimeError as exc:
            if "timeout" not in str(exc).lower():
                raise CorruptDocument(f"tesseract failed on page {image.number}: {exc}") from exc
            raise DocumentTooLarge(
                f"OCR of page {image.number} took longer than {self.timeout:g} s (DOCMILL_OCR_TIMEOUT)",
                kind="ocr timeout") from exc
        except pytesseract.TesseractError as exc:
            raise CorruptDocument(f"tesseract cannot read page {image.number}: {exc.message}") from exc
        return text


class TesseractSettings(BaseModel):
    """``[plugins.tesseract]`` in docmill.toml, or ``DOCMILL_PLUGINS__TESSERACT__<FIELD>``."""

    model_config = ConfigDict(extra="forbid")

    languages: str = Field("eng", description="Tesseract languages, joined with '+', e.g. 'eng+deu'.")

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, value: str) -> str:
        langs = [lang for lang in value.split("+") if lang]
        if not langs or any(not lang.replace("_", "").isalnum() for lang in langs):
            raise ValueError("expected Tesseract language codes joined with '+', such as 'eng' or 'eng+deu'")
        return "+".join(langs)


def make_tesseract(context: PluginContext) -> TesseractOcr:
    """Build the engine, checking the binary and languages now."""
    return TesseractOcr(context.settings.languages, timeout=context.limits.ocr_timeout,
                        concurrency=context.ocr_workers or context.cpu_count)


@hookimpl
def docmill_register_ocr_engines(register: Register[OcrEngineFactory]) -> None:
    register("tesseract", make_tesseract, settings=TesseractSettings)
