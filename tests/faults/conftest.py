"""The fault-injection suite: real services stopped, killed and restarted mid-job, on private instances.

Each scenario runs a job through the distributed stack (``docmill worker``
processes, RabbitMQ, a PostgreSQL ledger, a Chroma server) or the embedded
one, injects its fault, lets the service come back, and checks the end state
against a clean run of the same corpus, document for document and chunk for
chunk. It reports how long the job took to end once the fault was over
(printed at the end of the run).

The machine's own RabbitMQ and PostgreSQL are never touched: the session
starts a RabbitMQ node and a PostgreSQL server of its own (``services.py``),
and each test gets its own vhost, database and collection there, and leaves
every service it stopped running again.

``make test`` runs the scenarios marked ``in_make_test``; ``make test-faults``
(``DOCMILL_FAULTS=all``) runs every one. ``DOCMILL_FAULT_OUTAGE`` sets how long
the long PostgreSQL outage lasts (120 s: longer than the workers' default
retry budget).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from docmill.testing import ChromaServer, plugin_dir

from ..conftest import CORPUS_EXCLUDES, STUB_EMBEDDER, Cli, build_corpus
from ..workers import Workers
from .jobs import next_ended, started_documents, wait_until_done
from .services import PrivatePostgres, PrivateRabbitmq

#: How long the long PostgreSQL outage lasts, in seconds.
OUTAGE = float(os.environ.get("DOCMILL_FAULT_OUTAGE", "120"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside ``make test-faults``, only the scenarios marked ``in_make_test`` run."""
    if os.environ.get("DOCMILL_FAULTS") == "all":
        return
    here = Path(__file__).parent
    chosen, left = [], []
    for item in items:
        inside = here in Path(str(item.fspath)).parents
        (left if inside and item.get_closest_marker("in_make_test") is None else chosen).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = chosen


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def private_rabbitmq() -> Iterator[PrivateRabbitmq]:
    node = PrivateRabbitmq()
    try:
        node.start()
        yield node
    finally:
        node.close()


@pytest.fixture
def postgres(private_postgres: PrivatePostgres) -> Iterator[PrivatePostgres]:
    """The private PostgreSQL server, running again after the test whatever the test did to it."""
    yield private_postgres
    if not private_postgres.started:
        private_postgres.start()


@pytest.fixture
def rabbitmq(private_rabbitmq: PrivateRabbitmq) -> Iterator[PrivateRabbitmq]:
    """The private RabbitMQ node, running again after the test whatever the test did to it."""
    yield private_rabbitmq
    if private_rabbitmq.process is None:
        private_rabbitmq.start()


