"""The folder source against a folder that changes under it: what it reads is what it listed, or nothing."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from docmill.core.errors import DocmillError, PermanentError
from docmill.plugins.folder import FolderSource


def test_swapping_a_symlink_in_never_reads_a_file_outside_the_folder(tmp_path: Path) -> None:
    folder, outside = tmp_path / "docs", tmp_path / "secret.txt"
    folder.mkdir()
    outside.write_text("the launch codes are 0000")
    target = folder / "note.txt"
    target.write_text("an ordinary note about tomatoes")
    source = FolderSource(str(folder))
    [ref] = list(source.discover())
    stop = threading.Event()

    def swap() -> None:  # the attacker: a symlink out of the folder, then the file back, as fast as it can
        spare = folder / ".spare"
        while not stop.is_set():
            os.symlink(outside, spare)
            os.replace(spare, target)
            spare.write_text("an ordinary note about tomatoes")
            os.replace(spare, target)

    attacker = threading.Thread(target=swap)
    attacker.start()
    leaked, read, refused = 0, 0, 0
    deadline = time.monotonic() + 3
    try:
        while time.monotonic() < deadline:
            try:
                data = source.fetch(ref).data
            except DocmillError:  # refused (a symlink, a replaced file), or "cannot read it now"
                refused += 1
                continue
            read += 1
            leaked += b"launch codes" in data
    finally:
        stop.set()
        attacker.join()
    assert leaked == 0 and refused > 0, (read, refused)  # the swapped-in symlink was met, and refused


def test_a_file_replaced_by_a_fifo_after_discovery_is_refused_without_blocking(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("a note")
    source = FolderSource(str(folder))
    [ref] = list(source.discover())
    (folder / "a.txt").unlink()
    os.mkfifo(folder / "a.txt")  # nobody will ever write to it: an open() that blocks would hang forever
    started = time.monotonic()
    with pytest.raises(PermanentError, match="no longer a regular file"):
        source.fetch(ref)
    assert time.monotonic() - started < 5


def test_a_file_replaced_after_discovery_is_not_read_as_the_listed_one(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("the listed file")
    source = FolderSource(str(folder))
    [ref] = list(source.discover())
    (folder / "b.txt").write_text("another file, moved over it")
    os.replace(folder / "b.txt", folder / "a.txt")
    with pytest.raises(PermanentError, match="replaced after it was listed") as refused:
        source.fetch(ref)
    assert refused.value.kind == "refused"
