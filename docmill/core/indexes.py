"""The vector store and the keyword index, written together as one store: every index agrees (invariant 13).

The stages write "the store"; where a keyword index is configured, that store
is :func:`paired`: each write goes to the vector store and then to the
keyword index, before the stage records its outcome and acknowledges its
message. So the invariants of the vector store hold for both, with nothing in
the stages that knows there are two:

* write before delete: a version's chunks are written to both before older
  versions are deleted from either, so a changed document is never missing
  from keyword search;
* deletions and relabels reach both;
* a message replayed after a crash (between the two writes, or after both)
  writes the same IDs again, which overwrite: exactly once in effect;
* reused vectors are still written, so reuse never skips the keyword index.

Reading (nearest neighbours, export, reuse) is the vector store's; keyword
searches go to :attr:`PairedStore.keywords`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from .filters import Filter
from .interfaces import GrantingStore, KeywordIndex, RelabellingStore, Vector, Vectors, VectorStore
from .values import Chunk, SearchHit, StoredChunk

__all__ = ["PairedStore", "keywords_of", "paired"]


class PairedStore:
    """A vector store with its keyword index: writes go to both, reads to the vector store."""

    def __init__(self, vectors: VectorStore, keywords: KeywordIndex) -> None:
        self.vectors = vectors
        self.keywords = keywords
        self.name = vectors.name

    def upsert(self, chunks: Sequence[Chunk], vectors: Vectors, *, doc: str, version: int,
               metadata: Mapping[str, Any]) -> None:
        self.vectors.upsert(chunks, vectors, doc=doc, version=version, metadata=metadata)
        self.keywords.upsert(chunks, doc=doc, version=version, metadata=metadata)

    def delete_stale(self, doc_key: str, keep_version: int) -> int:
        self.keywords.delete_stale(doc_key, keep_version)
        return self.vectors.delete_stale(doc_key, keep_version)

    def delete_document(self, doc_key: str) -> int:
        self.keywords.delete_document(doc_key)
        return self.vectors.delete_document(doc_key)

    def query(self, vector: Vector, k: int, where: Filter = ()) -> list[SearchHit]:
        return self.vectors.query(vector, k, where) if where else self.vectors.query(vector, k)

    def vectors_for(self, hashes: Sequence[str]) -> dict[str, Sequence[float]]:
        return self.vectors.vectors_for(hashes)

    def iter_chunks(self, *, with_vectors: bool = False) -> Iterator[StoredChunk]:
        return self.vectors.iter_chunks(with_vectors=with_vectors)

    def count(self) -> int:
        return self.vectors.count()

    def close(self) -> None:
        try:
            self.keywords.close()
        finally:
            self.vectors.close()


class _Relabelling(PairedStore):
    def relabel(self, doc_key: str, *, doc: str, metadata: Mapping[str, Any]) -> int:
        assert isinstance(self.vectors, RelabellingStore)
        count = self.vectors.relabel(doc_key, doc=doc, metadata=metadata)
        self.keywords.relabel(doc_key, doc=doc, metadata=metadata)
        return count


class _Granting(PairedStore):
    def grant_unlabelled(self, access_of: Callable[[str], str]) -> int:
        assert isinstance(self.vectors, GrantingStore)
        given = self.vectors.grant_unlabelled(access_of)
        self.keywords.grant_unlabelled(access_of)
        return given


class _RelabellingAndGranting(_Relabelling, _Granting):
    pass


def paired(vectors: VectorStore, keywords: KeywordIndex | None) -> VectorStore:
    """The store the stages write: ``vectors`` alone without a keyword index, else both together, offering
    relabelling and bulk grants exactly when the vector store does (so the stages decide as they would)."""
    if keywords is None:
        return vectors
    relabels, grants = isinstance(vectors, RelabellingStore), isinstance(vectors, GrantingStore)
    kind = (_RelabellingAndGranting if relabels and grants else _Relabelling if relabels else
            _Granting if grants else PairedStore)
    return kind(vectors, keywords)


def keywords_of(store: VectorStore) -> KeywordIndex | None:
    """The keyword index written with ``store``; None when there is none."""
    return store.keywords if isinstance(store, PairedStore) else None
