"""docmill: documents in, searchable chunked vectors out, kept in sync with their sources.

What a plugin author needs is here: ``hookimpl``, the error tree, and the
models that cross plugin boundaries.
"""

from .privacy import switch_off as _switch_off

_switch_off()  # before any third-party import, in every docmill process (see privacy.py)

from .core import errors  # noqa: E402
from .core.errors import *  # noqa: E402, F403 - the error tree is part of the public surface
from .core.hookspecs import hookimpl  # noqa: E402
from .core.models import (  # noqa: E402
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
from .core.plugin_context import PluginContext  # noqa: E402

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
    "PluginContext",
    "SearchHit",
    "StoredChunk",
    "__version__",
    "hookimpl",
]
