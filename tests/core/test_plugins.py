"""The plugin manager: built-ins through entry points, third-party plugins, clashes, broken plugins."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from docmill import hookimpl
from docmill.actors.embedded import EmbeddedPipeline
from docmill.app import follow
from docmill.core.errors import ConfigurationError
from docmill.core.plugins import ENTRY_POINT_GROUP, build_manager, load_plugins
from docmill.core.runtime import Runtime
from docmill.core.values import Blob, ChunkText, Page, SourceSpec
from docmill.settings import Settings

#: The sources docmill itself registers, in name order.
BUILT_IN_SOURCES = ["api-upload", "folder", "http", "imap", "paperless", "s3", "webdav"]


def _run(settings: Settings, root: Path) -> str:
    with EmbeddedPipeline(settings) as pipeline:
        job = pipeline.submit([SourceSpec(f"folder:{root}", "folder", {"root": str(root)})])
        _ = list(follow(lambda: pipeline.progress(job)))
    return job


def test_built_ins_are_registered_through_entry_points() -> None:
    plugins = load_plugins(None)
    assert {i.name for i in plugins.infos if i.builtin} >= {"folder", "http", "paperless", "pymupdf", "text",
                                                            "tesseract", "chunker", "fastembed", "chroma", "qdrant"}
    assert plugins.names("source") == BUILT_IN_SOURCES
    assert plugins.names("store") == ["chroma", "qdrant"] and plugins.names("embedder") == ["fastembed"]
    assert plugins.names("ocr") == ["tesseract"] and plugins.names("chunker") == ["text"]


class ShoutingExtractor:
    name = "shout"

    def extract(self, blob: Blob, limits: Any) -> list[Page]:
        return [Page(None, blob.data.decode().upper())]

    def render(self, blob: Blob, pages: Sequence[int], limits: Any) -> Any:
        return iter(())


class ShoutPlugin:
    @hookimpl
    def docmill_extractor(self, blob: Blob) -> ShoutingExtractor | None:
        return ShoutingExtractor() if blob.name.endswith(".txt") else None


def test_a_later_plugin_takes_over_an_extractor_from_a_built_in(plugins_on: Any) -> None:
    plugins = load_plugins(None)
    blob = Blob("a.txt", b"quiet words", "text/plain")
    assert plugins.extractor_for(blob).name == "text"
    plugins_on(ShoutPlugin(), "shout")
    assert plugins.extractor_for(blob).name == "shout"
    assert plugins.extractor_for(Blob("a.md", b"x", "text/markdown")).name == "text"


class StampOcr:
    name = "stamp"

    def recognize(self, image: Any) -> str:
        return f"Stamped by the third-party engine: page {image.number} of a kumquat inventory."


class StampPlugin:
    @hookimpl
    def docmill_register_ocr_engines(self, register: Any) -> None:
        register("stamp", lambda context: StampOcr())


def test_settings_select_a_third_party_ocr_engine_for_scans(plugins_on: Any, corpus: Path, tmp_path: Path,
                                                            settings: Settings) -> None:
    plugins_on(StampPlugin(), "stamp")
    root = tmp_path / "scans"
    root.mkdir()
    (root / "photo.jpg").write_bytes((corpus / "scanned" / "photo-000.jpg").read_bytes())
    custom = settings.model_copy(update={"ocr": "stamp"})
    _run(custom, root)
    runtime = Runtime(custom)
    [hit] = runtime.store.query(runtime.embedder.embed_query("kumquat inventory"), 1)
    assert (hit.doc, hit.page) == ("photo.jpg", 1) and "third-party engine" in hit.text


class SentenceChunker:
    name = "one-per-sentence"

    def chunk(self, pages: Sequence[Page]) -> list[ChunkText]:
        return [ChunkText(p.number, s.strip() + ".") for p in pages for s in p.text.split(".") if s.strip()]


class ChunkerPlugin:
    @hookimpl
    def docmill_register_chunkers(self, register: Any) -> None:
        register("sentences", lambda context: SentenceChunker())


def test_settings_select_a_third_party_chunker(plugins_on: Any, tmp_path: Path, settings: Settings) -> None:
    plugins_on(ChunkerPlugin(), "sentences")
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("First sentence here. Second one there. Third and last.")
    custom = settings.model_copy(update={"chunker": "sentences"})
    _run(custom, root)
    texts = sorted(c.text for c in Runtime(custom).store.iter_chunks())
    assert texts == ["First sentence here.", "Second one there.", "Third and last."]


class ClashingPlugin:
    @hookimpl
    def docmill_register_embedders(self, register: Any) -> None:
        register("fastembed", lambda context: None)

    @hookimpl
    def docmill_register_vector_stores(self, register: Any) -> None:
        register("chroma", lambda context, dimension, model: None)


def test_two_plugins_registering_one_name_is_an_error_naming_both(plugins_on: Any) -> None:
    plugins_on(ClashingPlugin(), "clashing")
    plugins = load_plugins(None)
    for kind, name in (("embedder", "fastembed"), ("store", "chroma")):
        with pytest.raises(ConfigurationError) as caught:
            plugins.registry(kind)
        assert name in str(caught.value) and "clashing" in str(caught.value) and "DOCMILL_LOAD_PLUGINS" in str(
            caught.value)


def _builtin_eps() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _third_party(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def test_a_broken_plugin_is_reported_by_name_and_left_out() -> None:
    eps = [*_builtin_eps(), _third_party("broken", "no_such_module_for_docmill"),
           _third_party("typo", "tests.plugin_with_typo")]
    plugins = build_manager(eps, allow=None)
    errors = {i.name: i.error for i in plugins.infos if i.error}
    assert set(errors) == {"broken", "typo"}
    assert "ModuleNotFoundError" in errors["broken"] and "docmill_register_sorces" in errors["typo"]
    assert plugins.names("source") == BUILT_IN_SOURCES


def test_the_allow_list_switches_third_party_plugins_off_but_never_built_ins() -> None:
    eps = [*_builtin_eps(), _third_party("extra", "tests.plugin_extra_source")]
    assert "extra" in build_manager(eps, allow=None).names("source")
    assert build_manager(eps, allow=set()).names("source") == BUILT_IN_SOURCES
    assert "extra" in build_manager(eps, allow={"extra"}).names("source")


def test_docmill_keeps_working_and_names_a_broken_installed_plugin(tmp_path: Path, cli: Any) -> None:
    site = tmp_path / "site"
    dist = site / "docmill_broken_example-1.2.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: docmill-broken-example\nVersion: 1.2\n")
    (dist / "entry_points.txt").write_text("[docmill]\nbroken = no_such_module_anywhere\n")
    env = {"PYTHONPATH": str(site)}
    [broken] = [r for r in cli.json("plugins", env=env) if r["kind"] == "broken"]
    assert (broken["plugin"], broken["package"], broken["version"]) == ("broken", "docmill-broken-example", "1.2")
    assert "ModuleNotFoundError" in broken["error"]
    (tmp_path / "empty").mkdir()
    ingest = cli("ingest", str(tmp_path / "empty"), env=env)
    assert "plugin 'broken' from docmill-broken-example 1.2 could not be loaded" in ingest.stderr
    assert "Traceback" not in ingest.stderr
