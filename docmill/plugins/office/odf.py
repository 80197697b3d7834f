"""OpenDocument (``.odt``, ``.ods``, ``.odp``), read from the zip's ``content.xml`` with defusedxml.

No ODF library is needed: the format is one XML part, parsed with entity
declarations refused (defusedxml), so an entity bomb never expands.
Text documents give a page per section under their headings; each
spreadsheet table is a page with its name as section, a row per line; each
presentation page is a page numbered as in the deck, its title as section,
with its speaker notes. Repeated empty rows and columns (a LibreOffice sheet
declares a million of them) are never expanded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from docmill import Blob, CorruptDocument, EncryptedDocument, Extracted, Limits, Page

from .parsed import Headings, TextBudget, open_zip, row_lines

__all__ = ["read_odf"]

_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
}
#: Most times one non-empty row or cell is repeated: past this a repeat is decoration, not data.
MAX_REPEAT = 1000


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{_NS[prefix]}}}{local}"


T_P, T_H, T_S, T_TAB, T_BREAK, T_LIST = _q("text:p"), _q("text:h"), _q("text:s"), _q("text:tab"), \
    _q("text:line-break"), _q("text:list")
TABLE, ROW, CELL, COVERED = _q("table:table"), _q("table:table-row"), _q("table:table-cell"), \
    _q("table:covered-table-cell")
DRAW_PAGE, NOTES, FRAME = _q("draw:page"), _q("presentation:notes"), _q("draw:frame")
ROW_GROUPS = {_q("table:table-header-rows"), _q("table:table-rows"), _q("table:table-row-group")}


def _inline(element: Any) -> str:
    """The text of a paragraph with its spans, spaces (``text:s``), tabs and line breaks."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == T_S:
            parts.append(" " * min(int(child.get(_q("text:c"), "1") or 1), 100))
        elif child.tag == T_TAB:
            parts.append("\t")
        elif child.tag == T_BREAK:
            parts.append("\n")
        elif child.tag != _q("office:annotation"):
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _paragraphs(element: Any) -> Iterator[str]:
    """Every paragraph's text under ``element``, in order (lists, frames and text boxes included)."""
    for node in element.iter():
        if node.tag in (T_P, T_H):
            yield _inline(node)


def _repeat(element: Any, attribute: str) -> int:
    try:
        return max(1, int(element.get(_q(attribute), "1")))
    except ValueError:
        return 1


def _rows(table: Any) -> Iterator[Sequence[str]]:
    def rows_of(parent: Any) -> Iterator[Any]:
        for child in parent:
            if child.tag == ROW:
                yield child
            elif child.tag in ROW_GROUPS:
                yield from rows_of(child)

    for row in rows_of(table):
        cells: list[str] = []
        for cell in row:
            if cell.tag not in (CELL, COVERED):
                continue
            text = "\n".join(_paragraphs(cell))
            cells.extend([text] * (min(_repeat(cell, "table:number-columns-repeated"), MAX_REPEAT) if text else 1))
        while cells and not cells[-1]:
            cells.pop()
        for _ in range(min(_repeat(row, "table:number-rows-repeated"), MAX_REPEAT) if cells else 0):
            yield cells


def _heading_styles(root: Any) -> dict[str, int]:
    """Paragraph styles that make a heading, with their level: ``Title`` (0), ``Heading N``, and the automatic
    styles derived from them (LibreOffice writes a heading from HTML or Word as ``text:p`` in such a style)."""
    def level(name: str) -> int | None:
        name = name.replace("_20_", " ").strip().lower()
        if name == "title":
            return 0
        if name.startswith("heading ") and name[8:].isdigit():
            return int(name[8:])
        return None

    found: dict[str, int] = {}
    styles = root.find(_q("office:automatic-styles"))
    for style in styles if styles is not None else ():
        name, parent = style.get(_q("style:name")), style.get(_q("style:parent-style-name"))
        known = level(parent or "") if parent else None
        if name and known is not None:
            found[name] = known
    return found


def _style_level(style: str) -> int:
    digits = style.rsplit("_", 1)[-1]
    return int(digits) if digits.isdigit() else 1


