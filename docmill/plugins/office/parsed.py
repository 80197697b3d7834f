"""What every Office and mail parser shares: the text budget, zip guards, headings, table rows, safe names.

Each parser module turns one family of files into a :class:`docmill.Extracted`:
pages (a sheet, a slide, a run of text under one heading), the document's own
metadata and its attachments. These helpers keep the limits in one place, so
that every family stops at ``DOCMILL_MAX_TEXT`` and refuses a zip bomb by its
headers before a library inflates anything.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from docmill import Attachment, CorruptDocument, DocumentTooLarge, Limits, Page

__all__ = ["SECTION_SEPARATOR", "Attachments", "Headings", "TextBudget", "embedded_files", "mail_page", "open_zip",
           "row_lines"]

#: Between the headings of a section path: "Contract › 4 Payment terms".
SECTION_SEPARATOR = " › "
#: Most members a zip-based document may have: a real one has tens to a few thousand.
MAX_MEMBERS = 20_000
#: XML a zip-based document may inflate to, per character of ``DOCMILL_MAX_TEXT`` (markup is many times its
#: text: a LibreOffice spreadsheet's XML is about 15 bytes a character of its cells), and at least this.
XML_PER_CHARACTER = 40
MIN_XML_BUDGET = 64 << 20
#: Bytes at the head of each XML part searched for a DTD (it must come before the root element).
DTD_READ = 4096


class TextBudget:
    """Counts the characters a parser has kept, and stops it past ``DOCMILL_MAX_TEXT``."""

    def __init__(self, limits: Limits) -> None:
        self.limit = limits.max_text
        self.used = 0

    def take(self, text: str, where: str = "") -> str:
        """``text``, counted; DocumentTooLarge once the document holds more than the limit."""
        self.used += len(text)
        if self.used > self.limit:
            at = f" by {where}" if where else ""
            raise DocumentTooLarge(f"more than {self.limit:,} characters of text{at} (DOCMILL_MAX_TEXT)")
        return text


def open_zip(data: bytes, limits: Limits, label: str, *, refuse_dtds: bool = True) -> zipfile.ZipFile:
    """The document's zip, after its headers show it within bounds: its members and what they inflate to.

    A zip member's declared size bounds what Python's zip reader returns for it, so the check holds for
    members that lie about their size too. With ``refuse_dtds`` the head of every XML part is searched for a
    DTD, refused before any library parses it (python-docx and python-pptx parse with lxml, entities left
    unresolved: without this an entity bomb would be read as a document short of its text); a reader that
    parses with defusedxml alone (OpenDocument) has it refused by the parser, and skips the search, which
    cost more than parsing a small document.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CorruptDocument(f"the {label} is damaged: {exc}") from exc
    if len(infos) > MAX_MEMBERS:
        archive.close()
        raise DocumentTooLarge(f"the {label} holds {len(infos):,} parts, more than {MAX_MEMBERS:,}")
    budget = max(MIN_XML_BUDGET, XML_PER_CHARACTER * limits.max_text)
    xml = [info for info in infos if info.filename.endswith((".xml", ".rels"))]
    inflated = sum(info.file_size for info in xml)
    if inflated > budget:
        archive.close()
        raise DocumentTooLarge(f"the {label}'s XML inflates to {inflated:,} bytes, more than the {budget:,} "
                               f"that {limits.max_text:,} characters of text allow (DOCMILL_MAX_TEXT): a zip bomb "
                               "or a document far over the limit")
    for info in xml if refuse_dtds else ():
        try:
            with archive.open(info) as part:
                head = part.read(DTD_READ)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
            archive.close()
            raise CorruptDocument(f"the {label}'s part {info.filename} is damaged: {exc}") from exc
        if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
            archive.close()
            raise CorruptDocument(f"the {label}'s part {info.filename} declares a DTD or XML entities, which "
                                  "Office files never do (an entity bomb): refused")
    return archive


