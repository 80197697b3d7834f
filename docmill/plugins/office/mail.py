"""E-mail: ``.eml`` with the standard library's ``email`` (modern policy), ``.mbox`` with ``mailbox``.

A mail's body prefers text/plain, else its HTML as text; its headers become
filterable metadata (``from``, ``to``, ``cc``, ``subject``, ``date``,
``message_id``, ``thread``: the first message of its thread, from
References or In-Reply-To). Every attachment, a forwarded mail included,
becomes an attachment, which docmill makes a document of its own. A
mailbox's messages are its attachments, each a mail read the same way.

Before anything is read the MIME tree is walked without recursion, so a
mail of thousands of nested parts (a MIME bomb) fails as too large instead
of exhausting the stack. A header that does not parse is left out, not fatal.
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile
from collections.abc import Iterator
from email import policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

from docmill import Attachment, Blob, CorruptDocument, DocumentTooLarge, Extracted, Limits

from .parsed import Attachments, TextBudget, mail_page

__all__ = ["mail_metadata", "read_eml", "read_mbox"]

#: Deepest nesting of MIME parts, and most parts, a mail may have.
MAX_PART_DEPTH = 20
MAX_PARTS = 2000
#: Most multipart containers a mail may declare: the standard library's parser slows down with the square of
#: their nesting (5,000 nested parts took minutes), so they are counted in the raw bytes before it runs.
MAX_MULTIPARTS = 200
_MULTIPART = re.compile(rb"^content-type:[ \t]*multipart/", re.IGNORECASE | re.MULTILINE)


def _parts(message: Message) -> Iterator[Message]:
    """Every part, depth first, without recursion; DocumentTooLarge past the depth or count bounds."""
    stack: list[tuple[Message, int]] = [(message, 0)]
    count = 0
    while stack:
        part, depth = stack.pop()
        count += 1
        if depth > MAX_PART_DEPTH or count > MAX_PARTS:
            what = f"nested more than {MAX_PART_DEPTH} deep" if depth > MAX_PART_DEPTH else f"more than {MAX_PARTS:,}"
            raise DocumentTooLarge(f"the mail's MIME parts are {what}: a MIME bomb, not a mail")
        yield part
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in reversed(payload) if isinstance(child, Message))


def _header(message: EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
        return " ".join(str(value).split()) or None if value is not None else None
    except Exception:  # a header the policy cannot parse: left out
        return None


def _addresses(message: EmailMessage, name: str) -> list[str] | None:
    try:
        header = message.get(name)
        if header is None:
            return None
        found = [str(a.addr_spec or a.display_name) for a in getattr(header, "addresses", ())]
        return [a for a in found if a] or ([" ".join(str(header).split())] if str(header).strip() else None)
    except Exception:
        return None


def mail_metadata(message: EmailMessage) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for field in ("from", "to", "cc"):
        value = _addresses(message, field)
        if value:
            meta[field] = value[0] if field == "from" else value
    subject = _header(message, "subject")
    if subject:
        meta["subject"] = subject
    try:
        date = message.get("date")
        when = getattr(date, "datetime", None)
        if when is not None:
            meta["date"] = when.isoformat()
    except Exception:
        pass
    message_id = _header(message, "message-id")
    if message_id:
        meta["message_id"] = message_id
    references = (_header(message, "references") or "").split()
    reply_to = (_header(message, "in-reply-to") or "").split()
    thread = (references or reply_to or [message_id or ""])[0]
    if thread:
        meta["thread"] = thread
    return meta


def _body(message: EmailMessage) -> str:
    from docmill.plugins.text_extractor import html_to_text

    try:
        part = message.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        content = part.get_content()
    except (LookupError, ValueError, KeyError, AttributeError, AssertionError) as exc:
        raise CorruptDocument(f"the mail's body cannot be decoded: {exc}") from exc
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return html_to_text(content) if part.get_content_type() == "text/html" else str(content)


def _forwarded(part: Message, inner: object) -> bytes:
    """A forwarded mail's bytes; some senders base64-encode a message/rfc822 part, which RFC 2046 forbids."""
    if not isinstance(inner, Message):
        return b""
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding in ("base64", "quoted-printable") and not inner.keys():
        raw = inner.get_payload()
        if isinstance(raw, str):
            import base64
            import quopri

            try:
                return base64.b64decode(raw) if encoding == "base64" else quopri.decodestring(raw.encode())
            except ValueError:
                return b""
    return inner.as_bytes(policy=policy.default)


