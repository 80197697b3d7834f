"""Invariant 9 for worker processes: they reach RabbitMQ, PostgreSQL and the Chroma server on loopback, and
nothing else, not even a name server (strace, following every child of `docmill worker`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from docmill.testing.corpus import build
from docmill.testing.nettrace import contacts, traced

from ..conftest import Cli
from .conftest import assert_exactly_once, wait_job


def test_a_worker_handling_a_job_reaches_only_loopback_and_looks_up_no_name(
        dcli: Cli, tmp_path: Path, isolated: Path, pg_url: str) -> None:
    corpus = tmp_path / "corpus"
    build(corpus, text=2, scanned=1)
    log = tmp_path / "worker.trace"
    with open(tmp_path / "worker.log", "wb") as sink:
        strace = subprocess.Popen(traced([sys.executable, "-m", "docmill", "worker", "--processes", "2"], log),
                                  cwd=isolated, env=os.environ.copy(), stdout=sink, stderr=subprocess.STDOUT)
    try:
        job = dcli("submit", str(corpus / "text"), str(corpus / "scanned"), "--exclude", "*.truth.txt").stdout.strip()
        summary = wait_job(dcli, job, timeout=300)
    finally:
        # strace detaches on a signal of its own: the supervisor itself drains its processes.
        for pid in subprocess.run(["pgrep", "-P", str(strace.pid)], capture_output=True, text=True).stdout.split():
            os.kill(int(pid), signal.SIGTERM)
        strace.wait(timeout=120)
    assert summary["counts"] == {"done": 4}, summary  # 2 PDFs, a scan and a photo
    assert_exactly_once(dcli, pg_url)
    seen = contacts(log)
    assert [c for c in seen if c.family != "AF_UNIX"], "the trace saw no connection: it is not tracing"
    assert [c for c in seen if c.lookup] == []
    assert [c for c in seen if c.outside] == []
