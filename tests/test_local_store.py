"""One writer per local store: processes on one home take turns, and workers refuse a local store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import Cli

pytestmark = pytest.mark.slow


def _docs(folder: Path) -> Path:
    folder.mkdir()
    topics = ["harbour cranes", "apple orchards", "beekeeping", "sailing knots", "compost heaps", "chess openings"]
    for i, topic in enumerate(topics):
        (folder / f"note-{i}.txt").write_text(f"A note about {topic}. " * 30 + f"Closing remark {i} on {topic}.")
    return folder


def _chunks(cli: Cli, home: Path) -> list[tuple[str, str, str]]:
    exported = cli("export", env={"DOCMILL_HOME": str(home)}).stdout.splitlines()
    return sorted((c["id"], c["doc"], c["text"]) for c in map(json.loads, exported))


def test_two_processes_on_one_local_store_end_with_the_chunks_one_process_writes(cli: Cli, tmp_path: Path) -> None:
    folder = _docs(tmp_path / "notes")
    cli("ingest", str(folder), env={"DOCMILL_HOME": str(tmp_path / "alone")})
    shared = tmp_path / "shared"
    env = {**os.environ, "DOCMILL_HOME": str(shared)}
    both = [subprocess.Popen([sys.executable, "-m", "docmill", "ingest", str(folder), "--json"], cwd=cli.cwd,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [process.communicate(timeout=600) for process in both]
    assert [process.returncode for process in both] == [0, 0], outcomes
    summaries: list[dict[str, Any]] = [json.loads(out) for out, _ in outcomes]
    # One wrote every document; the other waited its turn and found them unchanged.
    assert sorted((s["done"], s["unchanged"]) for s in summaries) == [(0, 6), (6, 0)]
    assert any("waiting" in err for _, err in outcomes)
    alone, together = _chunks(cli, tmp_path / "alone"), _chunks(cli, shared)
    assert together == alone and len({chunk_id for chunk_id, _, _ in together}) == len(together) > 6


def test_workers_refuse_to_write_a_local_store(cli: Cli) -> None:
    env = {"DOCMILL_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/%2F"}  # never reached: refused before
    for queues in ("discover,extract,ocr,embed,store", "embed", "store"):
        done = cli("worker", "--queues", queues, "--processes", "2", check=False, env=env)
        assert done.returncode == 3, done.stderr
        assert "only one process may write" in done.stderr and "DOCMILL_PLUGINS__CHROMA__URL" in done.stderr
    qdrant = cli("worker", "--queues", "embed", check=False, env={**env, "DOCMILL_STORE": "qdrant"})
    assert qdrant.returncode == 3 and "DOCMILL_PLUGINS__QDRANT__URL" in qdrant.stderr
