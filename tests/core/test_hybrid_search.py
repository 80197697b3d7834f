"""Hybrid search as a user runs it: exact terms and meanings alike, filters on both sides, the modes, --json."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from docmill import hookimpl
from docmill.core.hybrid import RankedHit, coverage, fuse
from docmill.core.plugins import load_plugins
from docmill.core.runtime import Runtime
from docmill.core.values import SearchHit
from docmill.settings import Settings

from ..conftest import Cli

DOCS = Path(__file__).parent.parent / "data" / "index-before-keywords" / "docs"


@pytest.fixture
def invoices(tmp_path: Path) -> Path:
    """Four invoices that differ only in their numbers, a German letter and the garden rules."""
    folder = tmp_path / "docs"
    shutil.copytree(DOCS, folder)
    return folder


@pytest.mark.parametrize("store", ["chroma", "qdrant"])
def test_an_invoice_number_finds_the_one_document_that_holds_it(cli: Cli, invoices: Path, store: str) -> None:
    # Given the invoices indexed on either store (the keyword index beside it, the default)
    env = {"DOCMILL_STORE": store}
    cli("ingest", str(invoices), env=env)
    # When a user searches for one invoice number
    hits = cli.json("search", "INV-0042", "-k", "3", env=env)
    # Then the one document holding it comes first, found by its words, with both sides' ranks in the JSON
    assert hits[0]["doc"] == "invoice-0042.txt"
    assert hits[0]["keyword_rank"] == 1 and hits[0]["keyword_score"] > 0
    assert set(hits[0]) == {"doc", "page", "score", "text", "id", "metadata", "dense_rank", "dense_score",
                            "keyword_rank", "keyword_score"}
    # and by words alone it is far ahead of the invoices that share only "INV" with it
    by_words = cli.json("search", "INV-0042", "--mode", "keyword", env=env)
    assert by_words[0]["doc"] == "invoice-0042.txt" and by_words[0]["score"] > 2 * by_words[1]["score"]
    # while dense search ranks by meaning only: no keyword side in its answer
    dense = cli.json("search", "INV-0042", "--mode", "dense", "-k", "6", env=env)
    assert len(dense) == 6 and {h["keyword_rank"] for h in dense} == {None} and dense[0]["dense_rank"] == 1


def test_a_question_in_other_words_is_answered_by_meaning(cli: Cli, invoices: Path) -> None:
    cli("ingest", str(invoices))
    # A question that shares almost no word with the page still finds it (the dense side carries it)
    hits = cli.json("search", "how do small animals move from one plot to the next?", "-k", "1")
    assert hits[0]["doc"] == "garden.txt" and hits[0]["dense_rank"] == 1
    # A German compound is found by its last part, and an accent need not be typed
    assert cli.json("search", "Versicherung", "--mode", "keyword")[0]["doc"] == "kuendigung.txt"
    assert cli.json("search", "Gottingen Tischlerei", "--mode", "keyword", "-k", "10")[0]["doc"].startswith("invoice")


def test_a_query_of_stop_words_alone_is_answered_by_meaning(cli: Cli, invoices: Path) -> None:
    cli("ingest", str(invoices))
    hits = cli.json("search", "the and of", "-k", "3")
    assert len(hits) == 3 and all(h["keyword_rank"] is None and h["dense_rank"] for h in hits)
    assert cli.json("search", "the and of", "--mode", "keyword") == []


def test_filters_apply_to_both_sides_before_fusion(cli: Cli, invoices: Path, tmp_path: Path) -> None:
    # Given many chunks that match the query well, and six that pass a filter and match it less well
    other = tmp_path / "other"
    other.mkdir()
    for i in range(6):
        (other / f"note-{i}.txt").write_text(f"Note {i}: the oak shelves were delivered on time.\n")
    cli("ingest", str(invoices))
    cli("ingest", str(other))
    # When a search asks for 5 of those that pass
    for mode in ("hybrid", "keyword", "dense"):
        hits = cli.json("search", "INV-0042 oak shelves invoice", "-k", "5", "--mode", mode,
                        "--where", f"source={other}")
        # Then it gets 5, all passing, whichever way it ranks
        assert len(hits) == 5 and {h["doc"][:5] for h in hits} == {"note-"}, mode


def test_a_keyword_search_without_a_keyword_index_says_so(cli: Cli, invoices: Path) -> None:
    env = {"DOCMILL_KEYWORD_INDEX": "none"}
    cli("ingest", str(invoices), env=env)
    hybrid = cli.json("search", "INV-0042", "-k", "2", env=env)  # dense alone
    assert len(hybrid) == 2 and {h["keyword_rank"] for h in hybrid} == {None}
    refused = cli("search", "INV-0042", "--mode", "keyword", check=False, env=env)
    assert refused.returncode == 3 and "DOCMILL_KEYWORD_INDEX" in refused.stderr


def _hit(id_: str, score: float, text: str = "") -> SearchHit:
    return SearchHit(id_, f"{id_}.txt", 1, score, text)


def test_fusion_leans_on_words_when_one_chunk_holds_them_all_and_on_meaning_otherwise() -> None:
    dense = [_hit("meaning", 0.8), _hit("both", 0.6), _hit("words", 0.2)]
    keyword = [_hit("words", 9.0, "invoice INV-0042"), _hit("both", 3.0, "invoice"), _hit("other", 1.0, "x")]
    assert coverage("INV-0042", "invoice INV-0042") == 1.0
    assert coverage("a question about oak shelves", "oak") == pytest.approx(1 / 3)
    exact = fuse("INV-0042", dense, keyword, 4)
    assert [r.hit.id for r in exact][:2] == ["words", "both"]
    assert exact[0] == RankedHit(exact[0].hit, (3, 0.2), (1, 9.0)) and 0 < exact[0].hit.score <= 1
    asked = fuse("which piece of furniture was late", dense,
                 [_hit("words", 9.0, "late"), _hit("both", 3.0, "furniture")], 4)
    assert asked[0].hit.id == "meaning"
    # one side empty: the other's order and scores
    assert [r.hit.id for r in fuse("x", dense, [], 2)] == ["meaning", "both"]
    assert [(r.hit.id, r.hit.score) for r in fuse("x", [], keyword, 1)] == [("words", 9.0)]


def test_a_chunk_sharing_one_word_with_a_question_does_not_outrank_the_one_nearest_in_meaning() -> None:
    # "crossing" (crossing branches, in a page on pruning) is the one query word the corpus holds; the note on
    # zebras is clearly nearest in meaning. Added at the keyword side's full weight, that one word lifted the
    # pruning page above the note (the defect found in tests/cli/test_ingest_cli.py).
    dense = [_hit("zebras", 0.47), _hit("pruning", 0.18), _hit("compost", 0.14), _hit("far", 0.0)]
    keyword = [_hit("pruning", 6.0, "remove crossing branches"), _hit("fence", 5.0, "a crossing gate")]
    ranked = fuse("animals crossing the savanna", dense, keyword, 3)
    assert [r.hit.id for r in ranked][:2] == ["zebras", "pruning"]


class RecordingKeywords:
    """A third-party keyword index: docmill's SQLite one, counting the chunks written through it."""

    def __init__(self, index: Any) -> None:
        self.index, self.written = index, 0
        self.name = "recording"

    def upsert(self, chunks: Any, **kwargs: Any) -> None:
        self.written += len(chunks)
        self.index.upsert(chunks, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)


