"""End to end: `docmill ingest` on a generated corpus, with the real Tesseract, model and Chroma store."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from docmill.core.ledger import Ledger
from docmill.settings import Settings

from ..conftest import CORPUS_EXCLUDES

pytestmark = pytest.mark.slow


@dataclass
class Ingested:
    root: Path
    home: Path
    store: str
    summary: dict[str, Any]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCMILL_")}
        env["DOCMILL_HOME"] = str(self.home)
        env["DOCMILL_STORE"] = self.store
        done = subprocess.run([sys.executable, "-m", "docmill", *args], env=env, cwd=self.home.parent,
                              capture_output=True, text=True, timeout=600)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def export(self, *args: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.run("export", *args).stdout.splitlines()]

    def ledger(self) -> Ledger:
        return Ledger(Settings(home=self.home).ledger_database_url)




@pytest.fixture(scope="module")
def ingested(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    """The small corpus, ingested once into Chroma for the read-only checks of this module.

    Qdrant behind the same pipeline is checked by the editing test below and the
    vector store contract (tests/test_contracts.py), not by ingesting the corpus again.
    """
    base = tmp_path_factory.mktemp("ingested")
    root = base / "docs"
    shutil.copytree(corpus, root)
    result = Ingested(root, base / "home", "chroma", {})
    result.summary = result.json("ingest", str(root), *CORPUS_EXCLUDES)
    return result


def _expected(manifest: list[dict[str, Any]], expect: str) -> list[dict[str, Any]]:
    return [m for m in manifest if m["expect"] == expect]


def test_every_good_file_ends_done_and_every_bad_file_fails_with_its_kind(
        ingested: Ingested, manifest: list[dict[str, Any]]) -> None:
    status = ingested.json("status")
    failures = {f["doc"]: f for f in status["failures"]}
    bad = _expected(manifest, "fail")
    assert {m["path"]: failures.get(m["path"], {}).get("error") for m in bad} == {m["path"]: m["why"] for m in bad}
    assert all(f["stage"] == "extract" and f["reason"] and "\n" not in f["reason"] for f in failures.values())
    good, skipped = _expected(manifest, "ok"), _expected(manifest, "skip")
    assert status["documents"] == {"total": len(good) + len(bad) + len(skipped), "done": len(good),
                                   "skipped": len(skipped), "failed": len(bad), "pending": 0}
    assert {c["doc"] for c in ingested.export()} == {m["path"] for m in good}
    ledger = ingested.ledger()
    for m in skipped:  # the blank PDF: skipped, and why
        row = ledger.documents.document("file://" + str((ingested.root / m["path"]).resolve()))
        assert (row.state, row.error_kind) == ("skipped", m["why"]), m["path"]
    ledger.close()


def test_ingest_summary_agrees_with_status_and_store(ingested: Ingested, manifest: list[dict[str, Any]]) -> None:
    summary = ingested.summary
    assert summary["done"] == len(_expected(manifest, "ok"))
    assert summary["failed"] == len(_expected(manifest, "fail"))
    assert summary["skipped"] == len(_expected(manifest, "skip")) and summary["seconds"] > 0
    chunks = ingested.export()
    assert summary["chunks"] == ingested.json("status")["chunks"] == len(chunks) > 0
    assert len({c["id"] for c in chunks}) == len(chunks)


def test_bad_files_are_not_retried(ingested: Ingested, manifest: list[dict[str, Any]]) -> None:
    ledger = ingested.ledger()
    for m in _expected(manifest, "fail"):
        row = ledger.documents.document("file://" + str((ingested.root / m["path"]).resolve()))
        assert row is not None and row.state == "failed" and row.attempts == 1, m["path"]


def _distinctive_line(truth: Path) -> tuple[str, int]:
    """The line of the true text with the most different words, and its page (pages end with a form feed)."""
    lines = [(line.strip(), number) for number, page in enumerate(truth.read_text().split("\f"), start=1)
             for line in page.splitlines()]
    return max(((line, number) for line, number in lines if " " in line), key=lambda pair: len(set(pair[0].split())))


def test_a_sentence_from_a_scan_finds_that_scan_first(ingested: Ingested, manifest: list[dict[str, Any]]) -> None:
    scans = [m for m in manifest if m.get("truth")]
    assert scans
    for scan in scans:
        same_truth = {m["path"] for m in scans if m["truth"] == scan["truth"]}
        line, page = _distinctive_line(ingested.root / scan["truth"])
        hits = ingested.json("search", line, "-k", "3")
        assert hits[0]["doc"] in same_truth, (scan["path"], hits)
        assert hits[0]["page"] == page and hits[0]["score"] > hits[-1]["score"] - 1e-9


def test_export_gives_each_chunk_with_place_metadata_and_unit_vector(ingested: Ingested) -> None:
    chunks = ingested.export("--vectors")
    for chunk in chunks:
        assert set(chunk) == {"id", "doc", "page", "text", "metadata", "vector"}
        assert chunk["metadata"]["filename"] == chunk["doc"].rsplit("/", 1)[-1]
        assert "modified" in chunk["metadata"] and chunk["text"].strip()
        assert len(chunk["vector"]) == 384
        assert math.isclose(math.sqrt(sum(x * x for x in chunk["vector"])), 1.0, abs_tol=1e-3)
        if chunk["doc"].endswith((".txt", ".md")):
            assert chunk["page"] is None
        else:
            assert isinstance(chunk["page"], int) and chunk["page"] >= 1
    latin1 = [c["text"] for c in chunks if c["doc"] == "plain/latin1.txt"]
    assert latin1 and "Café, naïve, Zürich" in latin1[0]


def test_reingest_of_unchanged_corpus_redoes_nothing(ingested: Ingested, manifest: list[dict[str, Any]]) -> None:
    before = {r.key: (r.version, r.finished_at) for r in _rows(ingested)}
    again = ingested.json("ingest", str(ingested.root), *CORPUS_EXCLUDES)
    assert again["done"] == 0 and again["chunks"] == 0 and again["deleted"] == 0
    assert again["skipped"] == len(_expected(manifest, "ok")) + len(_expected(manifest, "skip"))
    assert again["failed"] == len(_expected(manifest, "fail"))
    assert again["unchanged"] == len(manifest)
    assert {r.key: (r.version, r.finished_at) for r in _rows(ingested)} == before


def _rows(ingested: Ingested) -> list[Any]:
    from sqlalchemy import select

    from docmill.core.ledger.schema import documents

    ledger = ingested.ledger()
    with ledger.engine.connect() as conn:
        rows = list(conn.execute(select(documents)).all())
    ledger.close()
    return rows


def test_editing_one_file_reprocesses_only_it_and_deleting_one_removes_its_chunks(
        corpus: Path, tmp_path: Path, home: Path, cli: Any, exported: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # On Qdrant: the one whole pipeline that writes, edits and deletes there (the reuse test runs on Chroma,
    # and the store contract checks upsert, stale deletion and removal on both stores).
    monkeypatch.setenv("DOCMILL_STORE", "qdrant")
    root = tmp_path / "docs"
    shutil.copytree(corpus / "plain", root / "plain")
    shutil.copytree(corpus / "text", root / "text")
    first = cli.json("ingest", str(root))
    assert first["done"] == 11 and first["failed"] == 0  # 6 PDFs, 5 text files
    pdfs = sorted(p.name for p in (root / "text").iterdir())
    old_notes = [c for c in exported() if c["doc"] == "plain/notes.txt"]
    assert len(old_notes) > 1

    (root / "plain" / "notes.txt").write_text("Zebras migrate across the Serengeti every autumn.\n")
    (root / "text" / pdfs[0]).unlink()
    second = cli.json("ingest", str(root))
    assert (second["done"], second["skipped"], second["deleted"], second["failed"]) == (1, 9, 1, 0)

    chunks = exported()
    notes = [c for c in chunks if c["doc"] == "plain/notes.txt"]
    assert [c["text"] for c in notes] == ["Zebras migrate across the Serengeti every autumn."]  # no stale tail
    assert not any(c["doc"] == f"text/{pdfs[0]}" for c in chunks)
    status = cli.json("status")
    assert status["documents"]["total"] == 10 and status["chunks"] == len(chunks)
    # By meaning, in the default (hybrid) search: a pruning PDF holds "crossing", the note none of the words
    by_meaning = cli.json("search", "animals crossing the savanna", "-k", "1")
    assert by_meaning[0]["doc"] == "plain/notes.txt"


@pytest.mark.usefixtures("stub_embedder")
def test_changing_chunk_settings_reprocesses_documents(corpus: Path, tmp_path: Path, cli: Any, exported: Any) -> None:
    root = tmp_path / "docs"
    shutil.copytree(corpus / "plain", root)
    cli.json("ingest", str(root))
    before = len(exported())
    again = cli.json("ingest", str(root), env={"DOCMILL_CHUNK_SIZE": "300", "DOCMILL_CHUNK_OVERLAP": "50"})
    assert again["done"] == 5 and again["skipped"] == 0
    chunks = exported()
    assert len(chunks) > before and all(len(c["text"]) <= 300 for c in chunks)


def test_a_symlink_leaving_the_folder_is_refused_and_reported(tmp_path: Path, cli: Any, exported: Any) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("the launch codes are 0000")
    root = tmp_path / "docs"
    root.mkdir()
    (root / "inside.txt").write_text("an ordinary note about gardening and tomatoes")
    (root / "escape.txt").symlink_to(outside)
    summary = cli.json("ingest", str(root))
    assert (summary["done"], summary["skipped"]) == (1, 1)
    assert all("launch codes" not in c["text"] for c in exported())
    ledger = Ledger(Settings().ledger_database_url)
    row = ledger.documents.document("file://" + str(root / "escape.txt"))
    assert row.state == "skipped" and row.error_kind == "refused" and "leaves the ingested folder" in row.error


def test_ingest_of_a_single_file_names_it_as_given(corpus: Path, tmp_path: Path, cli: Any, exported: Any) -> None:
    target = tmp_path / "one.md"
    shutil.copy(corpus / "plain" / "readme.md", target)
    cli.json("ingest", "../one.md")
    assert {c["doc"] for c in exported()} == {"../one.md"}


def test_usage_and_configuration_errors_exit_non_zero_with_a_clear_message(cli: Any) -> None:
    missing = cli("ingest", "/no/such/folder", check=False)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    bad = cli("status", check=False, env={"DOCMILL_CHUNK_OVERLAP": "5000"})
    assert bad.returncode == 3 and "DOCMILL_CHUNK_OVERLAP" in bad.stderr
    unknown_store = cli("ingest", ".", check=False, env={"DOCMILL_STORE": "nosuchstore"})
    assert unknown_store.returncode == 3
    assert "DOCMILL_STORE" in unknown_store.stderr and "chroma" in unknown_store.stderr


def test_commands_on_an_empty_home_report_nothing(cli: Any, home: Path) -> None:
    assert cli.json("status")["documents"]["total"] == 0
    assert cli.json("search", "anything") == []
    assert cli("export").stdout == ""
    assert not home.exists()


@pytest.mark.usefixtures("stub_embedder")
def test_a_file_replaced_by_an_escaping_symlink_loses_its_chunks(tmp_path: Path, cli: Any, exported: Any) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    note = root / "note.txt"
    note.write_text("Beekeeping notes: the hives need checking every week in spring.")
    cli.json("ingest", str(root))
    assert [c["doc"] for c in exported()] == ["note.txt"]
    note.unlink()
    (tmp_path / "elsewhere.txt").write_text("private")
    note.symlink_to(tmp_path / "elsewhere.txt")
    assert cli.json("ingest", str(root))["deleted"] == 1
    assert exported() == []
    assert cli.json("ingest", str(root))["skipped"] == 1

