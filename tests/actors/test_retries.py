"""Transient errors back off and recover; permanent ones and bugs fail once; nobody else is disturbed.

The flaky part is a source, the piece outside our control in real life (a
remote server); every other part of the pipeline is the real one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import pytest

from docmill import hookimpl
from docmill.actors.embedded import EmbeddedPipeline
from docmill.app import follow
from docmill.core.errors import PermanentError, SourceUnavailable
from docmill.core.values import Blob, DocumentRef, SourceSpec
from docmill.settings import Settings

BEHAVIOUR: dict[str, str] = {
    "steady": "Steady document about lighthouses and the sea.",
    "flaky": "Flaky document about volcanoes; it fails twice before it works.",
    "down": "Never served: the server is always down.",
    "buggy": "Never served: the source has a bug.",
}


class RemoteSource:
    """A pretend remote source whose documents misbehave as their names say."""

    scope = "remote://test/"

    def __init__(self) -> None:
        self.fetches: dict[str, int] = {}
        self._lock = threading.Lock()

    def discover(self) -> Iterator[DocumentRef]:
        for name in BEHAVIOUR:
            yield DocumentRef(key=self.scope + name, name=f"{name}.txt", locator=name, stamp="1")

    def fingerprint(self, ref: DocumentRef) -> str:
        return "v1"

    def close(self) -> None:
        pass

    def fetch(self, ref: DocumentRef) -> Blob:
        with self._lock:
            count = self.fetches[ref.locator] = self.fetches.get(ref.locator, 0) + 1
        if ref.locator == "down" or (ref.locator == "flaky" and count <= 2):
            raise SourceUnavailable(f"HTTP 503 from the server (attempt {count})")
        if ref.locator == "buggy":
            raise KeyError("missing field 'content'")
        return Blob(ref.name, BEHAVIOUR[ref.locator].encode())


@pytest.fixture
def remote(plugins_on: Any) -> RemoteSource:
    source = RemoteSource()

    class Plugin:
        @hookimpl
        def docmill_register_sources(self, register: Any) -> None:
            register("remote", lambda options, context: source)

    plugins_on(Plugin(), "remote-test")
    return source


def test_retries_follow_the_error_class_and_failures_stay_contained(remote: RemoteSource, home: Any) -> None:
    settings = Settings(home=home, max_retries=3, retry_min_backoff=0.02, retry_max_backoff=0.1)
    with EmbeddedPipeline(settings) as pipeline:
        job = pipeline.submit([SourceSpec("remote", "remote", {})])
        _ = list(follow(lambda: pipeline.progress(job)))
        ledger = pipeline.runtime.ledger
        rows: Mapping[str, Any] = {name: ledger.documents.document(remote.scope + name) for name in BEHAVIOUR}
        summary = ledger.jobs.summary(job)

    assert summary["counts"] == {"done": 2, "failed": 2}
    assert (rows["steady"].state, rows["steady"].attempts) == ("done", 1)
    assert rows["flaky"].state == "done" and remote.fetches["flaky"] == 3  # two retries, then success
    down = rows["down"]
    assert (down.state, down.stage, down.error_kind, down.attempts) == ("failed", "extract", "source unavailable", 4)
    assert "HTTP 503" in down.error and not down.error_permanent
    buggy = rows["buggy"]
    assert (buggy.state, buggy.error_kind, buggy.attempts) == ("failed", "internal error", 2)
    assert buggy.error == "KeyError: \"missing field 'content'\""


def test_a_transient_failure_gets_another_chance_on_the_next_ingest_and_a_bug_waits_for_a_new_version(
        remote: RemoteSource, home: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(home=home, max_retries=0, retry_min_backoff=0.02)

    def ingest(**options: Any) -> tuple[Any, Any]:
        with EmbeddedPipeline(settings) as pipeline:
            job = pipeline.submit([SourceSpec("remote", "remote", {}, **options)])
            _ = list(follow(lambda: pipeline.progress(job)))
            return (pipeline.runtime.ledger.documents.document(remote.scope + "flaky"),
                    pipeline.runtime.ledger.documents.document(remote.scope + "buggy"))

    for attempt in (1, 2):
        flaky, buggy = ingest()
        assert flaky.state == "failed" and flaky.version == attempt  # retried: a new version each time
        # A bug (an internal error) stays put, like a permanent failure: the file will not change by itself.
        assert (buggy.state, buggy.error_kind, buggy.version) == ("failed", "internal error", 1)
    _, buggy = ingest(retry_failed=True)  # docmill ingest --retry-failed
    assert buggy.version == 2
    from docmill.core.runtime import Runtime

    monkeypatch.setattr(Runtime, "code_version", property(lambda self: "another release"))
    _, buggy = ingest()  # docmill or a plugin upgraded: the bug may be fixed, so it is tried again
    assert buggy.version == 3
    _, buggy = ingest()
    assert buggy.version == 3


class LockedSource:
    """One file whose permissions the user fixes between two ingests; size and mtime never change."""

    scope = "locked://test/"

    def __init__(self) -> None:
        self.locked = True

    def discover(self) -> Iterator[DocumentRef]:
        yield DocumentRef(key=self.scope + "a", name="a.txt", locator="a", stamp="10:1700000000")

    def _check(self) -> None:
        if self.locked:
            raise PermanentError("cannot read the file: Permission denied", kind="unreadable")

    def fingerprint(self, ref: DocumentRef) -> str:
        self._check()
        return "sha256:abc"

    def close(self) -> None:
        pass

    def fetch(self, ref: DocumentRef) -> Blob:
        self._check()
        return Blob(ref.name, b"Notes on the migration of cranes over the Baltic.")


def test_an_unreadable_file_is_read_again_once_its_permissions_are_fixed(plugins_on: Any, home: Any) -> None:
    source = LockedSource()

    class Plugin:
        @hookimpl
        def docmill_register_sources(self, register: Any) -> None:
            register("locked", lambda options, context: source)

    plugins_on(Plugin(), "locked-test")
    settings = Settings(home=home, retry_min_backoff=0.02, retry_max_backoff=0.1)
    states = []
    for locked in (True, True, False):
        source.locked = locked
        with EmbeddedPipeline(settings) as pipeline:
            job = pipeline.submit([SourceSpec("locked", "locked", {})])
            _ = list(follow(lambda: pipeline.progress(job)))  # noqa: B023
            row = pipeline.runtime.ledger.documents.document(source.scope + "a")
            states.append((row.state, row.error_kind, row.version))
    assert states == [("failed", "unreadable", 1), ("failed", "unreadable", 1), ("done", None, 2)]


def test_retry_after_is_honoured_within_the_backoff_limit_and_messages_carry_no_traceback(
        remote: RemoteSource, home: Any) -> None:
    from docmill.actors.middleware.retries import Retries
    from docmill.core.errors import RateLimited

    settings = Settings(home=home, max_retries=1, retry_min_backoff=0.02, retry_max_backoff=0.1)
    with EmbeddedPipeline(settings) as pipeline:
        job = pipeline.submit([SourceSpec("remote", "remote", {})])
        _ = list(follow(lambda: pipeline.progress(job)))
        dead = [m for q in pipeline.broker.dead_letters_by_queue.values() for m in q]
    # Dramatiq would store a formatted traceback in the message; docmill keeps one line.
    assert dead and all("traceback" not in m.options for m in dead)
    assert {m.options["error"].split(":")[0] for m in dead} == {"source unavailable", "KeyError"}

    actor = SimpleNamespace(options={})  # an actor with no limits of its own: the middleware's apply
    retries = Retries(min_backoff=1000, max_backoff=300_000)
    told = [retries.delay(actor, 0, RateLimited("429", retry_after=7)) for _ in range(50)]
    assert all(7000 <= ms <= 7700 for ms in told)  # what the server asked, plus up to 10% jitter
    capped = Retries(min_backoff=1000, max_backoff=5000)
    assert capped.delay(actor, 0, RateLimited("429", retry_after=3600)) == 5000
    backoffs = [retries.delay(actor, 3, SourceUnavailable("503")) for _ in range(50)]
    assert all(0 < ms <= 16_000 for ms in backoffs) and len(set(backoffs)) > 1  # exponential, jittered


def test_dlq_retry_resumes_a_transient_failure_once_its_cause_is_gone(remote: RemoteSource, home: Any) -> None:
    from docmill.core import dead_letter_retry

    settings = Settings(home=home, max_retries=0, retry_min_backoff=0.02)
    with EmbeddedPipeline(settings) as pipeline:
        job = pipeline.submit([SourceSpec("remote", "remote", {})])
        _ = list(follow(lambda: pipeline.progress(job)))
        ledger = pipeline.runtime.ledger
        dead = {row.name: row for row in ledger.dead_letters.entries()}
        assert set(dead) == {"flaky.txt", "down.txt", "buggy.txt"}
        remote.fetches["flaky"] = 10  # the server is back for it
        retry_job, rows = dead_letter_retry.retry(pipeline.runtime, [dead["flaky.txt"].dead_letter])
        assert retry_job is not None and [r.name for r in rows] == ["flaky.txt"]
        _ = list(follow(lambda: pipeline.progress(retry_job)))
        assert ledger.jobs.progress(retry_job).counts == {"done": 1}
        assert ledger.documents.document(remote.scope + "flaky").version == 1  # the same version, resumed
        assert {row.name for row in ledger.dead_letters.entries()} == {"down.txt", "buggy.txt"}
        assert dead_letter_retry.retry(pipeline.runtime, ["no-such-id"]) == (None, [])
