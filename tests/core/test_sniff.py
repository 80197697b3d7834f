"""Media types come from content; a name that contradicts the content is a wrong type."""

from __future__ import annotations

import io
import zipfile

import pytest

from docmill.core.errors import CorruptDocument, UnsupportedDocument
from docmill.core.sniff import media_type_of


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("a.pdf", b"%PDF-1.7\n...", "application/pdf"),
    ("scan.jpg", b"\xff\xd8\xff\xe0rest", "image/jpeg"),
    ("noext", b"\x89PNG\r\n\x1a\nrest", "image/png"),
    ("notes.md", b"# Title\n\ntext", "text/markdown"),
    ("notes", b"plain words", "text/plain"),
    ("page.html", b"<!DOCTYPE html><html><body>x</body></html>", "text/html"),
    ("page.txt", b"<html><body>x</body></html>", "text/plain"),
    ("weird.bin", b"\x00\x01\x02garbage", "application/octet-stream"),
])
def test_media_type_comes_from_content_refined_by_name(name: str, data: bytes, expected: str) -> None:
    assert media_type_of(name, data) == expected


def test_epub_is_told_from_other_zips() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr("content.opf", "<package/>")
    assert media_type_of("book.epub", buffer.getvalue()) == "application/epub+zip"


@pytest.mark.parametrize(("name", "data", "says"), [
    ("report.pdf", b"<html><body>404 not found</body></html>", "content is an HTML page"),
    ("photo.png", b"%PDF-1.4 ...", "content is a PDF"),
    ("report.pdf", b"\x00\x00binary junk", "content is unrecognised binary data"),
])
def test_content_contradicting_the_name_is_a_wrong_type(name: str, data: bytes, says: str) -> None:
    with pytest.raises(UnsupportedDocument) as caught:
        media_type_of(name, data)
    assert caught.value.kind == "wrong type" and says in caught.value.reason


def test_an_empty_file_is_corrupt_with_kind_empty() -> None:
    with pytest.raises(CorruptDocument) as caught:
        media_type_of("empty.pdf", b"")
    assert caught.value.kind == "empty"


def test_a_zip_whose_deflate_stream_is_broken_is_a_zip_not_an_error() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types>" + "<Override PartName='/x'/>" * 200 + "</Types>")
    data = bytearray(out.getvalue())
    start = 30 + len("[Content_Types].xml")  # the local header, the name, then the deflated bytes
    data[start:start + 40] = bytes(range(200, 240))  # what zlib refuses (it raised zlib.error out of sniffing)
    assert media_type_of("a.zip", bytes(data)) == "application/zip"
