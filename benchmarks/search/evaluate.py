"""Search quality over the labelled queries: right document and right page in the top 5, MRR@10, per kind.

    .venv/bin/python benchmarks/search/evaluate.py [--corpus DIR] [--home DIR] [--out DIR] [--rankers ...]

Builds the corpus (corpus.py; or uses --corpus), checks every label (check_queries.py), ingests the corpus
once into a fresh temporary home with this checkout's ``docmill ingest`` (or uses an ingested --home: an
index of an older release gains its keyword index on opening), and exports its chunks. Then every query goes
to each ranker (rankers.py):

* ``dense``, ``keyword``, ``hybrid``: docmill's own search in each mode (``app.reports.ranked``, what
  ``docmill search --mode`` and ``GET /v1/search?mode=`` run; the embedded default: Chroma and SQLite FTS5),
  over the index opened once in this process; a sample of queries is checked against ``docmill search``
  commands;
* ``bm25``: the reference BM25 over the exported chunk texts (no folding, no identifiers);
* what the product's fusion was chosen against, over the same dense and keyword lists (top 50 each):
  ``rrf`` (reciprocal-rank fusion, k = 60, equal weights), ``rrf-k2`` (the keyword side weighted 2),
  ``convex-0.5`` (min-max scaled scores, a fixed keyword weight of 0.5);
* ``keyword-pg``, ``hybrid-pg``: the PostgreSQL keyword index (the distributed one) filled with the same
  chunks, alone and fused with the dense side (``DOCMILL_BENCH_POSTGRES``, default the local ``test``
  database; left out when it cannot be reached).

A ranker is any ``rank(query, k) -> list[Hit]``; ``evaluate()`` takes a dict of them.

Per query, over the ranked hits as returned (chunks; two chunks of one page are two ranks):
* doc@5: a hit of the labelled document among the first 5;
* page@5: a hit of the labelled document on a labelled page among the first 5;
* MRR@10: 1 / the rank of the first such page hit among the first 10 (0 if none).
Prints the table and the queries the dense search misses at page level; writes OUT/search.json with the
figures, the timings and every query's top 10 per ranker.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import check_queries
import corpus as builder
from pages import normal
from rankers import (
    BM25,
    Cached,
    DocmillDense,
    DocmillSearch,
    Fused,
    Fusion,
    Hit,
    KeywordOnly,
    Ranker,
    docmill,
    docmill_env,
    export,
    fill,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
KINDS = ("exact", "semantic", "all")
#: Every ranker this script knows, in the order the table lists them (module docstring).
RANKERS = ("dense", "keyword", "hybrid", "bm25", "rrf", "rrf-k2", "convex-0.5", "keyword-pg", "hybrid-pg")
#: The PostgreSQL database the keyword-pg rows use (a table of their own, dropped afterwards).
POSTGRES = os.environ.get("DOCMILL_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def judge(query: Mapping[str, Any], hits: Sequence[Hit]) -> dict[str, Any]:
    """One query's figures from its ranked hits."""
    pages = set(check_queries.answer_pages(query))
    right_doc = [hit.doc == query["doc"] for hit in hits]
    right_page = [hit.doc == query["doc"] and hit.page in pages for hit in hits]
    first = next((rank for rank, ok in enumerate(right_page[:10], start=1) if ok), None)
    return {"doc@5": any(right_doc[:5]), "page@5": any(right_page[:5]), "rr@10": 1 / first if first else 0.0,
            "rank": first}


