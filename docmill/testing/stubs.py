"""Stand-ins for each plugin kind, for testing one plugin without the others.

A source plugin's author can run a whole ingest with :class:`StubEmbedder` and
:class:`StubVectorStore` (fast, no model, no files); a store's author can feed
vectors from :class:`StubEmbedder`. Every stub passes its kind's contract in
:mod:`docmill.testing.contracts`. Register them all with :class:`StubPlugin`,
then select them by name ``stub`` (``DOCMILL_STORE=stub``...).
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from docmill import (
    Blob,
    Chunk,
    ChunkText,
    ConfigurationError,
    CorruptDocument,
    DocumentRef,
    Filter,
    Limits,
    Page,
    PageImage,
    PermanentError,
    SearchHit,
    StoredChunk,
    Vector,
    filterable,
    hookimpl,
    matches,
)

__all__ = ["StubChunker", "StubEmbedder", "StubExtractor", "StubOcrEngine", "StubPlugin", "StubSource",
           "StubVectorStore"]


class StubSource:
    """Documents held in memory: ``{name: bytes}``; ``change`` edits one."""

    name = "stub"

    def __init__(self, documents: Mapping[str, bytes], *, scope: str = "stub://docs/") -> None:
        self.documents = dict(documents)
        self.scope = scope

    def change(self, name: str, data: bytes) -> None:
        self.documents[name] = data

    def discover(self) -> Iterator[DocumentRef]:
        for name, data in sorted(self.documents.items()):
            yield DocumentRef(key=self.scope + name, name=name, locator=name, size=len(data),
                              stamp=hashlib.sha256(data).hexdigest()[:12], metadata={"title": name})

    def fingerprint(self, ref: DocumentRef) -> str:
        return hashlib.sha256(self.fetch(ref).data).hexdigest()

    def close(self) -> None:
        pass

    def fetch(self, ref: DocumentRef) -> Blob:
        if ref.locator not in self.documents:
            raise PermanentError(f"{ref.name} is no longer at the source", kind="gone")
        return Blob(ref.name, self.documents[ref.locator])


class StubExtractor:
    """UTF-8 text, pages separated by form feeds; ``%SCAN`` marks a page for OCR, ``%BROKEN`` fails."""

    name = "stub"

    def extract(self, blob: Blob, limits: Limits) -> list[Page]:
        if blob.data.startswith(b"%BROKEN"):
            raise CorruptDocument("the stub document is marked broken")
        texts = blob.data.decode("utf-8", "replace").split("\f")
        if len(texts) > limits.max_pages:
            raise PermanentError(f"{len(texts)} pages, over the limit of {limits.max_pages}", kind="too many pages")
        return [Page(n, "" if t.startswith("%SCAN") else t, t.startswith("%SCAN")) for n, t in enumerate(texts, 1)]

    def render(self, blob: Blob, pages: Sequence[int], limits: Limits) -> Iterator[PageImage]:
        for number in pages:
            yield PageImage(number, 10, 10, 100, bytes(100))


class StubOcrEngine:
    """Does not read: returns a fixed text naming the page."""

    name = "stub"

    def __init__(self, text: str = "stub OCR text") -> None:
        self.text = text

    def recognize(self, image: PageImage) -> str:
        return f"{self.text} (page {image.number})"


class StubChunker:
    """Fixed-size pieces of each page's words."""

    name = "stub"

    def __init__(self, words: int = 50) -> None:
        self.words = words

    @property
    def signature(self) -> str:
        return f"{self.name}:{self.words}"

    def chunk(self, pages: Sequence[Page]) -> list[ChunkText]:
        out = []
        for page in pages:
            words = page.text.split()
            out += [ChunkText(page.number, " ".join(words[i:i + self.words]))
                    for i in range(0, len(words), self.words)]
        return out


class StubEmbedder:
    """Hashed bag of words: texts sharing words point the same way. Deterministic, no model."""

    name = "stub"

    def __init__(self, dimension: int = 32, model: str = "stub-bag-of-words") -> None:
        self.dimension = dimension
        self.model = model

    @property
    def signature(self) -> str:
        return f"{self.name}:{self.model}:{self.dimension}"

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for word in re.findall(r"\w+", text.lower()) or [""]:
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            slot = int.from_bytes(digest, "big")
            vector[slot % self.dimension] += 1.0 if slot & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0:  # the words cancelled out: any fixed unit vector will do
            return [1.0] + [0.0] * (self.dimension - 1)
        return [x / norm for x in vector]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


