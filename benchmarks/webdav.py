"""Syncing a WebDAV share of 10,000 files served by a real Apache (mod_dav_fs), with the stub embedder.

Starts ``docmill.testing.webdav.ApacheDav`` on 127.0.0.1 with ``--files``
small text files in ``--folders`` folders (two levels deep) and runs
``docmill sync`` in embedded mode against it, as a user would:

* the first sync (every folder listed, every file downloaded and indexed);
* an incremental sync after ``--changes`` changes: a third edited, a third
  added, a third deleted (it must touch exactly those);
* ``sync --full`` and a plain sync with nothing changed.

For each: wall time, what the sync reported, and the requests Apache's own
access log shows (PROPFINDs by Depth, GETs). Results go to
``benchmarks/results/webdav.json``.
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

from docmill.testing import plugin_dir
from docmill.testing.webdav import ApacheDav

PASSWORD = "benchmark-password"
RESULTS = Path(__file__).parent / "results"
STUB_EMBEDDER = '''
from docmill import hookimpl
from docmill.testing.stubs import StubEmbedder


@hookimpl
def docmill_register_embedders(register):
    register("stub", lambda context: StubEmbedder())
'''


def _sync(work: Path, env: dict[str, str], dav: ApacheDav, *args: str) -> dict[str, Any]:
    since = len(dav.requests())
    seconds, found = timed_sync(work, env, "share", *args)
    asked = Counter(f"{r.method} depth {r.depth}" if r.method == "PROPFIND" else r.method
                    for r in dav.requests()[since:])
    return {"seconds": round(seconds, 2), "requests": dict(asked),
            **{k: found[k] for k in ("new", "changed", "deleted", "unchanged", "failed", "chunks")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--folders", type=int, default=100)
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="docmill-bench-webdav-") as tmp, ApacheDav("bench", PASSWORD) as dav:
        work = Path(tmp)
        paths = [f"team-{(i % args.folders) // 10:02d}/folder-{i % args.folders:03d}/note-{i:05d}.txt"
                 for i in range(args.files)]
        for i, path in enumerate(paths):
            dav.write(path, f"Note {i}: the quarterly figures for project {i % 97}, filed by team {i % 13}.\n")
        plugins = plugin_dir(work / "stub", "docmill_bench_stub", STUB_EMBEDDER)
        (work / "docmill.toml").write_text(f'[[sources]]\nname = "share"\ntype = "webdav"\nurl = "{dav.url}"\n'
                                           'user = "bench"\nallow_hosts = ["127.0.0.1"]\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCMILL_")}
        env.update(DOCMILL_HOME=str(work / "home"), DOCMILL_SOURCES__0__TOKEN=PASSWORD, DOCMILL_EMBEDDER="stub",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(plugins), env.get("PYTHONPATH")])))
        folders = len({p.rsplit("/", 1)[0] for p in paths}) + len({p.split("/", 1)[0] for p in paths}) + 1
        results: dict[str, Any] = {"files": args.files, "folders": folders, "changes": args.changes}
        print(f"first sync of {args.files} files in {folders} folders...", file=sys.stderr)
        results["first"] = _sync(work, env, dav)
        rng = random.Random(7)
        third = args.changes // 3
        chosen = rng.sample(paths, 2 * third)
        edited, deleted, added = chosen[:third], chosen[third:], args.changes - 2 * third
        for path in edited:
            dav.write(path, f"{path} was rewritten: the figures were corrected.\n")
        for path in deleted:
            (dav.files / path).unlink()
        for i in range(added):
            dav.write(f"team-00/new/added-{i:03d}.txt", f"An added note, number {i}.\n")
        results["edited_deleted_added"] = [len(edited), len(deleted), added]
        results["incremental_after_changes"] = _sync(work, env, dav)
        results["full_unchanged"] = _sync(work, env, dav, "--full")
        results["incremental_unchanged"] = _sync(work, env, dav)

    results["first_files_per_s"] = round(args.files / results["first"]["seconds"], 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "webdav.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
