"""Page texts as docmill indexes them, and the normal form labels are checked in.

The flags are those of docmill's PyMuPDF extractor (docmill/plugins/pymupdf_extractor.py), so a phrase found
here is a phrase docmill indexed on that page. ``normal`` folds what a reader does not see: compatibility
forms (the ligature "ﬁ" is "fi") and runs of white space, line breaks included.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pymupdf

_SPACE = re.compile(r"\s+")


def normal(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def page_texts(path: Path) -> list[str]:
    """The text of every page of a PDF (index 0 is page 1), as docmill's extractor reads it."""
    with pymupdf.open(path) as doc:
        return [page.get_text("text", flags=pymupdf.TEXTFLAGS_TEXT | pymupdf.TEXT_DEHYPHENATE) for page in doc]
