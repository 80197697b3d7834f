"""The keyword index contract: what an index kept beside the vector store must do, as the vector store does it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from docmill.core.access import access_of
from docmill.core.filters import ONE_OF, Condition, parse
from docmill.core.interfaces import KeywordIndex
from docmill.core.values import Chunk, text_hash

from .store import _chunks

__all__ = ["KeywordIndexContract"]

MakeIndex = Callable[[], KeywordIndex]


class KeywordIndexContract:
    """Provide ``make_index``: a function ``() -> KeywordIndex``.

    Every call within one test must open the same (initially empty) storage,
    so the contract can check what survives reopening; it closes each index
    it opens.
    """

    @pytest.fixture
    def index(self, make_index: MakeIndex) -> Iterator[KeywordIndex]:
        index = make_index()
        yield index
        index.close()

    def test_chunks_are_found_by_their_words_best_first_with_their_place(self, index: KeywordIndex) -> None:
        index.upsert(_chunks("invoices", ["Invoice INV-0042 for the oak shelves, order 2023-117",
                                          "Invoice INV-0420 for chairs", "Delivery note for the oak desk"], page=2),
                     doc="invoices.pdf", version=1, metadata={"title": "Invoices", "tags": ["a", "b"]})
        index.upsert(_chunks("letter", ["Kündigung der Haftpflichtversicherung, Kraków, user@example.org"]),
                     doc="letter.pdf", version=1, metadata={})
        hits = index.search("INV-0042", 3)
        assert hits[0].text.startswith("Invoice INV-0042")
        assert all(h.score <= hits[0].score for h in hits) and hits[0].score > (hits[1].score if hits[1:] else 0)
        assert (hits[0].doc, hits[0].page, dict(hits[0].metadata)) == (
            "invoices.pdf", 2, {"title": "Invoices", "tags": ["a", "b"]})
        assert [h.doc for h in index.search("2023-117", 5)] == ["invoices.pdf"]
        for query in ("Krakow", "KRAKÓW", "Versicherung", "user@example.org", "kundigung"):
            assert [h.doc for h in index.search(query, 5)] == ["letter.pdf"], query
        assert index.search("the and of", 5) == []  # no words to look for
        assert index.search("zebra", 5) == []
        assert index.count() == 4

    def test_writing_the_same_chunks_again_adds_nothing(self, index: KeywordIndex) -> None:
        chunks = _chunks("k", ["alpha words", "beta words"])
        for _ in range(2):
            index.upsert(chunks, doc="d", version=1, metadata={})
        assert index.count() == 2
        assert len(index.search("words", 10)) == 2

    def test_a_new_version_then_deleting_stale_leaves_exactly_the_new_one(self, index: KeywordIndex) -> None:
        index.upsert(_chunks("k", ["apple", "banana", "cherry"]), doc="d", version=1, metadata={})
        index.upsert(_chunks("k", ["apple", "banana bread"]), doc="d", version=2, metadata={})
        assert index.count() == 4  # the old version is still there until the new one is complete
        assert len(index.search("banana", 10)) == 2
        assert index.delete_stale("k", keep_version=2) == 2
        assert sorted((c.text, c.version) for c in index.iter_chunks()) == [("apple", 2), ("banana bread", 2)]
        assert [h.text for h in index.search("banana cherry", 10)] == ["banana bread"]

    def test_deleting_a_document_leaves_the_others(self, index: KeywordIndex) -> None:
        index.upsert(_chunks("a", ["shared word one", "shared word two"]), doc="a", version=1, metadata={})
        index.upsert(_chunks("b", ["shared word three"]), doc="b", version=1, metadata={})
        assert index.delete_document("a") == 2
        assert index.delete_document("missing") == 0
        assert [h.doc for h in index.search("shared", 10)] == ["b"]
        assert [c.doc for c in index.iter_chunks()] == ["b"]

    def test_relabelling_a_document_changes_its_name_and_metadata_and_nothing_else(self, index: KeywordIndex) -> None:
        chunks = _chunks("k", ["alpha text", "beta text"], page=2)
        index.upsert(chunks, doc="old title", version=3, metadata={"tags": ["inbox"]})
        index.upsert(_chunks("other", ["gamma text"]), doc="other", version=1, metadata={"tags": ["inbox"]})
        assert index.relabel("k", doc="new title", metadata={"tags": ["tax", "2024"], "title": "new title"}) == 2
        assert index.relabel("missing", doc="x", metadata={}) == 0
        held = {c.id: c for c in index.iter_chunks()}
        for chunk in chunks:
            now = held[chunk.id]
            assert (now.doc, now.text, now.seq, now.page, now.version, dict(now.metadata)) == (
                "new title", chunk.text, chunk.seq, 2, 3, {"tags": ["tax", "2024"], "title": "new title"})
        assert dict(held[_chunks("other", ["gamma text"])[0].id].metadata) == {"tags": ["inbox"]}
        assert {h.doc for h in index.search("text", 10, where=parse(["tags=tax"]))} == {"new title"}
        assert {h.doc for h in index.search("text", 10, where=parse(["tags=inbox"]))} == {"other"}
        index.upsert(_chunks("k", ["alpha2 text"]), doc="new title", version=4, metadata={})
        assert index.delete_stale("k", keep_version=4) == 2  # the version was left as it was

    def test_filters_return_exactly_the_chunks_that_pass_them(self, index: KeywordIndex) -> None:
        invoice = _chunks("invoice", ["common invoice page one", "common invoice page two"])
        invoice = [Chunk(c.id, c.doc_key, c.seq, c.seq + 1, c.text, c.hash) for c in invoice]  # pages 1 and 2
        letter = _chunks("letter", ["common letter"], page=1)
        note = _chunks("note", ["common note", "common note two"], page=3)
        upload = _chunks("upload", ["common uploaded"], page=1)
        index.upsert(invoice, doc="invoice.pdf", version=1, metadata={
            "source": "archive", "tags": ["invoice", "tax"], "correspondent": "Acme",
            "modified": "2024-03-01T10:00:00+00:00", "size": 2048})
        index.upsert(letter, doc="letter.pdf", version=1, metadata={
            "source": "archive", "tags": ["letter"], "correspondent": "Bakery",
            "modified": "2023-01-01T00:00:00+00:00"})
        index.upsert(note, doc="notes/note.txt", version=1, metadata={
            "source": "/srv/docs", "modified": "2024-06-01T08:00:00+00:00", "size": 90})
        index.upsert(upload, doc="up.pdf", version=1, metadata={"source": "upload", "owner": "alice",
                                                                 "access": "caller:alice"})
        ids = {"invoice": {c.id for c in invoice}, "letter": {c.id for c in letter}, "note": {c.id for c in note},
               "upload": {c.id for c in upload}}

        def found(*expressions: str) -> set[str]:
            return {hit.id for hit in index.search("common", 20, where=parse(expressions))}

        assert found() == set().union(*ids.values())
        assert found("tags=invoice") == ids["invoice"]
        assert found("tags!=invoice") == ids["letter"] | ids["note"] | ids["upload"]
        assert found("page>=2") == {invoice[1].id} | ids["note"]
        assert found("page=1", "source=archive") == {invoice[0].id} | ids["letter"]
        assert found("modified>=2024-01-01") == ids["invoice"] | ids["note"]
        assert found("modified<2024-01-01T00:00:00") == ids["letter"]
        assert found("source=archive", "correspondent!=Acme") == ids["letter"]
        assert found("doc=notes/note.txt") == ids["note"]
        assert found("size>1000") == ids["invoice"]
        assert found("size=2048") == ids["invoice"]
        assert found("owner!=alice") == ids["invoice"] | ids["letter"] | ids["note"]
        assert found("tags=nothing") == set()

        def granted(*names: str) -> set[str]:
            return {hit.id for hit in index.search("common", 20, where=(Condition("access", ONE_OF, names),))}

        assert granted("shared", "caller:alice") == ids["upload"]
        assert granted("shared", "caller:bob") == set()
        copy = Condition("hash", "!=", text_hash("common note"))
        assert {hit.id for hit in index.search("common", 20, where=(copy,))} == set().union(
            *ids.values()) - {note[0].id}
        # k results that pass come back, however many better ones the filter leaves out
        assert len(index.search("common", 2, where=parse(["source=/srv/docs"]))) == 2

    def test_chunks_without_a_grant_are_given_their_documents_in_bulk(self, index: KeywordIndex) -> None:
        alice = _chunks("upload:alice/a.txt", ["one word", "two word"])
        shared = _chunks("file:///b.txt", ["three word"])
        bob = _chunks("upload:bob/c.txt", ["four word"])
        index.upsert(alice, doc="a.txt", version=1, metadata={"tags": ["x"]})
        index.upsert(shared, doc="b.txt", version=1, metadata={})
        index.upsert(bob, doc="c.txt", version=1, metadata={"access": "caller:bob"})
        assert index.grant_unlabelled(access_of) == 3
        assert index.grant_unlabelled(access_of) == 0

        def granted(*names: str) -> set[str]:
            return {hit.id for hit in index.search("word", 20, where=(Condition("access", ONE_OF, names),))}

        assert granted("caller:alice") == {c.id for c in alice} and granted("shared") == {shared[0].id}
        assert granted("caller:bob") == {bob[0].id}

    def test_every_chunk_is_listed_with_its_version(self, index: KeywordIndex) -> None:
        texts = [f"text number {i}" for i in range(600)]
        index.upsert(_chunks("k", texts, page=None), doc="big.txt", version=7, metadata={"a": 1})
        listed = {c.seq: c for c in index.iter_chunks()}
        assert len(listed) == 600 and {c.page for c in listed.values()} == {None}
        assert (listed[599].text, listed[599].version, listed[599].doc_key) == ("text number 599", 7, "k")

    def test_an_index_opened_beside_another_changes_nothing_under_it(self, make_index: MakeIndex) -> None:
        first = make_index()
        try:
            first.upsert(_chunks("k", ["shared words"]), doc="d", version=1, metadata={})
            assert [h.doc for h in first.search("shared", 5)] == ["d"]
            second = make_index()  # another process opening the same index (a search beside a running ingest)
            try:
                assert [h.doc for h in second.search("shared", 5)] == ["d"]
                second.upsert(_chunks("j", ["shared too"]), doc="e", version=1, metadata={})
                assert {h.doc for h in first.search("shared", 5)} == {"d", "e"}
            finally:
                second.close()
            assert {h.doc for h in first.search("shared", 5)} == {"d", "e"}
        finally:
            first.close()

    def test_chunks_survive_reopening(self, make_index: MakeIndex) -> None:
        first = make_index()
        first.upsert(_chunks("k", ["durable words"]), doc="d", version=1, metadata={})
        first.close()
        again = make_index()
        try:
            assert [h.text for h in again.search("durable", 5)] == ["durable words"]
            assert again.delete_document("k") == 1 and again.search("durable", 5) == []
        finally:
            again.close()
