"""The Qdrant vector store: a server (``url`` in ``[plugins.qdrant]``) or local mode in the home directory.

Point IDs are docmill's chunk UUIDs; the payload carries the document key,
version, page, position, text hash and the source's metadata. Writes are
batched and wait for Qdrant to apply them (``wait=True``): the pipeline
acknowledges a message only after its effect is durable. The collection's
metadata records the model whose vectors it holds.

Local mode (qdrant-client's embedded storage) allows one client per directory:
a second process gets StoreUnavailable with that explanation. Use a server
for concurrent access.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from docmill import (
    ACCESS,
    Chunk,
    ConfigurationError,
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

__all__ = ["QdrantSettings", "QdrantStore"]

#: Points per Qdrant call.
BATCH = 256
#: Payload fields docmill filters on, and their index types (server mode): its own, and those a search's filter
#: most often names (any other filterable field works too, unindexed).
INDEXED = {"doc_key": "keyword", "hash": "keyword", "version": "integer", "source": "keyword", "owner": "keyword",
           "access": "keyword",
           "doc": "keyword", "page": "integer", "tags": "keyword", "correspondent": "keyword",
           "document_type": "keyword", "modified_ts": "float", "created_ts": "float"}
#: Payload keys this store writes itself (the rest are the document's filterable fields).
_OWN_KEYS = frozenset({"doc_key", "doc", "seq", "version", "page", "hash", "text", "meta"})


class QdrantStore:
    """One Qdrant collection holding one model's vectors."""

    name = "qdrant"

    def __init__(self, collection: str, *, dimension: int, model: str, url: str | None = None,
                 api_key: str | None = None, path: str | None = None, timeout: float = 30.0) -> None:
        from qdrant_client import QdrantClient, models

        self._models = models
        self._collection = collection
        self._lock = threading.RLock()
        where = url or path
        try:
            if url:
                self._client = QdrantClient(url=url, api_key=api_key, timeout=int(timeout))
            else:
                self._client = QdrantClient(path=path)
        except RuntimeError as exc:  # local mode: the directory is locked by another client
            raise StoreUnavailable(f"the local Qdrant store in {path} is in use by another process "
                                   f"(local mode allows one; use a Qdrant server to share it): {exc}") from exc
        except Exception as exc:
            raise StoreUnavailable(f"cannot reach Qdrant at {where}: {exc}") from exc
        self._local = not url
        self._ensure_collection(dimension, model)

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from qdrant_client.http.exceptions import UnexpectedResponse

        with self._lock:
            try:
                return fn(**kwargs)
            except UnexpectedResponse as exc:
                if exc.status_code in (401, 403):
                    raise ConfigurationError(f"DOCMILL_PLUGINS__QDRANT__API_KEY: Qdrant refused it "
                                             f"({exc.status_code})") from exc
                raise StoreUnavailable(f"Qdrant could not {what}: HTTP {exc.status_code}") from exc
            except Exception as exc:
                raise StoreUnavailable(f"Qdrant could not {what}: {exc}") from exc

    def _ensure_collection(self, dimension: int, model: str) -> None:
        m = self._models
        if not self._call("list collections", self._client.collection_exists, collection_name=self._collection):
            self._call("create the collection", self._client.create_collection, collection_name=self._collection,
                       vectors_config=m.VectorParams(size=dimension, distance=m.Distance.COSINE),
                       metadata={"docmill_model": model, "docmill_dimension": dimension})
        info = self._call("read the collection", self._client.get_collection, collection_name=self._collection)
        if not self._local:  # local mode has no payload indexes; a collection of an older docmill gets the new ones
            for field, schema in INDEXED.items():
                if field not in (info.payload_schema or {}):
                    self._call("index the payload", self._client.create_payload_index,
                               collection_name=self._collection, field_name=field, field_schema=schema, wait=True)
        held = info.config.metadata or {}
        size = info.config.params.vectors.size
        if size != dimension or held.get("docmill_model", model) != model:
            raise ConfigurationError(
                f"DOCMILL_COLLECTION: the Qdrant collection {self._collection!r} holds vectors of "
                f"{held.get('docmill_model', 'another model')} ({size} dimensions), not {model}; "
                "choose another DOCMILL_COLLECTION for a different model")

    def _filter(self, doc_key: str, *, not_version: int | None = None) -> Any:
        m = self._models
        must = [m.FieldCondition(key="doc_key", match=m.MatchValue(value=doc_key))]
        must_not = ([m.FieldCondition(key="version", match=m.MatchValue(value=not_version))]
                    if not_version is not None else None)
        return m.Filter(must=must, must_not=must_not)

    def upsert(self, chunks: Sequence[Chunk], vectors: Any, *, doc: str, version: int,
               metadata: Mapping[str, Any]) -> None:
        meta = dict(metadata)
        fields = filterable(metadata)  # top-level payload keys, which a search's filter reaches
        for start in range(0, len(chunks), BATCH):
            points = [
                self._models.PointStruct(
                    id=c.id, vector=[float(x) for x in vectors[start + i]],
                    payload={**fields, "doc_key": c.doc_key, "doc": doc, "seq": c.seq, "version": version,
                             "page": c.page, "hash": c.hash, "text": c.text, "meta": meta})
                for i, c in enumerate(chunks[start:start + BATCH])
            ]
            self._call("write chunks", self._client.upsert, collection_name=self._collection, points=points,
                       wait=True)

    def _delete(self, selection: Any) -> int:
        count = self._call("count chunks", self._client.count, collection_name=self._collection,
                           count_filter=selection, exact=True).count
        if count:
            self._call("delete chunks", self._client.delete, collection_name=self._collection,
                       points_selector=self._models.FilterSelector(filter=selection), wait=True)
        return int(count)

    def delete_stale(self, doc_key: str, keep_version: int) -> int:
        return self._delete(self._filter(doc_key, not_version=keep_version))

    def delete_document(self, doc_key: str) -> int:
        return self._delete(self._filter(doc_key))

    def relabel(self, doc_key: str, *, doc: str, metadata: Mapping[str, Any]) -> int:
        selection = self._filter(doc_key)
        count = self._call("count chunks", self._client.count, collection_name=self._collection,
                           count_filter=selection, exact=True).count
        if count:
            # set_payload replaces these keys and keeps the rest of each point's payload; filterable keys the
            # new metadata no longer has are deleted.
            fields = filterable(metadata)
            held, _ = self._call("read chunks", self._client.scroll, collection_name=self._collection,
                                 scroll_filter=selection, limit=1, with_payload=True)
            gone = [key for key in (held[0].payload if held else {}) if key not in _OWN_KEYS and key not in fields]
            if gone:
                self._call("relabel chunks", self._client.delete_payload, collection_name=self._collection,
                           keys=gone, points=selection, wait=True)
            self._call("relabel chunks", self._client.set_payload, collection_name=self._collection,
                       payload={**fields, "doc": doc, "meta": dict(metadata)}, points=selection, wait=True)
        return int(count)

    def grant_unlabelled(self, access_of: Callable[[str], str]) -> int:
        # Every point once, in id order (a filter on the missing field scans the whole collection in local mode,
        # once per batch), and one set_payload per grant in each batch.
        given, offset = 0, None
        while True:
            points, offset = self._call("read chunks", self._client.scroll, collection_name=self._collection,
                                        limit=BATCH, offset=offset, with_payload=["doc_key", ACCESS])
            grants: dict[str, list[Any]] = {}
            for point in points:
                if ACCESS not in (point.payload or {}):
                    grants.setdefault(access_of(str(point.payload["doc_key"])), []).append(point.id)
            for grant, ids in grants.items():
                self._call("label chunks", self._client.set_payload, collection_name=self._collection,
                           payload={ACCESS: grant}, points=ids, wait=True)
                given += len(ids)
            if offset is None:
                return given

    def _where(self, where: Filter) -> Any:
        """A search filter as Qdrant's: ``must`` and ``must_not`` field conditions."""
        m = self._models
        must: list[Any] = []
        must_not: list[Any] = []
        for condition in where:
            value = condition.value
            if isinstance(value, tuple):  # ONE_OF: the field holds one of these names
                test = m.FieldCondition(key=condition.key, match=m.MatchAny(any=list(value)))
            elif condition.op in ("=", "!=") and not isinstance(value, float):
                test = m.FieldCondition(key=condition.key, match=m.MatchValue(value=value))
            elif condition.op in ("=", "!="):
                test = m.FieldCondition(key=condition.key, range=m.Range(gte=value, lte=value))
            else:
                bound = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}[condition.op]
                test = m.FieldCondition(key=condition.key, range=m.Range(**{bound: value}))
            (must_not if condition.op == "!=" else must).append(test)
        return m.Filter(must=must or None, must_not=must_not or None) if where else None

    def query(self, vector: Vector, k: int, where: Filter = ()) -> list[SearchHit]:
        found = self._call("search", self._client.query_points, collection_name=self._collection,
                           query=[float(x) for x in vector], limit=k, with_payload=True,
                           query_filter=self._where(where))
        return [SearchHit(id=str(p.id), doc=p.payload["doc"], page=p.payload.get("page"), score=float(p.score),
                          text=p.payload["text"], metadata=p.payload.get("meta", {})) for p in found.points]

    def _scroll(self, selection: Any = None, *, with_vectors: bool) -> Iterator[Any]:
        offset = None
        while True:
            points, offset = self._call("read chunks", self._client.scroll, collection_name=self._collection,
                                        scroll_filter=selection, limit=BATCH, offset=offset, with_payload=True,
                                        with_vectors=with_vectors)
            yield from points
            if offset is None:
                return

    def iter_chunks(self, *, with_vectors: bool = False) -> Iterator[StoredChunk]:
        for p in self._scroll(with_vectors=with_vectors):
            payload = p.payload
            yield StoredChunk(id=str(p.id), doc=payload["doc"], doc_key=payload["doc_key"], seq=payload["seq"],
                              page=payload.get("page"), text=payload["text"], metadata=payload.get("meta", {}),
                              vector=[float(x) for x in p.vector] if with_vectors else None,
                              version=payload.get("version"))

    def vectors_for(self, hashes: Sequence[str]) -> dict[str, Sequence[float]]:
        m = self._models
        unique = sorted(set(hashes))
        found: dict[str, Sequence[float]] = {}
        for start in range(0, len(unique), BATCH):
            selection = m.Filter(must=[m.FieldCondition(key="hash", match=m.MatchAny(any=unique[start:start + BATCH]))])
            for p in self._scroll(selection, with_vectors=True):
                found[p.payload["hash"]] = [float(x) for x in p.vector]
        return found

    def count(self) -> int:
        return int(self._call("count chunks", self._client.count, collection_name=self._collection,
                              exact=True).count)

    def close(self) -> None:
        with self._lock:
            self._client.close()


