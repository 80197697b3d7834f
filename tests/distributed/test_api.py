"""The HTTP API in distributed mode: it only enqueues, and `docmill worker` processes do the work."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ..api_server import ApiServer
from ..workers import Workers


@pytest.mark.usefixtures("stub_embedder")
def test_concurrent_uploads_are_all_queued_once_and_done_by_the_workers(
        dist_env: dict[str, str], workers: Workers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Found by make bench-api: ten clients at once shared one RabbitMQ connection across the API's threads,
    # and some uploads' documents were committed but never queued.
    uploads = tmp_path / "uploads"
    monkeypatch.setenv("DOCMILL_UPLOAD_DIR", str(uploads))
    workers.start("--processes", "2")
    api = ApiServer(tmp_path / "api", env={**dist_env, "DOCMILL_UPLOAD_DIR": str(uploads)}).start()
    jobs: list[tuple[str, str]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(caller: str, base: int) -> None:
        with api.client(caller) as http:
            for i in range(6):
                answer = http.post("/v1/documents", files=[
                    ("file", (f"memo-{base + i}.txt", f"Memo {base + i}: the quay crane is serviced. ".encode() * 9,
                              "text/plain"))])
                with lock:
                    (jobs.append((caller, answer.json()["job_id"])) if answer.status_code == 202
                     else errors.append(answer.text))

    try:
        threads = [threading.Thread(target=client, args=(caller, 100 * n))
                   for n, caller in enumerate(["alice", "bob", "carol"] * 3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors and len(jobs) == 54
        for caller, job_id in jobs:
            with api.client(caller) as http:
                assert api.wait(http, job_id, timeout=300)["counts"] == {"done": 1}
    finally:
        assert api.stop() == 0
