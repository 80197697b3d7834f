"""Named sources: settings with secrets from the environment, `docmill sync`, and one sync per source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest

from docmill.core.errors import ConfigurationError
from docmill.core.ledger import Ledger
from docmill.settings import load_settings
from docmill.testing import free_port, plugin_dir
from docmill.testing.prometheus import scraped, total

from ..conftest import Cli

CANARY = "canary-token-6f1c2a9e"


def _toml(work: Path, folder: Path, extra: str = "") -> None:
    (work / "docmill.toml").write_text(f'''
[[sources]]
name = "archive"
type = "folder"
path = "{folder}"
schedule = "*/30 * * * *"
{extra}

[[sources]]
name = "handbook"
type = "folder"
path = "{folder}"
schedule = {{ minutes = 10 }}
''')


def test_sources_come_from_the_settings_file_with_tokens_from_the_environment(
        isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _toml(isolated, tmp_path)
    monkeypatch.setenv("DOCMILL_SOURCES__0__TOKEN", CANARY)
    settings = load_settings()
    archive, handbook = settings.source("archive"), settings.source("handbook")
    assert archive.token is not None and archive.token.get_secret_value() == CANARY
    assert CANARY not in repr(settings) and CANARY not in str(archive.options)
    assert archive.options == {"path": str(tmp_path)} and handbook.token is None
    assert handbook.schedule is not None and handbook.schedule.total_seconds == 600  # type: ignore[union-attr]
    (isolated / ".env").write_text("DOCMILL_SOURCES__1__TOKEN=from-dotenv\n")
    assert load_settings().source("handbook").token.get_secret_value() == "from-dotenv"  # type: ignore[union-attr]
    monkeypatch.setenv("DOCMILL_SOURCES__7__TOKEN", "x")
    with pytest.raises(ConfigurationError, match="no source number 7"):
        load_settings()


@pytest.mark.parametrize(("extra", "message"), [
    ('password = "hunter2"', "looks like a secret"),
    ('schedule = "every tuesday"', "not a cron line"),
])
def test_bad_source_settings_are_refused_with_the_reason(isolated: Path, tmp_path: Path, extra: str,
                                                         message: str) -> None:
    (isolated / "docmill.toml").write_text(f'[[sources]]\nname = "a"\ntype = "folder"\npath = "/x"\n{extra}\n')
    with pytest.raises(ConfigurationError, match=message):
        load_settings()


@pytest.mark.usefixtures("stub_embedder")
def test_sync_reports_new_changed_deleted_and_unchanged_and_keeps_the_token_out(
        cli: Cli, isolated: Path, tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "handbook"
    folder.mkdir()
    for i in range(3):
        (folder / f"page-{i}.txt").write_text(f"Handbook page {i}: onboarding, laptops and the VPN.")
    _toml(isolated, folder)
    env = {"DOCMILL_SOURCES__1__TOKEN": CANARY}
    first = cli.json("sync", "handbook", env=env)
    assert (first["new"], first["changed"], first["deleted"], first["unchanged"]) == (3, 0, 0, 0)
    (folder / "page-0.txt").write_text("Handbook page 0, rewritten: the VPN moved.")
    (folder / "page-1.txt").unlink()
    (folder / "page-9.txt").write_text("A new page about expenses.")
    verbose = cli("-vv", "sync", "handbook", "--json", env=env)
    assert CANARY not in verbose.stderr and CANARY not in verbose.stdout  # nor in debug logs
    again = json.loads(verbose.stdout)
    assert (again["new"], again["changed"], again["deleted"], again["unchanged"]) == (1, 1, 1, 1)
    status = cli.json("status")
    assert status["sources"]["handbook"]["changed"] == 1 and status["sources"]["archive"] is None
    assert "source handbook: last synced" in cli("status").stdout
    for path in home.rglob("*"):  # the ledger, the store, everything docmill wrote
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    assert cli("sync", "nope", check=False).returncode == 3


def test_a_lease_has_one_holder_until_released_or_expired(ledger: Ledger) -> None:
    assert ledger.leases.acquire("source:a", "host1:1", ttl=60)
    assert not ledger.leases.acquire("source:a", "host2:2", ttl=60)  # coalesced
    assert ledger.leases.acquire("source:b", "host2:2", ttl=60)  # another source is free
    ledger.leases.release("source:a", "host1:1")
    assert ledger.leases.acquire("source:a", "host2:2", ttl=0.2)
    time.sleep(0.3)  # host2 crashed: no heartbeat, the lease runs out
    assert ledger.leases.acquire("source:a", "host3:3", ttl=60)
    assert not ledger.leases.renew("source:a", "host2:2", ttl=60)  # the crashed holder lost it
    assert [(h, o) for h, _, _, o in ledger.leases.history("source:a")] == [
        ("host1:1", "released"), ("host2:2", "coalesced"), ("host2:2", "expired"), ("host3:3", "held")]


SLOW_SOURCE = '''
    """A test plugin: a folder source whose listing takes a while, like a big remote archive."""
    import time

    from docmill import hookimpl
    from docmill.plugins.folder import make_folder_source


    class SlowFolder:
        def __init__(self, inner):
            self.inner = inner
            self.scope = inner.scope

        def discover(self):
            time.sleep(4)
            yield from self.inner.discover()

        def fingerprint(self, ref):
            return self.inner.fingerprint(ref)

        def fetch(self, ref):
            return self.inner.fetch(ref)

        def close(self):
            self.inner.close()


    @hookimpl
    def docmill_register_sources(register):
        register("slowfolder", lambda options, context: SlowFolder(make_folder_source(options, context)))
'''


@pytest.mark.usefixtures("stub_embedder")
def test_two_syncs_of_one_source_never_overlap(isolated: Path, tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "a.txt").write_text("An archived letter about the harbour.")
    (isolated / "docmill.toml").write_text(f'[[sources]]\nname = "archive"\ntype = "slowfolder"\npath = "{folder}"\n')
    plugins = plugin_dir(tmp_path / "plugins", "docmill_slow_source", SLOW_SOURCE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins), os.environ["PYTHONPATH"]])}
    runs = [subprocess.Popen([sys.executable, "-m", "docmill", "sync", "archive"], cwd=isolated, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sum("coalesced" in err for _, err in outputs) == 1, outputs
    ledger = Ledger(f"sqlite:///{home.resolve() / 'ledger.db'}")
    history = ledger.leases.history("source:archive")
    ledger.close()
    held = [(start, end) for _, start, end, outcome in history if outcome == "released"]
    assert len(held) == 1 and [o for *_, o in history].count("coalesced") == 1
    coalesced_at = next(start for _, start, _, outcome in history if outcome == "coalesced")
    assert held[0][0] <= coalesced_at <= held[0][1]  # refused while the other held it, not after


@pytest.mark.slow
@pytest.mark.usefixtures("stub_embedder")
def test_two_schedulers_sharing_a_ledger_never_sync_one_source_at_once(isolated: Path, tmp_path: Path,
                                                                       home: Path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "a.txt").write_text("An archived letter about the harbour.")
    # Discovery takes 4 s and the schedule fires every 2 s: overlaps are certain unless prevented.
    (isolated / "docmill.toml").write_text(
        f'[[sources]]\nname = "archive"\ntype = "slowfolder"\npath = "{folder}"\nschedule = {{ seconds = 2 }}\n')
    plugins = plugin_dir(tmp_path / "plugins", "docmill_slow_source", SLOW_SOURCE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins), os.environ["PYTHONPATH"]])}
    logs = [tmp_path / f"scheduler-{i}.log" for i in range(2)]
    ports = [free_port() for _ in logs]
    replicas = [subprocess.Popen([sys.executable, "-m", "docmill", "scheduler"], cwd=isolated,
                                 env={**env, "DOCMILL_METRICS_PORT": str(port)}, stdout=subprocess.DEVNULL,
                                 stderr=log.open("w")) for log, port in zip(logs, ports, strict=True)]
    def released() -> int:
        if not (home / "ledger.db").exists():
            return 0
        ledger = Ledger(f"sqlite:///{home.resolve() / 'ledger.db'}")
        try:
            return sum(outcome == "released" for *_, outcome in ledger.leases.history("source:archive"))
        finally:
            ledger.close()

    try:
        deadline = time.monotonic() + 120
        while released() < 2 or "coalesced" not in "".join(log.read_text() for log in logs):
            assert time.monotonic() < deadline, "the schedulers did not sync twice within 120 s"
            time.sleep(0.5)
        # Each replica serves its metrics: between them, the syncs and the coalesced triggers are counted.
        counted = [scraped(f"http://127.0.0.1:{port}/metrics") for port in ports]
        assert sum(total(c, "docmill_sync_runs_total", source="archive", outcome="ok") for c in counted) >= 2
        assert sum(total(c, "docmill_sync_runs_total", source="archive", outcome="coalesced") for c in counted) >= 1
    finally:
        for replica in replicas:
            replica.terminate()
        codes = [replica.wait(120) for replica in replicas]
    assert codes == [0, 0], "\n".join(log.read_text()[-3000:] for log in logs)
    ledger = Ledger(f"sqlite:///{home.resolve() / 'ledger.db'}")
    history = ledger.leases.history("source:archive")
    with ledger.engine.connect() as conn:
        jobs = conn.exec_driver_sql("SELECT id, next_run_time FROM scheduler_jobs").all()
    ledger.close()
    held = sorted((start, end) for _, start, end, outcome in history if outcome == "released")
    assert len(held) >= 2, history
    for (_, end), (start, _) in pairwise(held):
        assert start >= end, f"two syncs of one source overlapped: {held}"
    assert "coalesced" in "".join(log.read_text() for log in logs)
    assert [job.id for job in jobs] == ["sync:archive"] and jobs[0].next_run_time is not None


def test_schedulers_started_together_on_a_fresh_ledger_both_get_the_job_table(tmp_path: Path) -> None:
    """Found by make fresh-check: APScheduler checks for its table, then creates it, so one of two replicas
    started at once died with "table scheduler_jobs already exists" (37 of 50 pairs of threads here)."""
    import threading

    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from docmill.scheduler import JOBS_TABLE, _create_job_table

    for trial in range(30):
        url = f"sqlite:///{tmp_path / f'ledger-{trial}.db'}"
        stores = [SQLAlchemyJobStore(url=url, tablename=JOBS_TABLE) for _ in range(2)]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def start(store: SQLAlchemyJobStore, barrier: threading.Barrier, errors: list[BaseException]) -> None:
            barrier.wait()
            try:
                _create_job_table(store)
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(store, barrier, errors)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for store in stores:
            store.engine.dispose()
        assert errors == []
