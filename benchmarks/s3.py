"""Syncing an S3 bucket of 10,000 objects: first sync, incremental sync after 50 changes, unchanged, side by side.

Serves moto's S3 emulator (``docmill.testing.s3``) on 127.0.0.1, fills a
bucket with ``--objects`` small text objects (written into moto's backend
directly: 10,000 PUTs through HTTP would only time the emulator), and runs
``docmill sync`` in embedded mode against it with the stub embedder, as a
user would, with signatures checked:

* the first sync (every object listed, downloaded, extracted, embedded, stored);
* an incremental sync after ``--changes`` changes through the S3 API (a third
  edited, a third added, a third deleted): it must touch exactly those;
* an incremental sync with nothing changed.

For each: wall time, the requests the emulator answered by operation
(ListObjectsV2 pages, GetObject downloads, others) and what the sync
reported. Results go to ``benchmarks/results/s3.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from docmill.testing import plugin_dir
from docmill.testing.s3 import S3Server

SECRET = "benchmark-secret"
RESULTS = Path(__file__).parent / "results"
STUB_EMBEDDER = '''
from docmill import hookimpl
from docmill.testing.stubs import StubEmbedder


@hookimpl
def docmill_register_embedders(register):
    register("stub", lambda context: StubEmbedder())
'''


def _text(n: int, edition: int = 1) -> bytes:
    return (f"Object {n}, edition {edition}: the maintenance log of pump station {n % 97} records a check of "
            f"valve {n % 13} and a reading of {n * 7 % 1000} litres per minute.").encode()


def _sync(work: Path, env: dict[str, str], server: S3Server) -> dict[str, Any]:
    since = len(server.requests)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "docmill", "sync", "bucket", "--json"], cwd=work, env=env,
                          capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"docmill sync failed ({done.returncode}):\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout)
    requests: dict[str, int] = {}
    for request in server.requests[since:]:
        requests[request.operation] = requests.get(request.operation, 0) + 1
    return {"seconds": round(seconds, 2), "requests": requests,
            **{k: found[k] for k in ("new", "changed", "deleted", "unchanged", "failed", "chunks")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()

    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    with tempfile.TemporaryDirectory(prefix="docmill-bench-s3-") as tmp, S3Server() as server:
        work = Path(tmp)
        server.client().create_bucket(Bucket="docs")
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        keys = [f"logs/{n // 1000:02}/{n:05}.txt" for n in range(args.objects)]
        for n, key in enumerate(keys):
            backend.put_object("docs", key, _text(n))
        access_id = server.authenticate(SECRET)
        (work / "docmill.toml").write_text(
            f'[[sources]]\nname = "bucket"\ntype = "s3"\nendpoint = "{server.url}"\nbucket = "docs"\n'
            f'access_id = "{access_id}"\nprefix = "logs/"\n')
        plugins = plugin_dir(work / "stub", "docmill_bench_s3_stub", STUB_EMBEDDER)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCMILL_", "AWS_"))}
        env.update(DOCMILL_HOME=str(work / "home"), DOCMILL_SOURCES__0__TOKEN=SECRET, DOCMILL_EMBEDDER="stub",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH")])),
                   AWS_SHARED_CREDENTIALS_FILE=str(work / "none"), AWS_CONFIG_FILE=str(work / "none"))
        results: dict[str, Any] = {"objects": args.objects, "changes": args.changes, "cpus": os.cpu_count()}
        print(f"first sync of {args.objects} objects...", file=sys.stderr)
        results["first"] = _sync(work, env, server)

        s3 = server.client()
        edited, deleted = (random.Random(7).sample(keys, 2 * (args.changes // 3))[i::2] for i in (0, 1))
        added = args.changes - len(edited) - len(deleted)
        for key in edited:
            s3.put_object(Bucket="docs", Key=key, Body=_text(keys.index(key), edition=2))
        for n in range(added):
            s3.put_object(Bucket="docs", Key=f"logs/new/{n:05}.txt", Body=_text(args.objects + n))
        for key in deleted:
            s3.delete_object(Bucket="docs", Key=key)
        results["changed_objects"] = {"edited": len(edited), "added": added, "deleted": len(deleted)}
        results["incremental_after_changes"] = _sync(work, env, server)
        results["incremental_unchanged"] = _sync(work, env, server)

    first = results["first"]
    results["first_objects_per_s"] = round(args.objects / first["seconds"], 1)
    after = results["incremental_after_changes"]
    results["touched_after_changes"] = after["new"] + after["changed"] + after["deleted"]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "s3.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
