"""The Office and mail extractor: Word, spreadsheets, slide decks, OpenDocument, RTF, e-mail and mailboxes.

One small module per family, each wrapping the library chosen for it
(``docs/formats.md`` says which and why): ``word`` (python-docx), ``sheets``
(openpyxl, xlrd), ``slides`` (python-pptx), ``odf`` (defusedxml),
``rtf`` (striprtf), ``mail`` (the standard library's ``email`` and
``mailbox``) and ``outlook`` (python-oxmsg). Each returns
:class:`docmill.Extracted`: pages with their section, the document's
metadata, and its attachments, which docmill makes documents of their own.
Everything runs in docmill's parsing processes; macros are read as bytes and
never run, nothing is computed, and no network is reached.
"""

from __future__ import annotations

import functools
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence

from docmill import (
    Blob,
    CorruptDocument,
    EncryptedDocument,
    Extracted,
    Limits,
    PageImage,
    UnsupportedDocument,
    hookimpl,
)

from .mail import read_eml, read_mbox
from .odf import read_odf
from .outlook import read_msg
from .rtf import read_rtf
from .sheets import read_workbook, read_xls
from .slides import read_slides
from .word import read_word

__all__ = ["READERS", "OfficeExtractor"]

#: Which reader reads each media type.
READERS: dict[str, Callable[[Blob, Limits], Extracted]] = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": read_word,
    "application/vnd.ms-word.document.macroEnabled.12": read_word,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": read_workbook,
    "application/vnd.ms-excel.sheet.macroEnabled.12": read_workbook,
    "application/vnd.ms-excel": read_xls,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": read_slides,
    "application/vnd.ms-powerpoint.presentation.macroEnabled.12": read_slides,
    "application/vnd.oasis.opendocument.text": read_odf,
    "application/vnd.oasis.opendocument.spreadsheet": read_odf,
    "application/vnd.oasis.opendocument.presentation": read_odf,
    "application/rtf": read_rtf,
    "message/rfc822": read_eml,
    "application/mbox": read_mbox,
    "application/vnd.ms-outlook": read_msg,
}
#: Types this extractor answers only to say why it cannot read them.
_REFUSED = ("application/x-encrypted-office", "application/msword", "application/vnd.ms-powerpoint")


@functools.cache
def _damaged() -> tuple[type[Exception], ...]:
    """The errors of the layers under every reader (zip, deflate, XML, OLE2) that mean the bytes are broken;
    and arithmetic ones: a reader that divides by a size or a count read from the file meets a zero there
    (``integer division or modulo by zero`` came out of a mutated file in the hostile-file property test)."""
    from xml.etree.ElementTree import ParseError

    from lxml.etree import LxmlError

    return (zipfile.BadZipFile, zlib.error, EOFError, struct.error, ParseError, LxmlError, UnicodeDecodeError,
            ArithmeticError)


class OfficeExtractor:
    """Reads Office documents, OpenDocument, RTF and mail; none of them has pages to render for OCR."""

    name = "office"

    def extract(self, blob: Blob, limits: Limits) -> Extracted:
        if blob.media_type == "application/x-encrypted-office":
            raise EncryptedDocument("the Office document is password-protected (encrypted); docmill has no "
                                    "password for it")
        reader = READERS.get(blob.media_type)
        if reader is None:
            raise UnsupportedDocument(f"{blob.media_type} (a legacy binary Office format) is not read: save it as "
                                      ".docx or .pptx")
        try:
            return reader(blob, limits)
        except RecursionError as exc:  # elements or parts nested thousands deep
            raise CorruptDocument("the file's structure is nested too deep to read: damaged or hostile") from exc
        except _damaged() as exc:  # what the zip, XML and OLE2 layers raise for broken bytes, wherever they are
            raise CorruptDocument(f"the file is damaged: {type(exc).__name__}: "
                                  f"{' '.join(str(exc).split())[:300]}") from exc

    def render(self, blob: Blob, pages: Sequence[int], limits: Limits) -> Iterator[PageImage]:
        raise UnsupportedDocument(f"{blob.media_type} files have no page images to read by OCR")


_EXTRACTOR = OfficeExtractor()


@hookimpl
def docmill_extractor(blob: Blob) -> OfficeExtractor | None:
    return _EXTRACTOR if blob.media_type in READERS or blob.media_type in _REFUSED else None