class QdrantSettings(BaseModel):
    """``[plugins.qdrant]`` in docmill.toml, or ``DOCMILL_PLUGINS__QDRANT__<FIELD>``."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="Qdrant server URL; unset: local mode in the home directory.")
    api_key: SecretStr | None = Field(None, description="API key of the Qdrant server; sent as a header only.")
    path: Path | None = Field(None, description="Local-mode Qdrant directory; default: qdrant/ in the home.")
    timeout: float = Field(30.0, gt=0, description="Seconds to wait for the Qdrant server per request.")

    @field_validator("url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        if value is None or not value.strip():  # DOCMILL_PLUGINS__X__URL= (empty) means no server
            return None
        return value.strip()

    @property
    def remote(self) -> bool:
        return self.url is not None


def make_qdrant(context: PluginContext, dimension: int, model: str) -> QdrantStore:
    """A Qdrant server when ``url`` is set, local mode in the home directory otherwise."""
    settings: QdrantSettings = context.settings
    key = settings.api_key.get_secret_value() if settings.api_key else None
    path = settings.path or context.home / "qdrant"
    return QdrantStore(context.collection, dimension=dimension, model=model, url=settings.url,
                       api_key=key, path=str(path), timeout=settings.timeout)


@hookimpl
def docmill_register_vector_stores(register: Register[VectorStoreFactory]) -> None:
    register("qdrant", make_qdrant, settings=QdrantSettings)
