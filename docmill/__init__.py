"""docmill: documents in, searchable chunked vectors out, kept in sync with their sources.

This module is the public surface, and all a plugin needs (``py.typed``
ships, so a plugin's type checker sees every type here):

* ``hookimpl`` and ``Register``, the callback registry hooks receive;
* the protocols each kind of plugin follows (``Source``, ``Extractor``,
  ``OcrEngine``, ``Chunker``, ``Embedder``, ``VectorStore``, ``KeywordIndex``
  and their optional capabilities) and the factory types a plugin registers;
* the records that cross plugin boundaries (``Blob``, ``Page``, ``Chunk``...),
  search filters, and ``PluginContext``, what a factory is given;
* the error tree (``PermanentError``, ``TransientError`` and their kinds);
* a few helpers for parsers and embedders (``image_size``, ``utf16_order``,
  ``hub_allowed``), and docmill's tokeniser for keyword indexes
  (``text_terms``, ``query_terms``).

Everything else (``docmill.core``, ``docmill.app``, ``docmill.actors``...)
is docmill's own and may change in any release.
"""

from .privacy import switch_off as _switch_off

_switch_off()  # before any third-party import, in every docmill process (see privacy.py)

import typing as _typing  # noqa: E402

from .core import errors  # noqa: E402
from .core.access import ACCESS  # noqa: E402
from .core.errors import *  # noqa: E402, F403 - the error tree is part of the public surface
from .core.filters import ONE_OF, Condition, Filter, filterable, matches  # noqa: E402
from .core.hookspecs import Register, hookimpl  # noqa: E402
from .core.interfaces import (  # noqa: E402
    CheckedSource,
    Chunker,
    ChunkerFactory,
    ContentCheckedSource,
    Embedder,
    EmbedderFactory,
    Extractor,
    GrantingStore,
    IncrementalSource,
    KeywordIndex,
    KeywordIndexFactory,
    OcrEngine,
    OcrEngineFactory,
    RelabellingStore,
    Signed,
    Source,
    SourceFactory,
    Vector,
    Vectors,
    VectorStore,
    VectorStoreFactory,
)
from .core.sniff import image_size, utf16_order  # noqa: E402
from .core.tokenizer import SIGNATURE as TOKENIZER_SIGNATURE  # noqa: E402
from .core.tokenizer import QueryTerm, query_terms, text_terms  # noqa: E402
from .core.values import (  # noqa: E402
    Attachment,
    Blob,
    Chunk,
    ChunkText,
    DocumentRef,
    Extracted,
    Limits,
    Listing,
    Page,
    PageImage,
    SearchHit,
    StoredChunk,
)
from .privacy import hub_allowed  # noqa: E402

if _typing.TYPE_CHECKING:
    from .core.plugin_context import PluginContext, RemoteSettings

__version__ = "0.1.0"

#: Names provided on first use: they need pydantic, which processes that only parse untrusted bytes never import.
_LAZY = ("PluginContext", "RemoteSettings")


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from .core import plugin_context

        return getattr(plugin_context, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    *errors.__all__,
    "ACCESS",
    "Attachment",
    "Blob",
    "CheckedSource",
    "Chunk",
    "ChunkText",
    "Chunker",
    "ChunkerFactory",
    "Condition",
    "ContentCheckedSource",
    "DocumentRef",
    "Embedder",
    "EmbedderFactory",
    "Extracted",
    "Extractor",
    "Filter",
    "GrantingStore",
    "IncrementalSource",
    "KeywordIndex",
    "KeywordIndexFactory",
    "Limits",
    "Listing",
    "ONE_OF",
    "OcrEngine",
    "OcrEngineFactory",
    "Page",
    "PageImage",
    "PluginContext",
    "QueryTerm",
    "Register",
    "RelabellingStore",
    "RemoteSettings",
    "SearchHit",
    "Signed",
    "Source",
    "SourceFactory",
    "StoredChunk",
    "TOKENIZER_SIGNATURE",
    "VectorStore",
    "Vector",
    "VectorStoreFactory",
    "Vectors",
    "__version__",
    "filterable",
    "hookimpl",
    "hub_allowed",
    "image_size",
    "matches",
    "query_terms",
    "text_terms",
    "utf16_order",
]