def evaluate(queries: Sequence[Mapping[str, Any]], rankers: Mapping[str, Ranker], k: int = 10,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every query through every ranker: per ranker, each query's figures and top ``k``, and the seconds taken."""
    results: dict[str, Any] = {}
    for name, rank in rankers.items():
        started, per_query = time.perf_counter(), []
        for number, query in enumerate(queries, start=1):
            hits = [Hit(*hit) for hit in rank(query["query"], k)][:k]
            per_query.append({"id": query["id"], **judge(query, hits),
                              "top": [[hit.doc, hit.page, round(hit.score, 4)] for hit in hits]})
            if progress:
                progress(f"{name}: {number}/{len(queries)} queries")
        results[name] = {"queries": per_query, "seconds": time.perf_counter() - started}
    return results


def summarise(queries: Sequence[Mapping[str, Any]], results: Mapping[str, Any]) -> dict[str, Any]:
    """Per ranker and kind (and "all"): the number of queries, doc@5, page@5 and MRR@10."""
    kind = {q["id"]: q["kind"] for q in queries}
    summary: dict[str, Any] = {}
    for name, result in results.items():
        summary[name] = {}
        for wanted in KINDS:
            rows = [r for r in result["queries"] if wanted == "all" or kind[r["id"]] == wanted]
            count = len(rows) or 1
            summary[name][wanted] = {"n": len(rows), "doc@5": sum(r["doc@5"] for r in rows) / count,
                                     "page@5": sum(r["page@5"] for r in rows) / count,
                                     "mrr@10": sum(r["rr@10"] for r in rows) / count}
    return summary


def table(summary: Mapping[str, Any]) -> str:
    """The figures as a text table: a row per ranker, doc@5, page@5 and MRR@10 per kind."""
    counts = next(iter(summary.values()))
    head = f"{'':8}" + "".join(f"   {kind + ' (' + str(counts[kind]['n']) + ')':<21}" for kind in KINDS)
    lines = [head.rstrip(), f"{'ranker':8}" + "   doc@5 page@5 MRR@10" * len(KINDS)]
    for name, kinds in summary.items():
        lines.append(f"{name:8}" + "".join(
            f"   {kinds[k]['doc@5']:5.2f} {kinds[k]['page@5']:6.2f} {kinds[k]['mrr@10']:6.3f}" for k in KINDS))
    return "\n".join(lines)


class Convex:
    """Min-max scaled scores of the two sides, added with a fixed keyword weight (what the product's weight, which
    follows the query, is compared with)."""

    def __init__(self, dense: Ranker, keyword: Ranker, weight: float, depth: int = 50) -> None:
        self.dense, self.keyword, self.weight, self.depth = dense, keyword, weight, depth

    def __call__(self, query: str, k: int) -> list[Hit]:
        def scaled(hits: list[Hit]) -> dict[Any, float]:
            if not hits:
                return {}
            low, high = min(h.score for h in hits), max(h.score for h in hits)
            return {h.chunk: (h.score - low) / (high - low) if high > low else 1.0 for h in hits}

        dense, keyword = self.dense(query, self.depth), self.keyword(query, self.depth)
        on_dense, on_keyword = scaled(dense), scaled(keyword)
        first = {h.chunk: h for h in (*keyword, *dense)}
        score = {c: (1 - self.weight) * on_dense.get(c, 0.0) + self.weight * on_keyword.get(c, 0.0) for c in first}
        return [first[c]._replace(score=score[c]) for c in sorted(first, key=lambda c: -score[c])[:k]]


class WeightedFusion(Fusion):
    """Reciprocal-rank fusion with a weight per ranker."""

    def __init__(self, rankers: Sequence[Ranker], weights: Sequence[float], k: int = 60, depth: int = 50) -> None:
        super().__init__(rankers, k, depth)
        self.weights = list(weights)

    def fuse(self, lists: Sequence[Sequence[Hit]], k: int) -> list[Hit]:
        scores: dict[Any, float] = {}
        first: dict[Any, Hit] = {}
        for weight, hits in zip(self.weights, lists, strict=True):
            for rank, hit in enumerate(hits, start=1):
                scores[hit.chunk] = scores.get(hit.chunk, 0.0) + weight / (self.k + rank)
                first.setdefault(hit.chunk, hit)
        best = sorted(scores, key=lambda key: -scores[key])[:k]
        return [first[key]._replace(score=scores[key]) for key in best]


def postgres_index(chunks: Sequence[Mapping[str, Any]]) -> Any:
    """docmill's PostgreSQL keyword index filled with the chunks, in a table of its own; None when PostgreSQL
    cannot be reached."""
    from docmill.core.errors import DocmillError
    from docmill.plugins.postgres_keywords import PostgresKeywords

    try:
        index = PostgresKeywords(POSTGRES, f"bench-{os.getpid()}")
    except DocmillError as exc:
        print(f"note: no keyword-pg rows: PostgreSQL at {POSTGRES.split('@')[-1]} is not reachable ({exc})")
        return None
    return fill(index, chunks)


def drop_postgres_index(index: Any) -> None:
    with index._engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {index._table}")
        conn.exec_driver_sql("DELETE FROM docmill_keyword_tables WHERE name = %s", (index._table.strip('"'),))
    index.close()


def labels_in_chunks(queries: Sequence[Mapping[str, Any]], chunks: Sequence[Mapping[str, Any]]) -> list[str]:
    """Queries whose evidence no chunk of the labelled page holds: where docmill's pages and the labels disagree."""
    by_page: dict[tuple[str, Any], list[str]] = {}
    for chunk in chunks:
        by_page.setdefault((chunk["doc"], chunk["page"]), []).append(normal(chunk["text"]))
    return [q["id"] for q in queries
            if not any(normal(q["evidence"]) in text for text in by_page.get((q["doc"], q["page"]), []))]


def machine() -> dict[str, Any]:
    revision = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "cores": len(os.sched_getaffinity(0)), "load_at_start": os.getloadavg(),
            "python": platform.python_version(), "platform": platform.platform(), "revision": revision}


