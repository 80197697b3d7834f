"""Word documents (``.docx``, and ``.docm`` whose macros are read as bytes and never run), with python-docx.

Paragraphs and tables in reading order; a heading starts a section of its
own, so each chunk knows the headings above it ("Contract › 4 Payment
terms"). Word files state no pages, so the pages returned have no number.
Files embedded in the document (``word/embeddings/``) become attachments.
"""

from __future__ import annotations

import functools
import io
import re
from typing import Any

from docmill import Blob, CorruptDocument, Extracted, Limits

from .parsed import Headings, TextBudget, embedded_files, open_zip, row_lines

__all__ = ["read_word"]

_HEADING = re.compile(r"^(?:heading|überschrift|titre)\s*(\d)$", re.IGNORECASE)
MACRO_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"


@functools.cache
def _docx() -> Any:
    """python-docx, taught that a macro-enabled document's main part is a document part like any other (it
    refuses ``.docm`` otherwise); imported on first use."""
    import docx
    from docx.opc.part import PartFactory
    from docx.parts.document import DocumentPart

    PartFactory.part_type_for[MACRO_MAIN] = DocumentPart
    return docx


def qn(tag: str) -> str:
    """A ``w:`` tag or attribute in Clark notation (python-docx's ``docx.oxml.ns.qn``)."""
    from docx.oxml.ns import qn as clark

    return str(clark(tag))


def _heading_levels(document: Any) -> dict[str, int]:
    """The heading level of each paragraph style that makes a heading (Title is above Heading 1), by style id.

    Read once per document, from the styles part's XML: python-docx's ``Paragraph.style`` looks its style up
    anew each time (nine tenths of reading a document of 50 paragraphs), and building its style objects for
    the hundred-odd styles of a template cost a tenth more.
    """
    levels = {}
    for style in document.styles.element.findall(qn("w:style")):
        name_element = style.find(qn("w:name"))
        name = (name_element.get(qn("w:val")) if name_element is not None else "") or ""
        style_id = style.get(qn("w:styleId"))
        found = _HEADING.match(name.strip())
        if style_id and name.strip().lower() == "title":
            levels[style_id] = 0
        elif style_id and found:
            levels[style_id] = int(found.group(1))
    return levels


def _level(paragraph: Any, levels: dict[str, int]) -> int | None:
    """The heading level of a paragraph, from the id of its style (its ``w:pStyle``), or None."""
    style_id = paragraph._p.style  # the oxml element python-docx exposes for what its API does not say
    return levels.get(style_id) if style_id else None


def read_word(blob: Blob, limits: Limits) -> Extracted:
    """The document's text by section, its tables a row per line, and its embedded files."""
    _docx()
    from docx.opc.package import OpcPackage
    from docx.table import Table

    with open_zip(blob.data, limits, "Word document") as archive:
        attachments = embedded_files(archive, "word/embeddings/", limits)
    try:
        document = OpcPackage.open(io.BytesIO(blob.data)).main_document_part.document
        blocks = list(document.iter_inner_content())
        levels = _heading_levels(document)
    except (KeyError, ValueError, AttributeError, TypeError) as exc:
        raise CorruptDocument(f"the Word document is damaged: {exc}") from exc
    except Exception as exc:  # lxml's XMLSyntaxError, docx's PackageNotFoundError
        raise CorruptDocument(f"the Word document cannot be read: {' '.join(str(exc).split())[:300]}") from exc
    budget = TextBudget(limits)
    out = Headings(budget)
    for block in blocks:
        if isinstance(block, Table):
            rows = ([cell.text for cell in row.cells] for row in block.rows)
            out.text("\n\n".join(row_lines(rows, budget, "a table")))
            continue
        level = _level(block, levels)
        if level is not None:
            out.heading(level, block.text)
        else:
            out.text(block.text)
    properties = document.core_properties
    metadata = {k: v for k, v in (("title", properties.title), ("author", properties.author)) if v}
    return Extracted(out.done(), metadata, attachments)
