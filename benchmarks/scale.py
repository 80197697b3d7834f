"""Scale: `docmill submit` of many small files into fresh ledgers, and what status costs against the largest.

    .venv/bin/python benchmarks/scale.py [--counts 10000,50000,200000] [--ledgers sqlite,postgresql]
                                         [--paperless 100000] [--pipeline 50000] [--out DIR]

Needs RabbitMQ on 127.0.0.1:5672 (guest/guest, ``rabbitmqctl`` on the path)
and, for the PostgreSQL rows, PostgreSQL on 127.0.0.1:5432 (trust auth). No
worker runs: this measures discovery and publishing, the part that must keep
up with an archive of any size. Each row gets its own RabbitMQ vhost and
ledger (a fresh SQLite file, or a fresh PostgreSQL database).

For each ledger and file count, as whole ``docmill`` commands timed from outside:

* the first ``submit``: documents/s, which must not fall as the count grows;
* its peak RSS, which must not grow with the count (discovery streams);
* an unchanged ``submit`` of the same folder (every file stat-ed, compared
  with the ledger, nothing published): seconds and peak RSS;
* the ledger's size;
* against each ledger: ``status``, ``status JOB --json`` (first page) and
  ``dlq list``.

Then a Paperless-ngx archive of ``--paperless`` documents (100,000) on docmill's
look-alike server, submitted into a PostgreSQL ledger (no worker runs): the
first sync's list requests (the target is at most ceil(count / page size) + 5)
and its time to queue; then, after 100 documents were edited and 50 deleted,
an incremental sync, which must queue exactly those 150.

Last, ``--pipeline`` small files (50,000) through the whole distributed
pipeline: ``docmill worker --processes 2`` with the stub embedder from
``docmill.testing`` (the model is not what this measures) and a Chroma
server. It prints documents/s and the workers' CPU per document over the
first and the last 10,000, which must not worsen.

Results are printed as a table and written to OUT/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RABBIT = "amqp://guest:guest@127.0.0.1:5672"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


def make_files(folder: Path, count: int) -> None:
    """``count`` small text files, 1,000 to a directory (as an archive's folders would hold them)."""
    for i in range(count):
        directory = folder / f"{i // 1000:04}"
        if i % 1000 == 0:
            directory.mkdir(parents=True, exist_ok=True)
        (directory / f"note-{i:07}.txt").write_text(f"Note {i}: the harbour wall needs repairs before winter.\n")


def measured(env: dict[str, str], *args: str) -> tuple[str, float, int]:
    """One docmill command: its output, wall seconds and peak RSS in MiB (``wait4`` on the process)."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "docmill", *args], env=env, stdout=subprocess.PIPE,
                                   stderr=errors)
        assert process.stdout is not None
        out = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"docmill {' '.join(args)} failed ({process.returncode}): "
                               f"{errors.read().decode()[-2000:]}")
    return out.decode(), seconds, usage.ru_maxrss // 1024


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=300)


@contextmanager
def fresh(work: Path, postgres: bool) -> Iterator[dict[str, str]]:
    """The environment of a run of its own: a new RabbitMQ vhost and home, and a new PostgreSQL database as the
    ledger when ``postgres`` (else the home's SQLite file). Both are removed afterwards."""
    import sqlalchemy

    tag = uuid.uuid4().hex[:8]
    vhost, database = f"docmill-scale-{tag}", f"docmill_scale_{tag}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCMILL_")}
    env.update(DOCMILL_HOME=str(work / f"home-{tag}"), DOCMILL_BROKER_URL=f"{RABBIT}/{vhost}")
    admin = sqlalchemy.create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT") if postgres else None
    if admin is not None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {database}")
        env["DOCMILL_LEDGER_URL"] = f"{POSTGRES}/{database}"
    try:
        yield env
    finally:
        rabbitmqctl("delete_vhost", vhost)
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            admin.dispose()


