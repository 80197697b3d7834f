"""One caller's backlog does not hold up another's upload, and priority 9 goes first (issue 27, item 10).

Found with 352 uploads queued by one caller: another caller's priority-9
upload waited 10 s behind them (embedded mode took messages first come,
first served, whatever their priority).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ..api_server import ApiServer

BACKLOG_JOBS, PER_JOB = 40, 10


def backlog(server: ApiServer) -> list[str]:
    """Alice's 400 uploads, 10 to a request, sent from four threads as fast as the API takes them; job ids."""
    from concurrent.futures import ThreadPoolExecutor

    def upload(j: int) -> str:
        files = [("file", (f"memo-{j:02d}-{i}.txt",
                           f"Memo {j}.{i}: the quay crane {j * PER_JOB + i} is serviced on Tuesdays. ".encode() * 4,
                           "text/plain")) for i in range(PER_JOB)]
        with server.client("alice") as alice:
            answer = alice.post("/v1/documents", files=files)
        assert answer.status_code == 202, answer.text
        job_id: str = answer.json()["job_id"]
        return job_id

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(upload, range(BACKLOG_JOBS)))


def waiting(server: ApiServer, caller: str, jobs: list[str]) -> int:
    """How many documents of these jobs have not ended (or not been discovered yet)."""
    with server.client(caller) as client:
        total = 0
        for job in jobs:
            counts = client.get(f"/v1/jobs/{job}", params={"limit": 1}).json()["counts"]
            total += counts.get("pending", 0) + PER_JOB - sum(counts.values())
        return total


def finished(server: ApiServer, caller: str, job: str) -> dict[str, Any]:
    with server.client(caller) as client:
        found: dict[str, Any] = client.get(f"/v1/jobs/{job}", params={"limit": 0}).json()
        return found


@pytest.mark.slow
@pytest.mark.parametrize("priority", [0, 9])
def test_another_callers_upload_is_done_long_before_a_backlog_of_400(tmp_path: Path, priority: int) -> None:
    # Polling 40 jobs a second is over the default rate limit, which is not what this tests
    server = ApiServer(tmp_path / "api", env={"DOCMILL_API_RATE_LIMIT": "1000"}).start()
    try:
        # Given alice's backlog of 400 uploads
        alice_jobs = backlog(server)
        before = waiting(server, "alice", alice_jobs)
        assert before >= 200, f"the backlog drained as it was sent ({before} left): the test shows nothing"
        # When bob uploads one file, at the default priority or at 9
        with server.client("bob") as bob:
            answer = bob.post("/v1/documents", files=[("file", ("urgent.txt", b"Bob's urgent note on the harbour "
                                                                              b"dues for March. " * 4, "text/plain"))],
                              data={"priority": str(priority)})
        bob_job = answer.json()["job_id"]
        deadline = time.monotonic() + 300
        while not (job := finished(server, "bob", bob_job))["finished"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        # Then his is done while most of her backlog still waits: he waited for a share, not for her backlog
        assert job["counts"] == {"done": 1}
        after = waiting(server, "alice", alice_jobs)
        assert after > before / 2, (before, after)
        # and hers all end too
        while waiting(server, "alice", alice_jobs):
            assert time.monotonic() < deadline
            time.sleep(1)
    finally:
        assert server.stop() == 0
