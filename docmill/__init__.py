"""docmill: documents in, searchable chunked vectors out, kept in sync with their sources.

What a plugin author needs is here: ``hookimpl``, the error tree, and the
models that cross plugin boundaries.
"""

from .privacy import switch_off as _switch_off

_switch_off()  # before any third-party import, in every docmill process (see privacy.py)

import typing as _typing  # noqa: E402

from .core import errors  # noqa: E402
from .core.errors import *  # noqa: E402, F403 - the error tree is part of the public surface
from .core.filters import Condition, Filter, filterable, matches  # noqa: E402
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

if _typing.TYPE_CHECKING:
    from .core.plugin_context import PluginContext

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # PluginContext needs pydantic, which processes that only parse untrusted bytes never import.
    if name == "PluginContext":
        from .core.plugin_context import PluginContext

        return PluginContext
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "PluginContext"])


__all__ = [
    *errors.__all__,
    "Blob",
    "Chunk",
    "ChunkText",
    "Condition",
    "DocumentRef",
    "Filter",
    "Limits",
    "Page",
    "PageImage",
    "PluginContext",
    "SearchHit",
    "StoredChunk",
    "__version__",
    "filterable",
    "hookimpl",
    "matches",
]
