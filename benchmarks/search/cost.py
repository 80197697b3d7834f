"""What hybrid search costs, side by side in one run: ingest, search latency, size on disk, and at 200,000 chunks.

    .venv/bin/python benchmarks/search/cost.py --home HOME [--pdfs 16] [--rounds 2] [--chunks 200000] [--out DIR]

HOME is an index of the search corpus (evaluate.py makes one; ``make bench-search`` passes it on). Measured:

1. **Ingest with and without the keyword index**: the born-digital PDFs of ``make bench``'s generator
   (``docmill.testing.corpus``, --pdfs of them) ingested into fresh homes with ``DOCMILL_KEYWORD_INDEX=none``
   and the default, alternating for --rounds rounds (the best of each is compared), and the keyword index's
   own share: the time writing the same chunks into a fresh SQLite keyword index takes, against the ingest.
2. **Warm search latency through ``docmill api``**: 100 queries of queries.jsonl, each in hybrid and dense
   mode in turn, over HTTP on HOME: p50 and p95.
3. **The whole command**: ``docmill search`` in hybrid and dense mode, alternating, 5 times each: median.
4. **Size on disk per 1,000 chunks**: the SQLite keyword index, PostgreSQL's table with its indexes (the
   chunks written into a table of their own, if PostgreSQL is reachable), and the Chroma store beside them.
5. **At scale**: --chunks chunks (HOME's chunk texts repeated, each copy a document of its own, with the
   stub embedder's vectors: docmill.testing.stubs) written straight into a Chroma store and a SQLite keyword
   index, then 100 queries in hybrid and dense mode in this process, warm: p50 and p95 (target: hybrid p95
   at most 50 ms at 200,000 chunks).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import api as api_bench  # noqa: E402 - benchmarks/api.py: start_api, percentile
import check_queries  # noqa: E402
from rankers import docmill_env, export  # noqa: E402

POSTGRES = os.environ.get("DOCMILL_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def percentile(values: Sequence[float], share: float) -> float:
    return float(api_bench.percentile(list(values), share))


def run(home: Path, *args: str, env: dict[str, str] | None = None) -> float:
    """Seconds ``docmill ARGS`` takes on ``home`` as a whole command."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "docmill", *args], env={**docmill_env(home), **(env or {})}, check=True,
                   capture_output=True)
    return time.perf_counter() - started


def ingest_cost(pdfs: int, rounds: int, scratch: Path) -> dict[str, Any]:
    """Ingests with and without the keyword index, alternating; and the keyword index's own writing time."""
    from rankers import fill

    from docmill.plugins.sqlite_keywords import SqliteKeywords
    from docmill.testing.corpus import build

    corpus = scratch / "corpus"
    build(corpus, text=pdfs, scanned=0)
    folder = corpus / "text"
    times: dict[str, list[float]] = {"none": [], "sqlite": []}
    for round_ in range(rounds):
        for kind in ("none", "sqlite"):
            home = scratch / f"ingest-{kind}-{round_}"
            times[kind].append(run(home, "ingest", str(folder), env={"DOCMILL_KEYWORD_INDEX": kind}))
    chunks = export(scratch / f"ingest-sqlite-{rounds - 1}")
    index = SqliteKeywords(scratch / "alone.sqlite3")
    started = time.perf_counter()
    fill(index, chunks)
    writing = time.perf_counter() - started
    index.close()
    best = {kind: min(values) for kind, values in times.items()}
    return {"pdfs": pdfs, "chunks": len(chunks), "seconds": times, "best": best,
            "ratio": best["sqlite"] / best["none"], "keyword_writes_s": writing,
            "keyword_share": writing / best["none"]}


def api_latency(home: Path, queries: Sequence[str], scratch: Path) -> dict[str, Any]:
    """p50 and p95 of warm ``GET /v1/search`` in hybrid and dense mode, alternating query by query."""
    import httpx

    root = scratch / "api"
    root.mkdir()
    env = docmill_env(home)
    process, url, tokens = api_bench.start_api(root, env, 1)
    seconds: dict[str, list[float]] = {"hybrid": [], "dense": []}
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=60) as http:
            for mode in seconds:  # warm both paths first
                http.get("/v1/search", params={"q": "warm up", "mode": mode}).raise_for_status()
            for query in queries:
                for mode in seconds:
                    started = time.perf_counter()
                    http.get("/v1/search", params={"q": query, "k": 5, "mode": mode}).raise_for_status()
                    seconds[mode].append(time.perf_counter() - started)
    finally:
        process.terminate()
        process.wait(timeout=60)
    return {mode: {"p50_ms": 1000 * percentile(v, 0.5), "p95_ms": 1000 * percentile(v, 0.95), "n": len(v)}
            for mode, v in seconds.items()}


