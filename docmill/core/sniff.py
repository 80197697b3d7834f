"""What a file really is, from its first bytes, and whether its name agrees.

A file named ``.pdf`` that holds an HTML error page is a failed download, not
a document: it fails as "wrong type" instead of being indexed as something
it does not claim to be.
"""

from __future__ import annotations

import io
import zipfile

from .errors import CorruptDocument, UnsupportedDocument

__all__ = ["media_type_of"]

_BY_SUFFIX = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".bmp": "image/bmp",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".epub": "application/epub+zip",
    ".xps": "application/vnd.ms-xpsdocument",
    ".oxps": "application/oxps",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".log": "text/plain",
    ".rst": "text/plain",
    ".csv": "text/csv",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "text/html",
}

_NAMES = {
    "pdf": "a PDF",
    "image": "an image",
    "epub": "an EPUB book",
    "xps": "an XPS document",
    "svg": "an SVG drawing",
    "text": "text",
    "zip": "a ZIP archive",
    "binary": "unrecognised binary data",
}


def _describe(media_type: str) -> str:
    return "an HTML page" if media_type == "text/html" else _NAMES[_family(media_type)]


def _family(media_type: str) -> str:
    if media_type == "image/svg+xml":
        return "svg"
    if media_type.startswith("image/"):
        return "image"
    if media_type.startswith("text/"):
        return "text"
    return {
        "application/pdf": "pdf",
        "application/epub+zip": "epub",
        "application/vnd.ms-xpsdocument": "xps",
        "application/oxps": "xps",
        "application/zip": "zip",
    }.get(media_type, "binary")


def _sniff_zip(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names and archive.read("mimetype").strip() == b"application/epub+zip":
                return "application/epub+zip"
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        return "application/zip"
    if any(name.endswith(".fdseq") or name.startswith("Documents/") for name in names):
        return "application/oxps"
    return "application/zip"


def _sniff_markup(head: str) -> str | None:
    lowered = head.lstrip("\ufeff \t\r\n").lower()
    if lowered.startswith(("<!doctype html", "<html")) or "<html" in lowered[:1024] or "<body" in lowered[:1024]:
        return "text/html"
    if (lowered.startswith("<?xml") and "<svg" in lowered[:2048]) or lowered.startswith("<svg"):
        return "image/svg+xml"
    return None


def sniff(data: bytes) -> str:
    """The media type the content itself shows."""
    head = data[:8192]
    if b"%PDF-" in head[:1024]:
        return "application/pdf"
    signatures = (
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"II*\x00", "image/tiff"),
        (b"MM\x00*", "image/tiff"),
    )
    for magic, media_type in signatures:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00":
        return "image/bmp"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(data)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text/plain"  # UTF-16 with a byte-order mark
    if b"\x00" in head:
        return "application/octet-stream"
    return _sniff_markup(head.decode("utf-8", "replace")) or "text/plain"


def media_type_of(name: str, data: bytes) -> str:
    """The media type to extract ``data`` as, checked against its file name.

    Raises CorruptDocument for an empty file, and UnsupportedDocument (kind
    "wrong type") when the content contradicts the name's extension.
    """
    if not data:
        raise CorruptDocument("the file is empty (0 bytes)", kind="empty")
    sniffed = sniff(data)
    base = name.rsplit("/", 1)[-1]
    suffix = "." + base.rsplit(".", 1)[-1].lower() if "." in base.strip(".") else ""
    declared = _BY_SUFFIX.get(suffix)
    if declared is None:
        return sniffed
    if _family(declared) != _family(sniffed):
        raise UnsupportedDocument(
            f"named {suffix} but the content is {_describe(sniffed)}, not {_describe(declared)}",
            kind="wrong type",
        )
    # Within a family the name refines the type (.md is Markdown, not plain text).
    return declared if _family(declared) == "text" else sniffed
