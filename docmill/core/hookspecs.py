"""The hooks a docmill plugin can implement: the plugin author's contract.

A plugin is a module (or object) with functions decorated by
:data:`docmill.hookimpl`, made known through the ``docmill`` entry-point group::

    # pyproject.toml of your package
    [project.entry-points.docmill]
    myocr = "myocr_plugin"

    # myocr_plugin.py
    from docmill import OcrEngineFactory, Register, hookimpl

    @hookimpl
    def docmill_register_ocr_engines(register: Register[OcrEngineFactory]) -> None:
        register("myocr", lambda context: MyOcr(context.settings.languages), settings=MyOcrSettings)

Registry hooks (``docmill_register_*``) receive a ``register(name, factory,
*, settings=None)`` callback; ``settings`` is the plugin's own pydantic
settings model, read from ``[plugins.NAME]`` in docmill.toml and
``DOCMILL_PLUGINS__NAME__FIELD``. Each factory receives a
:class:`~docmill.PluginContext` (the validated settings
and the few facts every plugin shares, never docmill's whole settings) and
returns an object following the protocol of its kind, exported by :mod:`docmill`.
Settings choose which registered name is used (``DOCMILL_STORE=...``). Two
plugins registering the same name is a ConfigurationError naming both.

Factories and the objects they return raise only errors of the tree that
:mod:`docmill` exports; translate your library's exceptions with
``raise CorruptDocument(...) from exc`` where you call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

import pluggy

from .interfaces import (
    ChunkerFactory,
    EmbedderFactory,
    Extractor,
    KeywordIndexFactory,
    OcrEngineFactory,
    SourceFactory,
    VectorStoreFactory,
)
from .values import Blob

if TYPE_CHECKING:  # pydantic: processes that only parse untrusted bytes never import it
    from pydantic import BaseModel

__all__ = ["PROJECT", "Register", "hookimpl", "hookspec"]

PROJECT = "docmill"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Factory = TypeVar("Factory", contravariant=True)


class Register(Protocol[Factory]):
    """The callback a registry hook receives: ``register(name, factory, *, settings=None)``.

    Typed by the kind of factory it takes, so that a type checker holds a
    plugin's factory to the protocol of its kind::

        @hookimpl
        def docmill_register_ocr_engines(register: Register[OcrEngineFactory]) -> None:
            register("myocr", lambda context: MyOcr(), settings=MyOcrSettings)

    ``settings`` is the plugin's own pydantic model class (see
    :class:`~docmill.PluginContext`); a name registered twice is a
    ConfigurationError naming both plugins.
    """

    def __call__(self, name: str, factory: Factory, /, *, settings: type[BaseModel] | None = None) -> None: ...


@hookspec
def docmill_register_sources(register: Register[SourceFactory]) -> None:
    """Register source types by name (``folder``, ``paperless``...).

    Called once when the plugin manager starts. ``factory(options, context)``
    gets the source's options (a mapping; never holding secrets) and returns a
    :class:`~docmill.Source`. It may raise ConfigurationError
    for bad options, and is called again on any worker that handles the
    source's documents, so it must be cheap and free of side effects.
    """


@hookspec(firstresult=True)
def docmill_extractor(blob: Blob) -> Extractor | None:
    """Return an extractor for this blob, or ``None`` if you do not read it.

    First result wins: the first plugin to return an extractor handles the
    blob; plugins registered later are asked first, so a third-party plugin
    can take over a type from a built-in. ``blob.media_type`` holds the type
    sniffed from the content. Called once per document in the extract stage
    and once per OCR task; return quickly and do not parse the document here.
    """


@hookspec
def docmill_register_ocr_engines(register: Register[OcrEngineFactory]) -> None:
    """Register OCR engines by name; ``DOCMILL_OCR`` selects one.

    ``factory(context)`` returns an :class:`~docmill.OcrEngine`
    and should check its own prerequisites (binary installed, languages
    available), raising ConfigurationError with the fix, so a broken set-up
    is reported at start-up rather than on the first scanned page.
    """


@hookspec
def docmill_register_chunkers(register: Register[ChunkerFactory]) -> None:
    """Register chunkers by name; ``DOCMILL_CHUNKER`` selects one.

    ``factory(context)`` returns a :class:`~docmill.Chunker`
    stating its ``signature`` (what decides the chunks).
    Chunking must be deterministic: the same pages must give the same chunks,
    or unchanged documents will look changed.
    """


@hookspec
def docmill_register_embedders(register: Register[EmbedderFactory]) -> None:
    """Register embedders by name; ``DOCMILL_EMBEDDER`` selects one.

    ``factory(context)`` returns an :class:`~docmill.Embedder`
    stating its ``signature`` (what decides the vectors).
    Creating it must be cheap (load the model on first use): commands such as
    ``status`` build the pipeline without embedding anything. ``dimension``
    must be known without loading the model. Never reach a network when the
    settings name a local model.
    """


@hookspec
def docmill_register_vector_stores(register: Register[VectorStoreFactory]) -> None:
    """Register vector stores by name; ``DOCMILL_STORE`` selects one.

    ``factory(context, dimension, model)`` returns a
    :class:`~docmill.VectorStore` for vectors of that size from
    that model, and raises ConfigurationError if the configured collection
    already holds vectors of another model. Raise StoreUnavailable when the
    store is busy or down; the pipeline retries.
    """


@hookspec
def docmill_register_keyword_indexes(register: Register[KeywordIndexFactory]) -> None:
    """Register keyword indexes by name; ``DOCMILL_KEYWORD_INDEX`` selects one (``auto``: PostgreSQL's
    full-text search when the ledger is PostgreSQL, SQLite's FTS5 in the home otherwise; ``none``: dense
    search only).

    ``factory(context)`` returns a :class:`~docmill.KeywordIndex`, which docmill
    writes beside the vector store, chunk for chunk, in every stage that writes
    the store, and which hybrid and keyword searches ask. Raise
    ConfigurationError for settings that cannot work (no server to reach), and
    StoreUnavailable when the index is busy or down; the pipeline retries.
    """
