"""Invariant 9, checked where native code runs: docmill looks up no name and reaches nothing off the machine.

Every process is run under strace (docmill.testing.nettrace), which sees the
connect/sendto/sendmsg system calls of the process and all its children,
whatever library made them; embedded runs happen in a network namespace with
no way out. Worker processes (distributed mode) are traced in
tests/distributed/test_privacy.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from docmill.testing.corpus import build
from docmill.testing.nettrace import Contact, contacts, offline, traced

pytestmark = pytest.mark.slow

NATIVE_LOOKUP = """
import ctypes, json, sys
from docmill.testing import ConnectionAudit
with ConnectionAudit() as audit:
    result = ctypes.c_void_p()
    ctypes.CDLL(None).getaddrinfo(b"mobile.events.data.microsoft.com", b"443", None, ctypes.byref(result))
json.dump(audit.attempts, sys.stdout)
"""


def _forbidden(log: Path) -> list[Contact]:
    return [c for c in contacts(log) if c.lookup or c.outside]


def _wait_for(log: Path, condition: Callable[[str], bool], timeout: float = 400) -> None:
    deadline = time.monotonic() + timeout
    while not condition(log.read_text(errors="replace")):
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.5)


def test_the_trace_catches_a_name_lookup_made_by_native_code_which_python_hooks_miss(tmp_path: Path) -> None:
    log = tmp_path / "trace.log"
    done = subprocess.run(offline(traced([sys.executable, "-c", NATIVE_LOOKUP], log)), capture_output=True,
                          text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == []  # the Python-level audit saw nothing
    seen = _forbidden(log)
    assert seen and all(c.lookup for c in seen), contacts(log)  # strace saw glibc ask for the name


def test_a_scheduler_syncing_scans_for_over_a_minute_and_a_search_reach_nothing(
        tmp_path: Path, isolated: Path, home: Path) -> None:
    # The scheduler syncs a folder of scans every 15 s for over a minute: OCR, the model (onnxruntime) and
    # Chroma all run, and keep running long enough for a telemetry uploader to wake up. A scan added
    # half-way through is read by a later sync.
    corpus = tmp_path / "corpus"
    build(corpus, text=1, scanned=3)
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("scan-000.pdf", "scan-001.pdf", "photo-000.jpg"):
        shutil.copy(corpus / "scanned" / name, docs)
    shutil.copy(sorted((corpus / "text").iterdir())[0], docs)
    (isolated / "docmill.toml").write_text(
        f'[[sources]]\nname = "scans"\ntype = "folder"\npath = "{docs}"\nschedule = {{ seconds = 15 }}\n')
    log, output = tmp_path / "scheduler.trace", tmp_path / "scheduler.log"
    started = time.monotonic()
    with open(output, "w") as sink:
        strace = subprocess.Popen(offline(traced([sys.executable, "-m", "docmill", "-v", "scheduler"], log)),
                                  cwd=isolated, stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_for(output, lambda text: "synced scans: 4 new" in text)
        shutil.copy(corpus / "scanned" / "scan-002.pdf", docs)  # read by a later sync
        _wait_for(output, lambda text: "synced scans: 1 new" in text and time.monotonic() - started >= 60)
    finally:
        # strace detaches on a signal of its own: the scheduler itself is told to stop, and finishes first.
        for pid in subprocess.run(["pgrep", "-P", str(strace.pid)], capture_output=True, text=True).stdout.split():
            os.kill(int(pid), signal.SIGTERM)
        strace.wait(timeout=300)
    assert strace.returncode == 0, output.read_text()

    search = tmp_path / "search.trace"
    done = subprocess.run(offline(traced([sys.executable, "-m", "docmill", "search", "bees", "--json"], search)),
                          cwd=isolated, capture_output=True, text=True, timeout=300, check=True)
    status = json.loads(subprocess.run([sys.executable, "-m", "docmill", "status", "--json"], cwd=isolated,
                                       capture_output=True, text=True, check=True).stdout)
    assert status["documents"]["done"] == 5, status  # the three scans, the photo and the PDF
    assert json.loads(done.stdout)
    assert _forbidden(log) == [] and _forbidden(search) == []
    assert not [c for c in contacts(log) + contacts(search) if c.family != "AF_UNIX"]  # not even loopback


def test_no_docmill_process_imports_pymupdf_layout_or_pymupdf4llm(tmp_path: Path, isolated: Path) -> None:
    # The command's click group, not `python -m docmill`, whose entry point leaves with os._exit.
    probe = ("import sys\nfrom docmill.cli import cli\n"
             "try:\n    cli(['ingest', sys.argv[1], '--json'])\nexcept SystemExit:\n    pass\n"
             "loaded = [m for m in sys.modules if m.startswith(('pymupdf.layout', 'pymupdf4llm', 'onnxruntime'))"
             " and sys.modules[m] is not None]\nprint(loaded, file=sys.stderr)\n")
    docs = tmp_path / "docs"
    build(tmp_path / "corpus", text=1, scanned=0)
    shutil.copytree(tmp_path / "corpus" / "text", docs)
    env = {**os.environ, "DOCMILL_HOME": str(tmp_path / "home"), "DOCMILL_EMBEDDER": "fastembed"}
    done = subprocess.run([sys.executable, "-c", probe, str(docs)], cwd=isolated, env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    loaded = done.stderr.strip().splitlines()[-1]
    assert "pymupdf.layout" not in loaded and "pymupdf4llm" not in loaded, loaded
    # Where the full pymupdf is installed beside docmill, its import of the layout module finds it blocked.
    blocked = subprocess.run([sys.executable, "-c", "import docmill, pymupdf.layout"], capture_output=True, text=True)
    assert blocked.returncode == 1 and "ModuleNotFoundError" in blocked.stderr, blocked.stderr


@pytest.mark.usefixtures("stub_embedder")
def test_an_s3_sync_reaches_its_endpoint_alone_and_without_credentials_asks_no_metadata_service(
        tmp_path: Path, isolated: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3 left to itself looks for credentials in the EC2 instance metadata service (169.254.169.254) and
    # the container endpoint when it finds none, and may take an endpoint from AWS_ENDPOINT_URL.
    from docmill.testing.s3 import S3Server

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://203.0.113.9:9000")  # never used: the source names its own
    with S3Server() as server:
        s3 = server.client()
        s3.create_bucket(Bucket="docs")
        s3.put_object(Bucket="docs", Key="a.txt", Body=b"A note about bees in the orchard.")
        port = int(server.url.rsplit(":", 1)[1])
        toml = f'[[sources]]\nname = "bucket"\ntype = "s3"\nendpoint = "{server.url}"\nbucket = "docs"\n'

        (isolated / "docmill.toml").write_text(toml + f'access_id = "{server.authenticate("secret-1")}"\n')
        log = tmp_path / "sync.trace"
        done = subprocess.run(traced([sys.executable, "-m", "docmill", "sync", "bucket", "--json"], log),
                              cwd=isolated, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "DOCMILL_SOURCES__0__TOKEN": "secret-1"})
        assert done.returncode == 0 and json.loads(done.stdout)["new"] == 1, done.stderr
        reached = {(c.address, c.port) for c in contacts(log) if c.family in ("AF_INET", "AF_INET6")}
        assert _forbidden(log) == [] and reached == {("127.0.0.1", port)}, contacts(log)

        (isolated / "docmill.toml").write_text(toml)  # no credentials anywhere
        bare = tmp_path / "bare.trace"
        done = subprocess.run(traced([sys.executable, "-m", "docmill", "sync", "bucket"], bare), cwd=isolated,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 3 and "no credentials" in done.stderr, done.stderr
        assert _forbidden(bare) == [] and not [c for c in contacts(bare) if c.family in ("AF_INET", "AF_INET6")]
