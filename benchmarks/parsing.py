"""Parsing benchmark: untrusted bytes parsed in the sandbox's child processes against in the pipeline's process.

    .venv/bin/python benchmarks/parsing.py [--text 24] [--rounds 3] [--out DIR]

Generates born-digital PDFs (docmill.testing.corpus), then, alternating for
--rounds rounds so both see the same machine load:

1. extraction alone: every PDF extracted through ``ParsePool`` with 2 child
   processes (the default on 2 cores), and with ``ParsePool(0)`` (in process):
   pages per second and milliseconds per call;
2. a whole ``docmill ingest`` of the PDFs into a fresh home, with the default
   parsing processes and with ``DOCMILL_PARSE_PROCESSES=0``: wall time.

The ratios (sandbox / in process) use the best time of each. Results go to
OUT/parsing.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from docmill.core.sandbox import ParsePool
from docmill.core.sniff import media_type_of
from docmill.core.values import Blob, Limits
from docmill.plugins.pymupdf_extractor import PyMuPdfExtractor
from docmill.testing.corpus import build

LIMITS = Limits(max_file_size=256_000_000, max_pages=2000, max_pixels=100_000_000, ocr_timeout=120, ocr_dpi=300)


def extraction(blobs: list[Blob], processes: int) -> dict[str, float]:
    """Extract every blob from 2 threads (as the pipeline's extract workers do); seconds and pages."""
    pool = ParsePool(processes, memory=4 * 2**30, timeout=300)
    try:
        pool.run(PyMuPdfExtractor(), "extract", blobs[0], LIMITS)  # started and warm, as in a running pipeline
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as threads:
            pages = sum(len(p) for p in threads.map(lambda b: pool.run(PyMuPdfExtractor(), "extract", b, LIMITS),
                                                    blobs))
        seconds = time.perf_counter() - started
    finally:
        pool.close()
    return {"seconds": seconds, "pages": pages, "pages_per_s": pages / seconds,
            "ms_per_call": 1000 * seconds / len(blobs)}


def ingest(folder: Path, processes: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCMILL_")}
    home = Path(tempfile.mkdtemp(prefix="docmill-bench-"))
    env["DOCMILL_HOME"] = str(home)
    if processes is not None:
        env["DOCMILL_PARSE_PROCESSES"] = processes
    try:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "docmill", "ingest", str(folder), "--json"], env=env, check=True,
                       capture_output=True)
        return time.perf_counter() - started
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    corpus = args.out / "parsing-corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    build(corpus, text=args.text, scanned=0)
    folder = corpus / "text"
    blobs = [Blob(p.name, p.read_bytes(), media_type_of(p.name, p.read_bytes())) for p in sorted(folder.iterdir())]
    rows: dict[str, list[Any]] = {"extract_sandbox": [], "extract_in_process": [], "ingest_sandbox": [],
                                  "ingest_in_process": []}
    for _ in range(args.rounds):
        rows["extract_sandbox"].append(extraction(blobs * 4, 2))
        rows["extract_in_process"].append(extraction(blobs * 4, 0))
        rows["ingest_sandbox"].append(ingest(folder, None))
        rows["ingest_in_process"].append(ingest(folder, "0"))
    best = {name: min(r["seconds"] if isinstance(r, dict) else r for r in runs) for name, runs in rows.items()}
    result = {
        "documents": len(blobs), "pages": rows["extract_sandbox"][0]["pages"] // 4,
        "extract_pages_per_s": {"sandbox": round(max(r["pages_per_s"] for r in rows["extract_sandbox"]), 1),
                                "in_process": round(max(r["pages_per_s"] for r in rows["extract_in_process"]), 1)},
        "extract_ms_per_call": {"sandbox": round(min(r["ms_per_call"] for r in rows["extract_sandbox"]), 2),
                                "in_process": round(min(r["ms_per_call"] for r in rows["extract_in_process"]), 2)},
        "extract_ratio": round(best["extract_sandbox"] / best["extract_in_process"], 3),
        "ingest_seconds": {"sandbox": round(best["ingest_sandbox"], 2),
                           "in_process": round(best["ingest_in_process"], 2)},
        "ingest_ratio": round(best["ingest_sandbox"] / best["ingest_in_process"], 3),
        "rounds": args.rounds,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "parsing.json").write_text(json.dumps({"result": result, "runs": rows}, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
