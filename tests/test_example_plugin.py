"""The example plugin in docs/examples: installed like any package, found through its entry point."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "docmill-jsonl-store"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example pip-installed into its own directory (offline), to put on PYTHONPATH."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("example") / EXAMPLE.name  # building writes into the source tree
    shutil.copytree(EXAMPLE, source)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, capture_output=True)
    return target


def _jsonl_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["plugin"] == "jsonl"]


def test_the_installed_example_is_discovered_configured_used_and_switched_off(
        site: Path, tmp_path: Path, cli: Any, home: Path, isolated: Path) -> None:
    env = {"PYTHONPATH": str(site)}
    vectors = tmp_path / "vectors"
    (isolated / "docmill.toml").write_text(f'[plugins.jsonl]\ndirectory = "{vectors}"\n')
    [listed] = _jsonl_rows(cli.json("plugins", env=env))
    settings = listed.pop("settings")
    assert listed == {"kind": "store", "name": "jsonl", "plugin": "jsonl", "package": "docmill-jsonl-store",
                      "version": "0.1.0", "active": False, "error": None}
    assert settings["values"] == {"directory": str(vectors)} and "directory" in settings["schema"]["properties"]

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "garden.txt").write_text("Tomatoes need staking in June and watering every evening.")
    (notes / "bikes.txt").write_text("The chain of the blue bicycle needs oil after every rainy ride.")
    env["DOCMILL_STORE"] = "jsonl"
    assert cli.json("ingest", str(notes), env=env)["done"] == 2
    assert _jsonl_rows(cli.json("plugins", env=env))[0]["active"] is True
    assert (vectors / "docmill.jsonl").is_file() and not (home / "jsonl").exists()
    assert cli.json("search", "when should I water the tomatoes", "-k", "1", env=env)[0]["doc"] == "garden.txt"

    env["DOCMILL_LOAD_PLUGINS"] = ""
    assert _jsonl_rows(cli.json("plugins", env=env)) == []
    refused = cli("ingest", str(notes), env=env, check=False)
    assert refused.returncode == 3 and "no store plugin named 'jsonl'" in refused.stderr


def test_the_example_passes_the_store_contract_from_the_kit(site: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(EXAMPLE / "pyproject.toml"),
         "--rootdir", str(EXAMPLE), str(EXAMPLE / "tests")],
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10 passed" in done.stdout
