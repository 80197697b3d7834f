"""One writer per local store: processes on one home take turns (workers refusing a local store are in
tests/distributed/test_workers.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ..conftest import Cli

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


@pytest.mark.usefixtures("stub_embedder")
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
