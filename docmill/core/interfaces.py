"""What each kind of plugin provides: the protocols the pipeline calls.

A plugin registers a factory through a hook in :mod:`docmill.core.hookspecs`;
the factory returns an object with these methods. Methods raise errors from
:mod:`docmill.core.errors` only: a library's own exception is translated where
the plugin calls the library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

from .filters import Filter
from .values import (
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

if TYPE_CHECKING:
    import numpy as np

    # pydantic, which PluginContext needs, costs a process that only parses (core/sandbox.py) 0.2 s to import.
    from .plugin_context import PluginContext

#: Vectors as plugins may return them: a 2-D float array, or a list of lists.
Vectors: TypeAlias = "np.ndarray | Sequence[Sequence[float]]"
#: One vector (a query's): a 1-D float array, or a list of floats.
Vector: TypeAlias = "np.ndarray | Sequence[float]"

__all__ = [
    "CheckedSource",
    "Chunker",
    "ChunkerFactory",
    "ContentCheckedSource",
    "Embedder",
    "EmbedderFactory",
    "Extractor",
    "GrantingStore",
    "IncrementalSource",
    "KeywordIndex",
    "KeywordIndexFactory",
    "OcrEngine",
    "OcrEngineFactory",
    "RelabellingStore",
    "Signed",
    "Source",
    "SourceFactory",
    "Vector",
    "VectorStore",
    "VectorStoreFactory",
    "Vectors",
]


class Source(Protocol):
    """Lists documents and fetches their bytes."""

    #: Key prefix this source is authoritative for: keys under it that
    #: ``discover`` no longer lists are deleted from the index.
    scope: str

    def discover(self) -> Iterator[DocumentRef]:
        """Yield every document the source holds now."""
        ...

    def fingerprint(self, ref: DocumentRef) -> str:
        """A string that changes whenever the document's content changes."""
        ...

    def fetch(self, ref: DocumentRef) -> Blob:
        """The document's bytes. Raises PermanentError or TransientError."""
        ...

    def close(self) -> None:
        """Release clients and files; called when the process is done with the source."""
        ...


@runtime_checkable
class IncrementalSource(Protocol):
    """A source that can list only what changed since its last discovery.

    Discovery calls ``listing`` instead of ``Source.discover`` when a source has it,
    with the state the source returned after its last successful listing
    (empty the first time). ``full`` asks for every document (``docmill sync
    --full``): the listing should then be complete, ignoring the state.
    """

    def listing(self, state: Mapping[str, Any], *, full: bool) -> Listing:
        """The documents to consider now, and how to tell what was deleted."""
        ...


@runtime_checkable
class ContentCheckedSource(Protocol):
    """A source that can tell whether a document's file changed without downloading it.

    Some sources bump a document's change stamp for edits of its labels alone
    (Paperless-ngx moves ``modified`` when a tag changes). When the stamp moved
    on a document already indexed, discovery asks ``content_id``; if it equals
    the ``checksum`` the source put on the :class:`~docmill.core.values.Blob`
    it fetched for the current version, only the document's metadata changed:
    the chunks' metadata is updated in the store in place (``relabelled``),
    and nothing is downloaded, extracted or embedded again.
    """

    def content_id(self, ref: DocumentRef) -> str | None:
        """The checksum of the document's bytes now, as ``fetch`` would set it; None when unknown."""
        ...


@runtime_checkable
class CheckedSource(Protocol):
    """A source that can check its server without syncing: ``docmill doctor`` asks it (not with --quick).

    ``check`` connects, authenticates and looks for what the source reads (a
    mailbox's folders, a bucket), and returns what it found in a line for
    people; it raises what a sync would (``SourceUnavailable`` for a server
    that does not answer, ``PermanentError`` for a refused login), never
    with a secret in the message.
    """

    def check(self) -> str:
        """What the source found, e.g. ``logged in as 'alice'; 3 folders: INBOX, ...``."""
        ...


class Extractor(Protocol):
    """Turns a blob into page texts, and renders pages for OCR."""

    name: str

    def extract(self, blob: Blob, limits: Limits) -> list[Page] | Extracted:
        """Every page's text; pages without a usable text layer get ``needs_ocr``. An extractor that finds
        metadata or attached files returns them with the pages as :class:`~docmill.Extracted`."""
        ...

    def render(self, blob: Blob, pages: Sequence[int], limits: Limits) -> Iterator[PageImage]:
        """Images of the given 1-based pages, at the scan's own resolution."""
        ...


class OcrEngine(Protocol):
    """Reads text from page images."""

    name: str

    def recognize(self, image: PageImage) -> str:
        """The page's text. Raises DocumentTooLarge when over the time limit."""
        ...


@runtime_checkable
class Signed(Protocol):
    """A chunker or embedder that states what decides its output.

    ``signature`` is a short string that changes whenever the chunks or
    vectors would (another chunk size, another model) and stays the same
    otherwise (a batch size, a thread count): documents indexed under another
    signature are processed again. Without one, only the plugin's name counts.
    """

    signature: str


class Chunker(Protocol):
    """Cuts page texts into chunks that remember their page; states its ``signature`` (see :class:`Signed`)."""

    name: str

    def chunk(self, pages: Sequence[Page]) -> list[ChunkText]:
        """Chunks in reading order."""
        ...


class Embedder(Protocol):
    """Turns texts into vectors; one model, one dimension; states its ``signature`` (see :class:`Signed`)."""

    name: str
    model: str
    dimension: int

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """One normalised vector per text, in order."""
        ...

    def embed_query(self, text: str) -> Vector:
        """The vector of a search query."""
        ...


