"""The Chroma vector store: persistent in ``DOCMILL_HOME/chroma``, or a Chroma server; telemetry off.

One process at a time may open the persistent store; worker processes on
several hosts (or several on one host) share a server (``url`` in ``[plugins.chroma]``,
or ``DOCMILL_PLUGINS__CHROMA__URL``).

The collection records which model made its vectors; opening it with another
model is a ConfigurationError rather than a silent mix of incompatible
vectors. Every Chroma error is a StoreUnavailable to the pipeline, which
retries with backoff and then fails the document with the reason; except
that a persistent store failing on a full disk is a DiskFull, which stops an
embedded run at once. Chroma does not say so itself (a full disk reads
"Error in compaction: Failed to apply logs to the metadata segment"), so the
disk is looked at when a call fails.
"""

from __future__ import annotations

import errno
import json
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from docmill import (
    ACCESS,
    ONE_OF,
    Chunk,
    ConfigurationError,
    DiskFull,
    Filter,
    PluginContext,
    Register,
    SearchHit,
    StoredChunk,
    StoreUnavailable,
    Vector,
    VectorStoreFactory,
    filterable,
    hookimpl,
)

__all__ = ["ChromaSettings", "ChromaStore"]

#: Chunks per Chroma call (its own limit is a few thousand).
BATCH = 500
#: Most chunks passing a filter that a search compares one by one when Chroma's filtered walk comes back short.
EXACT_LIMIT = 20_000
#: Metadata keys this store writes itself (the rest are the document's filterable fields).
_OWN_KEYS = frozenset({"doc_key", "doc", "seq", "version", "hash", "meta", "page"})
#: Free bytes under which a failed write to a persistent store is put down to a full disk.
NEARLY_FULL = 64 << 20
#: Chroma's operator for each filter operator; list fields use $contains / $not_contains.
_OPERATORS = {"=": "$eq", "!=": "$ne", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte", ONE_OF: "$in"}


def _where(where: Filter) -> dict[str, Any] | None:
    """A search filter as Chroma's ``where``."""
    clauses = []
    for condition in where:
        if condition.contains:
            operator = "$contains" if condition.op == "=" else "$not_contains"
        else:
            operator = _OPERATORS[condition.op]
        value = list(condition.value) if isinstance(condition.value, tuple) else condition.value
        clauses.append({condition.key: {operator: value}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _hit(id_: str, text: str, meta: Mapping[str, Any], score: float) -> SearchHit:
    return SearchHit(id=id_, doc=str(meta["doc"]), page=meta.get("page"), score=score, text=text,
                     metadata=json.loads(str(meta.get("meta", "{}"))))


class ChromaStore:
    """A Chroma collection holding one model's vectors."""

    name = "chroma"

    def __init__(self, path: str, collection: str, *, dimension: int, model: str, url: str | None = None) -> None:
        import chromadb  # its telemetry is off from the start of the process (docmill/privacy.py), and below
        from chromadb.config import Settings as ChromadbClientSettings

        self._lock = threading.RLock()
        self._path = path if url is None else None  # a persistent store's directory
        self._client: Any
        self._collection: Any
        try:
            chroma_settings = ChromadbClientSettings(anonymized_telemetry=False, allow_reset=False)
            if url is None:
                self._client = chromadb.PersistentClient(path=path, settings=chroma_settings)
            else:
                path, where = url, urlsplit(url)
                self._client = chromadb.HttpClient(
                    host=where.hostname or "localhost", port=where.port or (443 if where.scheme == "https" else 8000),
                    ssl=where.scheme == "https", settings=chroma_settings)
            self._collection = self._client.get_or_create_collection(
                collection, embedding_function=None,
                metadata={"hnsw:space": "cosine", "docmill_model": model, "docmill_dimension": dimension})
        except Exception as exc:
            self._raise_if_disk_full(exc)
            raise StoreUnavailable(f"cannot open the Chroma store in {path}: {exc}") from exc
        held = self._collection.metadata or {}
        if held.get("docmill_model", model) != model or held.get("docmill_dimension", dimension) != dimension:
            raise ConfigurationError(
                f"DOCMILL_COLLECTION: the collection {collection!r} holds vectors of "
                f"{held.get('docmill_model')} ({held.get('docmill_dimension')} dimensions), not {model}; "
                "choose another DOCMILL_COLLECTION or DOCMILL_HOME for a different model")

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        with self._lock:
            try:
                return fn(**kwargs)
            except Exception as exc:
                self._raise_if_disk_full(exc)
                raise StoreUnavailable(f"Chroma could not {what}: {exc}") from exc

    def _raise_if_disk_full(self, error: BaseException) -> None:
        """DiskFull when the persistent store's disk is (nearly) full, or the error says ENOSPC."""
        if self._path is None:
            return
        cause: BaseException | None = error
        while cause is not None and not (isinstance(cause, OSError) and cause.errno == errno.ENOSPC):
            cause = cause.__cause__ or cause.__context__
        try:
            free: int | None = shutil.disk_usage(self._path).free
        except OSError:
            free = None
        if cause is not None or (free is not None and free < NEARLY_FULL):
            left = "" if free is None else f" ({free:,} bytes free)"
            raise DiskFull(f"the disk holding the Chroma store ({self._path}) is full{left}: {error}") from error

    def upsert(self, chunks: Sequence[Chunk], vectors: Any, *, doc: str, version: int,
               metadata: Mapping[str, Any]) -> None:
        meta = json.dumps(dict(metadata), default=str, sort_keys=True)
        fields = filterable(metadata)  # real keys, which a search's filter reaches
        for start in range(0, len(chunks), BATCH):
            part = chunks[start:start + BATCH]
            metadatas = []
            for c in part:
                item: dict[str, Any] = {**fields, "doc_key": c.doc_key, "doc": doc, "seq": c.seq,
                                        "version": version, "hash": c.hash, "meta": meta}
                if c.page is not None:
                    item["page"] = c.page
                metadatas.append(item)
            self._call("write chunks", self._collection.upsert, ids=[c.id for c in part],
                       embeddings=[list(map(float, v)) for v in vectors[start:start + BATCH]],
                       documents=[c.text for c in part], metadatas=metadatas)

    def _delete(self, ids: Sequence[str]) -> int:
        for start in range(0, len(ids), BATCH):
            self._call("delete chunks", self._collection.delete, ids=list(ids[start:start + BATCH]))
        return len(ids)

    def delete_stale(self, doc_key: str, keep_version: int) -> int:
        # The document's chunks, their versions compared here: Chroma answers a `$ne` filter by reading the
        # whole collection (37 ms a call at 40,000 chunks, against 3 ms for the key alone).
        found = self._call("find chunks", self._collection.get, where={"doc_key": doc_key}, include=["metadatas"])
        return self._delete([id_ for id_, meta in zip(found["ids"], found["metadatas"], strict=True)
                             if meta.get("version") != keep_version])

    def delete_document(self, doc_key: str) -> int:
        return self._delete(self._call("find chunks", self._collection.get, where={"doc_key": doc_key},
                                       include=[])["ids"])

    def relabel(self, doc_key: str, *, doc: str, metadata: Mapping[str, Any]) -> int:
        # Chroma's update merges metadata keys: position, page and hash stay as they are; a filterable key
        # the new metadata no longer has is removed (None).
        found = self._call("find chunks", self._collection.get, where={"doc_key": doc_key}, include=["metadatas"])
        ids, fields = found["ids"], filterable(metadata)
        gone = {key for held in found["metadatas"] for key in held if key not in _OWN_KEYS and key not in fields}
        update = {**dict.fromkeys(gone), **fields, "doc": doc,
                  "meta": json.dumps(dict(metadata), default=str, sort_keys=True)}
        for start in range(0, len(ids), BATCH):
            part = ids[start:start + BATCH]
            self._call("relabel chunks", self._collection.update, ids=part, metadatas=[update] * len(part))
        return len(ids)

    def grant_unlabelled(self, access_of: Callable[[str], str]) -> int:
        # A page at a time in the collection's order, which updates of metadata leave as it is; Chroma's update
        # merges the one key into each chunk's metadata.
        given, offset = 0, 0
        while True:
            page = self._call("read chunks", self._collection.get, limit=BATCH, offset=offset, include=["metadatas"])
            if not page["ids"]:
                return given
            bare = [(id_, meta) for id_, meta in zip(page["ids"], page["metadatas"], strict=True) if ACCESS not in meta]
            if bare:
                self._call("label chunks", self._collection.update, ids=[id_ for id_, _ in bare],
                           metadatas=[{ACCESS: access_of(str(meta["doc_key"]))} for _, meta in bare])
                given += len(bare)
            offset += len(page["ids"])

    def query(self, vector: Vector, k: int, where: Filter = ()) -> list[SearchHit]:
        chroma_where = _where(where)
        found = self._call("search", self._collection.query, query_embeddings=[list(map(float, vector))],
                           n_results=k, include=["documents", "metadatas", "distances"], where=chroma_where)
        hits = [_hit(id_, text, meta, 1.0 - float(distance)) for id_, text, meta, distance in zip(
            found["ids"][0], found["documents"][0], found["metadatas"][0], found["distances"][0], strict=True)]
        if len(hits) < k and chroma_where is not None:
            return self._exactly(vector, k, chroma_where, hits)
        return hits

    def _exactly(self, vector: Vector, k: int, where: dict[str, Any], hits: list[SearchHit]
                 ) -> list[SearchHit]:
        """The ``k`` nearest of the chunks that pass ``where``, compared one by one, when Chroma's filtered walk
        came back short (``hits``). It walks the HNSW graph from its entry point and keeps only what passes,
        so what passes can lie beyond where the walk stops: behind hundreds of copies of one text it found
        nothing at all, in one process out of three. Up to EXACT_LIMIT chunks; beyond that, ``hits``."""
        import numpy as np

        passing = self._call("find chunks", self._collection.get, where=where, include=[])["ids"]
        if len(passing) <= len(hits) or len(passing) > EXACT_LIMIT:
            return hits
        query = np.asarray(vector, dtype=np.float32)
        query /= np.linalg.norm(query) or 1.0
        best: list[SearchHit] = []
        for start in range(0, len(passing), BATCH):
            part = self._call("read chunks", self._collection.get, ids=passing[start:start + BATCH],
                              include=["embeddings", "documents", "metadatas"])
            vectors = np.asarray(part["embeddings"], dtype=np.float32)
            scores = vectors @ query / np.maximum(np.linalg.norm(vectors, axis=1), 1e-12)
            best += [_hit(id_, text, meta, float(score)) for id_, text, meta, score in zip(
                part["ids"], part["documents"], part["metadatas"], scores, strict=True)]
            best = sorted(best, key=lambda hit: hit.score, reverse=True)[:k]
        return best

    def iter_chunks(self, *, with_vectors: bool = False) -> Iterator[StoredChunk]:
        include = ["documents", "metadatas", *(["embeddings"] if with_vectors else [])]
        offset = 0
        while True:
            page = self._call("read chunks", self._collection.get, limit=BATCH, offset=offset, include=include)
            if not page["ids"]:
                return
            vectors = page.get("embeddings") if with_vectors else None
            for i, id_ in enumerate(page["ids"]):
                meta = page["metadatas"][i]
                yield StoredChunk(
                    id=id_, doc=str(meta["doc"]), doc_key=str(meta["doc_key"]), seq=int(meta["seq"]),
                    page=meta.get("page"), text=page["documents"][i],
                    metadata=json.loads(str(meta.get("meta", "{}"))),
                    vector=[float(x) for x in vectors[i]] if vectors is not None else None,
                    version=int(meta["version"]) if "version" in meta else None,
                )
            offset += len(page["ids"])

    def vectors_for(self, hashes: Sequence[str]) -> dict[str, Sequence[float]]:
        found: dict[str, Sequence[float]] = {}
        unique = sorted(set(hashes))
        for start in range(0, len(unique), BATCH):
            where = {"hash": {"$in": unique[start:start + BATCH]}}
            part = self._call("find vectors", self._collection.get, where=where, include=["embeddings", "metadatas"])
            for meta, vector in zip(part["metadatas"], part["embeddings"], strict=True):
                found[str(meta["hash"])] = [float(x) for x in vector]
        return found

    def count(self) -> int:
        return int(self._call("count chunks", self._collection.count))

    def close(self) -> None:
        with self._lock:
            self._collection = None
            self._client = None


class ChromaSettings(BaseModel):
    """``[plugins.chroma]`` in docmill.toml, or ``DOCMILL_PLUGINS__CHROMA__<FIELD>``."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="Chroma server URL (http://host:8000), shared by worker processes; "
                            "unset: a persistent store in the home directory.")

    @field_validator("url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        if value is None or not value.strip():  # DOCMILL_PLUGINS__X__URL= (empty) means no server
            return None
        return value.strip()

    @property
    def remote(self) -> bool:
        return self.url is not None


def make_chroma(context: PluginContext, dimension: int, model: str) -> ChromaStore:
    """The Chroma server at ``url``, or else the persistent store in the home directory."""
    return ChromaStore(str(context.home / "chroma"), context.collection, dimension=dimension, model=model,
                       url=context.settings.url)


@hookimpl
def docmill_register_vector_stores(register: Register[VectorStoreFactory]) -> None:
    register("chroma", make_chroma, settings=ChromaSettings)
