"""RTF, with striprtf: a pure-Python reader of RTF's control words into plain text (no pages, no sections)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import cast

from docmill import Blob, CorruptDocument, Extracted, Limits, Page

from .parsed import TextBudget

__all__ = ["read_rtf"]

_CODEPAGE = re.compile(rb"\\ansicpg(\d+)")


def read_rtf(blob: Blob, limits: Limits) -> Extracted:
    """The RTF document's text, in the code page it declares (Windows-1252 by default)."""
    from striprtf import striprtf

    rtf_to_text = cast(Callable[..., str], striprtf.rtf_to_text)  # striprtf declares no types

    found = _CODEPAGE.search(blob.data[:4096])
    encoding = f"cp{found.group(1).decode()}" if found else "cp1252"
    try:
        "".encode(encoding)
    except LookupError:
        encoding = "cp1252"
    try:
        text = rtf_to_text(blob.data.decode("latin-1"), encoding=encoding, errors="replace")
    except (ValueError, IndexError, UnicodeError, OverflowError) as exc:
        raise CorruptDocument(f"the RTF document is damaged: {exc}") from exc
    TextBudget(limits).take(text)
    return Extracted([Page(None, text)] if text.strip() else [])
