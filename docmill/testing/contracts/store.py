"""The vector store contract."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pytest

from docmill.core.access import access_of
from docmill.core.errors import ConfigurationError
from docmill.core.filters import ONE_OF, Condition, parse
from docmill.core.interfaces import GrantingStore, RelabellingStore, VectorStore
from docmill.core.values import Chunk, chunk_id, text_hash

__all__ = ["VectorStoreContract"]

MakeStore = Callable[[int, str], VectorStore]


def _unit(*values: float) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def _chunks(key: str, texts: list[str], page: int | None = 1) -> list[Chunk]:
    return [Chunk(chunk_id(key, i, text_hash(t)), key, i, page, t, text_hash(t)) for i, t in enumerate(texts)]


class VectorStoreContract:
    """Provide ``make_store``: a function ``(dimension, model) -> VectorStore``.

    Every call within one test must open the same (initially empty) storage,
    so the contract can check what survives reopening; it closes each store
    it opens.
    """

    @pytest.fixture
    def store(self, make_store: MakeStore) -> Iterator[VectorStore]:
        store = make_store(4, "contract-model")
        yield store
        store.close()

    def test_upserted_chunks_are_found_nearest_first_with_their_place(self, store: VectorStore) -> None:
        store.upsert(_chunks("k", ["north", "east", "south"], page=3),
                     [_unit(1, 0, 0, 0), _unit(0, 1, 0, 0), _unit(-1, 0, 0, 0)],
                     doc="compass.pdf", version=1, metadata={"title": "Compass", "tags": ["a", "b"]})
        hits = store.query(_unit(1, 0.1, 0, 0), 3)
        assert [h.text for h in hits] == ["north", "east", "south"]
        assert hits[0].score > hits[1].score > hits[2].score
        assert (hits[0].doc, hits[0].page, dict(hits[0].metadata)) == (
            "compass.pdf", 3, {"title": "Compass", "tags": ["a", "b"]})
        assert store.count() == 3

    def test_writing_the_same_chunks_again_adds_nothing(self, store: VectorStore) -> None:
        chunks = _chunks("k", ["one", "two"])
        vectors = [_unit(1, 0, 0, 0), _unit(0, 1, 0, 0)]
        for _ in range(2):
            store.upsert(chunks, vectors, doc="d", version=1, metadata={})
        assert store.count() == 2

    def test_a_new_version_then_deleting_stale_leaves_exactly_the_new_one(self, store: VectorStore) -> None:
        store.upsert(_chunks("k", ["a", "b", "c"]), [_unit(1, 0, 0, 0)] * 3, doc="d", version=1, metadata={})
        store.upsert(_chunks("k", ["a", "b2"]), [_unit(0, 1, 0, 0)] * 2, doc="d", version=2, metadata={})
        assert store.count() == 4  # the old version is still there until the new one is complete
        assert store.delete_stale("k", keep_version=2) == 2
        assert sorted(c.text for c in store.iter_chunks()) == ["a", "b2"]

    def test_deleting_a_document_leaves_the_others(self, store: VectorStore) -> None:
        store.upsert(_chunks("a", ["a1", "a2"]), [_unit(1, 0, 0, 0)] * 2, doc="a", version=1, metadata={})
        store.upsert(_chunks("b", ["b1"]), [_unit(0, 0, 1, 0)], doc="b", version=1, metadata={})
        assert store.delete_document("a") == 2
        assert store.delete_document("missing") == 0
        assert [c.doc for c in store.iter_chunks()] == ["b"]

    def test_relabelling_a_document_changes_its_name_and_metadata_and_nothing_else(self, store: VectorStore) -> None:
        chunks = _chunks("k", ["alpha", "beta"], page=2)
        vectors = [_unit(1, 0, 0, 0), _unit(0, 1, 0, 0)]
        store.upsert(chunks, vectors, doc="old title", version=3, metadata={"tags": ["inbox"]})
        store.upsert(_chunks("other", ["gamma"]), [_unit(0, 0, 1, 0)], doc="other", version=1,
                     metadata={"tags": ["inbox"]})
        if not isinstance(store, RelabellingStore):
            pytest.skip("this store does not relabel in place (documents whose labels changed are processed again)")
        assert store.relabel("k", doc="new title", metadata={"tags": ["tax", "2024"], "title": "new title"}) == 2
        assert store.relabel("missing", doc="x", metadata={}) == 0
        chunks_now = {c.id: c for c in store.iter_chunks(with_vectors=True)}
        assert len(chunks_now) == 3
        for chunk, vector in zip(chunks, vectors, strict=True):
            now = chunks_now[chunk.id]
            assert (now.doc, now.text, now.seq, now.page, dict(now.metadata)) == (
                "new title", chunk.text, chunk.seq, 2, {"tags": ["tax", "2024"], "title": "new title"})
            assert now.vector == pytest.approx(vector, abs=1e-5)
        other = next(c for c in chunks_now.values() if c.doc_key == "other")
        assert (other.doc, dict(other.metadata)) == ("other", {"tags": ["inbox"]})
        hit = store.query(_unit(1, 0, 0, 0), 1)[0]
        assert (hit.doc, hit.metadata["tags"]) == ("new title", ["tax", "2024"])
        # the version is untouched: a later version's stale-tail deletion still finds these chunks
        store.upsert(_chunks("k", ["alpha2"]), [_unit(1, 1, 0, 0)], doc="new title", version=4, metadata={})
        assert store.delete_stale("k", keep_version=4) == 2

    def test_filters_return_exactly_the_chunks_that_pass_them(self, store: VectorStore) -> None:
        invoice = _chunks("invoice", ["invoice page one", "invoice page two"])
        invoice = [Chunk(c.id, c.doc_key, c.seq, c.seq + 1, c.text, c.hash) for c in invoice]  # pages 1 and 2
        letter = _chunks("letter", ["letter"], page=1)
        note = _chunks("note", ["note", "note two"], page=3)
        upload = _chunks("upload", ["uploaded"], page=1)
        store.upsert(invoice, [_unit(1, 0, 0, 0), _unit(1, 0.2, 0, 0)], doc="invoice.pdf", version=1, metadata={
            "source": "archive", "tags": ["invoice", "tax"], "correspondent": "Acme",
            "modified": "2024-03-01T10:00:00+00:00", "size": 2048})
        store.upsert(letter, [_unit(0, 1, 0, 0)], doc="letter.pdf", version=1, metadata={
            "source": "archive", "tags": ["letter"], "correspondent": "Bakery",
            "modified": "2023-01-01T00:00:00+00:00"})
        store.upsert(note, [_unit(0, 0, 1, 0), _unit(0, 0, 1, 0.2)], doc="notes/note.txt", version=1, metadata={
            "source": "/srv/docs", "modified": "2024-06-01T08:00:00+00:00", "size": 90})
        store.upsert(upload, [_unit(0, 0, 0, 1)], doc="up.pdf", version=1, metadata={
            "source": "upload", "owner": "alice", "access": "caller:alice"})
        ids = {"invoice": {c.id for c in invoice}, "letter": {c.id for c in letter}, "note": {c.id for c in note},
               "upload": {c.id for c in upload}}

        def found(*expressions: str) -> set[str]:
            return {hit.id for hit in store.query(_unit(1, 1, 1, 1), 20, where=parse(expressions))}

        assert found("tags=invoice") == ids["invoice"]
        assert found("tags!=invoice") == ids["letter"] | ids["note"] | ids["upload"]
        assert found("page>=2") == {invoice[1].id} | ids["note"]
        assert found("page=1", "source=archive") == {invoice[0].id} | ids["letter"]
        assert found("modified>=2024-01-01") == ids["invoice"] | ids["note"]
        assert found("modified<2024-01-01T00:00:00") == ids["letter"]
        assert found("source=archive", "correspondent!=Acme") == ids["letter"]
        assert found("doc=notes/note.txt") == ids["note"]
        assert found("size>1000") == ids["invoice"]
        assert found("owner!=alice") == ids["invoice"] | ids["letter"] | ids["note"]
        assert found("tags=nothing") == set()
        # a caller's allow-list: the field holds one of these names; a chunk without the field passes none
        def granted(*names: str) -> set[str]:
            return {hit.id for hit in store.query(_unit(1, 1, 1, 1), 20, where=(Condition("access", ONE_OF, names),))}

        assert granted("shared", "caller:alice") == ids["upload"]
        assert granted("shared", "caller:bob") == set()
        # a search leaves copies of one text out by its hash (docmill.core.search)
        copy = Condition("hash", "!=", text_hash("note"))
        assert {hit.id for hit in store.query(_unit(1, 1, 1, 1), 20, where=(copy,))} == set().union(
            *ids.values()) - {note[0].id}
        if isinstance(store, RelabellingStore):  # relabelled fields are what filters see
            store.relabel("letter", doc="letter.pdf", metadata={"source": "archive", "tags": ["invoice"]})
            assert found("tags=invoice") == ids["invoice"] | ids["letter"]
            assert found("correspondent=Bakery") == set()

    def test_chunks_without_a_grant_are_given_their_documents_in_bulk(self, store: VectorStore) -> None:
        if not isinstance(store, GrantingStore):
            pytest.skip("the store cannot grant in bulk (an upgrade relabels each document instead)")
        alice, shared = _chunks("upload:alice/a.txt", ["one", "two"]), _chunks("file:///srv/b.txt", ["three"])
        bob = _chunks("upload:bob/c.txt", ["four"])
        store.upsert(alice, [_unit(1, 0, 0, 0), _unit(0, 1, 0, 0)], doc="a.txt", version=1, metadata={"tags": ["x"]})
        store.upsert(shared, [_unit(0, 0, 1, 0)], doc="b.txt", version=1, metadata={})
        store.upsert(bob, [_unit(0, 0, 0, 1)], doc="c.txt", version=1, metadata={"access": "caller:bob"})
        assert store.grant_unlabelled(access_of) == 3
        assert store.grant_unlabelled(access_of) == 0

        def granted(*names: str) -> set[str]:
            return {hit.id for hit in store.query(_unit(1, 1, 1, 1), 20, where=(Condition("access", ONE_OF, names),))}

        assert granted("caller:alice") == {c.id for c in alice} and granted("shared") == {shared[0].id}
        assert granted("caller:bob") == {bob[0].id}
        assert {hit.id for hit in store.query(_unit(1, 1, 1, 1), 20, where=parse(["tags=x"]))} == {c.id for c in alice}

    def test_export_returns_every_chunk_with_its_vector(self, store: VectorStore) -> None:
        texts = [f"t{i}" for i in range(600)]
        vectors = [_unit(1, i, 0, 1) for i in range(600)]
        store.upsert(_chunks("k", texts, page=None), vectors, doc="big.txt", version=1, metadata={})
        exported = {c.seq: c for c in store.iter_chunks(with_vectors=True)}
        assert len(exported) == 600 and {c.page for c in exported.values()} == {None}
        assert exported[599].vector == pytest.approx(vectors[599], abs=1e-5)
        assert next(store.iter_chunks()).vector is None

    def test_vectors_are_found_by_text_hash_for_reuse(self, store: VectorStore) -> None:
        store.upsert(_chunks("k", ["kept", "other"]), [_unit(1, 2, 3, 4), _unit(4, 3, 2, 1)], doc="d", version=1,
                     metadata={})
        found = store.vectors_for([text_hash("kept"), text_hash("never stored")])
        assert list(found) == [text_hash("kept")]
        assert list(found[text_hash("kept")]) == pytest.approx(_unit(1, 2, 3, 4), abs=1e-5)

    def test_chunks_survive_reopening(self, make_store: MakeStore) -> None:
        first = make_store(4, "contract-model")
        first.upsert(_chunks("k", ["durable"]), [_unit(1, 1, 1, 1)], doc="d", version=1, metadata={})
        first.close()
        again = make_store(4, "contract-model")
        try:
            assert [c.text for c in again.iter_chunks()] == ["durable"]
        finally:
            again.close()

    def test_storage_holding_another_models_vectors_is_refused(self, make_store: MakeStore) -> None:
        make_store(4, "contract-model").close()
        with pytest.raises(ConfigurationError):
            make_store(8, "another-model")
