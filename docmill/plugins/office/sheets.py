"""Spreadsheets: ``.xlsx`` and ``.xlsm`` with openpyxl (read-only, streaming; macros are never run), legacy
``.xls`` with xlrd.

Each sheet is a page of its own (numbered in workbook order, its name as the
section), so a chunk never spans two sheets; each row becomes one line of
``header: value`` pairs under the sheet's first row. Cached values are read,
never formulas, so nothing is computed. Reading stops at ``DOCMILL_MAX_TEXT``
while the rows stream, so a sheet of a million rows costs what the limit
allows and no more.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from docmill import Blob, CorruptDocument, EncryptedDocument, Extracted, Limits, Page

from .parsed import TextBudget, embedded_files, open_zip, row_lines

__all__ = ["read_workbook", "read_xls"]


def _sheet_page(number: int, name: str, rows: Iterable[Sequence[object]], budget: TextBudget) -> Page | None:
    text = "\n\n".join(row_lines(rows, budget, f"sheet {name!r}"))
    return Page(number, text, section=name) if text else None


@functools.cache
def _openpyxl() -> Any:
    """openpyxl (which parses every XML part with defusedxml, when installed), its read-only sheets made to
    find their size from the head of the sheet alone.

    A read-only sheet looks for its ``<dimension>`` as it opens, and waits for the element's end event, which
    for a sheet without one (files other programs than Excel and LibreOffice write) comes only after the
    whole ``<sheetData>``: a million-row sheet was parsed whole before its first row was read (47 s), past
    any text limit. Looking at start events stops at ``<sheetData>`` either way.
    """
    import openpyxl
    from openpyxl.reader.excel import ReadOnlyWorksheet
    from openpyxl.worksheet.dimensions import SheetDimension
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    dimension_tag, data_tag = f"{{{SHEET_MAIN_NS}}}dimension", f"{{{SHEET_MAIN_NS}}}sheetData"

    def size_from_head(sheet: Any) -> None:
        source = sheet._get_source()
        try:
            for _, element in iterparse(source, events=("start",)):
                if element.tag == dimension_tag and element.get("ref"):
                    found = SheetDimension.from_tree(element).boundaries
                    if found is not None:
                        sheet._min_column, sheet._min_row, sheet._max_column, sheet._max_row = found
                    return
                if element.tag == data_tag:
                    return
        finally:
            source.close()

    ReadOnlyWorksheet._get_size = size_from_head
    return openpyxl


def read_workbook(blob: Blob, limits: Limits) -> Extracted:
    """Every sheet's rows, streamed."""
    openpyxl = _openpyxl()
    from openpyxl.utils.exceptions import InvalidFileException

    with open_zip(blob.data, limits, "spreadsheet") as archive:
        attachments = embedded_files(archive, "xl/embeddings/", limits)
    budget = TextBudget(limits)
    pages = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Workbook contains no default style", data validation...
            book = openpyxl.load_workbook(io.BytesIO(blob.data), read_only=True, data_only=True, keep_links=False)
        try:
            for number, sheet in enumerate(book.worksheets, start=1):
                rows = sheet.iter_rows(values_only=True) if hasattr(sheet, "iter_rows") else iter(())
                page = _sheet_page(number, sheet.title, rows, budget)
                if page is not None:
                    pages.append(page)
        finally:
            book.close()
    except (InvalidFileException, KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise CorruptDocument(f"the spreadsheet is damaged: {' '.join(str(exc).split())[:300]}") from exc
    except Exception as exc:
        if type(exc).__module__.startswith(("defusedxml", "xml.", "lxml")):
            raise CorruptDocument(f"the spreadsheet's XML is refused: {exc}") from exc
        raise
    return Extracted(pages, {}, attachments)


def read_xls(blob: Blob, limits: Limits) -> Extracted:
    """A legacy Excel workbook (BIFF), with xlrd: cell values, never formulas or macros."""
    import xlrd
    from xlrd.compdoc import CompDocError

    budget = TextBudget(limits)
    try:
        book = xlrd.open_workbook(file_contents=blob.data, on_demand=True, logfile=io.StringIO())
    except xlrd.XLRDError as exc:
        if "encrypt" in str(exc).lower():
            raise EncryptedDocument("the Excel workbook is password-protected; docmill has no password for it") \
                from exc
        raise CorruptDocument(f"the Excel workbook is damaged: {exc}") from exc
    except (CompDocError, AssertionError, struct.error, IndexError, ValueError, KeyError, OverflowError) as exc:
        raise CorruptDocument(f"the Excel workbook is damaged: {type(exc).__name__} {exc}") from exc
    pages = []
    try:
        for number in range(book.nsheets):
            sheet = book.sheet_by_index(number)
            rows = (sheet.row_values(i) for i in range(sheet.nrows))
            page = _sheet_page(number + 1, sheet.name, rows, budget)
            if page is not None:
                pages.append(page)
            book.unload_sheet(number)
    except (xlrd.XLRDError, CompDocError, AssertionError, struct.error, IndexError, ValueError, KeyError,
            OverflowError) as exc:
        raise CorruptDocument(f"the Excel workbook is damaged: {type(exc).__name__} {exc}") from exc
    finally:
        book.release_resources()
    return Extracted(pages)

