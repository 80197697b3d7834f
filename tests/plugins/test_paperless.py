"""The Paperless-ngx source against a local server that answers like Paperless-ngx 3.x."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from docmill.core import document_steps
from docmill.core.discover_step import discover
from docmill.core.errors import PermanentError
from docmill.core.ledger import Ledger
from docmill.core.ledger.schema import documents
from docmill.core.runtime import Runtime
from docmill.core.values import Task
from docmill.plugins.paperless import PaperlessSource
from docmill.plugins.paperless_client import PaperlessClient
from docmill.settings import Settings
from docmill.testing.paperless import CORRESPONDENTS, DOCUMENT_TYPES, TAGS, PaperlessServer

from ..conftest import Cli
from ..indexes import indexes_agree_in_a_process

CANARY = "canary-paperless-token-5d0be31f"
PAGE = 100


def _toml(work: Path, url: str, **options: Any) -> None:
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())
    (work / "docmill.toml").write_text(f'[[sources]]\nname = "archive"\ntype = "paperless"\nurl = "{url}"\n'
                                       f'schedule = "*/30 * * * *"\n{extra}')


def _listed(server: PaperlessServer) -> list[Any]:
    return server.asked("/api/documents/", status=None)


class Recorder:
    """Discovery on the real ledger and source; the transport is replaced by a list of the tasks it would send."""

    def __init__(self, home: Path, url: str) -> None:
        settings = Settings(home=home, sources=[{"name": "archive", "type": "paperless", "url": url,
                                                 "token": CANARY, "page_size": PAGE, "requests_per_second": 0}])
        self.tasks: list[Task] = []
        self.runtime = Runtime(settings, send=self.tasks.append)
        self.runtime.ledger.sources.put("source:archive", "paperless",
                                       {"name": "archive", "url": url, "page_size": PAGE, "requests_per_second": 0})

    def sync(self) -> Counter[str]:
        self.tasks.clear()
        job = self.runtime.ledger.jobs.create("sync", discoveries=1)
        discover(self.runtime, job, "source:archive")
        return Counter(t.stage for t in self.tasks)


@pytest.fixture
def recorder(home: Path, big: PaperlessServer) -> Iterator[Recorder]:
    recorder = Recorder(home, big.url)
    yield recorder
    recorder.runtime.close()


@pytest.fixture
def big() -> Iterator[PaperlessServer]:
    # 250 documents share one timestamp (a bulk edit): more than a page.
    with PaperlessServer(5000, CANARY, tie=250) as server:
        yield server


@pytest.mark.slow
def test_a_first_sync_of_5000_documents_enqueues_each_once_with_few_list_requests(
        recorder: Recorder, big: PaperlessServer) -> None:
    assert recorder.sync() == {"extract": 5000}
    keys = [t.args["key"] for t in recorder.tasks]
    assert len(set(keys)) == 5000 and set(keys) == {f"source:archive/{n}" for n in big.documents}
    lists = [r for r in _listed(big) if r.query.get("page_size") != "1"]
    assert len(lists) <= math.ceil(5000 / PAGE) + 3, len(lists)
    checks = [r for r in _listed(big) if r.query.get("page_size") == "1"]
    assert len(checks) == 4  # the bulk-edited group, checked whole once: 2 counts, and 2 of the ids seen
    assert all(r.query.get("ordering", "modified,id") == "modified,id" for r in lists)
    assert not big.asked("/api/documents/", status=404)  # never past the end
    # The API version, asked once, and tags, correspondents, document types: once each.
    assert [r.path for r in big.requests if r not in lists and r not in checks] == [
        "/api/", "/api/tags/", "/api/correspondents/", "/api/document_types/"]
    assert {r.version for r in big.requests[1:]} == {10}  # the newest docmill reads that the server serves
    assert not [r for r in big.requests if "download" in r.path]  # discovery downloads nothing
    messages = json.dumps([t.args for t in recorder.tasks])
    assert CANARY not in messages

    # 10 modified (4 of them inside the bulk-edited group), 5 deleted: the next sync touches exactly those 15.
    big.requests.clear()
    modified, deleted = [3, 777, 2501, 2502, 2503, 2600, 3999, 4000, 4500, 4999], [1, 2, 1000, 2504, 4998]
    big.modify(modified)
    big.delete(deleted)
    assert recorder.sync() == {"extract": 10, "remove": 5}
    assert {t.args["key"] for t in recorder.tasks if t.stage == "extract"} == {f"source:archive/{n}" for n in modified}
    assert {t.args["key"] for t in recorder.tasks if t.stage == "remove"} == {f"source:archive/{n}" for n in deleted}
    assert len(big.requests) <= 10, [(r.path, r.query) for r in big.requests]
    for task in recorder.tasks:
        if task.stage == "remove":  # the removals run, as a worker would run them
            document_steps.remove(recorder.runtime, **task.args)

    big.requests.clear()
    assert recorder.sync() == {}  # nothing changed: nothing enqueued
    assert {r.path for r in big.requests} == {"/api/documents/"}  # no download, and no name lookup either
    for r in big.requests:
        assert r.authorization == f"Token {CANARY}"
    state = json.dumps(recorder.runtime.ledger.sources.state("source:archive"))
    assert CANARY not in state and "modified" in state


@pytest.fixture
def clients() -> Iterator[Any]:
    """Clients for one server, closed after the test."""
    made: list[PaperlessClient] = []

    def make(server: PaperlessServer, token: str = CANARY) -> PaperlessClient:
        made.append(PaperlessClient(server.url, token, per_second=0))
        return made[-1]

    yield make
    for client in made:
        client.close()


def test_a_server_that_ignores_the_filters_fails_loudly(clients: Any) -> None:
    with PaperlessServer(300, CANARY, ignore=("modified__gte",)) as server:
        source = PaperlessSource("archive", server.url, clients(server),
                                 max_bytes=10**7, page_size=50)
        with pytest.raises(PermanentError, match="ignored the filter modified__gte") as ignored:
            list(source.discover())  # keyset pages use the filter from the second page on
        assert ignored.value.kind == "filter ignored"
        assert len(_listed(server)) == 2  # stopped at once instead of reading everything again and again
    with PaperlessServer(300, CANARY, ignore=("ordering",)) as server:
        source = PaperlessSource("archive", server.url, clients(server),
                                 max_bytes=10**7)
        with pytest.raises(PermanentError, match="ignored ordering"):
            list(source.discover())
    with PaperlessServer(30, CANARY, ignore=("id__in",)) as server:
        source = PaperlessSource("archive", server.url, clients(server),
                                 max_bytes=10**7)
        with pytest.raises(PermanentError, match="id__in"):
            source._gone(["source:archive/999"])  # not in the id listing, and the confirmation is ignored


def test_downloads_take_the_archived_version_unless_the_original_is_asked_for(clients: Any) -> None:
    with PaperlessServer(5, CANARY) as server:
        client = clients(server)
        ref = next(iter(PaperlessSource("a", server.url, client, max_bytes=10**7).discover()))
        archived = PaperlessSource("a", server.url, client, max_bytes=10**7).fetch(ref)
        original = PaperlessSource("a", server.url, client, max_bytes=10**7, original=True).fetch(ref)
        # The name comes from Content-Disposition's filename* (RFC 6266), as the real server sends it.
        assert archived.data == server.download(1) and archived.name == "2023-12-29 00001.pdf"
        assert original.data == server.download(1, original=True) and original.name == "2023-12-29 scan-00001.pdf"
        # Each carries the checksum Paperless keeps of that file, which /metadata/ reports without a download.
        source = PaperlessSource("a", server.url, client, max_bytes=10**7)
        assert archived.checksum == f"sha256:{hashlib.sha256(archived.data).hexdigest()}" == source.content_id(ref)
        assert original.checksum == PaperlessSource("a", server.url, client, max_bytes=10**7,
                                                    original=True).content_id(ref) != archived.checksum
        assert ref.metadata["tags"] and ref.metadata["created"] == "2023-12-29"
        with pytest.raises(PermanentError, match="over the limit"):
            PaperlessSource("a", server.url, client, max_bytes=100).fetch(ref)
        wrong = clients(server, "not-the-token")
        with pytest.raises(PermanentError, match="refused the token") as refused:
            list(PaperlessSource("a", server.url, wrong, max_bytes=10**7).discover())
        assert refused.value.kind == "unauthorized" and "not-the-token" not in refused.value.reason


@pytest.mark.slow
def test_a_sync_indexes_documents_with_their_paperless_metadata_follows_changes_and_survives_429s(
        cli: Cli, isolated: Path, home: Path, exported: Any) -> None:
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY, "DOCMILL_MAX_RETRIES": "4"}
    with PaperlessServer(60, CANARY, tie=30) as server:
        _toml(isolated, server.url, page_size=20, requests_per_second=50, backoff_seconds=0.05)
        server.fail_next(7, 429, retry_after=0.3)  # the listing: more than one request's 5 attempts
        server.fail_next(4, 503, retry_after=None, path="/api/documents/7/download/")
        server.fail_next(3, 429, retry_after=0.2, path="/api/documents/8/download/")
        first = cli("-v", "sync", "archive", "--json", env=env)
        found = json.loads(first.stdout)
        assert (found["new"], found["failed"], found["error"]) == (60, 0, None)
        throttled = [r for r in server.requests if r.status in (429, 503)]
        assert len(throttled) == 14  # every failure was met, and retried
        assert "HTTP 429; trying again in" in first.stderr
        downloads = Counter(r.path for r in server.requests if r.path.endswith("/download/") and r.status == 200)
        assert len(downloads) == 60 and set(downloads.values()) == {1}  # each downloaded once

        chunks = {c["metadata"]["paperless_id"]: c for c in exported()}
        assert len(chunks) == 60
        meta = chunks[12]["metadata"]
        doc = server.documents[12]
        assert meta["title"] == doc.title and meta["created"] == doc.created.date().isoformat()
        assert meta["tags"] == [TAGS[t] for t in doc.tags]
        assert meta["correspondent"] == CORRESPONDENTS[doc.correspondent or 0]
        assert meta["document_type"] == DOCUMENT_TYPES[doc.document_type or 0]
        assert "Archived by Paperless" in chunks[12]["text"]
        hits = cli.json("search", "reference code PX-00012", "-k", "1")
        assert hits[0]["doc"] == doc.title

        server.modify([12, 40])
        server.delete([3])
        server.requests.clear()
        again = cli.json("sync", "archive", env=env)
        assert (again["changed"], again["deleted"], again["new"], again["failed"]) == (2, 1, 0, 0)
        assert len([r for r in server.requests if r.path.endswith("/download/")]) == 2
        assert "Amended" in {c["metadata"]["paperless_id"]: c for c in exported()}[12]["text"]
        status = cli.json("status")
        assert status["sources"]["archive"]["changed"] == 2

        full = cli.json("sync", "archive", "--full", env=env)
        assert (full["unchanged"], full["changed"], full["deleted"]) == (59, 0, 0)

        assert CANARY not in first.stderr + first.stdout
        for path in home.rglob("*"):  # the ledger, the vector store, everything docmill wrote
            if path.is_file():
                assert CANARY.encode() not in path.read_bytes(), path


def test_versions_a_dead_discovery_committed_but_never_sent_are_sent_by_the_next(home: Path) -> None:
    with PaperlessServer(300, CANARY) as server:
        recorder = Recorder(home, server.url)
        try:
            def dies(task: Task) -> None:
                raise KeyboardInterrupt  # the process stops between the ledger commit and the first publish

            recorder.runtime.connect(dies)
            with pytest.raises(KeyboardInterrupt):
                recorder.sync()
            recorder.runtime.connect(recorder.tasks.append)
            assert recorder.sync() == {"extract": 300}  # the 200 committed by the dead run, and the rest
            assert len({t.args["key"] for t in recorder.tasks}) == 300
            assert recorder.sync() == {}  # in flight now: not sent again
        finally:
            recorder.runtime.close()


def test_a_refused_token_fails_the_sync_with_the_reason_and_a_missing_one_is_a_configuration_error(
        cli: Cli, isolated: Path) -> None:
    with PaperlessServer(3, CANARY) as server:
        _toml(isolated, server.url)
        refused = cli("sync", "archive", check=False, env={"DOCMILL_SOURCES__0__TOKEN": "wrong-token-1234"})
        assert refused.returncode == 6, refused.stderr
        assert "refused the token (HTTP 401)" in refused.stderr and "wrong-token-1234" not in refused.stderr
        missing = cli("sync", "archive", check=False)
        assert missing.returncode == 3 and "has no token" in missing.stderr
        assert [r.status for r in server.requests] == [401]  # the run without a token asked nothing


class _ShiftingServer(PaperlessServer):
    """Deletes a document already read from the big tie just before the first offset page is served."""

    def answer(self, method: str, target: str, authorization: str,
               accept: str = "application/json") -> tuple[int, Any, dict[str, str]]:
        if "page=2" in target and 160 in self.documents:
            self.delete([160])  # every later document of the group moves one place up
        return super().answer(method, target, authorization, accept)


def test_a_tie_group_that_shifts_under_its_offset_pages_is_read_again(clients: Any) -> None:
    with _ShiftingServer(300, CANARY, tie=250) as server:  # documents 152 to 300 share one timestamp
        source = PaperlessSource("archive", server.url, clients(server), max_bytes=10**7, page_size=50)
        listed = {int(ref.locator) for ref in source.discover()}
        assert set(server.documents) <= listed  # none skipped by the shift
        counts = [r for r in server.requests if r.query.get("page_size") == "1"]
        assert len(counts) >= 4  # the group was counted, found short, read again and counted again


def test_the_api_version_is_the_newest_both_speak_and_a_server_without_one_fails_naming_both_ranges(
        clients: Any) -> None:
    with PaperlessServer(30, CANARY) as server:  # 3.0.5: versions 9 and 10
        source = PaperlessSource("a", server.url, clients(server), max_bytes=10**7, page_size=10)
        assert len(list(source.discover())) == 30
        assert server.requests[0].path == "/api/" and server.requests[0].version is None  # asked once, first
        assert {r.version for r in server.requests[1:]} == {10}
        assert not [r for r in server.requests if r.status == 406]
    with PaperlessServer(30, CANARY, versions=range(1, 10), server_version="2.15.3") as server:  # 2.x: up to 9
        source = PaperlessSource("a", server.url, clients(server), max_bytes=10**7)
        refs = list(source.discover())
        assert {r.version for r in server.requests[1:]} == {9}
        server.delete([4, 5])
        server.requests.clear()
        # Version 9 lists every id in `all`: one small request instead of an id listing.
        assert sorted(source._gone([r.key for r in refs])) == ["source:a/4", "source:a/5"]
        assert [r.query.get("page_size") for r in server.requests] == ["1", "2"]  # `all`, then the confirmation
        blob = source.fetch(refs[0])  # Paperless 2.x keeps MD5 checksums
        assert blob.checksum == f"md5:{hashlib.md5(blob.data).hexdigest()}" == source.content_id(refs[0])
    for versions, release, served in (((11, 12), "4.0.0", "11\u201312"), (range(1, 9), "1.17.4", "1\u20138")):
        with PaperlessServer(3, CANARY, versions=versions, server_version=release) as server:
            source = PaperlessSource("a", server.url, clients(server), max_bytes=10**7)
            with pytest.raises(PermanentError) as refused:
                list(source.discover())
            assert refused.value.kind == "unsupported version"
            assert refused.value.reason.startswith(
                f"Paperless {release} serves API versions {served}; docmill speaks 9\u201310")
            assert len(server.requests) <= 10  # probed to name its range, never retried


def test_a_server_upgraded_under_a_long_running_worker_is_negotiated_again(clients: Any) -> None:
    with PaperlessServer(5, CANARY, versions=(9, 10, 11)) as server:
        source = PaperlessSource("a", server.url, clients(server), max_bytes=10**7)
        refs = list(source.discover())
        server.versions = (9,)  # rolled back to a release that serves only 9
        assert source.fetch(refs[0]).data.startswith(b"%PDF")
        assert [r.version for r in server.requests if "download" in r.path] == [10, 9]


class _EmptyingServer(PaperlessServer):
    """Deletes most of the big tie just before its second offset page is served: that page is past the end."""

    def answer(self, method: str, target: str, authorization: str,
               accept: str = "application/json") -> tuple[int, Any, dict[str, str]]:
        if "page=2" in target and 200 in self.documents:
            self.delete(range(200, 261))
        return super().answer(method, target, authorization, accept)


def test_an_offset_page_that_fell_past_the_end_ends_the_pages_and_the_group_is_read_again(clients: Any) -> None:
    with _EmptyingServer(300, CANARY, tie=120) as server:  # documents 152 to 270 share one timestamp
        source = PaperlessSource("archive", server.url, clients(server), max_bytes=10**7, page_size=50)
        listed = {int(ref.locator) for ref in source.discover()}
        assert set(server.documents) <= listed
        assert [r.query.get("page") for r in server.asked("/api/documents/", status=404)] == ["2"]


@pytest.mark.slow
@pytest.mark.usefixtures("stub_embedder")
def test_a_change_of_tags_on_100_documents_relabels_their_chunks_without_downloading_them(
        cli: Cli, isolated: Path, home: Path, exported: Any) -> None:
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}
    with PaperlessServer(110, CANARY) as server:
        _toml(isolated, server.url, page_size=50, requests_per_second=0)
        assert cli.json("sync", "archive", env=env)["new"] == 110
        before = cli.json("status")
        versions = {c["metadata"]["paperless_id"]: c["id"] for c in exported()}

        relabelled = list(range(1, 101))
        server.retag(relabelled, [2, 5])
        server.retag([7], [3], title="Roof repair invoice, corrected title")
        server.modify([105])  # a new file: processed again
        server.requests.clear()
        found = cli.json("sync", "archive", env=env)
        assert (found["relabelled"], found["changed"], found["new"], found["failed"]) == (100, 1, 0, 0)
        downloads = [r.path for r in server.requests if r.path.endswith("/download/")]
        assert downloads == ["/api/documents/105/download/"]
        checks = [r.path for r in server.requests if r.path.endswith("/metadata/")]
        assert len(checks) == 101  # one small request each, instead of a download
        assert cli.json("status")["documents"]["done"] == 110
        ledger = Ledger(f"sqlite:///{home / 'ledger.db'}")
        try:
            with ledger.engine.connect() as conn:
                rows = {int(r.key.rsplit("/", 1)[1]): r for r in conn.execute(select(documents))}
        finally:
            ledger.close()
        assert {n for n, r in rows.items() if r.version != 1} == {105}  # no new version: nothing extracted
        assert sum(r.embedded_chunks for r in rows.values()) == before["embedded"]
        assert rows[105].embedded_chunks == 1 and all(r.stage == "relabel" for n, r in rows.items() if n <= 100)

        chunks = {c["metadata"]["paperless_id"]: c for c in exported()}
        assert {n: c["id"] for n, c in chunks.items() if n != 105} == {
            n: i for n, i in versions.items() if n != 105}  # same chunks, same IDs: nothing re-made
        for n in relabelled:
            expected = [TAGS[3]] if n == 7 else [TAGS[2], TAGS[5]]
            assert chunks[n]["metadata"]["tags"] == expected, n
        assert chunks[7]["doc"] == chunks[7]["metadata"]["title"] == "Roof repair invoice, corrected title"
        hits = {h["metadata"]["paperless_id"]: h for h in cli.json("search", "Reference code PX-00042", "-k", "110")}
        assert hits[42]["metadata"]["tags"] == ["tax", "archive 2024"] and hits[7]["doc"].startswith("Roof repair")
        assert "Amended" in chunks[105]["text"]
        # The keyword index was relabelled with the store: the same chunks, names and metadata
        assert indexes_agree_in_a_process(env) == len(chunks)
        tagged = cli.json("search", "PX-00042", "--mode", "keyword", "--where", "tags=archive 2024", "-k", "200")
        assert 42 in {h["metadata"]["paperless_id"] for h in tagged}
