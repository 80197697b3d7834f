"""Who may see a document's chunks through the HTTP API: a grant written on every chunk, and the filter that
reads it.

Every chunk carries ``access``: ``shared`` for the documents of sources
(folders, Paperless-ngx, URLs: everyone with a token sees them), or
``caller:NAME`` for a document the API caller NAME uploaded (its key is
``upload:NAME/FILE``). A caller's search keeps the chunks whose grant is one
of its own two (:func:`visible_to`): an allow-list on its own identity.
Nothing is ever inferred from the other callers that exist, so a caller
removed from the configuration leaves nothing visible to anyone, and a chunk
without a grant (written by a release before grants) is seen by no caller
until it is labelled (``core.upgrades``).

The grant is docmill's, set from the document's key as its chunks are
written; a source's own metadata cannot claim one.
"""

from __future__ import annotations

from .filters import Condition

__all__ = ["ACCESS", "SHARED", "access_of", "grant", "owner_of", "upload_key", "visible_to"]

#: The chunk field holding the grant.
ACCESS = "access"
#: The grant of documents every caller may see.
SHARED = "shared"
#: Uploaded documents' keys start so: ``upload:OWNER/NAME``.
UPLOAD_PREFIX = "upload:"


def upload_key(owner: str, name: str) -> str:
    """The document key of ``name`` uploaded by the caller ``owner``."""
    return f"{UPLOAD_PREFIX}{owner}/{name}"


def owner_of(key: str) -> str | None:
    """The caller that uploaded the document of this key; None for a source's document."""
    if not key.startswith(UPLOAD_PREFIX):
        return None
    owner, slash, _ = key[len(UPLOAD_PREFIX):].partition("/")
    return owner if slash and owner else None


def grant(caller: str) -> str:
    """The grant of one caller's own documents."""
    return f"caller:{caller}"


def access_of(key: str) -> str:
    """The grant of the document of this key: its uploader's, or shared. An upload's key never gives a shared
    grant, even malformed (``upload:/x`` is granted to a caller with no name: to nobody)."""
    if key.startswith(UPLOAD_PREFIX):
        return grant(key[len(UPLOAD_PREFIX):].partition("/")[0])
    return SHARED


def visible_to(caller: str) -> Condition:
    """The condition a search of ``caller`` adds: shared documents and its own uploads, nothing else."""
    return Condition(ACCESS, "in", (SHARED, grant(caller)))
