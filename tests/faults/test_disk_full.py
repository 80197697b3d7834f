"""A disk full (a small tmpfs), then freed: the home's mid-ingest, and the API's upload directory."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..api_server import ApiServer
from ..conftest import CORPUS_EXCLUDES, Cli
from .conftest import Recovery, clean_run, outcome, stub_env
from .jobs import ended_documents
from .services import Tmpfs


@contextlib.contextmanager
def _mounted(path: Path, size: str) -> Iterator[Tmpfs]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        disk = Tmpfs(path, size)
    except subprocess.CalledProcessError as exc:  # root without CAP_SYS_ADMIN: an unprivileged container
        pytest.skip(f"cannot mount a tmpfs here: {exc.stderr.decode(errors='replace').strip()}")
    try:
        yield disk
    finally:
        disk.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Tmpfs]:
    with _mounted(tmp_path / "disk", "256m") as disk:
        yield disk


@pytest.fixture
def upload_disk(tmp_path: Path) -> Iterator[Tmpfs]:
    """A disk for the API's uploads alone: the home, with the ledger, is elsewhere."""
    with _mounted(tmp_path / "upload-disk", "16m") as disk:
        yield disk


@pytest.mark.in_make_test
def test_a_full_disk_stops_the_ingest_at_once_and_says_so_and_a_run_after_freeing_it_ends_as_a_clean_run(
        isolated: Path, small_disk: Tmpfs, corpus: Path, tmp_path: Path, stub_plugins: Path, recovery: Recovery,
        monkeypatch: pytest.MonkeyPatch) -> None:
    clean = clean_run(corpus, tmp_path, stub_plugins)
    home = small_disk.path / "home"
    monkeypatch.setenv("DOCMILL_HOME", str(home))
    for key, value in stub_env(stub_plugins).items():
        monkeypatch.setenv(key, value)
    ingest = subprocess.Popen([sys.executable, "-m", "docmill", "ingest", str(corpus), *CORPUS_EXCLUDES],
                              cwd=isolated, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while ended_documents(home / "ledger.db") < 3 and ingest.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ingest.poll() is None, "the ingest ended before the disk could fill"
    small_disk.fill()
    full_at = time.monotonic()
    _, err = ingest.communicate(timeout=300)
    stopped_after = time.monotonic() - full_at
    assert ingest.returncode == 7, err
    assert "is full" in err and "Free some space and run the command again" in err, err
    assert "Traceback" not in err and "unreachable" not in err and "without an outcome" not in err, err
    assert stopped_after < 30, f"the ingest went on for {stopped_after:.0f} s on a full disk"
    small_disk.free()
    recovery.fault_over(f"the home's disk full (the ingest stopped {stopped_after:.1f} s after), then freed")
    Cli(isolated)("ingest", str(corpus), *CORPUS_EXCLUDES)
    recovery.recovered()
    recovery.ended_as(outcome(f"sqlite:///{home / 'ledger.db'}", Cli(isolated)("export").stdout), clean)


@pytest.mark.in_make_test
def test_an_upload_to_a_full_disk_is_refused_with_507_keeping_nothing_and_taken_once_space_is_freed(
        upload_disk: Tmpfs, tmp_path: Path, recovery: Recovery) -> None:
    uploads = upload_disk.path / "uploads"
    api = ApiServer(tmp_path / "api", env={"DOCMILL_UPLOAD_DIR": str(uploads)}).start()
    memo = ("memo.txt", b"The quay crane is serviced on Tuesdays, and the harbour master signs it off. " * 40,
            "text/plain")
    try:
        with api.client("alice") as http:
            # Given the disk of the upload directory is full
            upload_disk.fill()
            # When a caller uploads a file
            refused = http.post("/v1/documents", files=[("file", memo)])
            # Then it is told that the server's disk is full (not a 500), without where that disk is; no job was
            # started and no byte of the file was kept
            assert refused.status_code == 507, refused.text
            message = refused.json()["error"]["message"]
            assert "disk is full" in message and "send it again" in message and str(upload_disk.path) not in message
            assert http.get("/v1/jobs").json() == []
            assert [p for p in uploads.rglob("*") if p.is_file()] == []
            # And once space is freed, the same upload is taken and processed
            upload_disk.free()
            recovery.fault_over("the upload directory's disk full, then freed")
            taken = http.post("/v1/documents", files=[("file", memo)])
            assert taken.status_code == 202, taken.text
            assert api.wait(http, taken.json()["job_id"])["counts"] == {"done": 1}
            recovery.recovered()
    finally:
        assert api.stop() == 0
    # The operator's log says which disk.
    assert f"the disk holding uploaded files ({uploads}) is full" in api.log.read_text()
