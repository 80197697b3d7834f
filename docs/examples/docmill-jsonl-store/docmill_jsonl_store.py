"""A docmill vector store that keeps every chunk in one JSON-lines file.

The example plugin of docs/plugins.md: small enough to read in one sitting,
real enough to ingest and search a few thousand chunks. The first line of the
file names the model; each further line is one chunk. Every change rewrites
the file atomically, and queries compare against every vector (numpy), so it
suits small collections and tests, not archives.

    pip install ./docs/examples/docmill-jsonl-store
    DOCMILL_STORE=jsonl docmill ingest ~/notes

Its one setting, ``directory``, is read from ``[plugins.jsonl]`` in
docmill.toml or ``DOCMILL_PLUGINS__JSONL__DIRECTORY``.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from docmill import (
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
    matches,
)

__all__ = ["JsonlSettings", "JsonlStore"]


class JsonlStore:
    """Chunks of one model in ``path``, held in memory and written through on every change."""

    name = "jsonl"

    def __init__(self, path: Path, *, dimension: int, model: str) -> None:
        self.path = path
        self.header = {"model": model, "dimension": dimension}
        self._lock = threading.Lock()
        self._chunks: dict[str, dict[str, Any]] = {}
        if path.exists():
            self._load()
        else:
            self._save()  # record the model now, so reopening for another model is refused

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                header = json.loads(fh.readline())
                self._chunks = {r["id"]: r for r in map(json.loads, fh)}
        except (OSError, ValueError) as exc:
            raise StoreUnavailable(f"cannot read {self.path}: {exc}") from exc
        if header != self.header:
            raise ConfigurationError(f"{self.path} holds vectors of {header['model']} ({header['dimension']} "
                                     f"dimensions), not {self.header['model']}; use another DOCMILL_COLLECTION")

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".jsonl-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(self.header) + "\n")
                for record in self._chunks.values():
                    fh.write(json.dumps(record) + "\n")
                fh.flush()
                os.fsync(fh.fileno())  # durable before the pipeline acknowledges
            os.replace(tmp, self.path)
        except OSError as exc:
            raise StoreUnavailable(f"cannot write {self.path}: {exc}") from exc

    def upsert(self, chunks: Sequence[Chunk], vectors: Any, *, doc: str, version: int,
               metadata: Mapping[str, Any]) -> None:
        with self._lock:
            for chunk, vector in zip(chunks, vectors, strict=True):
                self._chunks[chunk.id] = {
                    "id": chunk.id, "doc_key": chunk.doc_key, "doc": doc, "seq": chunk.seq, "page": chunk.page,
                    "text": chunk.text, "hash": chunk.hash, "version": version, "metadata": dict(metadata),
                    "vector": [float(x) for x in vector],
                }
            self._save()

    def _delete(self, doomed: Any) -> int:
        with self._lock:
            ids = [i for i, r in self._chunks.items() if doomed(r)]
            for i in ids:
                del self._chunks[i]
            if ids:
                self._save()
            return len(ids)

    def delete_stale(self, doc_key: str, keep_version: int) -> int:
        return self._delete(lambda r: r["doc_key"] == doc_key and r["version"] != keep_version)

    def delete_document(self, doc_key: str) -> int:
        return self._delete(lambda r: r["doc_key"] == doc_key)

    def relabel(self, doc_key: str, *, doc: str, metadata: Mapping[str, Any]) -> int:
        with self._lock:
            records = [r for r in self._chunks.values() if r["doc_key"] == doc_key]
            for record in records:
                record["doc"], record["metadata"] = doc, dict(metadata)
            if records:
                self._save()
            return len(records)

    def query(self, vector: Vector, k: int, where: Filter = ()) -> list[SearchHit]:
        with self._lock:
            records = [r for r in self._chunks.values()
                       if matches(where, {**filterable(r["metadata"]), "doc": r["doc"], "page": r["page"],
                                          "hash": r["hash"]})]
        if not records:
            return []
        scores = np.array([r["vector"] for r in records]) @ np.asarray(vector, dtype=float)
        best = np.argsort(-scores)[:k]
        return [SearchHit(records[i]["id"], records[i]["doc"], records[i]["page"], float(scores[i]),
                          records[i]["text"], records[i]["metadata"]) for i in best]

    def iter_chunks(self, *, with_vectors: bool = False) -> Iterator[StoredChunk]:
        with self._lock:
            records = list(self._chunks.values())
        for r in records:
            yield StoredChunk(r["id"], r["doc"], r["doc_key"], r["seq"], r["page"], r["text"], r["metadata"],
                              r["vector"] if with_vectors else None)

    def vectors_for(self, hashes: Sequence[str]) -> dict[str, Sequence[float]]:
        wanted = set(hashes)
        with self._lock:
            return {r["hash"]: r["vector"] for r in self._chunks.values() if r["hash"] in wanted}

    def count(self) -> int:
        return len(self._chunks)

    def close(self) -> None:
        pass  # nothing is held open between calls


class JsonlSettings(BaseModel):
    """``[plugins.jsonl]`` in docmill.toml, or ``DOCMILL_PLUGINS__JSONL__DIRECTORY`` in the environment."""

    model_config = ConfigDict(extra="forbid")  # a misspelt setting is an error, not silently ignored

    directory: Path | None = Field(None, description="Where the files go; default: jsonl/ in docmill's home.")


def make_store(context: PluginContext, dimension: int, model: str) -> JsonlStore:
    """The store docmill builds when DOCMILL_STORE=jsonl: one file per collection."""
    settings: JsonlSettings = context.settings
    directory = settings.directory or context.home / "jsonl"
    return JsonlStore(directory / f"{context.collection}.jsonl", dimension=dimension, model=model)


@hookimpl
def docmill_register_vector_stores(register: Register[VectorStoreFactory]) -> None:
    register("jsonl", make_store, settings=JsonlSettings)