@pytest.fixture(scope="session")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("fault-chroma"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Stack:
    """Where a test's distributed set-up lives: its ledger database and its vhost."""

    ledger_url: str
    broker_url: str
    collection: str
    chroma_url: str

    def env(self) -> dict[str, str]:
        """The settings that point docmill at this stack."""
        return {"DOCMILL_BROKER_URL": self.broker_url, "DOCMILL_LEDGER_URL": self.ledger_url,
                "DOCMILL_PLUGINS__CHROMA__URL": self.chroma_url, "DOCMILL_COLLECTION": self.collection}


@pytest.fixture(scope="session")
def stub_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plugin_dir(tmp_path_factory.mktemp("stub-plugins"), "docmill_stub_embedder", STUB_EMBEDDER)


def stub_env(stub_plugins: Path) -> dict[str, str]:
    """Settings that make commands and workers embed with the stub embedder."""
    path = os.pathsep.join(filter(None, [str(stub_plugins), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "DOCMILL_EMBEDDER": "stub"}


@pytest.fixture
def stack(postgres: PrivatePostgres, rabbitmq: PrivateRabbitmq, chroma: ChromaServer, home: Path,
          stub_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """Distributed mode on the private services (a database, a vhost and a collection of this test's), with
    the stub embedder, set in this process's environment (workers and commands inherit it)."""
    name = f"f{uuid.uuid4().hex[:10]}"
    found = Stack(postgres.create_database(name), rabbitmq.add_vhost(name), f"t-{name}", chroma.url)
    for key, value in {**found.env(), **stub_env(stub_plugins)}.items():
        monkeypatch.setenv(key, value)
    return found


@pytest.fixture
def fcli(isolated: Path, home: Path) -> Cli:
    return Cli(isolated)


class Recovery:
    """Times a scenario from the end of its fault to the end of its job, for the summary."""

    def __init__(self, record: Any, scenario: str) -> None:
        self._record, self.scenario = record, scenario
        self.fault: str | None = None
        self._over: float | None = None
        self._resumed: float | None = None
        self.row: dict[str, Any] = {}

    def fault_over(self, fault: str) -> None:
        """The fault has ended (the service is back): the clock starts."""
        self.fault, self._over, self._resumed = fault, time.monotonic(), None

    def resumed(self) -> None:
        """A document has ended since the fault did: the pipeline moves again."""
        assert self._over is not None, "fault_over() first"
        self._resumed = time.monotonic() - self._over

    def ended_as(self, got: Outcome, clean: Outcome) -> None:
        """Check the run ended as the clean run did (``assert_like_a_clean_run``), and report its end state."""
        assert_like_a_clean_run(got, clean)
        self.row["end"] = f"{got.summary()}, as in the clean run"

    def recovered(self) -> float:
        """The job has ended: record the seconds since the fault ended."""
        assert self._over is not None, "fault_over() first"
        seconds = time.monotonic() - self._over
        self.row = {"scenario": self.scenario, "fault": self.fault, "seconds": round(seconds, 1),
                    "resumed": None if self._resumed is None else round(self._resumed, 1), "end": None}
        self._record("recovery", self.row)
        moved = "" if self._resumed is None else f", the first document ending {self._resumed:.1f} s after"
        print(f"{self.scenario}: done {seconds:.1f} s after {self.fault} ended{moved}")
        return seconds


@pytest.fixture
def recovery(record_property: Any, request: pytest.FixtureRequest) -> Recovery:
    return Recovery(record_property, request.node.name.removeprefix("test_"))


@pytest.fixture(scope="session")
def corpus44(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The field report's corpus: 44 files, 34 good (14 scans and a photo among them), 9 bad and 1 blank."""
    out = tmp_path_factory.mktemp("corpus44")
    build_corpus(out, text=14, scanned=14)
    return out


@dataclass(frozen=True)
class Outcome:
    """What a run left: each document's state, error kind and chunk count, and each document's chunk ids."""

    documents: dict[str, tuple[str, str | None, int | None]]
    chunks: dict[str, list[str]]

    def counts(self) -> dict[str, int]:
        """Documents by state."""
        return dict(Counter(state for state, _, _ in self.documents.values()))

    def summary(self) -> str:
        """Documents by state and chunks stored, in words."""
        by_state = ", ".join(f"{n} {state}" for state, n in sorted(self.counts().items()))
        return f"{by_state}; {sum(len(ids) for ids in self.chunks.values())} chunks"

    def pending(self) -> list[str]:
        return [name for name, (state, _, _) in self.documents.items() if state in ("pending", "deleting")]


def outcome(ledger_url: str, exported: str) -> Outcome:
    """The ledger's documents and the store's chunks (``docmill export``'s output) after a run; a chunk
    stored twice fails here."""
    query = "SELECT name, state, error_kind, chunks FROM documents"
    if ledger_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(ledger_url.removeprefix("sqlite:///"))) as conn:
            rows = conn.execute(query).fetchall()
    else:
        engine = sqlalchemy.create_engine(ledger_url)
        try:
            with engine.connect() as conn:
                rows = [tuple(r) for r in conn.exec_driver_sql(query).all()]
        finally:
            engine.dispose()
    chunks: dict[str, list[str]] = {}
    for line in exported.splitlines():
        chunk = json.loads(line)
        chunks.setdefault(chunk["doc"], []).append(chunk["id"])
    ids = [i for doc in chunks.values() for i in doc]
    assert len(ids) == len(set(ids)), "a chunk is stored twice"
    return Outcome({name: (state, kind, count) for name, state, kind, count in rows},
                   {doc: sorted(ids) for doc, ids in chunks.items()})


def stack_outcome(cli: Cli, stack: Stack) -> Outcome:
    """What a distributed run left in its ledger and its collection."""
    return outcome(stack.ledger_url, cli("export").stdout)


_references: dict[Path, Outcome] = {}


def clean_run(corpus: Path, tmp_path: Path, stub_plugins: Path) -> Outcome:
    """What an undisturbed embedded ingest of ``corpus`` ends with (computed once per corpus), in an environment
    of its own: none of the test's distributed settings."""
    if corpus not in _references:
        work = tmp_path / "clean-run"
        work.mkdir()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("DOCMILL_")},
               "DOCMILL_HOME": str(work / "home"), **stub_env(stub_plugins)}

        def docmill(*args: str) -> str:
            done = subprocess.run([sys.executable, "-m", "docmill", *args], cwd=work, env=env, capture_output=True,
                                  text=True, timeout=900)
            assert done.returncode == 0, done.stderr
            return done.stdout

        docmill("ingest", str(corpus), *CORPUS_EXCLUDES)
        _references[corpus] = outcome(f"sqlite:///{work / 'home' / 'ledger.db'}", docmill("export"))
    return _references[corpus]


def assert_like_a_clean_run(got: Outcome, clean: Outcome) -> None:
    """Every document ended as in the clean run, with the same chunks, each once."""
    assert got.pending() == []
    assert got.documents == clean.documents
    assert got.chunks == clean.chunks
    assert sum(count or 0 for state, _, count in got.documents.values() if state == "done") == \
        sum(len(ids) for ids in got.chunks.values())


def assert_quiet(log: str) -> None:
    """An expected outage is told in one warning line per process (which service, since when, what happens
    meanwhile), never with a traceback or Dramatiq's CRITICAL lines about a middleware."""
    assert "Traceback" not in log and "CRITICAL" not in log, log
    told = Counter(re.findall(r"docmill\[(\d+)\]: WARNING: (.+?) (?:cannot be reached|is full) since", log))
    assert all(count == 1 for count in told.values()), told


class Scenario:
    """A fault injected into a distributed job: the corpus submitted, the fault once the job is well under way,
    its end awaited and timed from the fault's end, and its end state checked against a clean run's."""

    def __init__(self, stack: Stack, workers: Workers, cli: Cli, recovery: Recovery, tmp_path: Path,
                 stub_plugins: Path) -> None:
        self.stack, self.workers, self.cli, self.recovery = stack, workers, cli, recovery
        self._tmp_path, self._stub_plugins = tmp_path, stub_plugins
        self.supervisors: list[subprocess.Popen[bytes]] = []
        self.clean: Outcome | None = None

    def through(self, corpus: Path, fault: Callable[[str], str], *, after: int = 12, timeout: float = 600,
                supervisors: Sequence[Sequence[str]] = (("--processes", "2"),),
                env: dict[str, str] | None = None) -> None:
        """Submit ``corpus`` to ``supervisors`` (each a `docmill worker`'s arguments), let ``after`` documents
        end, call ``fault(job)`` (which returns once the service is back, saying what it did), and check the job
        ends as a clean run does, with the outage told once per process."""
        self.clean = clean_run(corpus, self._tmp_path, self._stub_plugins)
        self.supervisors = [self.workers.start(*args, env=env) for args in supervisors]
        job = self.cli("submit", str(corpus), *CORPUS_EXCLUDES).stdout.strip()
        started_documents(self.stack.ledger_url, job, after)
        self.recovery.fault_over(fault(job))
        next_ended(self.stack.ledger_url, job, timeout=timeout)
        self.recovery.resumed()
        wait_until_done(self.stack.ledger_url, job, timeout=timeout)
        self.recovery.recovered()
        self.recovery.ended_as(stack_outcome(self.cli, self.stack), self.clean)
        assert_quiet(self.workers.log())


@pytest.fixture
def scenario(stack: Stack, workers: Workers, fcli: Cli, recovery: Recovery, tmp_path: Path,
             stub_plugins: Path) -> Scenario:
    return Scenario(stack, workers, fcli, recovery, tmp_path, stub_plugins)
