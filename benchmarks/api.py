"""HTTP API benchmark: uploads from concurrent clients, the time each waits for its 202, and the work done after.

    .venv/bin/python benchmarks/api.py [--documents 200] [--clients 10] [--pdfs 40] [--mode embedded|distributed]
                                       [--rate 0] [--workers-nice 0] [--out DIR]
    .venv/bin/python benchmarks/api.py --fairness [--backlog 500] [--mode embedded|distributed] [--out DIR]

Starts ``docmill api`` (embedded mode: the pipeline runs in the API's process,
with the real model; distributed mode: the API only enqueues, and ``docmill
worker`` processes with the real model do the work, with RabbitMQ,
PostgreSQL and a Chroma server on this machine). ``--clients`` threads upload
``--documents`` files between them, each with its own token, one file per request,
back to back (the API's saturation: ten clients that never pause) or, with
``--rate``, that many uploads a second between them (an open loop) (born-digital PDFs
from docmill.testing.corpus and short notes), each timing its request from
sending to the 202. Then every job is followed until it ends.

Prints the time to 202 (p50, p95, p99, max), the documents accepted and
done, and how long the work took; writes OUT/api.json.

``--fairness`` measures one caller's backlog against another caller's upload
instead (the rule in docs/api.md, "Fair shares"): caller B's one note is
uploaded to the idle API (warmed up by one before) and timed to done; then caller A uploads
``--backlog`` notes, one per request from four threads, and B's note is
uploaded again and timed to done behind them; then the time A's backlog
took. Writes OUT/fairness.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
RABBIT = "amqp://guest:guest@127.0.0.1:5672"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
TARGET_P99 = 0.050


def documents(folder: Path, count: int, pdfs: int) -> list[Path]:
    """``pdfs`` born-digital PDFs and notes to make ``count`` files."""
    from docmill.testing.corpus import build

    files: list[Path] = []
    if pdfs:
        build(folder / "corpus", text=pdfs, scanned=0)
        files = sorted((folder / "corpus" / "text").glob("*.pdf"))[:pdfs]
    notes = folder / "notes"
    notes.mkdir()
    topics = ["tide tables", "ferry timetables", "harbour dues", "crane servicing", "pilot boats", "lighthouse logs"]
    for i in range(count - len(files)):
        note = notes / f"note-{i:04d}.txt"
        note.write_text(f"Note {i} on {topics[i % len(topics)]}: the harbour office records this entry for the "
                        f"week of {1 + i % 52} and asks the crews to read it before their shift. " * 3)
        files.append(note)
    return files


def start_api(root: Path, env: dict[str, str], clients: int) -> tuple[subprocess.Popen[bytes], str, list[str]]:
    """``docmill api`` with a caller (a token) per client."""
    from docmill.api.auth import new_token
    from docmill.testing import free_port

    tokens, tables = [], []
    for i in range(clients):
        token, digest = new_token()
        tokens.append(token)
        tables.append(f'[[api_tokens]]\nname = "client-{i}"\nsha256 = "{digest}"\n')
    (root / "docmill.toml").write_text("\n".join(tables))
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "docmill", "api", "--port", str(port)], cwd=root, env=env,
                               stdout=(root / "api.log").open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                return process, url, tokens
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"docmill api did not start:\n{(root / 'api.log').read_text()[-3000:]}")
        time.sleep(0.2)


def upload_all(url: str, tokens: list[str], files: list[Path], rate: float = 0
               ) -> tuple[list[float], list[tuple[str, str]], int]:
    """Every file uploaded by a thread per token, back to back or (``rate``) that many a second between them;
    seconds to each 202, (token, job id) of each, the refusals."""
    clients = len(tokens)
    waits: list[float] = []
    jobs: list[tuple[str, str]] = []
    refused = [0]
    lock = threading.Lock()
    shares = [files[i::clients] for i in range(clients)]

    def client(token: str, share: list[Path]) -> None:
        every = clients / rate if rate else 0.0
        due = time.perf_counter()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            for path in share:
                if every:  # an open loop: each client sends on its own schedule, whatever the answers take
                    due += every
                    time.sleep(max(0.0, due - time.perf_counter()))
                kind = "application/pdf" if path.suffix == ".pdf" else "text/plain"
                body = path.read_bytes()
                started = time.perf_counter()
                answer = http.post("/v1/documents", files=[("file", (path.name, body, kind))])
                waited = time.perf_counter() - started
                with lock:
                    if answer.status_code == 202:
                        waits.append(waited)
                        jobs.append((token, answer.json()["job_id"]))
                    else:
                        refused[0] += 1

    threads = [threading.Thread(target=client, args=(token, share)) for token, share in zip(tokens, shares,
                                                                                               strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return waits, jobs, refused[0]


def follow(url: str, jobs: list[tuple[str, str]], timeout: float = 3600) -> dict[str, int]:
    """Counts of every job's documents once all have ended."""
    counts: dict[str, int] = {}
    with httpx.Client(base_url=url, timeout=60) as http:
        deadline = time.monotonic() + timeout
        for token, job in jobs:
            while True:
                found = http.get(f"/v1/jobs/{job}", params={"limit": 1},
                                 headers={"Authorization": f"Bearer {token}"}).json()
                if found["finished"]:
                    for state, count in found["counts"].items():
                        counts[state] = counts.get(state, 0) + count
                    break
                if time.monotonic() > deadline:
                    sys.exit(f"job {job} did not finish")
                time.sleep(0.25)
    return counts


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def distributed_env(root: Path, env: dict[str, str], nice: int) -> tuple[dict[str, str], Any]:
    """RabbitMQ vhost, PostgreSQL database, a Chroma server and workers for distributed mode (the workers and
    Chroma at niceness ``nice``); a stopper."""
    import sqlalchemy

    from docmill.testing import ChromaServer

    name = f"docmill_api_{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True)
    admin = sqlalchemy.create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    chroma = ChromaServer(root / "chroma")
    chroma.start()
    assert chroma.process is not None
    os.setpriority(os.PRIO_PROCESS, chroma.process.pid, nice)
    env = {**env, "DOCMILL_BROKER_URL": f"{RABBIT}/{name}", "DOCMILL_LEDGER_URL": f"{POSTGRES}/{name}",
           "DOCMILL_PLUGINS__CHROMA__URL": chroma.url, "DOCMILL_UPLOAD_DIR": str(root / "uploads")}
    worker = subprocess.Popen(["nice", "-n", str(nice), sys.executable, "-m", "docmill", "worker"], cwd=root,
                              env=env, stdout=(root / "worker.log").open("wb"), stderr=subprocess.STDOUT)

    def stop() -> None:
        worker.send_signal(signal.SIGTERM)
        worker.wait(120)
        chroma.stop()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], check=False)

    return env, stop


