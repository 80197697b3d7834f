"""Hostile Office files and mails, made at test time and small on disk."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from docmill.testing import office_files as make

#: A billion laughs: ten levels of ten references, a gigabyte of "lol" once expanded.
LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
          + "]>\n")


def _replace_member(package: bytes, name: str, write: object) -> bytes:
    """``package`` with its member ``name`` rewritten by ``write(entry)`` (deflated, streamed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info, source.read(info))
        entry = zipfile.ZipInfo(name)
        entry.compress_type = zipfile.ZIP_DEFLATED
        with target.open(entry, "w", force_zip64=True) as stream:
            write(stream)  # type: ignore[operator]
    return out.getvalue()


def _inflating(head: bytes, size: int, tail: bytes) -> object:
    def write(stream: io.BufferedIOBase) -> None:
        stream.write(head)
        block = b" " * (1 << 20)
        for _ in range(size // len(block)):
            stream.write(block)
        stream.write(tail)
    return write


def docx_bomb(path: Path, size: int = 300 << 20) -> None:
    """A Word document whose document.xml inflates to ``size`` bytes of whitespace."""
    head = (b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            b"<w:body>")
    path.write_bytes(_replace_member(make.docx(1, 1), "word/document.xml",
                                     _inflating(head, size, b"</w:body></w:document>")))


def odt_bomb(path: Path, size: int = 300 << 20) -> None:
    """An OpenDocument text whose content.xml inflates to ``size`` bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
    package = _replace_member(out.getvalue(), "content.xml", _inflating(
        b'<?xml version="1.0"?><office:document-content '
        b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0">',
        size, b"</office:document-content>"))
    path.write_bytes(package)


def huge_shared_strings(path: Path, size: int = 300 << 20) -> None:
    """A workbook whose shared-string table inflates to ``size`` bytes (one huge string)."""
    head = (b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            b'count="1" uniqueCount="1"><si><t>')
    book = make.xlsx(2, ("Budget",))
    path.write_bytes(_replace_member(book, "xl/sharedStrings.xml", _inflating(head, size, b"</t></si></sst>")))


def docx_with_entities(path: Path) -> None:
    """A Word document whose body is a billion-laughs entity bomb."""
    body = (LAUGHS + '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            "<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>").encode()
    path.write_bytes(_replace_member(make.docx(1, 1), "word/document.xml", lambda stream: stream.write(body)))


def odt_with_entities(path: Path) -> None:
    """An OpenDocument text whose content.xml is an entity bomb."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", LAUGHS + '<office:document-content xmlns:office="urn:oasis:names:tc:'
                         'opendocument:xmlns:office:1.0"><office:body><office:text>&lol9;</office:text>'
                         "</office:body></office:document-content>")
    path.write_bytes(out.getvalue())


def million_rows(path: Path, rows: int = 1_000_000) -> None:
    """A workbook of one sheet of ``rows`` rows of numbers: small compressed, and far past a text limit."""
    def write(stream: io.BufferedIOBase) -> None:
        stream.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                     b'2006/main"><sheetData>')
        for start in range(0, rows, 10_000):
            stream.write(b"".join(b"<row><c><v>%d</v></c><c><v>%d</v></c></row>" % (i, i * 7)
                                  for i in range(start, min(rows, start + 10_000))))
        stream.write(b"</sheetData></worksheet>")
    path.write_bytes(_replace_member(make.xlsx(2, ("Budget",)), "xl/worksheets/sheet1.xml", write))


def mime_bomb(path: Path, depth: int = 5000) -> None:
    """A mail of ``depth`` nested multipart parts."""
    lines = [b"From: bomb@example.org", b"To: you@example.org", b"Subject: nested", b"MIME-Version: 1.0"]
    for level in range(depth):
        lines += [b'Content-Type: multipart/mixed; boundary="b%d"' % level, b"", b"--b%d" % level]
    lines += [b"Content-Type: text/plain", b"", b"deep inside"]
    for level in reversed(range(depth)):
        lines.append(b"--b%d--" % level)
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")


def many_attachments(path: Path, count: int) -> None:
    """A mail with ``count`` small text attachments."""
    path.write_bytes(make.eml("Many files", "Too many files attached.",
                              [(f"note-{i}.txt", f"note {i}".encode(), "text/plain") for i in range(count)]))


def nested_mails(path: Path, depth: int) -> None:
    """A mail holding a mail holding a mail... ``depth`` deep, the innermost carrying a text attachment."""
    data = make.eml("Innermost", "The innermost mail.", [("deepest.txt", b"The deepest note.", "text/plain")])
    for level in range(depth - 1, 0, -1):
        data = make.eml(f"Level {level}", f"A mail at level {level}.", [(f"level-{level + 1}.eml", data,
                                                                          "message/rfc822")])
    path.write_bytes(data)


def hostile_names(path: Path) -> None:
    """A mail whose attachments are named with paths, control characters and right-to-left overrides."""
    path.write_bytes(make.eml("Odd names", "Attachments with odd names.", [
        ("../../../etc/cron.d/evil.txt", b"A note about the orchard's north wall.", "text/plain"),
        ("bell\x07\x1b[31mred.txt", b"A note about the bell tower.", "text/plain"),
        ("C:\\Windows\\system32\\gpj.\u202etxt", b"A note about the windmill.", "text/plain")]))
