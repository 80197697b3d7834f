"""Dead letters and job status in embedded mode, through the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ..conftest import Cli


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


def _job(home: Path, names: list[str], failed: slice) -> tuple[str, list[Any]]:
    """A job in the home's ledger with a pending document for each name, of which ``failed`` failed in turn."""
    from docmill.core.ledger import Ledger, NewVersion
    from docmill.core.values import DocumentRef
    from docmill.settings import Settings

    home.mkdir()
    with Ledger(Settings().ledger_database_url) as ledger:
        job = ledger.jobs.create("ingest", discoveries=0)
        refs = [DocumentRef(key=f"file:///docs/{name}", name=name, locator="", stamp="1", size=1) for name in names]
        ledger.versions.start_versions(job, "folder:/docs", [NewVersion(ref, "fp", "sig", None) for ref in refs])
        for ref in refs[failed]:
            ledger.documents.finish(ref.key, 1, "failed", stage="extract", error_kind="corrupt", reason="cut short")
    return job, refs


def test_status_of_a_job_pages_through_its_documents_in_key_order(cli: Cli, home: Path) -> None:
    # Given a job of 250 documents, 10 of them failed:
    job, refs = _job(home, [f"n-{i:03}.txt" for i in range(250)], slice(None, None, 25))

    # When its status is asked for, then the first 100 come, with how many more and where to go on:
    first = cli.json("status", job)
    assert [i["key"] for i in first["items"]] == [r.key for r in refs[:100]]
    assert (first["more"], first["next"], first["counts"]) == (150, refs[99].key, {"pending": 240, "failed": 10})
    # and the next pages follow on from it, to the end.
    second = cli.json("status", job, "--after", first["next"], "--limit", "120")
    assert [i["key"] for i in second["items"]] == [r.key for r in refs[100:220]] and second["more"] == 30
    last = cli.json("status", job, "--after", second["next"])
    assert [i["key"] for i in last["items"]] == [r.key for r in refs[220:]] and last["next"] is None
    assert len(cli.json("status", job, "--limit", "0")["items"]) == 250
    # Filters narrow the pages: the failed documents alone, with their reason.
    failed = cli.json("status", job, "--state", "failed", "--limit", "4")
    assert [i["doc"] for i in failed["items"]] == ["n-000.txt", "n-025.txt", "n-050.txt", "n-075.txt"]
    assert failed["more"] == 6 and all(i["reason"] == "cut short" for i in failed["items"])
    assert cli.json("status", job, "--stage", "extract")["more"] == 150
    # The plain output says how to see the rest.
    plain = cli("status", job).stdout
    assert f"... 150 more: docmill status {job} --after {refs[99].key}" in plain
    assert cli("status", "--state", "failed", check=False).returncode == 2


def test_dead_letters_and_the_failures_of_plain_status_come_a_page_at_a_time(cli: Cli, home: Path) -> None:
    # Given 130 documents that failed, one after another:
    _, refs = _job(home, [f"f-{i:03}.pdf" for i in range(130)], slice(None))

    # The dead-letter list gives the oldest 100, and says where the rest start; the next page follows on.
    listed = cli("dlq", "list", "--json")
    first = json.loads(listed.stdout)
    assert [d["doc"] for d in first] == [r.name for r in refs[:100]]
    assert f"30 more: docmill dlq list --json --after {first[-1]['id']}" in listed.stderr
    rest = cli.json("dlq", "list", "--after", first[-1]["id"], "--limit", "50")
    assert [d["doc"] for d in rest] == [r.name for r in refs[100:]]
    assert len(cli.json("dlq", "list", "--limit", "0")) == 130
    # Plain status counts every failure and lists a page of them.
    report = cli.json("status", "--limit", "20")
    assert report["documents"]["failed"] == 130 and len(report["failures"]) == 20 and report["more_failures"] == 110
    assert "... 30 more failed (docmill dlq list pages through them)" in cli("status").stdout
