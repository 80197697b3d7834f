"""Access is granted, never inferred (issue 27, item 1): a caller sees the shared sources and its own uploads,
by an allow-list on its own name, and a caller removed from the configuration leaves nothing visible to others.

Found with the API's first search filter, which hid another caller's uploads
by excluding each name then configured: with carol's token removed and the
API restarted, alice's plain search returned carol's upload as its top hit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..api_server import ApiServer

SECRET = b"The quarry lease of the stone workshop renews each March at four thousand crowns. " * 5
QUERY = "quarry lease stone workshop crowns"
HANDBOOK = "The quarry road is closed to visitors during blasting on weekdays. " * 5

Run = Callable[..., subprocess.CompletedProcess[str]]


def handbook_toml(root: Path) -> str:
    handbook = root / "handbook"
    handbook.mkdir(parents=True)
    (handbook / "quarry.txt").write_text(HANDBOOK)
    return f'[[sources]]\nname = "handbook"\ntype = "folder"\npath = "{handbook}"\n'


def runner(server: ApiServer) -> Run:
    """``docmill ...`` on the server's home, with its environment and docmill.toml."""
    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "docmill", *args], cwd=server.cwd, env=server.env,
                              capture_output=True, text=True, timeout=600)
        assert not check or done.returncode == 0, f"docmill {' '.join(args)}: {done.returncode}\n{done.stderr}"
        return done
    return run


def docs(hits: list[dict[str, Any]]) -> set[str]:
    return {hit["doc"] for hit in hits}


def carol_is_removed_then_revoked(server: ApiServer) -> None:
    """The whole story, on whatever store and mode ``server`` runs: carol's upload is hers alone; with her
    token removed nobody sees it; revoked, it is kept hidden, then deleted; her name is never reused."""
    run = runner(server)
    server.start()
    try:
        with server.client("alice") as alice, server.client("carol") as carol:
            # Given carol's upload, alice's upload and a shared handbook page
            jobs = [(carol, carol.post("/v1/documents", files=[("file", ("lease.txt", SECRET, "text/plain"))])),
                    (alice, alice.post("/v1/documents", files=[("file", ("notes.txt", b"Alice notes the quarry "
                                                                           b"opening hours. " * 5, "text/plain"))])),
                    (alice, alice.post("/v1/documents", json={"source": "handbook", "items": ["quarry.txt"]}))]
            for client, answer in jobs:
                assert server.wait(client, answer.json()["job_id"], timeout=300)["counts"] == {"done": 1}
            # each sees the shared page and its own upload, and only those
            assert docs(carol.get("/v1/search", params={"q": QUERY, "k": 10}).json()) == {"lease.txt", "quarry.txt"}
            assert docs(alice.get("/v1/search", params={"q": QUERY, "k": 10}).json()) == {"notes.txt", "quarry.txt"}
            # the keyword side keeps to the same grants: alice's words find her notes, never carol's lease
            by_words = alice.get("/v1/search", params={"q": "quarry lease crowns", "mode": "keyword", "k": 10}).json()
            assert docs(by_words) == {"notes.txt", "quarry.txt"} and by_words[0]["keyword_rank"] == 1
    finally:
        assert server.stop() == 0
    # When carol's token is removed from docmill.toml and the API restarts
    server.configure(("alice", "bob"))
    server.start()
    try:
        with server.client("alice") as alice, server.client("bob") as bob:
            # Then no remaining caller finds her upload, however it asks
            for client in (alice, bob):
                for params in ({"q": QUERY, "k": 100}, {"q": QUERY, "where": "owner=carol"},
                               {"q": QUERY, "where": "source=upload", "k": 100}, {"q": "lease", "k": 100},
                               {"q": "quarry lease crowns", "mode": "keyword", "k": 100},
                               {"q": "lease", "mode": "dense", "k": 100}):
                    found = client.get("/v1/search", params=params).json()
                    assert "lease.txt" not in docs(found), (params, found)
            assert docs(alice.get("/v1/search", params={"q": QUERY, "k": 10}).json()) == {"notes.txt", "quarry.txt"}
            assert docs(bob.get("/v1/search", params={"q": QUERY, "k": 10}).json()) == {"quarry.txt"}
    finally:
        assert server.stop() == 0
    # And revoking her says what becomes of her upload: kept, hidden from every caller, found by the operator
    kept = run("api", "--revoke", "carol")
    assert "carol is revoked" in kept.stdout and "1 uploaded document(s)" in kept.stdout and "kept" in kept.stdout
    as_alice = json.loads(run("search", QUERY, "-k", "10", "--as", "alice", "--json").stdout)
    assert docs(as_alice) == {"notes.txt", "quarry.txt"}
    assert "lease.txt" in docs(json.loads(run("search", QUERY, "-k", "10", "--json").stdout))
    # and her name is never given to a token again: nobody inherits what she left
    server.configure(("alice", "bob", "carol"))
    with pytest.raises(AssertionError, match=r"carol \(revoked .*choose another name"):
        server.start()
    server.configure(("alice", "bob"))
    # And revoking her with --delete-uploads removes her upload from the index
    deleted = run("api", "--revoke", "carol", "--delete-uploads")
    assert "deleted from the index" in deleted.stdout and "1 deleted" in deleted.stdout, deleted.stdout
    assert "lease.txt" not in docs(json.loads(run("search", QUERY, "-k", "10", "--json").stdout))