def ledger_size(env: dict[str, str]) -> int:
    """Bytes the run's ledger takes: its PostgreSQL database, or its SQLite files."""
    import sqlalchemy

    if "DOCMILL_LEDGER_URL" not in env:
        return sum(p.stat().st_size for p in Path(env["DOCMILL_HOME"]).glob("ledger.db*"))
    engine = sqlalchemy.create_engine(env["DOCMILL_LEDGER_URL"])
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one())
    finally:
        engine.dispose()


def one_row(work: Path, ledger: str, folder: Path, count: int, last: bool) -> dict[str, Any]:
    with fresh(work, ledger == "postgresql") as env:
        out, first, first_rss = measured(env, "submit", str(folder))
        job = out.strip()
        _, again, again_rss = measured(env, "submit", str(folder))
        row: dict[str, Any] = {
            "ledger": ledger, "files": count, "submit_s": round(first, 1), "docs_per_s": round(count / first),
            "submit_peak_rss_mib": first_rss, "unchanged_s": round(again, 1), "unchanged_peak_rss_mib": again_rss,
        }
        row["ledger_mib"] = round(ledger_size(env) / 2**20, 1)
        if last:
            for name, args in (("status_s", ("status",)), ("status_job_s", ("status", job, "--json")),
                               ("dlq_list_s", ("dlq", "list"))):
                row[name] = round(measured(env, *args)[1], 2)
        return row


def paperless(work: Path, count: int, page_size: int = 100) -> dict[str, Any]:
    """A first and an incremental sync of a look-alike archive of ``count`` documents, queued in distributed mode."""
    import math
    import random
    from collections import Counter
    from collections.abc import Sequence

    from docmill.actors.distributed import DistributedClient
    from docmill.app.specs import source_spec
    from docmill.settings import Settings
    from docmill.testing.paperless import PaperlessServer

    token = "scale-benchmark-token"
    with fresh(work, postgres=True) as env, PaperlessServer(count, token) as server:
        settings = Settings(home=env["DOCMILL_HOME"], ledger_url=env["DOCMILL_LEDGER_URL"],
                            broker_url=env["DOCMILL_BROKER_URL"],
                            sources=[{"name": "archive", "type": "paperless", "url": server.url, "token": token,
                                      "page_size": page_size, "requests_per_second": 0}])
        client = DistributedClient(settings)
        queued: Counter[str] = Counter()  # messages published, by stage
        publish = client.publisher.send_all

        def counted(tasks: Sequence[Any]) -> None:
            publish(tasks)
            queued.update(task.stage for task in tasks)

        client.runtime.connect(client.runtime.send, counted)

        def sync() -> tuple[float, dict[str, int], int]:
            server.requests.clear()
            queued.clear()
            started = time.perf_counter()
            client.submit([source_spec(settings.source("archive"))], kind="sync")
            seconds = time.perf_counter() - started
            lists = sum(r.path == "/api/documents/" for r in server.requests)
            return seconds, dict(queued), lists

        try:
            first, found, lists = sync()
            edited = random.Random(7).sample(sorted(server.documents), 150)
            server.modify(edited[:100])
            server.delete(edited[100:])
            again, changed, again_lists = sync()
        finally:
            client.close()
    return {"documents": count, "first_sync_s": round(first, 1), "queued_per_s": round(count / first),
            "first_sync_queued": found, "list_requests": lists,
            "list_request_target": math.ceil(count / page_size) + 5,
            "incremental_s": round(again, 1), "incremental_queued": changed, "incremental_list_requests": again_lists}


STUB_EMBEDDER = '''
    from docmill import hookimpl
    from docmill.testing.stubs import StubEmbedder


    @hookimpl
    def docmill_register_embedders(register):
        register("stub", lambda context: StubEmbedder())
'''


