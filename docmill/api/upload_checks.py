"""Uploaded files, checked before a byte of them is kept: a name that is only a name, a type that is true.

A file name with a path in it (``../../etc/passwd``, ``/tmp/x``, ``a\\b``),
control characters, or nothing left of it is refused, not cleaned up: the
caller learns that the name was wrong. The stored name never reaches the
file system anyway (bytes are stored by their SHA-256), but it becomes the
document's name in results. A part whose declared ``Content-Type`` names
another kind of file than its bytes show is refused too.

Each refusal is a type of its own, which ``errors.py`` answers with its
status: ``UploadRefused`` (400) and its kinds ``SameName`` (409),
``FileOverLimit`` (413) and ``TypeContradicted`` (415).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..app.upload_store import store_blob
from ..core.sniff import contradiction

__all__ = ["MAX_NAME", "BodyTail", "FileOverLimit", "SameName", "TypeContradicted", "UploadRefused",
           "check_name", "keep"]

#: Longest file name accepted, in characters.
MAX_NAME = 255
#: Bytes read at a time from an uploaded part.
CHUNK = 1 << 20


class UploadRefused(ValueError):
    """An upload that is not kept, with the reason: a name that is not only a name, a body without a file."""


class SameName(UploadRefused):
    """Two files of one request have the same name: one would replace the other."""


class FileOverLimit(UploadRefused):
    """A file over ``DOCMILL_MAX_FILE_SIZE`` inside a body that is not."""


class TypeContradicted(UploadRefused):
    """A part's declared ``Content-Type`` names another kind of file than its bytes show."""


def check_name(raw: str | None) -> str:
    """The upload's file name, when it is only a name; UploadRefused saying what is wrong otherwise."""
    name = (raw or "").strip()
    if not name:
        raise UploadRefused("every file needs a file name")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise UploadRefused(f"the file name {name!r} holds a path; send the name alone")
    if any(not ch.isprintable() for ch in name):
        raise UploadRefused(f"the file name {name!r} holds control characters")
    if len(name) > MAX_NAME:
        raise UploadRefused(f"the file name is {len(name)} characters long, over {MAX_NAME}")
    return name


def keep(root: Path, name: str, declared: str | None, read: Any, max_size: int) -> dict[str, Any]:
    """Store one uploaded part (``read(n)`` gives its bytes) by its content; the upload item for the job.

    The declared type is checked against the first bytes before anything is
    written; the size limit holds while the bytes are copied.
    """
    head = read(CHUNK)
    why = contradiction(declared or "", head)
    if why:
        raise TypeContradicted(f"{name}: {why}")

    def chunks() -> Iterator[bytes]:
        size, part = 0, head
        while part:
            size += len(part)
            if size > max_size:
                raise FileOverLimit(f"{name} is over the limit of {max_size:,} bytes (DOCMILL_MAX_FILE_SIZE)")
            yield part
            part = read(CHUNK)

    digest, size = store_blob(root, chunks())
    uploaded = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return {"name": name, "sha256": digest, "size": size, "uploaded": uploaded}


class BodyTail:
    """Wraps a request's ``receive``, keeping its size and last bytes: when a multipart body yields no file,
    whether it was empty, cut short before its closing boundary, or held parts without a file name."""

    KEEP = 512

    def __init__(self, receive: Any) -> None:
        self._receive, self.size, self.tail = receive, 0, b""

    async def receive(self) -> Any:
        message = await self._receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            self.size += len(chunk)
            self.tail = (self.tail + chunk)[-self.KEEP:]
        return message

    def why_no_file(self, content_type: str) -> str:
        """Why a multipart body with this Content-Type held no file, in the sender's terms."""
        if self.size == 0:
            return "the request body is empty: send each file as a multipart part named file, with a filename"
        boundary = content_type.partition("boundary=")[2].split(";")[0].strip().strip('"')
        if boundary and not self.tail.rstrip().endswith(b"--" + boundary.encode() + b"--"):
            return (f"the multipart body is cut short: it ends before its closing boundary (--{boundary}--), so "
                    "its last part is incomplete")
        return "no file in the request: send each file as a multipart part with a filename"