def _wait_done(http: httpx.Client, token: str, job: str, timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    while not http.get(f"/v1/jobs/{job}", params={"limit": 1},
                       headers={"Authorization": f"Bearer {token}"}).json()["finished"]:
        if time.monotonic() > deadline:
            sys.exit(f"job {job} did not finish")
        time.sleep(0.05)


def fairness(url: str, tokens: list[str], notes: list[Path]) -> dict[str, Any]:
    """Caller B's one note, idle and behind caller A's backlog of ``notes``: seconds to done, and when B's and
    A's last ended, counted from A's first upload."""
    a, b = tokens[:2]

    def one(http: httpx.Client, name: str) -> tuple[float, float]:
        started = time.perf_counter()
        answer = http.post("/v1/documents", headers={"Authorization": f"Bearer {b}"}, files=[
            ("file", (name, b"Caller B's one urgent note on the harbour dues for March. " * 4, "text/plain"))])
        _wait_done(http, b, answer.json()["job_id"])
        return time.perf_counter() - started, time.perf_counter()

    with httpx.Client(base_url=url, timeout=60) as http:
        one(http, "warm-up.txt")  # the first document loads the model
        idle, _ = one(http, "idle.txt")
        started = time.perf_counter()
        _waits, backlog, refused = upload_all(url, [a] * 4, notes)
        submitted = time.perf_counter() - started
        behind, b_ended = one(http, "behind.txt")
        for _, job in backlog:
            _wait_done(http, a, job)
        drained = time.perf_counter() - started
    return {"backlog": len(notes), "refused": refused, "idle_s": idle, "behind_s": behind,
            "backlog_submitted_s": submitted, "b_done_at_s": b_ended - started, "backlog_done_s": drained}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--pdfs", type=int, default=40, help="born-digital PDFs among the documents")
    parser.add_argument("--mode", choices=("embedded", "distributed"), default="embedded")
    parser.add_argument("--rate", type=float, default=0,
                        help="uploads a second between all clients (0: each client sends back to back)")
    parser.add_argument("--workers-nice", type=int, default=0, metavar="N",
                        help="distributed mode: run the workers and Chroma at niceness N (10: the API answers "
                             "first, as when they run on other machines)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--fairness", action="store_true",
                        help="one caller's upload behind another's backlog (docs/api.md, fair shares)")
    parser.add_argument("--backlog", type=int, default=500, help="--fairness: notes in caller A's backlog")
    args = parser.parse_args()
    if args.fairness:
        main_fairness(args)
        return
    root = Path(tempfile.mkdtemp(prefix="docmill-bench-api-"))
    out = args.out or root
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCMILL_")}
    env["DOCMILL_HOME"] = str(root / "home")
    stop_services = None
    try:
        files = documents(root, args.documents, min(args.pdfs, args.documents))
        if args.mode == "distributed":
            env, stop_services = distributed_env(root, env, args.workers_nice)
        process, url, tokens = start_api(root, env, args.clients)
        try:
            started = time.perf_counter()
            waits, jobs, refused = upload_all(url, tokens, files, args.rate)
            uploaded = time.perf_counter() - started
            counts = follow(url, jobs)
            finished = time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(120)
        result = {
            "mode": args.mode, "documents": len(files), "clients": args.clients, "rate": args.rate,
            "workers_nice": args.workers_nice if args.mode == "distributed" else None,
            "accepted": len(waits),
            "refused": refused, "counts": counts, "upload_s": uploaded, "all_done_s": finished,
            "to_202_ms": {"p50": 1000 * statistics.median(waits), "p95": 1000 * percentile(waits, 0.95),
                          "p99": 1000 * percentile(waits, 0.99), "max": 1000 * max(waits)},
        }
    finally:
        if stop_services is not None:
            stop_services()
    out.mkdir(parents=True, exist_ok=True)
    (out / "api.json").write_text(json.dumps(result, indent=1))
    t = result["to_202_ms"]
    pace = f"{args.rate:g} uploads a second between them" if args.rate else "each back to back"
    nice = f", workers at nice {args.workers_nice}" if result["workers_nice"] else ""
    print(f"\n{result['mode']} mode: {result['documents']} documents from {result['clients']} clients, {pace}{nice}")
    print("| measure | value | target |\n|---|---|---|")
    print(f"| accepted (202) | {result['accepted']} of {result['documents']} ({refused} refused) | all |")
    print(f"| time to 202, p50 / p95 / p99 / max | {t['p50']:.1f} / {t['p95']:.1f} / {t['p99']:.1f} / "
          f"{t['max']:.1f} ms | p99 < {1000 * TARGET_P99:.0f} ms |")
    print(f"| every document ended | {counts} | all done |")
    print(f"| uploads took / all done after | {uploaded:.1f} s / {finished:.1f} s | |")
    print(f"\nresults in {out / 'api.json'}")
    shutil.rmtree(root / "home", ignore_errors=True)


def main_fairness(args: Any) -> None:
    root = Path(tempfile.mkdtemp(prefix="docmill-bench-fair-"))
    out = args.out or root
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCMILL_")}
    env.update({"DOCMILL_HOME": str(root / "home"), "DOCMILL_API_RATE_LIMIT": "1000"})
    stop_services = None
    try:
        notes = documents(root, args.backlog, 0)
        if args.mode == "distributed":
            env, stop_services = distributed_env(root, env, args.workers_nice)
        process, url, tokens = start_api(root, env, 2)
        try:
            result = {"mode": args.mode, **fairness(url, tokens, notes)}
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(120)
    finally:
        if stop_services is not None:
            stop_services()
    out.mkdir(parents=True, exist_ok=True)
    (out / "fairness.json").write_text(json.dumps(result, indent=1))
    r = result
    print(f"\n{r['mode']} mode: caller B's one note, alone and behind caller A's {r['backlog']} notes "
          f"(one per request, sent in {r['backlog_submitted_s']:.1f} s)")
    print("| measure | value |\n|---|---|")
    print(f"| B's note, idle API: time to done | {r['idle_s']:.2f} s |")
    print(f"| B's note behind A's backlog: time to done | {r['behind_s']:.2f} s "
          f"({r['behind_s'] / r['idle_s']:.1f}x idle) |")
    print(f"| B's note ended / A's backlog ended, after A's first upload | {r['b_done_at_s']:.1f} s / "
          f"{r['backlog_done_s']:.1f} s |")
    print(f"\nresults in {out / 'fairness.json'}")
    shutil.rmtree(root / "home", ignore_errors=True)


if __name__ == "__main__":
    main()