def test_settings_select_a_third_party_keyword_index(plugins_on: Any, tmp_path: Path) -> None:
    from docmill.core.indexes import keywords_of
    from docmill.core.values import Chunk, chunk_id, text_hash
    from docmill.plugins.sqlite_keywords import SqliteKeywords

    built: list[RecordingKeywords] = []

    @hookimpl
    def docmill_register_keyword_indexes(register: Any) -> None:
        def make(context: Any) -> RecordingKeywords:
            built.append(RecordingKeywords(SqliteKeywords(context.home / "recording.sqlite3")))
            return built[-1]

        register("recording", make)

    plugins_on(SimpleNamespace(docmill_register_keyword_indexes=docmill_register_keyword_indexes), "recording")
    runtime = Runtime(Settings(home=tmp_path / "home", keyword_index="recording"))
    try:
        store = runtime.store
        assert keywords_of(store) is built[0]
        text = "Invoice INV-0042"
        store.upsert([Chunk(chunk_id("k", 0, text_hash(text)), "k", 0, 1, text, text_hash(text))], [[0.1] * 384],
                     doc="k.txt", version=1, metadata={})
        assert built[0].written == 1 and [h.doc for h in built[0].search("INV-0042", 1)] == ["k.txt"]
        assert "recording" in load_plugins(None).names("keywords")
    finally:
        runtime.close()
