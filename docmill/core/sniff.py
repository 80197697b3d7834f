"""What a file really is, from its first bytes, and whether its name agrees.

A file named ``.pdf`` that holds an HTML error page is a failed download, not
a document: it fails as "wrong type" instead of being indexed as something
it does not claim to be.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib

from .errors import CorruptDocument, UnsupportedDocument

__all__ = ["contradiction", "image_size", "media_type_of", "utf16_order"]

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
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".docm": "application/vnd.ms-word.document.macroEnabled.12",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".pptm": "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".xls": "application/vnd.ms-excel",
    ".msg": "application/vnd.ms-outlook",
    ".rtf": "application/rtf",
    ".eml": "message/rfc822",
    ".mbox": "application/mbox",
}

#: The OOXML types, by the content type of their main part in ``[Content_Types].xml``.
_OOXML = (
    (b"wordprocessingml.document.main+xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (b"ms-word.document.macroEnabled.main+xml", "application/vnd.ms-word.document.macroEnabled.12"),
    (b"spreadsheetml.sheet.main+xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (b"ms-excel.sheet.macroEnabled.main+xml", "application/vnd.ms-excel.sheet.macroEnabled.12"),
    (b"presentationml.presentation.main+xml",
     "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    (b"ms-powerpoint.presentation.macroEnabled.main+xml", "application/vnd.ms-powerpoint.presentation.macroEnabled.12"),
)
#: The OpenDocument types a ``mimetype`` entry may name.
_ODF = ("application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation")
#: Compound-file (OLE2) documents, by a stream name in their directory (UTF-16LE): an encrypted OOXML file
#: is such a file too, holding the package as ``EncryptedPackage``.
_OLE2 = (
    ("EncryptedPackage", "application/x-encrypted-office"),
    ("__substg1.0_", "application/vnd.ms-outlook"),
    ("Workbook", "application/vnd.ms-excel"),
    ("WordDocument", "application/msword"),
    ("PowerPoint Document", "application/vnd.ms-powerpoint"),
)
#: Header names that mark the start of a mail (RFC 5322): two of them in the first lines make a message.
_MAIL_HEADERS = frozenset({"from", "to", "cc", "subject", "date", "message-id", "received", "return-path",
                           "mime-version", "delivered-to", "reply-to", "in-reply-to", "references", "sender",
                           "content-type", "x-mailer", "dkim-signature", "authentication-results"})
_HEADER_LINE = re.compile(rb"^([A-Za-z][A-Za-z0-9-]*):[ \t]")
_MBOX_FROM = re.compile(rb"^From \S+ +\S")

_NAMES = {
    "pdf": "a PDF",
    "image": "an image",
    "epub": "an EPUB book",
    "xps": "an XPS document",
    "svg": "an SVG drawing",
    "text": "text",
    "zip": "a ZIP archive",
    "binary": "unrecognised binary data",
    "word": "a Word document",
    "sheet": "a spreadsheet",
    "slides": "a slide deck",
    "outlook": "an Outlook message",
    "encrypted": "an encrypted Office document",
}


def _describe(media_type: str) -> str:
    special = {"text/html": "an HTML page", "message/rfc822": "an e-mail", "application/mbox": "a mailbox",
               "application/rtf": "an RTF document"}
    return special.get(media_type) or _NAMES[_family(media_type)]


#: Families of the Office and mail types: a name and content of the same family agree. Mails, mailboxes and
#: RTF are text (a ``.txt`` holding a mail stays text), and an encrypted Office file is any Office type.
_OFFICE_FAMILIES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "word",
    "application/vnd.ms-word.document.macroEnabled.12": "word",
    "application/vnd.oasis.opendocument.text": "word",
    "application/msword": "word",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "sheet",
    "application/vnd.ms-excel.sheet.macroEnabled.12": "sheet",
    "application/vnd.oasis.opendocument.spreadsheet": "sheet",
    "application/vnd.ms-excel": "sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "slides",
    "application/vnd.ms-powerpoint.presentation.macroEnabled.12": "slides",
    "application/vnd.oasis.opendocument.presentation": "slides",
    "application/vnd.ms-powerpoint": "slides",
    "application/vnd.ms-outlook": "outlook",
    "application/x-encrypted-office": "encrypted",
    "message/rfc822": "text",
    "application/mbox": "text",
    "application/rtf": "text",
}


def _family(media_type: str) -> str:
    if media_type == "image/svg+xml":
        return "svg"
    if media_type.startswith("image/"):
        return "image"
    if media_type.startswith("text/"):
        return "text"
    if media_type in _OFFICE_FAMILIES:
        return _OFFICE_FAMILIES[media_type]
    return {
        "application/pdf": "pdf",
        "application/epub+zip": "epub",
        "application/vnd.ms-xpsdocument": "xps",
        "application/oxps": "xps",
        "application/zip": "zip",
    }.get(media_type, "binary")


#: Bytes of an EPUB's or OpenDocument's ``mimetype`` entry read to recognise it: never the whole entry (it may
#: be a bomb).
MIMETYPE_READ = 64
#: Bytes of an OOXML package's ``[Content_Types].xml`` read to find its main part (a real one is a few KB).
CONTENT_TYPES_READ = 1 << 16


def _sniff_zip(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                with archive.open("mimetype") as entry:
                    declared = entry.read(MIMETYPE_READ).strip()
                if declared == b"application/epub+zip":
                    return "application/epub+zip"
                if declared.decode("ascii", "replace") in _ODF:
                    return declared.decode("ascii")
            if "[Content_Types].xml" in names:
                with archive.open("[Content_Types].xml") as entry:
                    types = entry.read(CONTENT_TYPES_READ)
                for marker, media_type in _OOXML:
                    if marker in types:
                        return media_type
    except (zipfile.BadZipFile, zlib.error, OSError, KeyError, ValueError, EOFError, NotImplementedError,
            RuntimeError):  # a damaged deflate stream raises zlib.error, a subclass of none of them
        return "application/zip"
    if any(name.endswith(".fdseq") or name.startswith("Documents/") for name in names):
        return "application/oxps"
    return "application/zip"


def _sniff_ole2(data: bytes) -> str:
    """A compound file's kind, by the first known stream name its directory holds (a byte search: the directory
    is not parsed, so a damaged one cannot mislead anything but the choice of extractor)."""
    found = [(data.find(name.encode("utf-16-le")), media_type) for name, media_type in _OLE2]
    return min(((i, t) for i, t in found if i >= 0), default=(-1, "application/x-ole-storage"))[1]


def _sniff_mail(head: bytes) -> str | None:
    """``message/rfc822`` for a mail's header block, ``application/mbox`` for a mailbox's ``From `` line."""
    lines = head.lstrip(b"\r\n").splitlines()[:40]
    if lines and _MBOX_FROM.match(lines[0]) and any(_HEADER_LINE.match(line) for line in lines[1:8]):
        return "application/mbox"
    known = 0
    for line in lines:
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t"):  # a folded header's continuation
            continue
        match = _HEADER_LINE.match(line)
        if match is None:
            return None
        known += match.group(1).decode("ascii").lower() in _MAIL_HEADERS
    return "message/rfc822" if known >= 2 else None


def utf16_order(head: bytes) -> str | None:
    """``"utf-16-le"`` or ``"utf-16-be"`` for text in UTF-16 without a byte-order mark, else None.

    Text in a Latin or Cyrillic script is mostly one zero byte and one
    printable byte per character: zeros on the odd positions (little-endian)
    or the even ones (big-endian), and almost none on the others.
    """
    sample = head[: len(head) // 2 * 2][:4096]
    if len(sample) < 16:
        return None
    even, odd = sample[0::2], sample[1::2]
    for zeros, other, order in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= 0.9 * len(zeros) and other.count(0) <= 0.05 * len(other):
            printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in other)
            if printable >= 0.8 * len(other):
                return order
    return None


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
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _sniff_ole2(data)
    if head.lstrip().startswith(b"{\\rtf"):
        return "application/rtf"
    mail = _sniff_mail(head)
    if mail is not None:
        return mail
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or utf16_order(head) is not None:
        return "text/plain"  # UTF-16, with a byte-order mark or without
    if b"\x00" in head:
        return "application/octet-stream"
    return _sniff_markup(head.decode("utf-8", "replace")) or "text/plain"


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 9 < len(data) and at < 1 << 20:  # markers before the frame header: within the first MiB
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = struct.unpack(">H", data[at + 2:at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame: height, width
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        at += 2 + length
    return None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    order = "<" if data[:2] == b"II" else ">"
    try:
        (offset,) = struct.unpack(order + "I", data[4:8])
        (count,) = struct.unpack(order + "H", data[offset:offset + 2])
        found: dict[int, int] = {}
        for i in range(min(count, 512)):
            tag, kind, _, value = struct.unpack(order + "HHI4s", data[offset + 2 + 12 * i:offset + 14 + 12 * i])
            if tag in (256, 257):  # ImageWidth, ImageLength: a SHORT or a LONG
                found[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), value[:2 if kind == 3 else 4])[0]
    except struct.error:
        return None
    return (found[256], found[257]) if 256 in found and 257 in found else None


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height an image file's header claims (PNG, JPEG, GIF, BMP, WebP, TIFF), before decoding."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if data.startswith((b"GIF87a", b"GIF89a")):
            return struct.unpack("<HH", data[6:10])
        if data[:2] == b"BM":
            width, height = struct.unpack("<ii", data[18:26])
            return abs(width), abs(height)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            chunk = data[12:16]
            if chunk == b"VP8X":
                return (int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1)
            if chunk == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if chunk == b"VP8 ":
                width, height = struct.unpack("<HH", data[26:30])
                return width & 0x3FFF, height & 0x3FFF
        if data.startswith(b"\xff\xd8\xff"):
            return _jpeg_size(data)
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_size(data)
    except struct.error:
        return None
    return None


#: Other names clients declare for a kind of file, and the families each may hold: older and vendor names of
#: PDF, what Windows browsers send for a .csv (Excel's type, also sent for a real .xls), text under application/.
_DECLARED_AS = {
    **dict.fromkeys(("application/x-pdf", "application/acrobat", "application/vnd.pdf", "applications/vnd.pdf",
                     "text/pdf", "text/x-pdf"), frozenset({"pdf"})),
    "application/vnd.ms-excel": frozenset({"text", "binary", "sheet"}),
    **dict.fromkeys(("application/csv", "application/x-csv", "application/json", "application/ld+json",
                     "application/xml", "application/yaml", "application/x-yaml", "application/x-ndjson",
                     "application/rtf"), frozenset({"text"})),
}


def contradiction(declared: str, head: bytes) -> str | None:
    """Why bytes starting with ``head`` are not of the ``declared`` media type (an upload's Content-Type), or
    None when they are, or when the declaration says nothing (empty, ``application/octet-stream``). A type's
    other common names (``application/x-pdf``, Excel's type for a CSV) count as the type."""
    declared = declared.split(";")[0].strip().lower()
    if not declared or declared == "application/octet-stream" or not head:
        return None
    sniffed = sniff(head)
    if _family(sniffed) in _DECLARED_AS.get(declared, frozenset({_family(declared)})):
        return None
    return f"declared {declared}, but the content is {_describe(sniffed)}"


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
    if _family(sniffed) == "encrypted" and _family(declared) in ("word", "sheet", "slides"):
        return sniffed  # an Office file saved with a password is an OLE2 wrapper whatever its name says
    if _family(declared) != _family(sniffed):
        raise UnsupportedDocument(
            f"named {suffix} but the content is {_describe(sniffed)}, not {_describe(declared)}",
            kind="wrong type",
        )
    # Within a family the name refines the type (.md is Markdown, not plain text).
    return declared if _family(declared) == "text" else sniffed
