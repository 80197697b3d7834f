"""Slide decks (``.pptx``, and ``.pptm`` whose macros are never run), with python-pptx.

Each slide is a page numbered as in the deck, its title as the section: its
text frames and tables in shape order (grouped shapes included), then its
speaker notes. Files embedded in the deck (``ppt/embeddings/``) become
attachments.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from docmill import Blob, CorruptDocument, Extracted, Limits, Page

from .parsed import TextBudget, embedded_files, open_zip, row_lines

__all__ = ["read_slides"]


def _shape_texts(shapes: Any, budget: TextBudget) -> Iterator[str]:
    for shape in shapes:
        if getattr(shape, "shape_type", None) == 6 and hasattr(shape, "shapes"):  # MSO_SHAPE_TYPE.GROUP
            yield from _shape_texts(shape.shapes, budget)
        elif getattr(shape, "has_table", False):
            rows = ([cell.text for cell in row.cells] for row in shape.table.rows)
            yield "\n\n".join(row_lines(rows, budget, "a table"))
        elif getattr(shape, "has_text_frame", False) and shape.text_frame.text.strip():
            yield budget.take(shape.text_frame.text)


def _notes(slide: Any) -> str:
    """A slide's speaker notes: its notes placeholder's text, or (LibreOffice writes notes in a plain text box)
    the text of every text box on its notes page."""
    page = slide.notes_slide
    if page.notes_text_frame is not None:
        return str(page.notes_text_frame.text)
    return "\n".join(shape.text_frame.text for shape in page.shapes
                     if getattr(shape, "has_text_frame", False) and not shape.is_placeholder)


def read_slides(blob: Blob, limits: Limits) -> Extracted:
    """Every slide's text and notes, a page per slide."""
    import pptx

    with open_zip(blob.data, limits, "slide deck") as archive:
        attachments = embedded_files(archive, "ppt/embeddings/", limits)
    budget = TextBudget(limits)
    pages = []
    try:
        deck = pptx.Presentation(io.BytesIO(blob.data))
        for number, slide in enumerate(deck.slides, start=1):
            title_shape = slide.shapes.title
            title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
            parts = list(_shape_texts(slide.shapes, budget))
            notes = _notes(slide) if slide.has_notes_slide else ""
            if notes.strip():
                parts.append(budget.take(f"Speaker notes: {notes}"))
            text = "\n\n".join(p for p in parts if p)
            if text:
                pages.append(Page(number, text, section=title or f"Slide {number}"))
    except (KeyError, ValueError, AttributeError, TypeError, IndexError) as exc:
        raise CorruptDocument(f"the slide deck is damaged: {' '.join(str(exc).split())[:300]}") from exc
    except Exception as exc:  # lxml's XMLSyntaxError, pptx's PackageNotFoundError
        if type(exc).__module__.startswith(("lxml", "pptx")):
            raise CorruptDocument(f"the slide deck cannot be read: {' '.join(str(exc).split())[:300]}") from exc
        raise
    return Extracted(pages, {}, attachments)
