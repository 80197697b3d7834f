"""The Chroma store on disk: upsert, stale deletion, queries, export, and model guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from docmill.core.errors import ConfigurationError
from docmill.core.values import Chunk, chunk_id, text_hash
from docmill.plugins.chroma_store import ChromaStore


def _chunks(key: str, texts: list[str], page: int | None = 1) -> list[Chunk]:
    return [Chunk(chunk_id(key, i, text_hash(t)), key, i, page, t, text_hash(t)) for i, t in enumerate(texts)]


def _vectors(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def store(tmp_path: Path) -> ChromaStore:
    return ChromaStore(str(tmp_path / "chroma"), "test", dimension=8, model="m")


def test_a_new_version_replaces_the_old_with_no_stale_tail(store: ChromaStore) -> None:
    old = _chunks("k", ["a", "b", "c", "d"])
    store.upsert(old, _vectors(4, 1), doc="doc.pdf", version=1, metadata={"title": "T"})
    new = _chunks("k", ["a", "b2"])  # first chunk unchanged: same ID
    store.upsert(new, _vectors(2, 2), doc="doc.pdf", version=2, metadata={"title": "T"})
    assert store.count() == 5  # upsert first: never a moment with zero chunks
    assert store.delete_stale("k", keep_version=2) == 3
    assert sorted(c.text for c in store.iter_chunks()) == ["a", "b2"]


def test_queries_rank_by_cosine_similarity_and_carry_place_and_metadata(store: ChromaStore) -> None:
    vectors = _vectors(3, 3)
    store.upsert(_chunks("k", ["x", "y", "z"], page=4), vectors, doc="d.pdf", version=1,
                 metadata={"tags": ["tax"]})
    hits = store.query(vectors[1], k=3)
    assert hits[0].text == "y" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert (hits[0].doc, hits[0].page, hits[0].metadata) == ("d.pdf", 4, {"tags": ["tax"]})


def test_export_pages_through_everything_with_vectors(store: ChromaStore) -> None:
    texts = [f"t{i}" for i in range(1203)]
    vectors = _vectors(len(texts), 4)
    store.upsert(_chunks("k", texts, page=None), vectors, doc="big.txt", version=1, metadata={})
    exported = list(store.iter_chunks(with_vectors=True))
    assert len(exported) == 1203 and {c.page for c in exported} == {None}
    by_seq = {c.seq: c for c in exported}
    assert np.allclose(by_seq[1000].vector, vectors[1000], atol=1e-6)


def test_removing_a_document_deletes_only_its_chunks(store: ChromaStore) -> None:
    store.upsert(_chunks("a", ["1", "2"]), _vectors(2, 5), doc="a", version=1, metadata={})
    store.upsert(_chunks("b", ["3"]), _vectors(1, 6), doc="b", version=1, metadata={})
    assert store.delete_document("a") == 2
    assert [c.doc for c in store.iter_chunks()] == ["b"]


def test_a_collection_of_another_model_is_refused(tmp_path: Path) -> None:
    ChromaStore(str(tmp_path / "chroma"), "test", dimension=8, model="m")
    with pytest.raises(ConfigurationError, match="DOCMILL_COLLECTION"):
        ChromaStore(str(tmp_path / "chroma"), "test", dimension=16, model="other")
