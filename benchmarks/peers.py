"""docmill against LlamaIndex's IngestionPipeline and LangChain's indexing API, side by side.

    .venv/bin/python benchmarks/peers.py [--text 40] [--small 8] [--rounds 2] [--out DIR]

The peers run from benchmarks/peers/ in their own virtualenv,
benchmarks/peers/.venv, made on first use from PyPI: the frameworks pinned in
benchmarks/peers/requirements.txt, and the versions of fastembed,
onnxruntime, tokenizers, chromadb and PyMuPDF that docmill's venv holds, so
all three run the same model (docmill's bundled int8 all-MiniLM-L6-v2) on the
same runtime and write the same store. Each reads every page with PyMuPDF,
splits at docmill's sizes with its own splitter and keeps its own records of
what it indexed.

For the small job's PDFs and then all born-digital PDFs of the ingest
benchmark's corpus, for --rounds rounds: each system's first ingest into a
fresh home, then its re-run over the unchanged folder, each timed as a whole
command; then the bare fastembed passes of benchmarks/ingest.py over each
system's own chunk texts. The ratios use the best time of each. Results are
printed as a table and written to OUT/peers.json.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ingest import bare_pass, build_corpus, docmill, export_texts, run_measured

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
VENV = PEERS / ".venv"
#: Packages the peers share with docmill, installed at the versions docmill's venv holds.
SAME_AS_DOCMILL = ("fastembed", "onnxruntime", "tokenizers", "chromadb", "pymupdf-lite")
SYSTEMS = ("docmill", "llamaindex", "langchain")
STRATEGIES = ("one", "parallel")


def peer_python() -> Path:
    """The peers' virtualenv's python, made (or brought up to date) from PyPI; exits if they do not install."""
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in SAME_AS_DOCMILL]
    wanted = hashlib.sha256(((PEERS / "requirements.txt").read_text() + "\n".join(pins)).encode()).hexdigest()
    marker = VENV / ".installed"
    python = VENV / "bin" / "python"
    if marker.exists() and marker.read_text() == wanted:
        return python
    print(f"installing the peers into {VENV} ({', '.join(pins)})", file=sys.stderr)
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(PEERS / "requirements.txt"), *pins],
                          check=False)
    if done.returncode != 0:
        sys.exit("the peers did not install from PyPI (see pip's output above); no peer row was measured")
    marker.write_text(wanted)
    return python


def ingest(system: str, python: Path, folder: Path, home: Path, model_dir: Path,
           texts: Path | None = None) -> tuple[float, dict[str, Any]]:
    """One whole ingest command of ``system``: its wall seconds and what it reported."""
    if system == "docmill":
        wall, _, out = docmill(home, "ingest", str(folder), "--json")
        report = json.loads(out)
        if texts is not None:
            export_texts(home, texts)
        return wall, {"chunks": report["chunks"], "embedded": report["embedded"]}
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCMILL_", "PYTHON"))}
    command = [str(python), str(PEERS / f"{system}_ingest.py"), str(folder), str(home), str(model_dir)]
    wall, _, out = run_measured(command + ([str(texts)] if texts else []), env, cwd=PEERS)
    return wall, json.loads(out.splitlines()[-1])


def compare(folder: Path, out: Path, python: Path, model_dir: Path, rounds: int) -> dict[str, Any]:
    """First ingests, unchanged re-runs and bare passes over each system's chunks, alternating by round."""
    runs: dict[str, dict[str, list[float]]] = {s: {"first": [], "again": []} for s in SYSTEMS}
    chunks: dict[str, dict[str, Any]] = {}
    bare: dict[str, list[float]] = {s: [] for s in SYSTEMS}
    for round_ in range(rounds):
        for system in SYSTEMS:
            home = out / f"peer-home-{system}"
            shutil.rmtree(home, ignore_errors=True)
            texts = out / f"peer-texts-{system}.json" if round_ == 0 else None
            first, report = ingest(system, python, folder, home, model_dir, texts)
            again, unchanged = ingest(system, python, folder, home, model_dir)
            runs[system]["first"].append(first)
            runs[system]["again"].append(again)
            chunks[system] = {**report, "embedded_again": unchanged["embedded"]}
        for system in SYSTEMS:
            texts_file = out / f"peer-texts-{system}.json"
            bare[system].extend(bare_pass(texts_file, model_dir, strategy)["embed"] for strategy in STRATEGIES)
    result: dict[str, Any] = {"documents": len(list(folder.glob("*.pdf"))), "systems": {}}
    for system in SYSTEMS:
        first, again, best_bare = min(runs[system]["first"]), min(runs[system]["again"]), min(bare[system])
        result["systems"][system] = {
            "chunks": chunks[system]["chunks"], "embedded_again": chunks[system]["embedded_again"],
            "first_s": first, "again_s": again, "bare_embed_s": best_bare,
            "again_over_first": again / first, "first_over_bare": first / best_bare, "runs": runs[system]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", type=int, default=40, help="born-digital PDFs in the corpus")
    parser.add_argument("--scanned", type=int, default=12, help="scans in the corpus (the peers do not read them)")
    parser.add_argument("--small", type=int, default=8, help="born-digital PDFs in the small job")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    python = peer_python()
    build_corpus(args.out, args.text, args.scanned)
    from docmill.plugins.offline_model import bundled_model_dir

    model_dir = bundled_model_dir(args.out / "peer-models")
    if model_dir is None:
        sys.exit("docmill's bundled model is not installed (make install)")
    small = args.out / "peer-small"
    shutil.rmtree(small, ignore_errors=True)
    small.mkdir()
    for pdf in sorted((args.out / "corpus" / "text").glob("*.pdf"))[:args.small]:
        shutil.copy(pdf, small / pdf.name)
    results = {
        "versions": {name: importlib.metadata.version(name) for name in SAME_AS_DOCMILL},
        "peers": (PEERS / "requirements.txt").read_text().split(),
        "cores": os.cpu_count(),
        "small_pdfs": compare(small, args.out, python, model_dir, args.rounds),
        "text_pdfs": compare(args.out / "corpus" / "text", args.out, python, model_dir, args.rounds),
    }
    (args.out / "peers.json").write_text(json.dumps(results, indent=1))
    report(results)


def report(r: dict[str, Any]) -> None:
    print(f"\npeers: {' '.join(r['peers'])}; shared: "
          f"{', '.join(f'{k} {v}' for k, v in r['versions'].items())}; {r['cores']} cores")
    print("| job | system | chunks | first ingest | unchanged re-run (chunks it embedded again) | re-run / first | "
          "first / best bare pass over its own chunks |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for key, label in (("small_pdfs", "small job"), ("text_pdfs", "all born-digital")):
        job = r[key]
        for system, s in job["systems"].items():
            print(f"| {label}, {job['documents']} PDFs | {system} | {s['chunks']} | {s['first_s']:.1f} s | "
                  f"{s['again_s']:.2f} s ({s['embedded_again']}) | {100 * s['again_over_first']:.0f}% | "
                  f"{s['first_over_bare']:.2f}x |")


if __name__ == "__main__":
    main()
