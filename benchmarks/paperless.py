"""Syncing a Paperless-ngx archive: first sync, incremental sync, full re-listing, side by side in one run.

Serves ``--docs`` generated one-page PDFs from docmill's Paperless look-alike
(``docmill.testing.paperless``) on 127.0.0.1 and runs ``docmill sync`` in
embedded mode against it, as a user would:

* the first sync (every document listed, downloaded, extracted, embedded, stored);
* an incremental sync after ``--modify`` documents were modified and
  ``--delete`` deleted;
* ``sync --full`` with nothing changed (everything listed again, nothing processed);
* an incremental sync with nothing changed.

For each: wall time, requests by kind (list pages, downloads, lookups,
others) and what the sync reported. Results go to
``benchmarks/results/paperless.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from sync_run import timed_sync  # benchmarks/sync_run.py: run as a script, benchmarks/ is on the path

from docmill.testing.paperless import PaperlessServer

TOKEN = "benchmark-token"
RESULTS = Path(__file__).parent / "results"


def _kinds(server: PaperlessServer, since: int) -> dict[str, int]:
    kinds: Counter[str] = Counter()
    for r in server.requests[since:]:
        if r.path.endswith("/download/"):
            kinds["downloads"] += 1
        elif r.path == "/api/documents/" and "id__in" in r.query:
            kinds["id_confirmations"] += 1
        elif r.path == "/api/documents/" and r.query.get("page_size") == "1":
            kinds["tie_counts"] += 1
        elif r.path == "/api/documents/" and r.query.get("fields") == "id":
            kinds["id_listing"] += 1
        elif r.path == "/api/documents/":
            kinds["list_pages"] += 1
        else:
            kinds["lookups"] += 1
    return dict(kinds)


def _sync(work: Path, env: dict[str, str], server: PaperlessServer, *args: str) -> dict[str, Any]:
    since = len(server.requests)
    seconds, found = timed_sync(work, env, "archive", *args)
    return {"seconds": round(seconds, 2), "requests": _kinds(server, since),
            **{k: found[k] for k in ("new", "changed", "deleted", "unchanged", "failed", "chunks")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--modify", type=int, default=10)
    parser.add_argument("--delete", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="docmill-bench-paperless-") as tmp, \
            PaperlessServer(args.docs, TOKEN, tie=250) as server:
        work = Path(tmp)
        (work / "docmill.toml").write_text(
            f'[[sources]]\nname = "archive"\ntype = "paperless"\nurl = "{server.url}"\n'
            f'page_size = {args.page_size}\nrequests_per_second = 0\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCMILL_")}
        env.update(DOCMILL_HOME=str(work / "home"), DOCMILL_SOURCES__0__TOKEN=TOKEN)
        results: dict[str, Any] = {"docs": args.docs, "page_size": args.page_size}
        print(f"first sync of {args.docs} documents...", file=sys.stderr)
        results["first"] = _sync(work, env, server)
        rng = random.Random(5)
        chosen = rng.sample(sorted(server.documents), args.modify + args.delete)
        server.modify(chosen[:args.modify])
        server.delete(chosen[args.modify:])
        results["incremental_after_changes"] = _sync(work, env, server)
        results["full_unchanged"] = _sync(work, env, server, "--full")
        results["incremental_unchanged"] = _sync(work, env, server)

    first = results["first"]
    results["first_docs_per_s"] = round(args.docs / first["seconds"], 1)
    for name in ("incremental_after_changes", "full_unchanged", "incremental_unchanged"):
        results[f"{name}_vs_first"] = round(results[name]["seconds"] / first["seconds"], 4)
    results["incremental_unchanged_vs_full"] = round(
        results["incremental_unchanged"]["seconds"] / results["full_unchanged"]["seconds"], 3)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "paperless.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
