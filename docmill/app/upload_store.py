"""Where the HTTP API's uploads live: files stored by their content's SHA-256, and the source that reads them.

This is docmill's own, not a plugin wrapping a library: the API stores and
the workers read through it, and it names uploads' keys (``core.access``),
which decide who may see them. It is registered as the ``api-upload`` source
through the ``docmill`` entry-point group like every source.

The API writes each upload's bytes once under ``ROOT/blobs/ab/abcdef...``
(the digest names the file, so the same bytes are stored once however often
they are sent) before it answers, and registers one source per request
whose options list that request's files. Its listing is those files and
nothing else (it never removes a document: `DELETE /v1/documents/KEY` does).
Keys are ``upload:OWNER/NAME``: the same name sent again by the same caller
is a new version of that document, and callers never share documents.

In distributed mode the root must be a directory every extract and OCR
worker reads at the same path (``DOCMILL_UPLOAD_DIR``, a shared volume).
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.access import upload_key
from ..core.errors import ConfigurationError, DiskFull, PermanentError
from ..core.hookspecs import Register, hookimpl
from ..core.interfaces import SourceFactory
from ..core.values import Blob, DocumentRef, Listing

if TYPE_CHECKING:
    from ..core.plugin_context import PluginContext

__all__ = ["SOURCE_TYPE", "UploadSource", "blob_path", "store_blob"]

#: The source type of uploads (a plugin like any other, so no setting names it).
SOURCE_TYPE = "api-upload"
#: What the operating system says when a disk is full, or the user's quota is.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def blob_path(root: Path, digest: str) -> Path:
    """Where the bytes of this SHA-256 (hex) live under ``root``."""
    return root / "blobs" / digest[:2] / digest


def store_blob(root: Path, chunks: Iterator[bytes]) -> tuple[str, int]:
    """Write bytes to their content address under ``root`` (atomically; kept if already there); their SHA-256
    and size. DiskFull when the disk (or the quota) is full: nothing is left behind."""
    try:
        return _store_blob(root, chunks)
    except OSError as exc:
        if exc.errno in _FULL:
            raise DiskFull(f"the disk holding uploaded files ({root}) is full: {exc.strerror}") from exc
        raise


def _store_blob(root: Path, chunks: Iterator[bytes]) -> tuple[str, int]:
    staging = root / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    handle, temporary = tempfile.mkstemp(dir=staging)
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())  # durable before the API says it has the document
        target = blob_path(root, digest.hexdigest())
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size


class UploadSource:
    """One API request's uploaded files, each a document of its caller."""

    def __init__(self, root: Path, owner: str, items: Sequence[Mapping[str, Any]]) -> None:
        self.root, self.owner = root, owner
        self.scope = upload_key(owner, "")
        self.items = [dict(item) for item in items]

    def _refs(self) -> Iterator[DocumentRef]:
        for item in self.items:
            name, digest = str(item["name"]), str(item["sha256"])
            yield DocumentRef(key=upload_key(self.owner, name), name=name, locator=digest,
                              stamp=f"sha256:{digest}", size=int(item["size"]),
                              metadata={"filename": name, "owner": self.owner, "modified": item.get("uploaded")})

    def discover(self) -> Iterator[DocumentRef]:
        return self._refs()

    def listing(self, state: Mapping[str, Any], *, full: bool) -> Listing:
        return Listing(self._refs(), complete=False)  # these files only; nothing is removed by an upload

    def fingerprint(self, ref: DocumentRef) -> str:
        return f"sha256:{ref.locator}"  # the content address is the content's hash

    def fetch(self, ref: DocumentRef) -> Blob:
        path = blob_path(self.root, ref.locator)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise PermanentError(f"the uploaded file is gone from {path.parent.parent.parent} (was the upload "
                                 "directory removed, or not shared with this worker?)", kind="gone") from None
        return Blob(ref.name, data, checksum=f"sha256:{ref.locator}")

    def close(self) -> None:
        pass


def make_upload_source(options: Any, context: PluginContext) -> UploadSource:
    """An upload request's files: ``root`` (the upload directory), ``owner`` and ``items``."""
    try:
        return UploadSource(Path(options["root"]), str(options["owner"]), list(options["items"]))
    except (KeyError, TypeError) as exc:
        raise ConfigurationError(f"an upload source needs root, owner and items: {exc}") from exc


@hookimpl
def docmill_register_sources(register: Register[SourceFactory]) -> None:
    register(SOURCE_TYPE, make_upload_source)
