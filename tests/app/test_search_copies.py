"""Hundreds of copies of one text in the index do not hide the chunk a search should find (issue 27, item 2).

Found as a caller who had uploaded the same one-word file 352 times: the
search for "annual leave days per year" answered three of the copies at
0.002 and never the handbook page at 0.82, at any k. Chroma's HNSW walk
filled its beam with the copies (one point, repeated) and stopped there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..api_server import ApiServer

COPIES = 300
QUERY = "annual leave days per year"
LEAVE = "Annual leave: every employee has 25 days of paid leave per year, booked with the team lead. "


@pytest.mark.slow
@pytest.mark.parametrize("store", ["chroma", "qdrant"])
def test_the_right_chunk_comes_first_beside_hundreds_of_copies_of_another(tmp_path: Path, store: str) -> None:
    # Given a handbook page indexed through the API, and alice's 300 uploads of one and the same word
    handbook = tmp_path / "handbook"
    (handbook / "hr").mkdir(parents=True)
    (handbook / "hr" / "leave.txt").write_text(LEAVE * 3)
    (handbook / "ferries.txt").write_text("The ferry to the island leaves at nine from pier four. " * 5)
    toml = f'[[sources]]\nname = "handbook"\ntype = "folder"\npath = "{handbook}"\n'
    server = ApiServer(tmp_path / "api", toml=toml, env={"DOCMILL_STORE": store}).start()
    try:
        with server.client("alice") as alice:
            named = alice.post("/v1/documents", json={"source": "handbook", "items": ["hr/leave.txt", "ferries.txt"]})
            assert server.wait(alice, named.json()["job_id"])["counts"] == {"done": 2}
            copies = [("file", (f"copy-{i:03d}.txt", b"zebra", "text/plain")) for i in range(COPIES)]
            uploaded = alice.post("/v1/documents", files=copies)
            assert server.wait(alice, uploaded.json()["job_id"], timeout=300)["counts"] == {"done": COPIES}
            # When she searches, the page she may see comes first, whatever k
            for k in (1, 3, 100):
                hits = alice.get("/v1/search", params={"q": QUERY, "k": k}).json()
                assert len(hits) == k and hits[0]["doc"] == "hr/leave.txt", (k, [h["doc"] for h in hits[:5]])
                assert hits[0]["score"] > 0.5
            # and the copies still come back when they are what she asks for
            assert {h["doc"][:5] for h in alice.get("/v1/search", params={"q": "zebra", "k": 5}).json()} == {"copy-"}
    finally:
        assert server.stop() == 0
    # And the command line on the same home answers the same, each time: a process that opens the index from
    # disk walks it from where it was persisted (one in three answered copies and nothing else, before Chroma's
    # short filtered answers were completed one by one)
    for _ in range(3):
        found = subprocess.run([sys.executable, "-m", "docmill", "search", QUERY, "-k", "3", "--json"],
                               cwd=server.cwd, env=server.env, capture_output=True, text=True, timeout=300)
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)[0]["doc"] == "hr/leave.txt", found.stdout[:300]