def pipeline(work: Path, count: int, window: int = 10_000) -> dict[str, Any]:
    """``count`` small files through workers, the stub embedder and a Chroma server: rate and CPU (the workers',
    the Chroma server's) per window."""
    import signal

    import sqlalchemy
    from distributed import tree_cpu  # benchmarks/distributed.py, beside this file

    from docmill.testing import ChromaServer, plugin_dir

    folder = work / f"pipeline-{count}"
    make_files(folder, count)
    samples: list[tuple[float, int, float, float]] = []  # (seconds, documents done, CPU s: workers, Chroma)
    chroma = ChromaServer(work / f"chroma-{count}")
    chroma.start()
    plugins = plugin_dir(work / f"stub-{count}", "docmill_scale_stub", STUB_EMBEDDER)
    try:
        with fresh(work, postgres=True) as env:
            env.update(DOCMILL_PLUGINS__CHROMA__URL=chroma.url, DOCMILL_COLLECTION=f"scale-{uuid.uuid4().hex[:8]}",
                       DOCMILL_EMBEDDER="stub",
                       PYTHONPATH=os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH")])))
            ledger = sqlalchemy.create_engine(env["DOCMILL_LEDGER_URL"])
            worker = subprocess.Popen([sys.executable, "-m", "docmill", "worker", "--processes", "2"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(5)  # up and consuming
                started = time.perf_counter()
                measured(env, "submit", str(folder))
                queued = time.perf_counter() - started
                done = 0
                while done < count and time.perf_counter() - started < 7200:
                    with ledger.connect() as conn:
                        done = conn.exec_driver_sql(
                            "SELECT count(*) FROM documents WHERE state = 'done'").scalar_one()
                    samples.append((time.perf_counter() - started, done, tree_cpu(worker.pid),
                                    tree_cpu(chroma.process.pid)))  # type: ignore[union-attr]
                    time.sleep(2)
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(300)
                ledger.dispose()
    finally:
        chroma.stop()

    window = min(window, count // 5)

    def span(low: int, high: int) -> dict[str, float]:
        first = next(s for s in samples if s[1] >= low)
        last = next(s for s in samples if s[1] >= high)
        documents = last[1] - first[1]
        return {"docs_per_s": round(documents / (last[0] - first[0]), 1),
                "worker_cpu_ms_per_doc": round(1000 * (last[2] - first[2]) / documents, 1),
                "chroma_cpu_ms_per_doc": round(1000 * (last[3] - first[3]) / documents, 1)}

    total = samples[-1]
    return {"documents": count, "done": total[1], "seconds": round(total[0], 1), "submit_s": round(queued, 1),
            "docs_per_s": round(total[1] / total[0], 1), f"first_{window}": span(1, window + 1),
            f"last_{window}": span(count - window, count)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="10000,50000,200000", help="File counts of the submit rows ('': none).")
    parser.add_argument("--ledgers", default="sqlite,postgresql")
    parser.add_argument("--paperless", type=int, default=100_000, help="Documents of the Paperless run (0: none).")
    parser.add_argument("--pipeline", type=int, default=50_000,
                        help="Documents of the whole-pipeline run (0: none).")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    counts = sorted(int(c) for c in args.counts.split(",") if c)
    work = Path(tempfile.mkdtemp(prefix="docmill-scale-"))
    out = args.out or work
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for count in counts:
        folder = work / f"files-{count}"
        started = time.perf_counter()
        make_files(folder, count)
        print(f"made {count:,} files in {time.perf_counter() - started:.0f} s", flush=True)
        for ledger in args.ledgers.split(","):
            rows.append(one_row(work, ledger, folder, count, last=count == counts[-1]))
            print(json.dumps(rows[-1]), flush=True)
    archive = paperless(work, args.paperless) if args.paperless else None
    through = pipeline(work, args.pipeline) if args.pipeline else None
    (out / "scale.json").write_text(json.dumps({"submits": rows, "paperless": archive, "pipeline": through},
                                               indent=2))
    columns = list(dict.fromkeys(k for r in rows for k in r))
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |")
    if archive is not None:
        print("\nPaperless-ngx look-alike, distributed mode, PostgreSQL ledger:", json.dumps(archive))
    if through is not None:
        print("\nThe whole pipeline, 2 worker processes, stub embedder, Chroma server:", json.dumps(through))
    print(f"\nresults in {out / 'scale.json'} (files in {work})")


if __name__ == "__main__":
    main()
