"""docmill's Chroma collection read by LangChain's retriever (docs/examples/langchain_retriever.py), as a RAG
application would read it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import Cli

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "langchain_retriever.py"


@pytest.mark.usefixtures("stub_embedder")
def test_langchains_chroma_retriever_reads_docmills_chunks_their_metadata_and_filters(cli: Cli, tmp_path: Path) -> None:
    pytest.importorskip("langchain_chroma")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ferries.txt").write_text("The ferry to the island leaves at nine from pier four every morning. " * 6)
    (folder / "trains.txt").write_text("The night train to the north has sleeper cars and a dining car. " * 6)
    cli("ingest", str(folder))

    def retrieve(*args: str) -> list[dict[str, object]]:
        done = subprocess.run([sys.executable, str(EXAMPLE), *args], cwd=cli.cwd, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    found = retrieve("ferry island pier", "-k", "1")
    assert found[0]["doc"] == "ferries.txt" and "ferry to the island" in str(found[0]["text"])
    metadata = found[0]["metadata"]
    assert isinstance(metadata, dict) and metadata["filename"] == "ferries.txt" and metadata["source"] == str(folder)
    assert {f["doc"] for f in retrieve("ferry island pier", "-k", "5", "--where", "doc=trains.txt")} == {"trains.txt"}
