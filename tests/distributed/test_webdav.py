"""A WebDAV share (a real Apache mod_dav) synced by worker processes, which read its password from their settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docmill.testing.webdav import APACHE, ApacheDav

from ..conftest import Cli
from ..workers import Workers
from .conftest import assert_exactly_once, assert_not_in_database, store_chunks

CANARY = "canary-distributed-webdav-password-2c71"


@pytest.mark.skipif(APACHE is None, reason="Apache is not installed (scripts/bootstrap.sh --test installs it)")
@pytest.mark.usefixtures("stub_embedder")
def test_workers_sync_a_webdav_share_and_the_password_stays_secret(
        dcli: Cli, workers: Workers, isolated: Path, pg_url: str) -> None:
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}
    with ApacheDav("alice", CANARY) as dav:
        for i in range(30):
            dav.write(f"team-{i % 3}/note-{i:02d}.txt", f"Note {i}: the figures of project {i}, filed on time.")
        (isolated / "docmill.toml").write_text(
            f'[[sources]]\nname = "share"\ntype = "webdav"\nurl = "{dav.url}"\nuser = "alice"\n'
            'allow_hosts = ["127.0.0.1"]\n')
        workers.start("--processes", "2", env=env)
        first = dcli.json("sync", "share", env=env)
        assert (first["new"], first["failed"]) == (30, 0)

        dav.write("team-1/note-04.txt", "Note 4, corrected: the figures moved to next quarter.")
        (dav.files / "team-2/note-05.txt").unlink()
        dav.write("team-0/note-30.txt", "Note 30: a new project starts.")
        again = dcli.json("sync", "share", env=env)
        assert (again["changed"], again["deleted"], again["new"], again["unchanged"]) == (1, 1, 1, 28)
        gets = [r.path for r in dav.requests() if r.method == "GET"]
        assert len(gets) == 32 and len(set(gets)) == 31  # 30, then the edited one again and the new one
        assert_exactly_once(dcli, pg_url)
        chunks = store_chunks(dcli)
        assert len({c["metadata"]["path"] for c in chunks}) == 30

    assert CANARY not in workers.log() and CANARY not in json.dumps(chunks)
    assert_not_in_database(pg_url, CANARY)
