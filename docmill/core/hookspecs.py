"""The hooks a docmill plugin can implement: the plugin author's contract.

A plugin is a module (or object) with functions decorated by
:data:`docmill.hookimpl`, made known through the ``docmill`` entry-point group::

    # pyproject.toml of your package
    [project.entry-points.docmill]
    myocr = "myocr_plugin"

    # myocr_plugin.py
    from docmill import hookimpl

    @hookimpl
    def docmill_register_ocr_engines(register):
        register("myocr", lambda context: MyOcr(context.settings.languages), settings=MyOcrSettings)

Registry hooks (``docmill_register_*``) receive a ``register(name, factory,
*, settings=None)`` callback; ``settings`` is the plugin's own pydantic
settings model, read from ``[plugins.NAME]`` in docmill.toml and
``DOCMILL_PLUGINS__NAME__FIELD``. Each factory receives a
:class:`~docmill.core.plugin_context.PluginContext` (the validated settings
and the few facts every plugin shares, never docmill's whole settings) and
returns an object following the protocol in :mod:`docmill.core.interfaces`.
Settings choose which registered name is used (``DOCMILL_STORE=...``). Two
plugins registering the same name is a ConfigurationError naming both.

Factories and the objects they return raise only errors from
:mod:`docmill.core.errors`; translate your library's exceptions with
``raise CorruptDocument(...) from exc`` where you call it.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from .interfaces import (
    ChunkerFactory,
    EmbedderFactory,
    Extractor,
    OcrEngineFactory,
    SourceFactory,
    VectorStoreFactory,
)
from .models import Blob

PROJECT = "docmill"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def docmill_register_sources(register: Callable[[str, SourceFactory], None]) -> None:
    """Register source types by name (``folder``, ``paperless``...).

    Called once when the plugin manager starts. ``factory(options, context)``
    gets the source's options (a mapping; never holding secrets) and returns a
    :class:`~docmill.core.interfaces.Source`. It may raise ConfigurationError
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
def docmill_register_ocr_engines(register: Callable[[str, OcrEngineFactory], None]) -> None:
    """Register OCR engines by name; ``DOCMILL_OCR`` selects one.

    ``factory(context)`` returns an :class:`~docmill.core.interfaces.OcrEngine`
    and should check its own prerequisites (binary installed, languages
    available), raising ConfigurationError with the fix, so a broken set-up
    is reported at start-up rather than on the first scanned page.
    """


@hookspec
def docmill_register_chunkers(register: Callable[[str, ChunkerFactory], None]) -> None:
    """Register chunkers by name; ``DOCMILL_CHUNKER`` selects one.

    ``factory(context)`` returns a :class:`~docmill.core.interfaces.Chunker`
    stating its ``signature`` (what decides the chunks).
    Chunking must be deterministic: the same pages must give the same chunks,
    or unchanged documents will look changed.
    """


@hookspec
def docmill_register_embedders(register: Callable[[str, EmbedderFactory], None]) -> None:
    """Register embedders by name; ``DOCMILL_EMBEDDER`` selects one.

    ``factory(context)`` returns an :class:`~docmill.core.interfaces.Embedder`
    stating its ``signature`` (what decides the vectors).
    Creating it must be cheap (load the model on first use): commands such as
    ``status`` build the pipeline without embedding anything. ``dimension``
    must be known without loading the model. Never reach a network when the
    settings name a local model.
    """


@hookspec
def docmill_register_vector_stores(register: Callable[[str, VectorStoreFactory], None]) -> None:
    """Register vector stores by name; ``DOCMILL_STORE`` selects one.

    ``factory(context, dimension, model)`` returns a
    :class:`~docmill.core.interfaces.VectorStore` for vectors of that size from
    that model, and raises ConfigurationError if the configured collection
    already holds vectors of another model. Raise StoreUnavailable when the
    store is busy or down; the pipeline retries.
    """
