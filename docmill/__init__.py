"""docmill: documents in, searchable chunked vectors out, kept in sync with their sources.

What a plugin author needs is here: ``hookimpl``, the error tree, and the
models that cross plugin boundaries.
"""

from .core import errors
from .core.errors import *  # noqa: F403 - the error tree is part of the public surface
from .core.hookspecs import hookimpl
from .core.models import (
    Blob,
    Chunk,
    ChunkText,
    DocumentRef,
    Limits,
    Page,
    PageImage,
    SearchHit,
    StoredChunk,
)

__version__ = "0.1.0"

__all__ = [
    *errors.__all__,
    "Blob",
    "Chunk",
    "ChunkText",
    "DocumentRef",
    "Limits",
    "Page",
    "PageImage",
    "SearchHit",
    "StoredChunk",
    "__version__",
    "hookimpl",
]
