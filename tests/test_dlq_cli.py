"""Dead letters and job status in embedded mode, through the command line."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import Cli


@pytest.mark.usefixtures("stub_embedder")
def test_bad_files_become_dead_letters_that_purge_forgets(cli: Cli, corpus: Path, tmp_path: Path,
                                                          manifest: list[dict[str, Any]]) -> None:
    bad = {Path(m["path"]).name: m["why"] for m in manifest if m["expect"] == "fail"}
    skipped = [m for m in manifest if m["expect"] == "skip" and m["path"].startswith("bad/")]  # blank pages
    folder = tmp_path / "bad"
    shutil.copytree(corpus / "bad", folder)
    assert cli.json("dlq", "list") == []  # nothing ingested yet: no error, nothing listed
    summary = cli.json("ingest", str(folder))
    assert summary["failed"] == len(bad)
    dead = cli.json("dlq", "list")
    assert {d["doc"]: d["error"] for d in dead} == bad
    assert all(len(d["id"]) == 10 and d["stage"] == "extract" and d["attempts"] == 1 and d["reason"]
               for d in dead)
    job = cli.json("status", summary["job"])
    assert job["finished"] and job["kind"] == "ingest" and job["counts"] == {"failed": len(bad), "skipped": 1}
    # Each item with its error kind: the failures', and the skip's reason too.
    assert {i["doc"]: (i["state"], i["error"]) for i in job["items"]} == {
        **{n: ("failed", k) for n, k in bad.items()}, **{Path(m["path"]).name: ("skipped", m["why"]) for m in skipped}}
    assert cli("dlq", "purge", "--older-than", "1h").stdout.strip() == "purged 0 dead letter(s)"  # none that old
    assert len(cli.json("dlq", "list")) == len(bad)
    assert cli("dlq", "purge").stdout.strip() == f"purged {len(bad)} dead letter(s)"
    assert cli.json("dlq", "list") == []
    assert cli.json("status")["documents"]["failed"] == len(bad)  # the documents stay failed
    retried = cli("dlq", "retry", "--all", check=False)
    assert retried.returncode == 1 and "no such dead letters" in retried.stderr
    usage = cli("dlq", "retry", check=False)
    assert usage.returncode == 2 and "give dead-letter ids" in usage.stderr
    assert cli("dlq", "purge", "--older-than", "soon", check=False).returncode == 2
