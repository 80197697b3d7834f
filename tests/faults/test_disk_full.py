"""The home's disk full mid-ingest (a small tmpfs), then freed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import CORPUS_EXCLUDES, Cli
from .conftest import Recovery, clean_run, outcome, stub_env
from .jobs import ended_documents
from .services import Tmpfs


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Tmpfs]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        disk = Tmpfs(tmp_path / "disk", "256m")
    except subprocess.CalledProcessError as exc:  # root without CAP_SYS_ADMIN: an unprivileged container
        pytest.skip(f"cannot mount a tmpfs here: {exc.stderr.decode(errors='replace').strip()}")
    try:
        yield disk
    finally:
        disk.close()


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