def _attachments(message: EmailMessage, limits: Limits) -> list[Attachment]:
    found = Attachments(limits)
    for part in message.iter_attachments():
        if not isinstance(part, EmailMessage):
            continue
        media_type = part.get_content_type()
        try:
            if media_type == "message/rfc822":
                inner = part.get_payload()
                inner = inner[0] if isinstance(inner, list) and inner else inner
                data = _forwarded(part, inner)
                name = part.get_filename() or f"{_header(inner, 'subject') or 'message'}.eml" \
                    if isinstance(inner, EmailMessage) else "message.eml"
            else:
                payload = part.get_payload(decode=True)
                data = payload if isinstance(payload, bytes) else b""
                name = part.get_filename() or "attachment"
        except Exception as exc:  # a part that cannot be decoded: its mail is damaged
            raise CorruptDocument(f"an attachment of the mail cannot be decoded: {exc}") from exc
        found.add(name, data, media_type)
    return list(found)


def read_eml(blob: Blob, limits: Limits) -> Extracted:
    """One mail: its body, its headers as metadata, its attachments."""
    multiparts = sum(1 for _ in itertools.islice(_MULTIPART.finditer(blob.data), MAX_MULTIPARTS + 1))
    if multiparts > MAX_MULTIPARTS:
        raise DocumentTooLarge(f"the mail declares more than {MAX_MULTIPARTS} multipart containers: a MIME bomb, "
                               "not a mail")
    try:
        message = BytesParser(policy=policy.default).parsebytes(blob.data)
    except RecursionError as exc:
        raise DocumentTooLarge("the mail's MIME parts are nested too deep: a MIME bomb, not a mail") from exc
    assert isinstance(message, EmailMessage)
    for _ in _parts(message):
        pass
    meta = mail_metadata(message)
    return Extracted(mail_page(meta, _body(message), TextBudget(limits)), meta, _attachments(message, limits))


_SUBJECT = re.compile(rb"^subject:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def _subject(data: bytes) -> str | None:
    """A message's subject, found in its header block alone: parsing every message of a mailbox with the modern
    policy only to name it made reading a mailbox 20 times slower than listing its messages."""
    head = data[:data.find(b"\n\n")] if b"\n\n" in data[:65536] else data[:65536]
    found = _SUBJECT.search(head)
    if found is None:
        return None
    try:
        words = decode_header(" ".join(found.group(1).decode("latin-1").split()))
        return "".join(w.decode(c or "latin-1", "replace") if isinstance(w, bytes) else w for w, c in words) or None
    except (LookupError, ValueError):
        return None


def read_mbox(blob: Blob, limits: Limits) -> Extracted:
    """A mailbox: each message an attachment (a document of its own); the mailbox itself has no text."""
    import mailbox

    fd, path = tempfile.mkstemp(suffix=".mbox")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob.data)
        box = mailbox.mbox(path, create=False)
        try:
            messages = []
            for number, key in enumerate(box.iterkeys(), start=1):
                if number > limits.max_messages:
                    raise DocumentTooLarge(f"the mailbox holds more than {limits.max_messages:,} messages "
                                           "(DOCMILL_MAX_MESSAGES)", kind="too many messages")
                data = box.get_bytes(key)
                messages.append(Attachment(f"{_subject(data) or 'message'}.eml", data, "message/rfc822"))
        finally:
            box.close()
    except (mailbox.Error, OSError, ValueError) as exc:
        raise CorruptDocument(f"the mailbox cannot be read: {exc}") from exc
    finally:
        os.unlink(path)
    return Extracted([], {"messages": len(messages)}, messages)
