"""Build the search-quality corpus: 40 real PDF manuals and a handful of generated documents.

    .venv/bin/python benchmarks/search/corpus.py OUT

The manuals come from Debian's ``texlive-humanities-doc`` package (installed with apt-get when missing and
running as root), picked by the committed list ``manuals.json``: file name, path, page count and sha256 of
each. If the installed package's files differ from that list, the build stops and says which: the queries
are labelled with pages of exactly these files. The generated documents (generated.py) are made with
PyMuPDF from a fixed seed and come out byte-identical on every run.

OUT/docs/ holds every PDF under its file name (the name queries.jsonl labels); OUT/manifest.json lists
each file with its kind, pages and sha256, and where it came from.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import generated
import pymupdf
from pages import page_texts

HERE = Path(__file__).resolve().parent
MANUALS = HERE / "manuals.json"
UNIQUE = "INV-0042"  # the number `docmill search "INV-0042"` must find in exactly one document


class CorpusError(Exception):
    """The corpus cannot be built as the committed list expects."""


def sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def package_files(package: str) -> tuple[str, list[str]]:
    """The installed version of a Debian package and its files; installs it first when missing (as root)."""
    def query() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["dpkg-query", "-W", "-f", "${Version} ${db:Status-Status}", package],
                              capture_output=True, text=True)

    status = query()
    if status.returncode != 0 or not status.stdout.endswith(" installed"):
        if os.geteuid() != 0:
            raise CorpusError(f"{package} is not installed; run: sudo apt-get install {package}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]
        print(f"installing {package} with apt-get ...", file=sys.stderr)
        if subprocess.run(install, env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
            subprocess.run(install, env=env, check=True)
        status = query()
    listed = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=True)
    return status.stdout.split()[0], listed.stdout.split()


def check_manuals(expected: dict[str, Any], installed_version: str, files: list[str]) -> list[dict[str, Any]]:
    """The committed list's manuals, each found in the package with the expected page count and sha256.

    CorpusError naming every difference otherwise (a newer package moves pages and invalidates labels).
    """
    by_name: dict[str, list[str]] = {}
    for path in files:
        by_name.setdefault(os.path.basename(path), []).append(path)
    problems, found = [], []
    for entry in expected["files"]:
        paths = [p for p in by_name.get(entry["file"], []) if os.path.isfile(p)]
        if entry["path"] in paths:
            path = entry["path"]
        elif len(paths) == 1:
            path = paths[0]
        else:
            problems.append(f"{entry['file']}: {len(paths)} files of that name in the package (expected "
                            f"{entry['path']})")
            continue
        digest = sha256(Path(path))
        if digest != entry["sha256"]:
            with pymupdf.open(path) as doc:
                pages = doc.page_count
            problems.append(f"{entry['file']}: sha256 {digest[:12]}... ({pages} pages), the list expects "
                            f"{entry['sha256'][:12]}... ({entry['pages']} pages)")
            continue
        found.append({**entry, "path": path})
    if problems:
        raise CorpusError(
            f"{expected['package']} {installed_version} differs from benchmarks/search/manuals.json (written "
            f"against {expected['version']}):\n  " + "\n  ".join(problems) +
            "\nThe queries' page labels hold only for the listed files. Install the listed version, or pick "
            "the manuals again and re-check every label (check_queries.py).")
    return found


def build(out: Path) -> dict[str, Any]:
    """Build the corpus in ``out`` (replacing an earlier one); the manifest."""
    expected = json.loads(MANUALS.read_text())
    version, files = package_files(expected["package"])
    manuals = check_manuals(expected, version, files)
    docs = out / "docs"
    if docs.exists():
        shutil.rmtree(docs)
    docs.mkdir(parents=True)
    entries: list[dict[str, Any]] = []
    for entry in manuals:
        target = docs / entry["file"]
        shutil.copyfile(entry["path"], target)
        entries.append({"file": entry["file"], "kind": "manual", "pages": entry["pages"],
                        "sha256": entry["sha256"], "source": f"{expected['package']}:{entry['path']}"})
    made = generated.build(docs)
    for name, pages in made.items():
        entries.append({"file": name, "kind": "generated", "pages": pages, "sha256": sha256(docs / name),
                        "source": f"generated.py, seed {generated.SEED}"})
    holders = [e["file"] for e in entries if any(UNIQUE in page for page in page_texts(docs / e["file"]))]
    if len(holders) != 1:
        raise CorpusError(f"{UNIQUE} must be in exactly one document; it is in {holders or 'none'}")
    manifest = {"package": expected["package"], "package_version": version, "seed": generated.SEED,
                "documents": len(entries), "pages": sum(e["pages"] for e in entries), "files": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the folder to build in (its docs/ is replaced)")
    args = parser.parse_args()
    started = time.perf_counter()
    try:
        manifest = build(args.out)
    except CorpusError as exc:
        sys.exit(f"corpus.py: {exc}")
    kinds = [e["kind"] for e in manifest["files"]]
    print(f"{kinds.count('manual')} manuals and {kinds.count('generated')} generated documents, "
          f"{manifest['pages']} pages -> {args.out / 'docs'} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