def command_time(home: Path, query: str, runs: int = 5) -> dict[str, float]:
    """Median seconds of ``docmill search`` as a whole command, hybrid and dense alternating."""
    seconds: dict[str, list[float]] = {"hybrid": [], "dense": []}
    for _ in range(runs):
        for mode in seconds:
            seconds[mode].append(run(home, "search", query, "--mode", mode))
    return {mode: statistics.median(v) for mode, v in seconds.items()}


def sizes(home: Path, chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Bytes on disk per 1,000 chunks: the SQLite keyword index, PostgreSQL's table, the Chroma store."""
    def tree(path: Path) -> int:
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())

    per = 1000 / len(chunks)
    found: dict[str, Any] = {"chunks": len(chunks), "sqlite_per_1000": tree(home / "keywords") * per,
                             "chroma_per_1000": tree(home / "chroma") * per}
    try:
        from evaluate import drop_postgres_index
        from rankers import fill

        from docmill.plugins.postgres_keywords import PostgresKeywords

        index = fill(PostgresKeywords(POSTGRES, f"size-{os.getpid()}"), chunks)
    except Exception as exc:  # PostgreSQL is optional here: say why its row is missing
        found["postgres_note"] = f"not measured: {exc}"
        return found
    try:
        with index._engine.connect() as conn:
            size = conn.exec_driver_sql("SELECT pg_total_relation_size(%s::regclass)", (index._table,)).scalar()
        found["postgres_per_1000"] = int(size) * per
    finally:
        drop_postgres_index(index)
    return found


def at_scale(home: Path, total: int, queries: Sequence[str], scratch: Path) -> dict[str, Any]:
    """A store and keyword index of ``total`` chunks (stub vectors); warm p50 and p95 per mode, in this process."""
    from docmill.app.reports import ranked
    from docmill.core.indexes import paired
    from docmill.core.values import Chunk, text_hash
    from docmill.plugins.chroma_store import ChromaStore
    from docmill.plugins.sqlite_keywords import SqliteKeywords
    from docmill.testing.stubs import StubEmbedder

    texts = [c["text"] for c in export(home)]
    embedder = StubEmbedder()
    store = paired(ChromaStore(str(scratch / "scale" / "chroma"), "scale", dimension=embedder.dimension,
                               model=embedder.model),
                   SqliteKeywords(scratch / "scale" / "keywords.sqlite3"))
    started, written, copy = time.perf_counter(), 0, 0
    vectors = embedder.embed_documents(texts)
    try:
        while written < total:
            part = texts[:min(len(texts), total - written)]
            key = f"scale:{copy}"
            # each copy a document of its own, its text marked so that no two chunks are one text
            marked = [f"{text} [copy {copy}]" for text in part]
            chunks = [Chunk(f"{copy:06d}-{i:05d}", key, i, 1, t, text_hash(t)) for i, t in enumerate(marked)]
            for start in range(0, len(chunks), 500):
                end = min(start + 500, len(chunks))
                store.upsert(chunks[start:end], vectors[start:end], doc=f"copy-{copy}.pdf",
                             version=1, metadata={"source": "scale", "access": "shared"})
            written += len(part)
            copy += 1
            print(f"\r\033[Kscale: {written:,} of {total:,} chunks written", end="", file=sys.stderr, flush=True)
        build_s = time.perf_counter() - started
        seconds: dict[str, list[float]] = {"hybrid": [], "dense": []}
        for mode in seconds:
            ranked(store, embedder.embed_query, "warm up", 5, (), mode)
        for query in queries:
            for mode in seconds:
                began = time.perf_counter()
                ranked(store, embedder.embed_query, query, 5, (), mode)
                seconds[mode].append(time.perf_counter() - began)
        return {"chunks": written, "build_s": build_s,
                **{mode: {"p50_ms": 1000 * percentile(v, 0.5), "p95_ms": 1000 * percentile(v, 0.95)}
                   for mode, v in seconds.items()}}
    finally:
        store.close()
        print("", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="an index of the search corpus (evaluate.py)")
    parser.add_argument("--pdfs", type=int, default=16, help="born-digital PDFs in the ingest comparison")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--chunks", type=int, default=200_000)
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: ingest,api,cli,size,scale")
    parser.add_argument("--out", type=Path, default=HERE.parent / "results")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    queries = [q["query"] for q in check_queries.load()][:100]
    found: dict[str, Any] = {}
    steps: dict[str, Callable[[Path], Any]] = {
        "ingest": lambda scratch: ingest_cost(args.pdfs, args.rounds, scratch),
        "api": lambda scratch: api_latency(args.home, queries, scratch),
        "cli": lambda scratch: command_time(args.home, "INV-0042"),
        "size": lambda scratch: sizes(args.home, export(args.home)),
        "scale": lambda scratch: at_scale(args.home, args.chunks, queries, scratch),
    }
    with tempfile.TemporaryDirectory(prefix="docmill-search-cost-") as scratch:
        for name, step in steps.items():
            if name in skip:
                continue
            print(f"cost: {name} ...", file=sys.stderr, flush=True)
            place = Path(scratch) / name
            place.mkdir()
            found[name] = step(place)
            shutil.rmtree(place, ignore_errors=True)
            args.out.mkdir(parents=True, exist_ok=True)  # kept as it goes: a long run cut short keeps what it measured
            (args.out / "search-cost.json").write_text(json.dumps(found, indent=1) + "\n")
    print(report(found))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "search-cost.json").write_text(json.dumps(found, indent=1) + "\n")
    print(f"-> {args.out / 'search-cost.json'}")


