"""Office documents and mails made with the libraries that write them, for tests and benchmarks.

Each writer puts known sentences where a reader must find them (a heading, a
table, a slide's notes, a mail's attachment), so a test can search for them.
Files written by real office programs live in ``tests/data/office``.
"""

from __future__ import annotations

import io
import mailbox
import zipfile
from email.message import EmailMessage
from pathlib import Path

__all__ = ["docm", "docx", "eml", "mbox", "pdf", "pptx", "xlsm", "xlsx"]

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_OOXML = b"application/vnd.openxmlformats-officedocument."


def docx(sections: int = 2, paragraphs: int = 3) -> bytes:
    """A Word document: a title, ``sections`` numbered headings with paragraphs under them, and a table."""
    import docx as python_docx

    document = python_docx.Document()
    document.add_heading("Contract", 0)
    for number in range(1, sections + 1):
        document.add_heading(f"{number} Payment terms" if number == 1 else f"{number} Clause {number}", 1)
        for i in range(paragraphs):
            document.add_paragraph(f"Clause {number}.{i}: the bakery pays for the oak shelves within thirty days "
                                   f"of delivery, and the joinery keeps the walnut offcuts (paragraph {i}).")
    table = document.add_table(rows=3, cols=2)
    for r, (item, price) in enumerate([("Item", "Price"), ("Oak shelf", "140 EUR"), ("Walnut counter", "2300 EUR")]):
        table.cell(r, 0).text, table.cell(r, 1).text = item, price
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _macro_enabled(package: bytes, main: bytes, macro_main: bytes, folder: str) -> bytes:
    """An OOXML package turned macro-enabled: its main part's type changed and a VBA project added (a macro
    that would run a shell command: docmill must read the file and never run it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(main, macro_main).replace(
                    b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
                                 b"</Types>")
            target.writestr(info, data)
        target.writestr(f"{folder}/vbaProject.bin", b"Attribute VB_Name = \"Module1\"\nSub AutoOpen()\n"
                                                    b"Shell \"touch /tmp/docmill-macro-ran\"\nEnd Sub\n")
    return out.getvalue()


def docm() -> bytes:
    """A macro-enabled Word document (``.docm``) holding an AutoOpen macro."""
    return _macro_enabled(docx(1, 1), _OOXML + b"wordprocessingml.document.main+xml",
                          b"application/vnd.ms-word.document.macroEnabled.main+xml", "word")


def xlsx(rows: int = 20, sheets: tuple[str, ...] = ("Budget", "Staff")) -> bytes:
    """A workbook: each sheet a header row and ``rows`` rows below it."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    for name in sheets:
        sheet = book.create_sheet(name)
        sheet.append(["Region", "Quarter", "Spend"])
        for i in range(rows):
            sheet.append([f"Region {i}", f"Q{i % 4 + 1}", 1000 + i])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsm() -> bytes:
    """A macro-enabled workbook (``.xlsm``)."""
    return _macro_enabled(xlsx(3, ("Budget",)), _OOXML + b"spreadsheetml.sheet.main+xml",
                          b"application/vnd.ms-excel.sheet.macroEnabled.main+xml", "xl")


def pptx(slides: int = 3) -> bytes:
    """A slide deck: each slide a title, a body and speaker notes."""
    from pptx import Presentation

    deck = Presentation()
    for number in range(1, slides + 1):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"Slide title {number}"
        slide.placeholders[1].text = f"Twelve hives pollinate the orchard, slide {number}."
        slide.notes_slide.notes_text_frame.text = f"Speaker notes of slide {number}: mention the honey yield."
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def pdf(text: str) -> bytes:
    """A one-page PDF holding ``text``."""
    import pymupdf

    document = pymupdf.open()
    page = document.new_page()
    page.insert_textbox(pymupdf.Rect(72, 72, 540, 720), text, fontsize=11)
    data: bytes = document.tobytes()
    return data


def eml(subject: str = "Hives and shelves", body: str = "Bob, the invoice and the contract are attached.",
        attachments: list[tuple[str, bytes, str]] | None = None, *, sender: str = "Alice <alice@example.org>",
        message_id: str = "<m1@example.org>", in_reply_to: str | None = None, html: bool = False) -> bytes:
    """A mail with ``attachments`` (name, bytes, media type), or a PDF and a Word document by default."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "Bob <bob@example.org>, carol@example.org"
    message["Cc"] = "dave@example.org"
    message["Subject"] = subject
    message["Date"] = "Mon, 02 Mar 2026 10:00:00 +0000"
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    if html:
        message.set_content(f"<html><body><p>{body}</p></body></html>", subtype="html")
    else:
        message.set_content(body)
    if attachments is None:
        attachments = [("invoice.pdf", pdf("Invoice 4471: twelve beehives delivered to the orchard in March."),
                        "application/pdf"), ("contract.docx", docx(1, 1), DOCX_TYPE)]
    for name, data, media_type in attachments:
        if media_type == "message/rfc822":  # a forwarded mail, attached as mail clients do (not base64)
            from email import message_from_bytes, policy

            message.add_attachment(message_from_bytes(data, policy=policy.default), filename=name)
            continue
        maintype, _, subtype = media_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return bytes(message)


def mbox(path: Path, messages: int = 3) -> None:
    """A mailbox of ``messages`` mails, one thread."""
    box = mailbox.mbox(path, create=True)
    try:
        for number in range(1, messages + 1):
            box.add(eml(f"Swarm report {number}", f"The swarm number {number} settled in the old apple tree.",
                        [], message_id=f"<swarm{number}@example.org>",
                        in_reply_to="<swarm1@example.org>" if number > 1 else None))
    finally:
        box.close()