def ingest(docs: Path, home: Path) -> tuple[float, dict[str, Any]]:
    """``docmill ingest DOCS`` into ``home``: wall seconds and the summary; RuntimeError unless all are done."""
    started = time.perf_counter()
    summary: dict[str, Any] = json.loads(docmill(home, "ingest", str(docs), "--json"))
    seconds = time.perf_counter() - started
    wanted = len(list(docs.glob("*.pdf")))
    if summary.get("done") != wanted:
        raise RuntimeError(f"docmill ingest did not finish all {wanted} documents: {json.dumps(summary)}")
    return seconds, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="a corpus built by corpus.py (default: build one)")
    parser.add_argument("--home", type=Path, help="a DOCMILL_HOME holding the ingested corpus, or where to ingest "
                                                  "it and keep it (default: ingest into a temporary one)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", help="where search.json goes")
    parser.add_argument("--rankers", default=",".join(RANKERS), help=f"which of {', '.join(RANKERS)} to run")
    parser.add_argument("--depth", type=int, default=50, help="how deep fusion reads each ranker (default 50)")
    args = parser.parse_args()
    wanted = args.rankers.split(",")
    unknown = set(wanted) - set(RANKERS)
    if unknown:
        parser.error(f"unknown ranker(s): {', '.join(sorted(unknown))}")

    def say(text: str) -> None:
        print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)

    about = machine()
    queries = check_queries.load()
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="docmill-search-") as scratch:
        corpus = args.corpus
        if corpus is None:
            corpus = Path(scratch) / "corpus"
            say("building the corpus ...")
            started = time.perf_counter()
            builder.build(corpus)
            timings["corpus_build_s"] = time.perf_counter() - started
        wrong = check_queries.problems(queries, corpus / "docs")
        if wrong:
            sys.exit("evaluate.py: the labels do not hold for this corpus:\n" + "\n".join(wrong))
        home = args.home
        ingest_summary = None
        if home is None or not (home / "ledger.db").exists():
            home = home or Path(scratch) / "home"
            say("docmill ingest of the corpus (a few minutes) ...")
            timings["ingest_s"], ingest_summary = ingest(corpus / "docs", home)
        say("docmill export ...")
        started = time.perf_counter()
        chunks = export(home)
        timings["export_s"] = time.perf_counter() - started
        unmatched = labels_in_chunks(queries, chunks)

        # docmill's own ranking in this process, over the index opened once (what `docmill search` and the API
        # run); checked below against `docmill search` commands on a sample of queries.
        from docmill.core.runtime import Runtime
        from docmill.settings import Settings

        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(docmill_env(home))
        runtime = Runtime(Settings())
        os.environ.clear()
        os.environ.update(saved)
        pg = postgres_index(chunks) if {"keyword-pg", "hybrid-pg"} & set(wanted) else None
        try:
            product = {mode: DocmillSearch(runtime, mode) for mode in ("dense", "keyword", "hybrid")}
            dense, keyword = Cached(product["dense"], args.depth), Cached(product["keyword"], args.depth)
            bm25 = Cached(BM25(chunks), args.depth)
            every: dict[str, Ranker] = {
                "dense": dense, "keyword": keyword, "hybrid": product["hybrid"], "bm25": bm25,
                "rrf": Fusion([dense, keyword], k=60, depth=args.depth),
                "rrf-k2": WeightedFusion([dense, keyword], [1.0, 2.0], k=60, depth=args.depth),
                "convex-0.5": Convex(dense, keyword, 0.5, depth=args.depth)}
            if pg is not None:
                every["keyword-pg"] = KeywordOnly(pg)
                every["hybrid-pg"] = Fused(product["dense"], pg, depth=args.depth)
            rankers = {name: every[name] for name in wanted if name in every}
            results = evaluate(queries, rankers, progress=say)
            say("checking `docmill search --mode hybrid -k 10` commands against the same ranking in this process ...")
            differing = [q["id"] for q in queries[:: max(1, len(queries) // 5)]
                         if [h.chunk for h in DocmillDense(home, "hybrid")(q["query"], 10)]
                         != [h.chunk for h in product["hybrid"](q["query"], 10)]]
        finally:
            runtime.close()
            if pg is not None:
                drop_postgres_index(pg)
        say("")
    summary = summarise(queries, results)
    for name, result in results.items():
        timings[f"{name}_s_per_query"] = result["seconds"] / len(queries)

    print(f"{len(queries)} queries over {len(chunks)} chunks; {about['date']}, {about['cores']} cores, "
          f"load {about['load_at_start'][0]:.1f}, docmill {about['revision']}")
    print(table(summary))
    print("times: " + ", ".join(f"{key} {value:.2f}" for key, value in timings.items()))
    if differing:
        print(f"warning: `docmill search --mode hybrid -k 10` ranks differently from this process for "
              f"{', '.join(differing)}")
    if unmatched:
        print(f"warning: no chunk of the labelled page holds the evidence of {', '.join(unmatched)}")
    if "dense" in results:
        ranks = {name: {r["id"]: r["rank"] for r in result["queries"]} for name, result in results.items()}
        found = {r["id"] for r in results["dense"]["queries"] if r["page@5"]}
        missed = [q for q in queries if q["id"] not in found]
        print(f"\nqueries dense misses at page level in the top 5 ({len(missed)}); rank of the first right page:")
        for q in missed:
            places = " ".join(f"{name} {ranks[name][q['id']] or '-':>2}" for name in ranks)
            print(f"  {q['id']} {q['kind']:<8} {places}  {q['query'][:70]}")
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"machine": about, "timings": timings, "chunks": len(chunks),
              "ingest": ingest_summary, "unmatched_labels": unmatched, "summary": summary, "results": results}
    (args.out / "search.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    print(f"-> {args.out / 'search.json'}")


if __name__ == "__main__":
    main()
