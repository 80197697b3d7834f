"""Trims the image's virtual environment (docker/Dockerfile's build stage) of what docmill never loads.

* The tokenizer package's model.zip (87 MiB) also holds the PyTorch weights
  of all-MiniLM-L6-v2; docmill reads only its four tokenizer files
  (docmill/plugins/offline_model.py), so the archive is rewritten with those.
* chromadb requires the Kubernetes client (126 MiB) for its distributed
  server's member list only; docmill runs Chroma's client and its
  single-node server (`chroma run`), which never import it.
* Test suites shipped inside packages.

    python trim-venv.py SITE_PACKAGES
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import zipfile
from pathlib import Path

TOKENIZER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def main(site: Path) -> None:
    archive = site / "all_minilm_l6_v2" / "model.zip"
    if archive.is_file():
        slim = archive.with_suffix(".slim")
        with zipfile.ZipFile(archive) as full, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as kept:
            for name in TOKENIZER_FILES:
                kept.writestr(name, full.read(name))
        slim.replace(archive)
    for pattern in ("kubernetes", "kubernetes-*.dist-info", "chromadb/test", "*/tests"):
        for path in site.glob(pattern):
            shutil.rmtree(path)
    assert importlib.util.find_spec("chromadb") is not None


if __name__ == "__main__":
    main(Path(sys.argv[1]))
