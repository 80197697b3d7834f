"""docmill as pip installs it from its wheel: every file it needs is inside, and a third-party plugin type-checks
against it as its author's type checker sees it (types read through ``py.typed``, not from this source tree)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "docs" / "examples" / "docmill-jsonl-store" / "docmill_jsonl_store.py"

#: A store plugin that forgot a method of the protocol: its registration must not type-check.
INCOMPLETE = '''
from collections.abc import Iterator, Sequence
from typing import Any

from docmill import (Chunk, Filter, PluginContext, Register, SearchHit, StoredChunk, Vector, VectorStoreFactory,
                     Vectors, hookimpl)


class HalfStore:
    name = "half"

    def upsert(self, chunks: Sequence[Chunk], vectors: Vectors, *, doc: str, version: int,
               metadata: Any) -> None: ...
    def delete_stale(self, doc_key: str, keep_version: int) -> int: return 0
    def delete_document(self, doc_key: str) -> int: return 0
    def query(self, vector: Vector, k: int, where: Filter = ()) -> list[SearchHit]: return []
    def vectors_for(self, hashes: Sequence[str]) -> dict[str, Sequence[float]]: return {}
    def iter_chunks(self, *, with_vectors: bool = False) -> Iterator[StoredChunk]: return iter(())
    def close(self) -> None: ...


def make(context: PluginContext, dimension: int, model: str) -> HalfStore:
    return HalfStore()


@hookimpl
def docmill_register_vector_stores(register: Register[VectorStoreFactory]) -> None:
    register("half", make)
'''


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docmill's wheel, built from a copy of the files a clone holds (building writes into the source tree)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO / "docmill", source / "docmill", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(root), str(source)], check=True, capture_output=True)
    [built] = root.glob("docmill-*.whl")
    return built


def test_the_wheel_holds_every_file_of_the_package_and_the_licence(wheel: Path) -> None:
    # The status page (api/page.html) was missing from the wheel the container image installs.
    files = {p.relative_to(REPO).as_posix() for p in (REPO / "docmill").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"docmill/api/page.html", "docmill/py.typed"} <= files
    assert files - names == set()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


@pytest.fixture(scope="module")
def python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python whose site-packages hold docmill installed from its wheel, with docmill's dependencies beside it
    (this environment's site-packages, where docmill itself is only an editable finder a type checker ignores)."""
    root = tmp_path_factory.mktemp("typed")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(root / "site"), str(wheel)], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    [site_packages] = (root / "venv" / "lib").glob("python3*/site-packages")
    (site_packages / "with-docmill.pth").write_text(f"{root / 'site'}\n{sysconfig.get_paths()['purelib']}\n")
    return root / "venv" / "bin" / "python"


def _mypy(python: Path, plugin: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-executable",
                           str(python), plugin.name], cwd=plugin.parent, capture_output=True, text=True, timeout=600)


def test_the_example_plugin_type_checks_strictly_against_the_installed_docmill(python: Path,
                                                                               tmp_path: Path) -> None:
    plugin = tmp_path / EXAMPLE.name
    shutil.copy(EXAMPLE, plugin)
    checked = _mypy(python, plugin)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Success: no issues found in 1 source file" in checked.stdout


def test_a_store_missing_a_protocol_method_is_caught_where_it_registers(python: Path, tmp_path: Path) -> None:
    plugin = tmp_path / "half_store.py"
    plugin.write_text(INCOMPLETE)
    checked = _mypy(python, plugin)
    assert checked.returncode == 1, checked.stdout
    assert 'Argument 2 to "__call__" of "Register" has incompatible type' in checked.stdout, checked.stdout
    assert "VectorStore" in checked.stdout


def test_without_py_typed_the_plugin_author_would_see_no_types(python: Path, tmp_path: Path) -> None:
    marker = next(python.parent.parent.parent.glob("site/docmill/py.typed"))
    plugin = tmp_path / EXAMPLE.name
    shutil.copy(EXAMPLE, plugin)
    marker.unlink()
    try:
        checked = _mypy(python, plugin)
    finally:
        marker.touch()
    assert checked.returncode == 1
    assert "missing library stubs or py.typed marker" in checked.stdout, checked.stdout
