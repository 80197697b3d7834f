"""The text extractor: plain text, Markdown, CSV and HTML, in whatever encoding.

The encoding comes from a byte-order mark, an HTML ``<meta charset>``, strict
UTF-8, then Windows-1252 when the text reads like a Western language
(as browsers assume for unlabelled legacy text: on short samples statistical
detectors cannot tell it from Baltic or Central European code pages), and
finally charset-normalizer's detection for everything else (Cyrillic,
Greek...). HTML keeps its visible text, one block per line. Text has no pages: its single page has number ``None``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser

from docmill import (
    Blob,
    CorruptDocument,
    DocumentTooLarge,
    Limits,
    Page,
    PageImage,
    UnsupportedDocument,
    hookimpl,
    utf16_order,
)

__all__ = ["TextExtractor", "decode_text", "html_to_text"]

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _reads_western(text: str) -> bool:
    """Mostly ASCII letters with some accents: French, German, Spanish... not mojibake of another script."""
    letters = [ch for ch in text if ch.isalpha()]
    accented = sum(ord(ch) > 127 for ch in letters)
    return bool(letters) and accented / len(letters) < 0.3


def decode_text(data: bytes, *, html: bool = False) -> str:
    """Decode bytes whose encoding nobody told us."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, "replace")
    order = utf16_order(data[:4096])
    if order is not None:
        return data.decode(order, "replace")
    if html and (match := _META_CHARSET.search(data[:4096])):
        try:
            return data.decode(match.group(1).decode("ascii"), "replace")
        except (LookupError, UnicodeError, ValueError):
            pass  # an unknown charset name, or one that is no text encoding (idna): detect instead
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:
        western = ""
    if western and _reads_western(western):
        return western
    from charset_normalizer import from_bytes  # a statistical detector: imported only when needed

    best = from_bytes(data).best()
    if best is None:
        raise CorruptDocument("cannot tell the text's encoding: it looks like binary data")
    return str(best)


class _Visible(HTMLParser):
    _HIDDEN = {"script", "style", "noscript", "template", "svg", "head"}
    _BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
               "header", "footer", "blockquote", "pre", "table", "ul", "ol", "dd", "dt", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._HIDDEN:
            self._hidden += 1
        if tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._HIDDEN and self._hidden:
            self._hidden -= 1
        if tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._hidden:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """The visible text of an HTML page, its title first."""
    parser = _Visible()
    parser.feed(markup)
    parser.close()
    body = "".join(parser.parts)
    body = re.sub(r"[ \t\r\f\v]+", " ", body)
    body = re.sub(r"\n\s*\n\s*", "\n\n", body).strip()
    title = " ".join(parser.title.split())
    return f"{title}\n\n{body}" if title and not body.startswith(title) else body


class TextExtractor:
    """Reads text-like files."""

    name = "text"

    def extract(self, blob: Blob, limits: Limits) -> list[Page]:
        is_html = blob.media_type == "text/html"
        if len(blob.data) > 4 * limits.max_text:  # more characters than the limit, whatever the encoding
            raise DocumentTooLarge(f"{len(blob.data):,} bytes of text, more than {limits.max_text:,} characters "
                                   "(DOCMILL_MAX_TEXT)")
        text = decode_text(blob.data, html=is_html)
        if len(text) > limits.max_text:
            raise DocumentTooLarge(f"{len(text):,} characters of text, over the limit of {limits.max_text:,} "
                                   "(DOCMILL_MAX_TEXT)")
        if is_html:
            text = html_to_text(text)
        return [Page(None, text.replace("\r\n", "\n").replace("\x00", ""))]

    def render(self, blob: Blob, pages: Sequence[int], limits: Limits) -> Iterator[PageImage]:
        raise UnsupportedDocument("text documents have no pages to render for OCR")


_EXTRACTOR = TextExtractor()


@hookimpl
def docmill_extractor(blob: Blob) -> TextExtractor | None:
    return _EXTRACTOR if blob.media_type.startswith("text/") else None
