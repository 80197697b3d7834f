"""What the peer ingest scripts share: no network, the same pages, the same model and runtime as docmill.

Runs in the peers' own virtualenv (benchmarks/peers/.venv), never in docmill's.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Nothing phones home: no model hub, no telemetry (Chroma's, onnxruntime's, LangChain's tracing).
for _name, _value in {"HF_HUB_OFFLINE": "1", "ORT_DISABLE_TELEMETRY": "1", "ANONYMIZED_TELEMETRY": "False",
                      "DO_NOT_TRACK": "1", "LANGCHAIN_TRACING_V2": "false", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ[_name] = _value

#: The splitters' settings: docmill's defaults (800 characters, 100 of overlap).
CHUNK_CHARS = 800
OVERLAP_CHARS = 100


def arguments() -> tuple[Path, Path, Path, Path | None]:
    """folder, home (where the peer keeps its store and records), model directory, and optionally where to
    write the chunk texts it embedded (for the bare pass over them)."""
    if len(sys.argv) not in (4, 5):
        sys.exit(f"usage: {sys.argv[0]} FOLDER HOME MODEL_DIR [TEXTS_JSON]")
    texts = Path(sys.argv[4]) if len(sys.argv) == 5 else None
    return Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), texts


def pages(folder: Path) -> Iterator[tuple[str, int, str]]:
    """(file name, 1-based page, text) of every PDF page in ``folder``, with PyMuPDF as docmill reads them."""
    import pymupdf

    for path in sorted(folder.glob("*.pdf")):
        with pymupdf.open(path) as pdf:
            for number, page in enumerate(pdf, start=1):
                text = page.get_text()
                if text.strip():
                    yield path.name, number, text


def model(model_dir: Path) -> Any:
    """fastembed's TextEmbedding of the int8 all-MiniLM-L6-v2 docmill bundles, with fastembed's defaults."""
    from fastembed import TextEmbedding

    return TextEmbedding(model_name="sentence-transformers/all-MiniLM-L6-v2", specific_model_path=str(model_dir))


def chroma(home: Path) -> Any:
    """A persistent Chroma client in ``home``, telemetry off."""
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=str(home / "chroma"), settings=Settings(anonymized_telemetry=False))


def report(chunks: int, embedded: int, texts_file: Path | None, texts: list[str]) -> None:
    """Print what a run did as JSON; write the texts it embedded when asked."""
    if texts_file is not None:
        texts_file.write_text(json.dumps(texts))
    print(json.dumps({"chunks": chunks, "embedded": embedded}))
