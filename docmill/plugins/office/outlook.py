"""Outlook messages (``.msg``), with python-oxmsg: an OLE2 compound file read by olefile, nothing run.

The body prefers plain text, else the HTML as text; the message's internet
headers, when Outlook kept them, become the same metadata as an ``.eml``'s
(otherwise its sender, recipients, subject and date do); attachments become
attachments.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import Parser
from typing import Any

from docmill import Blob, CorruptDocument, DocumentTooLarge, Extracted, Limits

from .mail import mail_metadata
from .parsed import Attachments, TextBudget, mail_page

__all__ = ["read_msg"]


def _metadata(message: Any) -> dict[str, Any]:
    headers = message.message_headers or {}
    if headers.get("From") or headers.get("Message-ID"):
        parsed = Parser(policy=policy.default).parsestr(
            "".join(f"{k}: {v}\n" for k, v in headers.items()), headersonly=True)
        if isinstance(parsed, EmailMessage):
            return mail_metadata(parsed)
    meta: dict[str, Any] = {}
    if message.sender:
        meta["from"] = str(message.sender)
    recipients = [r.email_address or r.name for r in message.recipients if r.email_address or r.name]
    if recipients:
        meta["to"] = recipients
    if message.subject:
        meta["subject"] = " ".join(message.subject.split())
    if message.sent_date is not None and message.sent_date.year > 1601:  # 1601: a FILETIME of zero, no date
        meta["date"] = message.sent_date.isoformat()
    return meta


def read_msg(blob: Blob, limits: Limits) -> Extracted:
    """One Outlook message: body, metadata, attachments."""
    from oxmsg import Message

    from docmill.plugins.text_extractor import html_to_text

    try:
        message = Message.load(blob.data)
        meta = _metadata(message)
        body = message.body
        if not (body or "").strip() and message.html_body:
            html = message.html_body
            body = html_to_text(html.decode("utf-8", "replace") if isinstance(html, bytes) else html)
        attachments = Attachments(limits)
        for part in message.attachments:
            attachments.add(part.file_name or "attachment", part.file_bytes or b"",
                            part.mime_type or "application/octet-stream")
    except DocumentTooLarge:
        raise
    except Exception as exc:  # olefile's and python-oxmsg's errors: not an Outlook message we can read
        raise CorruptDocument(f"the Outlook message cannot be read: {' '.join(str(exc).split())[:300]}") from exc
    return Extracted(mail_page(meta, body or "", TextBudget(limits)), meta, list(attachments))
