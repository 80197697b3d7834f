"""Shared fixtures: an isolated environment per test, a generated corpus, the CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docmill.settings import Settings

from .workers import Workers

REPO = Path(__file__).resolve().parent.parent
CORPUS_EXCLUDES = ["--exclude", "*.truth.txt", "--exclude", "manifest.json"]
#: The PostgreSQL server the ledger tests use (trust auth; a database per test is created in it).
POSTGRES = os.environ.get("DOCMILL_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test` runs two workers), the tests of the services run one after another on
    one worker: they start worker processes, and the fault-injection tests stop and kill services (private
    ones). The rest run beside them.

    First of all such hooks: xdist's worker names each item's group from its mark in its own hook, and
    a mark added after that put the service tests on both workers (a RabbitMQ restart under a kill test).
    """
    for item in items:
        if _uses_services(item):
            item.add_marker(pytest.mark.xdist_group("services"))
    # The long ones first, so that no worker is left alone with one at the end: the services (one unit, given
    # out first), then the end-to-end runs marked slow, then the rest, each in its own order.
    items.sort(key=lambda item: 0 if _uses_services(item) else 1 if item.get_closest_marker("slow") else 2)


def _uses_services(item: pytest.Item) -> bool:
    """A test of tests/distributed (the machine's RabbitMQ, worker processes) or tests/faults (private services
    it stops and kills, worker processes)."""
    return bool({"distributed", "faults"} & set(item.nodeid.split("/")))


@pytest.fixture(autouse=True)
def _in_the_services_group(request: pytest.FixtureRequest) -> None:
    """Under pytest-xdist, a service test runs only in the one group that runs them in turn (above): beside
    another, its worker processes and the services it stops would break that one in ways that look like docmill's."""
    if _uses_services(request.node) and getattr(request.config.option, "loadgroup", False):
        assert request.node.nodeid.endswith("@services"), f"{request.node.nodeid} is in no xdist group"


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Each fault-injection scenario's recovery time (tests/faults): how long its job took to end once its fault
    was over. Here, not in tests/faults/conftest.py: under pytest-xdist only the root conftest reaches the
    process that prints the summary (the scenarios' reports carry their rows to it)."""
    rows = []
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "recovery":
                rows.append(value)
    if rows:
        terminalreporter.section("fault injection: time to recover (the job's end, and its first document's)")
        for row in rows:
            first = "" if row.get("resumed") is None else f"  (first document {row['resumed']:.1f} s)"
            terminalreporter.write_line(f"{row['seconds']:7.1f} s  {row['scenario']}: {row['fault']}{first}")
            if row.get("end"):
                terminalreporter.write_line(f"           end state: {row['end']}")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No DOCMILL_* variable, .env or docmill.toml of the developer's leaks into a test."""
    for name in list(os.environ):
        if name.startswith("DOCMILL_"):
            monkeypatch.delenv(name)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DOCMILL_HOME, set in the environment."""
    path = tmp_path / "home"
    monkeypatch.setenv("DOCMILL_HOME", str(path))
    return path


@pytest.fixture
def settings(home: Path) -> Settings:
    """Settings on the fresh home, with short retry backoffs."""
    return Settings(home=home, retry_min_backoff=0.05, retry_max_backoff=0.2)


def build_corpus(out: Path, *, text: int = 6, scanned: int = 2) -> dict[str, Any]:
    """Generate the corpus (docmill.testing.corpus: from a seed, nothing outside the repository) and return
    its manifest."""
    from docmill.testing.corpus import build

    return build(out, text=text, scanned=scanned)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small corpus: 6 born-digital PDFs, 2 scans and a photo, plain text, and the bad files."""
    out = tmp_path_factory.mktemp("corpus")
    build_corpus(out)
    return out


@pytest.fixture(scope="session")
def manifest(corpus: Path) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = json.loads((corpus / "manifest.json").read_text())["files"]
    return files


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    import sqlalchemy

    name = f"docmill_t_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    yield f"{POSTGRES}/{name}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A ledger on SQLite (the default) and on PostgreSQL (shared by distributed workers)."""
    from docmill.core.ledger import Ledger

    url = f"sqlite:///{tmp_path / 'ledger.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    ledger = Ledger(url)
    yield ledger
    ledger.close()


class Cli:
    """Runs ``docmill`` in a subprocess, as a user would."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __call__(self, *args: str, check: bool = True, env: dict[str, str] | None = None,
                 prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        done = subprocess.run([*prefix, sys.executable, "-m", "docmill", *args], cwd=self.cwd, env=full_env,
                              capture_output=True, text=True, timeout=600)
        if check and done.returncode != 0:
            raise AssertionError(f"docmill {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
        return done

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self(*args, "--json", **kwargs).stdout)


@pytest.fixture
def workers(isolated: Path, tmp_path: Path) -> Iterator[Workers]:
    """`docmill worker` supervisors for this test (its logs in tmp_path/logs), stopped (drained) at its end."""
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Workers(isolated, logs)
    yield running
    running.close()


@pytest.fixture
def cli(isolated: Path, home: Path) -> Cli:
    return Cli(isolated)


@pytest.fixture
def exported(cli: Cli) -> Any:
    """A function returning every exported chunk."""

    def run(*args: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in cli("export", *args).stdout.splitlines()]

    return run


STUB_EMBEDDER = '''
    """A test plugin: docmill.testing's stub embedder, for tests where the model is not what is checked (it
    loads in every command and worker process a test starts, and embeds slowly on two cores). A hashed bag of
    words: a search still finds the chunks that share its words."""
    from docmill import hookimpl
    from docmill.testing.stubs import StubEmbedder


    @hookimpl
    def docmill_register_embedders(register):
        register("stub", lambda context: StubEmbedder())
'''


@pytest.fixture
def stub_embedder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands and workers of this test embed with the stub embedder (a plugin on PYTHONPATH)."""
    from docmill.testing import plugin_dir

    plugins = plugin_dir(tmp_path / "stub-plugins", "docmill_stub_embedder", STUB_EMBEDDER)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("DOCMILL_EMBEDDER", "stub")


@pytest.fixture
def plugins_on() -> Iterator[Any]:
    """Register test plugins on the process's plugin manager; unregister them afterwards."""
    from docmill.core.plugins import load_plugins

    plugins = load_plugins(None)
    names: list[str] = []

    def register(plugin: object, name: str) -> None:
        plugins.register(plugin, name)
        names.append(name)

    try:
        yield register
    finally:
        for name in names:
            plugins.unregister(name)