class VectorStore(Protocol):
    """Holds chunks with their vectors and answers nearest-neighbour queries."""

    name: str

    def upsert(self, chunks: Sequence[Chunk], vectors: Vectors, *,
               doc: str, version: int, metadata: Mapping[str, Any]) -> None:
        """Write chunks of one document version; the same IDs overwrite."""
        ...

    def delete_stale(self, doc_key: str, keep_version: int) -> int:
        """Delete the document's chunks of any other version; return how many."""
        ...

    def delete_document(self, doc_key: str) -> int:
        """Delete every chunk of the document; return how many."""
        ...

    def query(self, vector: Vector, k: int, where: Filter = ()) -> list[SearchHit]:
        """The ``k`` nearest chunks that pass every condition of ``where`` (``docmill.core.filters``), best
        first. Filterable fields are those ``filterable(metadata)`` gives for a chunk's metadata, with
        ``doc``, ``page`` and ``hash`` (a search leaves copies of one text out by it, ``core.search``); a store
        keeps them as its own keys so that the filter runs inside it."""
        ...

    def vectors_for(self, hashes: Sequence[str]) -> dict[str, Sequence[float]]:
        """Stored vectors of chunks with these text hashes (any document): reused instead of embedding again."""
        ...

    def iter_chunks(self, *, with_vectors: bool = False) -> Iterator[StoredChunk]:
        """Every stored chunk, in batches under the hood."""
        ...

    def count(self) -> int:
        """How many chunks are stored."""
        ...

    def close(self) -> None:
        """Release clients, files and locks; the store is not used afterwards."""
        ...


@runtime_checkable
class RelabellingStore(Protocol):
    """A vector store that can change a document's labels in place (all built-in stores can).

    A store without ``relabel`` still works: a document whose labels alone
    changed is then processed again in full.
    """

    def relabel(self, doc_key: str, *, doc: str, metadata: Mapping[str, Any]) -> int:
        """Give every chunk of the document this name and metadata, in place; return how many.

        Texts, vectors and IDs stay as they are: this is how a change of a
        document's labels alone (its tags, its title) reaches the index.
        """
        ...


@runtime_checkable
class GrantingStore(Protocol):
    """A vector store that can give chunks written before grants (``core.access``) theirs, in bulk (both
    built-in stores can). Without it, an upgrade relabels each document (``RelabellingStore``), one at a time.
    """

    def grant_unlabelled(self, access_of: Callable[[str], str]) -> int:
        """Set ``access`` to ``access_of(doc_key)`` on every chunk that has no ``access`` field, leaving the rest
        of each chunk as it is; return how many chunks were given one."""
        ...


class KeywordIndex(Protocol):
    """Holds the chunks' texts beside the vector store and ranks them by the words a query shares with them.

    Kept exactly as the vector store is: the store stage writes a version's
    chunks to both and only then deletes older versions from both; a removed
    document leaves both, a relabelled one changes in both, and a replayed
    message writes the same IDs again. ``search`` ranks with a keyword measure
    (BM25 or its like; higher is better) over the chunks that pass ``where``,
    which holds exactly what ``VectorStore.query`` gets, the caller's grant
    included. A query with no words to look for (stop words only) finds
    nothing. ``docmill.text_terms`` and ``docmill.query_terms`` are docmill's
    tokeniser (what the built-in indexes keep); a plugin may use its own.
    """

    name: str

    def upsert(self, chunks: Sequence[Chunk], *, doc: str, version: int, metadata: Mapping[str, Any]) -> None:
        """Write chunks of one document version; the same IDs overwrite. Durable before returning."""
        ...

    def delete_stale(self, doc_key: str, keep_version: int) -> int:
        """Delete the document's chunks of any other version; return how many."""
        ...

    def delete_document(self, doc_key: str) -> int:
        """Delete every chunk of the document; return how many."""
        ...

    def relabel(self, doc_key: str, *, doc: str, metadata: Mapping[str, Any]) -> int:
        """Give every chunk of the document this name and metadata, in place; return how many."""
        ...

    def grant_unlabelled(self, access_of: Callable[[str], str]) -> int:
        """Set ``access`` to ``access_of(doc_key)`` on every chunk without one; return how many."""
        ...

    def search(self, query: str, k: int, where: Filter = ()) -> list[SearchHit]:
        """The ``k`` chunks that best match the words of ``query`` and pass every condition of ``where``
        (the fields ``VectorStore.query`` filters on), best first; ``score`` is the index's own measure."""
        ...

    def iter_chunks(self) -> Iterator[StoredChunk]:
        """Every chunk held (without vectors), with its version: what a check compares with the vector store."""
        ...

    def count(self) -> int:
        """How many chunks are held."""
        ...

    def close(self) -> None:
        """Release clients, files and locks; the index is not used afterwards."""
        ...


# Factories are what plugins register. Each receives a PluginContext: the plugin's own settings and the
# facts every plugin shares (see core/plugin_context.py); a source's factory gets its options first.
SourceFactory: TypeAlias = "Callable[[Mapping[str, Any], PluginContext], Source]"
OcrEngineFactory: TypeAlias = "Callable[[PluginContext], OcrEngine]"
ChunkerFactory: TypeAlias = "Callable[[PluginContext], Chunker]"
EmbedderFactory: TypeAlias = "Callable[[PluginContext], Embedder]"
VectorStoreFactory: TypeAlias = "Callable[[PluginContext, int, str], VectorStore]"
KeywordIndexFactory: TypeAlias = "Callable[[PluginContext], KeywordIndex]"