def _text_document(body: Any, budget: TextBudget, headings: dict[str, int]) -> list[Page]:
    out = Headings(budget)

    def walk(parent: Any) -> None:
        for child in parent:
            style = child.get(_q("text:style-name")) or ""
            if child.tag == T_H:
                out.heading(_repeat(child, "text:outline-level"), _inline(child))
            elif child.tag == T_P and (style in headings or style.startswith(("Heading_20_", "Title"))):
                out.heading(headings.get(style, 0 if style == "Title" else _style_level(style)), _inline(child))
            elif child.tag == T_P:
                out.text(_inline(child))
            elif child.tag == TABLE:
                out.text("\n\n".join(row_lines(_rows(child), budget, "a table")))
            elif child.tag == T_LIST:
                for text in _paragraphs(child):
                    out.text(text)
            else:  # sections, indexes, frames: what they hold, in order
                walk(child)

    walk(body)
    return out.done()


def _spreadsheet(body: Any, budget: TextBudget) -> list[Page]:
    pages = []
    for number, table in enumerate(body.iter(TABLE), start=1):
        name = table.get(_q("table:name")) or f"Sheet {number}"
        text = "\n\n".join(row_lines(_rows(table), budget, f"sheet {name!r}"))
        if text:
            pages.append(Page(number, text, section=name))
    return pages


#: Frames of a slide or its notes page that hold no content of their own (a page number, a date, the slide's
#: thumbnail on its notes page).
_FURNITURE = {"page", "page-number", "header", "footer", "date-time"}


def _frame_texts(frame: Any, budget: TextBudget) -> list[str]:
    if frame.get(_q("presentation:class")) in _FURNITURE:
        return []
    table = next(frame.iter(TABLE), None)
    if table is not None:
        return ["\n\n".join(row_lines(_rows(table), budget, "a table"))]
    return [t for t in _paragraphs(frame) if t.strip()]


def _presentation(body: Any, budget: TextBudget) -> list[Page]:
    pages = []
    for number, slide in enumerate(body.iter(DRAW_PAGE), start=1):
        title, parts, notes = "", [], []
        for child in slide:
            if child.tag == NOTES:
                notes += [t for frame in child for t in _frame_texts(frame, budget)]
                continue
            texts = _frame_texts(child, budget)
            if child.get(_q("presentation:class")) == "title" and texts and not title:
                title = " ".join(" ".join(texts).split())
            parts += texts
        if notes:
            parts.append("Speaker notes: " + "\n".join(notes))
        text = budget.take("\n\n".join(p for p in parts if p), f"slide {number}")
        if text:
            pages.append(Page(number, text, section=title or slide.get(_q("draw:name")) or f"Slide {number}"))
    return pages


def read_odf(blob: Blob, limits: Limits) -> Extracted:
    """An OpenDocument text, spreadsheet or presentation."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    with open_zip(blob.data, limits, "OpenDocument file", refuse_dtds=False) as archive:  # defusedxml refuses them
        if "content.xml" not in archive.namelist():
            raise CorruptDocument("the OpenDocument file has no content.xml: it is damaged or not OpenDocument")
        encrypted = b"manifest:encryption-data" in archive.read("META-INF/manifest.xml") \
            if "META-INF/manifest.xml" in archive.namelist() else False
        if encrypted:
            raise EncryptedDocument("the OpenDocument file is password-protected; docmill has no password for it")
        content = archive.read("content.xml")
    try:
        root = fromstring(content, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise CorruptDocument(f"the OpenDocument file's XML declares a DTD or entities, refused: {exc}") from exc
    except Exception as exc:  # ParseError
        raise CorruptDocument(f"the OpenDocument file's XML is damaged: {exc}") from exc
    body = root.find(_q("office:body"))
    if body is None:
        raise CorruptDocument("the OpenDocument file has no body")
    budget = TextBudget(limits)
    if (part := body.find(_q("office:spreadsheet"))) is not None:
        return Extracted(_spreadsheet(part, budget))
    if (part := body.find(_q("office:presentation"))) is not None:
        return Extracted(_presentation(part, budget))
    part = body.find(_q("office:text"))
    return Extracted(_text_document(part if part is not None else body, budget, _heading_styles(root)))