def report(found: dict[str, Any]) -> str:
    """The cost table, as ratios first."""
    lines = ["cost                                               with keywords / hybrid   without / dense    ratio"]
    if "ingest" in found:
        i = found["ingest"]
        lines.append(f"ingest of {i['pdfs']} PDFs ({i['chunks']} chunks), best of {len(i['seconds']['none'])}"
                     f"{'':7}{i['best']['sqlite']:8.1f} s {i['best']['none']:15.1f} s {i['ratio']:8.3f}")
        lines.append(f"  the keyword index's own writes: {i['keyword_writes_s']:.2f} s, "
                     f"{100 * i['keyword_share']:.1f}% of the ingest")
    if "api" in found:
        a = found["api"]
        for p in ("p50", "p95"):
            lines.append(f"docmill api, GET /v1/search warm, {p} ({a['hybrid']['n']} queries)"
                         f"{'':5}{a['hybrid'][p + '_ms']:8.1f} ms {a['dense'][p + '_ms']:14.1f} ms "
                         f"{a['hybrid'][p + '_ms'] / a['dense'][p + '_ms']:8.2f}")
    if "cli" in found:
        c = found["cli"]
        lines.append(f"docmill search, whole command, median of 5{'':9}{c['hybrid']:8.2f} s {c['dense']:15.2f} s "
                     f"{c['hybrid'] / c['dense']:8.2f}")
    if "size" in found:
        s = found["size"]
        pg = f"{s['postgres_per_1000'] / 1e6:.2f} MB" if "postgres_per_1000" in s else s.get("postgres_note", "")
        lines.append(f"size on disk per 1,000 chunks ({s['chunks']} chunks): SQLite keyword index "
                     f"{s['sqlite_per_1000'] / 1e6:.2f} MB, PostgreSQL table {pg}, Chroma store "
                     f"{s['chroma_per_1000'] / 1e6:.2f} MB")
    if "scale" in found:
        s = found["scale"]
        for p in ("p50", "p95"):
            lines.append(f"{s['chunks']:,} chunks (stub embedder), warm, {p}{'':15}{s['hybrid'][p + '_ms']:8.1f} ms "
                         f"{s['dense'][p + '_ms']:14.1f} ms {s['hybrid'][p + '_ms'] / s['dense'][p + '_ms']:8.2f}")
        lines.append(f"  (built in {s['build_s']:.0f} s; target: hybrid p95 at most 50 ms)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
