"""Invariant 9: the embedded default connects to nothing, not even to look a host up."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

AUDITED = """
import json, sys
from docmill.testing import ConnectionAudit
audit = ConnectionAudit().__enter__()
from docmill.cli import cli
try:
    cli(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
with open(sys.argv[1], "w") as fh:
    json.dump({"code": code, "attempts": audit.attempts}, fh)
"""


def _netns_prefix() -> tuple[str, ...]:
    """`unshare --net` when this machine allows it: a network namespace with no way out."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True).returncode == 0:
        return (unshare, "--net")
    return ()


def test_ingest_and_search_make_no_connection_attempt(corpus: Path, tmp_path: Path, home: Path,
                                                      isolated: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    shutil.copy(sorted((corpus / "text").iterdir())[0], root)
    shutil.copy(corpus / "scanned" / "photo-000.jpg", root)
    shutil.copy(corpus / "plain" / "notes.txt", root)
    prefix = _netns_prefix()
    for args in (["ingest", str(root), "--json"], ["search", "one series of notes", "--json"]):
        report = tmp_path / "report.json"
        done = subprocess.run([*prefix, sys.executable, "-c", AUDITED, str(report), *args], cwd=isolated,
                              capture_output=True, text=True, timeout=600)
        result = json.loads(report.read_text())
        assert result["code"] in (None, 0), done.stderr
        assert result["attempts"] == [], result["attempts"]
        if args[0] == "ingest":
            assert json.loads(done.stdout)["done"] == 3
        else:
            assert json.loads(done.stdout)[0]["doc"] == "photo-000.jpg"


def test_the_audit_sees_connection_attempts() -> None:
    import socket

    from docmill.testing import ConnectionAudit

    with ConnectionAudit() as audit, pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9), timeout=1)  # the discard port: nothing listens
    assert any("127.0.0.1" in attempt for attempt in audit.attempts)
