"""Distributed-mode benchmark: submit latency, real throughput per worker count, orchestration scaling.

    .venv/bin/python benchmarks/distributed.py [--submits 200] [--text 16] [--docs 160] [--processes 1,2,4,8]
                                               [--out DIR]

Needs RabbitMQ on 127.0.0.1:5672 (guest/guest) and PostgreSQL on 127.0.0.1:5432
(trust auth); starts its own Chroma server. Each measurement gets its own
RabbitMQ vhost, ledger database and collection.

1. **submit latency**: ``DistributedClient.submit`` of one file at a time
   (ledger writes on PostgreSQL, discovery, a publish confirmed by RabbitMQ),
   p50 and p99 over ``--submits`` files. Interpreter start-up of the CLI is
   not included (it is printed separately, once).
2. **throughput, real pipeline**: born-digital PDFs of the corpus through
   ``docmill worker --processes 1``, then ``2``, then ``2`` with
   ``DOCMILL_PLUGINS__FASTEMBED__THREADS=1`` (fastembed, Chroma server): documents and
   chunks per second.
3. **orchestration scaling**: ``--docs`` small text files through 1, 2, 4 and
   8 worker processes (one thread each) whose embedder and store are
   I/O-bound stand-ins (they sleep, as a remote embedding service or store
   would): documents per second, and the ratio to one process.

Results are printed and written to OUT/distributed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy

RABBIT = "amqp://guest:guest@127.0.0.1:5672"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"

#: The I/O-bound stand-ins: an embedder and a store that wait as a remote service would, and use no CPU.
STANDINS = '''
    import time

    from docmill import hookimpl
    from docmill.testing.stubs import StubEmbedder, StubVectorStore

    EMBED_SECONDS = 0.08   # per call (one document's chunks)
    STORE_SECONDS = 0.04   # per write


    class SleepyEmbedder(StubEmbedder):
        def embed_documents(self, texts):
            time.sleep(EMBED_SECONDS)
            return super().embed_documents(texts)


    class SleepyStore(StubVectorStore):
        def upsert(self, chunks, vectors, *, doc, version, metadata):
            time.sleep(STORE_SECONDS)
            super().upsert(chunks, vectors, doc=doc, version=version, metadata=metadata)

        def vectors_for(self, hashes):
            return {}


    @hookimpl
    def docmill_register_embedders(register):
        register("sleepy", lambda context: SleepyEmbedder())


    @hookimpl
    def docmill_register_vector_stores(register):
        register("sleepy", lambda context, dimension, model: SleepyStore(dimension, model, {}))
'''


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


@contextmanager
def services(work: Path, chroma_url: str, **extra: str) -> Iterator[dict[str, str]]:
    """A fresh vhost, ledger database and collection; the environment that points at them."""
    vhost, database = f"docmill-bench-{uuid.uuid4().hex[:8]}", f"docmill_b_{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    admin = sqlalchemy.create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {database}")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DOCMILL_")},
           "DOCMILL_BROKER_URL": f"{RABBIT}/{vhost}", "DOCMILL_LEDGER_URL": f"{POSTGRES}/{database}",
           "DOCMILL_PLUGINS__CHROMA__URL": chroma_url, "DOCMILL_COLLECTION": f"bench-{uuid.uuid4().hex[:8]}",
           "DOCMILL_HOME": str(work / "home"), **extra}
    try:
        yield env
    finally:
        rabbitmqctl("delete_vhost", vhost)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.dispose()


def docmill(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "docmill", *args], env=env, check=True, capture_output=True,
                          text=True, timeout=3600)
    return done.stdout


def submit_latency(work: Path, chroma_url: str, count: int) -> dict[str, Any]:
    from docmill.actors.distributed import DistributedClient
    from docmill.app import folder_specs
    from docmill.settings import load_settings

    files = work / "submits"
    files.mkdir()
    for i in range(count + 10):
        (files / f"doc-{i:04}.txt").write_text(f"Document {i} for the submit benchmark. " * 40)
    with services(work, chroma_url) as env:
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            settings = load_settings()
            client = DistributedClient(settings)
            times = []
            for i in range(count + 10):
                specs = folder_specs(settings, [str(files / f"doc-{i:04}.txt")], (), ())
                started = time.perf_counter()
                client.submit(specs, priority=5)
                times.append(time.perf_counter() - started)
            client.close()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        cli_started = time.perf_counter()
        docmill(env, "submit", str(files / "doc-0000.txt"))
        cli_seconds = time.perf_counter() - cli_started
    times = sorted(times[10:])  # the first few warm connections and caches up
    return {"submits": count, "p50_ms": round(1000 * statistics.median(times), 1),
            "p99_ms": round(1000 * times[max(0, int(len(times) * 0.99) - 1)], 1),
            "max_ms": round(1000 * times[-1], 1), "cli_process_s": round(cli_seconds, 2)}


TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """CPU seconds (user and system) used so far by the live processes of ``root``'s tree."""
    parents: dict[int, int] = {}
    spent: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        spent[pid] = (int(fields[11]) + int(fields[12])) / TICK
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(spent.get(pid, 0.0) for pid in tree)


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy (every process: RabbitMQ and PostgreSQL too)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICK


def run_workers(env: dict[str, str], folder: Path, processes: int, threads: int) -> dict[str, Any]:
    """One job through ``docmill worker``: its rate, and the CPU its workers (and the machine) spent per document.

    The workers' CPU is counted from their tree in /proc once they consume, so their start-up is left out;
    the machine's CPU adds the submitting and waiting commands, RabbitMQ and PostgreSQL.
    """
    worker = subprocess.Popen([sys.executable, "-m", "docmill", "worker", "--processes", str(processes),
                               "--threads", str(threads)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)  # processes up and consuming (their start-up is not the pipeline's throughput)
        cpu, machine, started = tree_cpu(worker.pid), machine_cpu(), time.perf_counter()
        job = docmill(env, "submit", str(folder)).strip()
        summary = json.loads(docmill(env, "wait", job, "--json"))
        seconds = time.perf_counter() - started
        cpu, machine = tree_cpu(worker.pid) - cpu, machine_cpu() - machine
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(300)
    done = summary["counts"].get("done", 0)
    return {"processes": processes, "threads": threads, "seconds": round(seconds, 2), "done": done,
            "chunks": summary["chunks"], "docs_per_s": round(done / seconds, 2),
            "chunks_per_s": round(summary["chunks"] / seconds, 2),
            "worker_cpu_ms_per_doc": round(1000 * cpu / max(done, 1), 1),
            "machine_cpu_ms_per_doc": round(1000 * machine / max(done, 1), 1)}


def throughput(work: Path, chroma_url: str, text: int) -> list[dict[str, Any]]:
    from docmill.testing.corpus import build

    corpus = work / "corpus"
    build(corpus, text=text, scanned=0)
    results = []
    # Each model call uses every core by default; two processes on two cores then fight over them,
    # so the last run gives each process one thread for the model.
    for processes, embed_threads in ((1, None), (2, None), (2, 1)):
        extra = {"DOCMILL_PLUGINS__FASTEMBED__THREADS": str(embed_threads)} if embed_threads else {}
        with services(work, chroma_url, **extra) as env:
            result = run_workers(env, corpus / "text", processes, 1)
            results.append({**result, "embed_threads": embed_threads or "all cores"})
    return results


def scaling(work: Path, chroma_url: str, docs: int, counts: list[int]) -> list[dict[str, Any]]:
    from docmill.testing import plugin_dir

    plugins = plugin_dir(work / "standins", "docmill_standins", STANDINS)
    folder = work / "small"
    folder.mkdir()
    for i in range(docs):
        (folder / f"note-{i:04}.txt").write_text(f"Note {i}. " + "Some words to chunk and embed. " * 30)
    results = []
    for processes in counts:
        path = os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH")]))
        extra = {"PYTHONPATH": path, "DOCMILL_EMBEDDER": "sleepy", "DOCMILL_STORE": "sleepy", "DOCMILL_CHUNKER": "text"}
        with services(work, chroma_url, **extra) as env:
            results.append(run_workers(env, folder, processes, 1))
    base = results[0]["docs_per_s"]
    for r in results:
        r["speedup"] = round(r["docs_per_s"] / base, 2)
        r["efficiency"] = round(r["speedup"] / r["processes"], 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--text", type=int, default=16, help="Born-digital PDFs for the throughput run.")
    parser.add_argument("--docs", type=int, default=160, help="Small files for the scaling run.")
    parser.add_argument("--processes", default="1,2,4,8", help="Worker process counts of the scaling run.")
    parser.add_argument("--skip", action="append", default=[], choices=["submit", "throughput", "scaling"])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="docmill-bench-"))
    out = args.out or work
    out.mkdir(parents=True, exist_ok=True)
    from docmill.testing import ChromaServer

    chroma = ChromaServer(work / "chroma")
    chroma.start()
    results: dict[str, Any] = {"cores": os.cpu_count()}
    try:
        if "submit" not in args.skip:
            results["submit"] = submit_latency(work, chroma.url, args.submits)
            print("submit latency:", results["submit"], flush=True)
        if "throughput" not in args.skip:
            results["throughput"] = throughput(work, chroma.url, args.text)
            for r in results["throughput"]:
                print("throughput:", r, flush=True)
        if "scaling" not in args.skip:
            results["scaling"] = scaling(work, chroma.url, args.docs, [int(n) for n in args.processes.split(",")])
            for r in results["scaling"]:
                print("scaling:", r, flush=True)
    finally:
        chroma.stop()
    (out / "distributed.json").write_text(json.dumps(results, indent=2))
    if "scaling" in results:
        report_scaling(results["scaling"])
    print(f"results in {out / 'distributed.json'}")


#: Issue 14's targets for orchestration: worker CPU per document, and the speed-up of 4 processes over one.
CPU_MS_TARGET, SPEEDUP_AT_4_TARGET = 17.0, 3.0


def report_scaling(runs: list[dict[str, Any]]) -> None:
    print("| processes | documents/s | speed-up | worker CPU per document | machine CPU per document | target |")
    print("|---:|---:|---:|---:|---:|---|")
    for r in runs:
        target = {1: f"worker CPU <= {CPU_MS_TARGET:.0f} ms", 4: f"speed-up >= {SPEEDUP_AT_4_TARGET:.0f}x"}.get(
            r["processes"], "")
        print(f"| {r['processes']} | {r['docs_per_s']} | {r['speedup']}x | {r['worker_cpu_ms_per_doc']} ms | "
              f"{r['machine_cpu_ms_per_doc']} ms | {target} |")


if __name__ == "__main__":
    main()