class StubVectorStore:
    """Chunks in a dict, brute-force cosine search. ``space`` is the storage: share it to 'reopen'."""

    name = "stub"

    def __init__(self, dimension: int, model: str, space: dict[str, Any] | None = None) -> None:
        self._space = space if space is not None else {}
        held = self._space.setdefault("model", (model, dimension))
        if held != (model, dimension):
            raise ConfigurationError(f"this stub store holds vectors of {held[0]} ({held[1]} dimensions)")
        self._points: dict[str, dict[str, Any]] = self._space.setdefault("points", {})
        self._lock = threading.Lock()

    def upsert(self, chunks: Sequence[Chunk], vectors: Any, *, doc: str, version: int,
               metadata: Mapping[str, Any]) -> None:
        with self._lock:
            for chunk, vector in zip(chunks, vectors, strict=True):
                self._points[chunk.id] = {"chunk": chunk, "vector": [float(x) for x in vector], "doc": doc,
                                          "version": version, "meta": dict(metadata)}

    def _remove(self, keep: Any) -> int:
        with self._lock:
            gone = [i for i, p in self._points.items() if not keep(p)]
            for i in gone:
                del self._points[i]
            return len(gone)

    def delete_stale(self, doc_key: str, keep_version: int) -> int:
        return self._remove(lambda p: p["chunk"].doc_key != doc_key or p["version"] == keep_version)

    def delete_document(self, doc_key: str) -> int:
        return self._remove(lambda p: p["chunk"].doc_key != doc_key)

    def relabel(self, doc_key: str, *, doc: str, metadata: Mapping[str, Any]) -> int:
        with self._lock:
            points = [p for p in self._points.values() if p["chunk"].doc_key == doc_key]
            for point in points:
                point["doc"], point["meta"] = doc, dict(metadata)
            return len(points)

    def query(self, vector: Vector, k: int, where: Filter = ()) -> list[SearchHit]:
        def fields(p: dict[str, Any]) -> dict[str, Any]:
            return {**filterable(p["meta"]), "doc": p["doc"], "page": p["chunk"].page, "hash": p["chunk"].hash}

        with self._lock:
            scored = [(sum(a * b for a, b in zip(vector, p["vector"], strict=True)), p) for p in self._points.values()
                      if matches(where, fields(p))]
        scored.sort(key=lambda pair: -pair[0])
        return [SearchHit(p["chunk"].id, p["doc"], p["chunk"].page, score, p["chunk"].text, p["meta"])
                for score, p in scored[:k]]

    def iter_chunks(self, *, with_vectors: bool = False) -> Iterator[StoredChunk]:
        with self._lock:
            points = list(self._points.values())
        for p in points:
            c = p["chunk"]
            yield StoredChunk(c.id, p["doc"], c.doc_key, c.seq, c.page, c.text, p["meta"],
                              p["vector"] if with_vectors else None, p["version"])

    def vectors_for(self, hashes: Sequence[str]) -> dict[str, Sequence[float]]:
        wanted = set(hashes)
        with self._lock:
            return {p["chunk"].hash: p["vector"] for p in self._points.values() if p["chunk"].hash in wanted}

    def count(self) -> int:
        return len(self._points)

    def close(self) -> None:
        pass


class StubPlugin:
    """Registers every stub under the name ``stub``; the store keeps its points for the plugin's lifetime."""

    def __init__(self, source: StubSource | None = None) -> None:
        self.source = source or StubSource({})
        self.space: dict[str, Any] = {}

    @hookimpl
    def docmill_register_sources(self, register: Any) -> None:
        register("stub", lambda options, context: self.source)

    @hookimpl
    def docmill_extractor(self, blob: Blob) -> StubExtractor | None:
        return StubExtractor() if blob.name.endswith(".stub") else None

    @hookimpl
    def docmill_register_ocr_engines(self, register: Any) -> None:
        register("stub", lambda context: StubOcrEngine())

    @hookimpl
    def docmill_register_chunkers(self, register: Any) -> None:
        register("stub", lambda context: StubChunker())

    @hookimpl
    def docmill_register_embedders(self, register: Any) -> None:
        register("stub", lambda context: StubEmbedder())

    @hookimpl
    def docmill_register_vector_stores(self, register: Any) -> None:
        register("stub", lambda context, dimension, model: StubVectorStore(dimension, model, self.space))