@pytest.mark.slow
@pytest.mark.parametrize("store", ["chroma", "qdrant"])
def test_a_removed_callers_uploads_are_seen_by_nobody_and_revoking_keeps_or_deletes_them(
        tmp_path: Path, store: str) -> None:
    server = ApiServer(tmp_path / "api", toml=handbook_toml(tmp_path), env={"DOCMILL_STORE": store})
    carol_is_removed_then_revoked(server)


@pytest.mark.parametrize("store", ["chroma", "qdrant"])
def test_chunks_an_older_release_wrote_get_their_grants_when_the_api_starts(tmp_path: Path, store: str) -> None:
    # Given an index written before grants: a shared page and alice's upload whose chunks have no access field
    server = ApiServer(tmp_path / "api", toml=handbook_toml(tmp_path), env={"DOCMILL_STORE": store})
    server.start()
    try:
        with server.client("alice") as alice:
            for answer in (alice.post("/v1/documents", files=[("file", ("lease.txt", SECRET, "text/plain"))]),
                           alice.post("/v1/documents", json={"source": "handbook", "items": ["quarry.txt"]})):
                server.wait(alice, answer.json()["job_id"])
    finally:
        assert server.stop() == 0
    strip_grants(server.home, store)
    # When the API starts
    server.start()
    try:
        # Then each caller sees the shared page and its own upload again, and nothing else
        with server.client("alice") as alice, server.client("bob") as bob:
            assert docs(alice.get("/v1/search", params={"q": QUERY, "k": 10}).json()) == {"lease.txt", "quarry.txt"}
            assert docs(bob.get("/v1/search", params={"q": QUERY, "k": 10}).json()) == {"quarry.txt"}
    finally:
        assert server.stop() == 0
    assert "labelled 2 chunks" in server.log.read_text()


def strip_grants(home: Path, store: str) -> None:
    """Remove every chunk's ``access`` field, as an index of a release before grants has none, and forget
    that the upgrade ran."""
    import sqlalchemy

    if store == "chroma":
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.PersistentClient(path=str(home / "chroma"),
                                           settings=ChromaSettings(anonymized_telemetry=False))
        collection = client.get_collection("docmill")
        held = collection.get(include=["metadatas"])
        assert held["ids"] and all("access" in m for m in held["metadatas"])
        collection.update(ids=held["ids"], metadatas=[{"access": None}] * len(held["ids"]))
        assert not any("access" in m for m in collection.get(include=["metadatas"])["metadatas"])
    else:
        from qdrant_client import QdrantClient, models

        client = QdrantClient(path=str(home / "qdrant"))
        client.delete_payload("docmill", keys=["access"], points=models.Filter(), wait=True)
        points, _ = client.scroll("docmill", limit=100, with_payload=True)
        assert points and not any("access" in p.payload for p in points)
        client.close()
    engine = sqlalchemy.create_engine(f"sqlite:///{home / 'ledger.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM upgrades")
    engine.dispose()