class Attachments(list[Attachment]):
    """A document's attachments, each within ``DOCMILL_MAX_FILE_SIZE`` and at most ``DOCMILL_MAX_ATTACHMENTS``."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits

    def check_size(self, name: str, size: int) -> None:
        """DocumentTooLarge for an attachment of ``size`` bytes over the file size limit."""
        if size > self.limits.max_file_size:
            raise DocumentTooLarge(f"the attachment {name!r} is {size:,} bytes, over the limit of "
                                   f"{self.limits.max_file_size:,} (DOCMILL_MAX_FILE_SIZE)")

    def add(self, name: str, data: bytes, media_type: str = "application/octet-stream") -> None:
        """One more attachment (an empty one is left out)."""
        if not data:
            return
        self.check_size(name, len(data))
        if len(self) >= self.limits.max_attachments:
            raise DocumentTooLarge(f"more than {self.limits.max_attachments:,} attachments "
                                   "(DOCMILL_MAX_ATTACHMENTS)", kind="too many attachments")
        self.append(Attachment(name, data, media_type))


def embedded_files(archive: zipfile.ZipFile, folder: str, limits: Limits) -> list[Attachment]:
    """Files embedded in an OOXML package (``word/embeddings/``...): other Office files and PDFs, each a document
    of its own. OLE wrappers (``oleObject1.bin``) are left alone: what they wrap needs another reader."""
    found = Attachments(limits)
    for info in archive.infolist():
        name = info.filename
        if not name.startswith(folder) or name.endswith((".bin", "/")) or info.file_size == 0:
            continue
        found.check_size(name, info.file_size)  # before inflating it
        found.add(name.rsplit("/", 1)[-1], archive.read(info))
    return list(found)


def mail_page(meta: Mapping[str, Any], body: str, budget: TextBudget) -> list[Page]:
    """A mail's one page: its subject and sender above its body, the subject as section."""
    text = budget.take(body)
    head = "\n".join(f"{k.capitalize()}: {meta[k]}" for k in ("subject", "from") if k in meta)
    text = f"{head}\n\n{text}" if head and text.strip() else text
    return [Page(None, text, section=meta.get("subject"))] if text.strip() else []


class Headings:
    """The path of headings above the text being read, and the pages of text under each."""

    def __init__(self, budget: TextBudget) -> None:
        self.budget = budget
        self.path: list[tuple[int, str]] = []
        self.lines: list[str] = []
        self.body = False  # whether lines hold more than headings
        self.pages: list[Page] = []

    @property
    def section(self) -> str | None:
        return SECTION_SEPARATOR.join(title for _, title in self.path) or None

    def heading(self, level: int, title: str) -> None:
        """A heading of ``level`` (1 the highest): the text so far ends its section, and a new one starts."""
        title = " ".join(title.split())
        if not title:
            return
        self.flush()
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, title))
        self.lines.append(self.budget.take(title))

    def text(self, line: str) -> None:
        if line.strip():
            self.lines.append(self.budget.take(line))
            self.body = True

    def flush(self, *, last: bool = False) -> None:
        """End the page of the current section; headings with no text under them yet (a title above its first
        chapter) stay, to open the next section's page."""
        if self.lines and (self.body or last):
            self.pages.append(Page(None, "\n\n".join(self.lines), section=self.section))
            self.lines, self.body = [], False

    def done(self) -> list[Page]:
        self.flush(last=True)
        return self.pages


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def row_lines(rows: Iterable[Sequence[object]], budget: TextBudget, where: str) -> Iterable[str]:
    """A table as lines a model and a keyword index read: the first row holding text is the header, and each
    row after it is one line of ``header: value`` pairs (the cell alone where its column has no header)."""
    header: list[str] | None = None
    for row in rows:
        cells = [_cell(v) for v in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            yield budget.take(" | ".join(c for c in cells if c), where)
            continue
        pairs = []
        for i, cell in enumerate(cells):
            if not cell:
                continue
            name = header[i] if i < len(header) else ""
            pairs.append(f"{name}: {cell}" if name and name != cell else cell)
        yield budget.take(" | ".join(pairs), where)
