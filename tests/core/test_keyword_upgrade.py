"""An index written before keyword search gains its keyword index in place, from the stored chunk texts, without
embedding anything again (tests/data/index-before-keywords: a home made by the release before)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from docmill.core.indexes import keywords_of
from docmill.core.keyword_fill import fill_name
from docmill.core.runtime import Runtime
from docmill.settings import Settings

from ..conftest import Cli
from ..indexes import assert_indexes_agree

BEFORE = Path(__file__).parent.parent / "data" / "index-before-keywords"


@pytest.fixture
def old_home(home: Path) -> Path:
    """The home the release before keyword search wrote: its Chroma store and its ledger, six documents."""
    home.mkdir(parents=True)
    shutil.copytree(BEFORE / "chroma", home / "chroma")
    shutil.copy(BEFORE / "ledger.db", home / "ledger.db")
    return home


def test_a_search_on_an_older_index_fills_its_keyword_index_and_finds_the_number(cli: Cli, old_home: Path) -> None:
    # Given the older index, exported as it is (its keyword index switched off: nothing is filled)
    before = _export(cli, _NO_KEYWORDS)
    assert len(before) == 6 and not (old_home / "keywords").exists()
    # When the user searches for an invoice number, as after any upgrade
    searched = cli("search", "INV-0042", "-k", "2", "--json")
    # Then the keyword index is filled from the stored texts, saying so, and finds the one invoice
    assert "filling the keyword index from the 6 chunk texts" in searched.stderr
    hits = _json(searched.stdout)
    assert hits[0]["doc"] == "invoice-0042.txt" and hits[0]["keyword_rank"] == 1
    assert cli.json("search", "Versicherung", "--mode", "keyword")[0]["doc"] == "kuendigung.txt"
    # without embedding anything again: the same chunks and vectors, and the ledger's counts as they were
    assert _export(cli, {}) == before
    assert cli.json("status")["embedded"] == 6
    # and only once
    assert "filling" not in cli("search", "INV-0043", "--json").stderr


def test_the_pipeline_fills_the_keyword_index_of_an_older_index_once(old_home: Path) -> None:
    settings = Settings(home=old_home)
    runtime = Runtime(settings)
    try:
        store = runtime.store
        keywords = keywords_of(store)
        assert keywords is not None and keywords.count() == 6
        assert assert_indexes_agree(store) == 6
        assert runtime.ledger.upgrades.done(fill_name(keywords, settings.collection))
        assert [h.doc for h in keywords.search("INV-0420", 1)] == ["invoice-0420.txt"]
    finally:
        runtime.close()
    # A keyword index lost afterwards (its file deleted) is filled again by the next process
    shutil.rmtree(old_home / "keywords")
    again = Runtime(settings)
    try:
        assert assert_indexes_agree(again.store) == 6
    finally:
        again.close()


_NO_KEYWORDS = {"DOCMILL_KEYWORD_INDEX": "none"}


def _json(text: str) -> object:
    import json

    return json.loads(text)


def _export(cli: Cli, env: dict[str, str]) -> dict[str, list[float]]:
    import json

    return {c["id"]: c["vector"] for c in map(json.loads, cli("export", "--vectors", env=env).stdout.splitlines())}
