"""Attachments become documents of their own (invariant 14): keys under their parent, the same pipeline.

An extractor returns the files a document carries (a mail's attachments,
files embedded in an Office document, a mailbox's messages). The parent's
extract stage records each as a child document keyed
``PARENT#attachment/N/NAME`` (``N`` its place, ``NAME`` made safe: no path,
no control characters) and sends it to the extract stage like any document:
the same sniffer, extractors, OCR and limits. A child nested deeper than
``DOCMILL_MAX_ATTACHMENT_DEPTH`` is recorded as skipped (``too deep``)
instead. Children carry ``parent`` (the parent's name) and ``attachment``
(their own) as metadata, and are removed with their parent.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

from .ledger.children import ATTACHMENT, NewChild
from .ledger_records import Document, Stage
from .runtime import Runtime
from .values import Attachment, Task

__all__ = ["ATTACHMENT", "NAME_SEPARATOR", "attachment_key", "depth_of", "remove_stale_children", "safe_name",
           "start_attachments"]

#: What joins a parent's name and its child's, as search and status show it: ``mail.eml › invoice.pdf``.
NAME_SEPARATOR = " › "
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\#]+")


def safe_name(name: str | None, fallback: str = "attachment") -> str:
    """A name a child can carry in its key and on a screen: the last component of a path, without control or
    format characters, separators or ``#``, at most 120 characters; ``fallback`` when nothing is left."""
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = _UNSAFE.sub("_", text).strip(" .")
    return text[:120].strip() or fallback


def attachment_key(parent_key: str, number: int, name: str) -> str:
    """The key of a parent's ``number``-th attachment (1-based), named ``name`` (already safe)."""
    return f"{parent_key}{ATTACHMENT}{number}/{name}"


def depth_of(key: str) -> int:
    """How deep a document is nested: 0 for a source's own, 1 for an attachment of it, and so on."""
    return key.count(ATTACHMENT)


def _children(rt: Runtime, doc: Document, attachments: Sequence[Attachment]) -> list[NewChild]:
    limit = rt.settings.max_attachment_depth
    depth = depth_of(doc.key) + 1
    children = []
    for number, attachment in enumerate(attachments, start=1):
        name = safe_name(attachment.name)
        reason = None
        if depth > limit:
            reason = (f"an attachment nested {depth} deep (a file in a file in a file...), past the limit of "
                      f"{limit} (DOCMILL_MAX_ATTACHMENT_DEPTH)")
        children.append(NewChild(
            key=attachment_key(doc.key, number, name), name=f"{doc.name}{NAME_SEPARATOR}{name}",
            data=attachment.data, fingerprint="sha256:" + hashlib.sha256(attachment.data).hexdigest(),
            metadata={"parent": doc.name, "attachment": name},
            skip_kind="too deep" if reason else None, skip_reason=reason))
    return children


def start_attachments(rt: Runtime, job_id: str, doc: Document, attachments: Sequence[Attachment]) -> None:
    """Record a parent version's attachments as children and send those to extract (none: nothing to do)."""
    if not attachments:
        return
    started = rt.ledger.children.start(job_id, doc, _children(rt, doc, attachments), rt.signature)
    rt.send_all([Task.for_version(Stage.EXTRACT, job_id, key, version, doc.priority) for key, version in started])
    rt.ledger.versions.mark_sent(started)


def remove_stale_children(rt: Runtime, job_id: str, doc: Document) -> None:
    """Once a parent's version is stored: remove the children (and theirs) that this version no longer carries."""
    stale = rt.ledger.children.stale(doc.key, doc.version)
    if stale:
        rt.send_all([Task.for_version(Stage.REMOVE, job_id, key, version, doc.priority)
                     for key, version in rt.ledger.versions.start_removals(job_id, stale)])
