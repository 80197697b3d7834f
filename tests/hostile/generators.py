"""Hostile inputs, made at test time and small on disk: bombs by header or by compression."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

CONTAINER = ('<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
             '<rootfiles><rootfile full-path="content.opf" media-type="application/oebps-package+xml"/></rootfiles>'
             '</container>')
OPF = ('<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0"><metadata/><manifest>'
       '<item id="c" href="c.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="c"/>'
       '</spine></package>')


def _pdf(objects: list[bytes], root: int = 1) -> bytes:
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {root} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def text_bomb_pdf(path: Path, pages: int = 10, characters_per_page: int = 1_500_000) -> None:
    """A few KB of PDF whose pages hold millions of characters of (tiny, but visible) text."""
    line = b"(" + b"A" * 1500 + b") '\n"
    content = zlib.compress(b"BT /F1 0.5 Tf 0.6 TL 20 790 Td\n" + line * (characters_per_page // 1500) + b"ET", 9)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i in range(pages):
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> "
                       f">> /Contents {5 + 2 * i} 0 R >>".encode())
        objects.append(f"<< /Length {len(content)} /Filter /FlateDecode >>\nstream\n".encode() + content
                       + b"\nendstream")
    path.write_bytes(_pdf(objects))


def false_count_pdf(path: Path) -> None:
    """A PDF whose page tree claims a million pages and holds one."""
    content = b"BT /F1 12 Tf 72 720 Td (The only page there is.) Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R 4 0 R 9 0 R] /Count 1000000 >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
               b"/Contents 5 0 R >>",
               f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream"]
    path.write_bytes(_pdf(objects))


def epub_bomb(path: Path, size: int = 1 << 30) -> None:
    """A 1 MB EPUB whose one chapter inflates to ``size`` bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        archive.writestr("META-INF/container.xml", CONTAINER)
        archive.writestr("content.opf", OPF)
        info = zipfile.ZipInfo("c.xhtml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as chapter:
            chapter.write(b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body><p>')
            block = b"a " * (1 << 19)
            for _ in range(size // len(block)):
                chapter.write(block)
            chapter.write(b"</p></body></html>")


def zip_with_huge_mimetype(path: Path, size: int = 1 << 30) -> None:
    """A ZIP (named .epub) whose ``mimetype`` entry inflates to ``size`` bytes: a sniffer must not read it whole."""
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("mimetype")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as entry:
            block = b"x" * (1 << 20)
            for _ in range(size // len(block)):
                entry.write(block)


def png_claiming(path: Path, side: int = 100_000) -> None:
    """A tiny PNG whose header claims ``side`` x ``side`` pixels."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
                     + chunk(b"IEND", b""))


def one_line_text(path: Path, size: int = 20_000_000) -> None:
    """A plain text file of one sentence, ``size`` bytes long."""
    with open(path, "wb") as fh:
        word = b"lorem "
        fh.write(word * (size // len(word)))


def html_with_charset(path: Path, charset: str = "idna") -> None:
    """An HTML page declaring a charset that is no text encoding."""
    path.write_text(f'<html><head><meta charset="{charset}"><title>Gardening notes</title></head>'
                    "<body><p>Tomatoes need a warm, sheltered spot and regular watering.</p></body></html>",
                    encoding="utf-8")


def utf16_without_bom(path: Path) -> None:
    """Text in UTF-16LE, with no byte-order mark."""
    path.write_bytes(("Notes on the parish church roof: the lead was replaced in the spring, and the bells "
                      "were rehung by the autumn.\n" * 10).encode("utf-16-le"))
