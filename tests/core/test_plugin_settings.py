"""Plugins own their settings: [plugins.NAME] and DOCMILL_PLUGINS__NAME__FIELD, validated by the plugin's model;
registry hooks go through pluggy's hook caller; old setting names keep working, with a warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from docmill import hookimpl
from docmill.core.errors import ConfigurationError
from docmill.core.ledger import Ledger
from docmill.core.plugin_context import PluginContext
from docmill.core.plugins import load_plugins
from docmill.core.runtime import Runtime
from docmill.settings import Settings, load_settings
from docmill.testing.stubs import StubChunker

from .test_plugins import _run


def test_a_plugin_section_comes_from_the_toml_and_the_environment_wins(
        monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    (isolated / "docmill.toml").write_text('[plugins.qdrant]\nurl = "http://qdrant.lan:6333"\ntimeout = 5\n'
                                           '[plugins.tesseract]\nlanguages = "eng"\n')
    (isolated / ".env").write_text("DOCMILL_PLUGINS__TESSERACT__LANGUAGES=eng+deu\n")
    monkeypatch.setenv("DOCMILL_PLUGINS__QDRANT__TIMEOUT", "7.5")
    settings = load_settings()
    plugins = load_plugins(None)
    qdrant = plugins.plugin_settings("store", "qdrant", settings)
    tesseract = plugins.plugin_settings("ocr", "tesseract", settings)
    assert (qdrant.url, qdrant.timeout, tesseract.languages) == ("http://qdrant.lan:6333", 7.5, "eng+deu")
    assert plugins.store_is_remote(settings.model_copy(update={"store": "qdrant"}))
    assert not plugins.store_is_remote(settings)  # chroma, with no url: the store in the home directory


@pytest.mark.parametrize(("name", "value", "says"), [
    ("DOCMILL_PLUGINS__TESSERACT__LANGUAGES", "eng deu", "joined with '+'"),
    ("DOCMILL_PLUGINS__QDRANT__TIMEOUT", "soon", "DOCMILL_PLUGINS__QDRANT__TIMEOUT ([plugins.qdrant] timeout)"),
    ("DOCMILL_PLUGINS__CHROMA__URLL", "http://x", "DOCMILL_PLUGINS__CHROMA__URLL ([plugins.chroma] urll)"),
])
def test_a_bad_plugin_setting_stops_start_up_naming_it(monkeypatch: pytest.MonkeyPatch, isolated: Path,
                                                       name: str, value: str, says: str) -> None:
    monkeypatch.setenv(name, value)
    settings = load_settings(home=isolated / "home")
    with pytest.raises(ConfigurationError) as caught:
        runtime = Runtime(settings)
        try:
            runtime.check()
        finally:
            runtime.close()
    assert says in str(caught.value)


def test_a_section_no_plugin_declares_is_reported_and_ignored(monkeypatch: pytest.MonkeyPatch, isolated: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("DOCMILL_PLUGINS__CHORMA__URL", "http://x")  # a typo, or a plugin switched off
    runtime = Runtime(load_settings(home=isolated / "home"))
    try:
        runtime.check()
    finally:
        runtime.close()
    assert "[plugins.chorma] / DOCMILL_PLUGINS__CHORMA__*: no loaded plugin named 'chorma'" in caplog.text


def test_old_names_still_work_for_one_release_with_a_warning(monkeypatch: pytest.MonkeyPatch,
                                                             isolated: Path) -> None:
    (isolated / "docmill.toml").write_text('ocr_languages = "eng+fra"\n')
    monkeypatch.setenv("DOCMILL_CHROMA_URL", "http://chroma.lan:8000")
    monkeypatch.setenv("DOCMILL_EMBED_BATCH_SIZE", "4")
    monkeypatch.setenv("DOCMILL_PLUGINS__FASTEMBED__BATCH_SIZE", "8")
    with pytest.warns(FutureWarning) as warned:
        settings = load_settings()
    messages = " ".join(str(w.message) for w in warned)
    assert "DOCMILL_CHROMA_URL (chroma_url) is deprecated: use DOCMILL_PLUGINS__CHROMA__URL" in messages
    assert "ocr_languages" in messages and "the new setting is also set and wins" in messages
    assert settings.plugins["chroma"] == {"url": "http://chroma.lan:8000"}
    assert settings.plugins["tesseract"] == {"languages": "eng+fra"}
    assert settings.plugins["fastembed"] == {"batch_size": "8"}
    assert not hasattr(settings, "chroma_url")


def test_settings_name_no_concrete_plugin() -> None:
    plugins = load_plugins(None)
    concrete = {name for kind in ("store", "embedder", "ocr") for name in plugins.names(kind)}
    concrete |= set(plugins.names("source"))
    fields = " ".join(Settings.model_fields)
    assert concrete >= {"chroma", "qdrant", "fastembed", "tesseract", "paperless", "folder"}
    assert [name for name in concrete if name in fields] == []


def test_plugins_json_shows_each_plugins_settings_with_secrets_masked(cli: Any) -> None:
    env = {"DOCMILL_PLUGINS__QDRANT__API_KEY": "sekrit-qdrant-key", "DOCMILL_PLUGINS__QDRANT__URL": "http://q:6333"}
    done = cli("plugins", "--json", env=env)
    assert "sekrit-qdrant-key" not in done.stdout + done.stderr
    rows = {(r["kind"], r["name"]): r for r in json.loads(done.stdout)}
    qdrant = rows[("store", "qdrant")]["settings"]
    assert qdrant["section"] == "[plugins.qdrant]"
    assert qdrant["values"] == {"url": "http://q:6333", "api_key": "**********", "path": None, "timeout": 30.0}
    secret = {"type": "string", "format": "password", "writeOnly": True}
    assert secret in qdrant["schema"]["properties"]["api_key"]["anyOf"]
    assert rows[("ocr", "tesseract")]["settings"]["values"] == {"languages": "eng"}
    assert "settings" not in rows[("source", "folder")]  # declares none


class WordsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    words: int = Field(50, ge=1)
    token: SecretStr | None = None


class WordsPlugin:
    @hookimpl
    def docmill_register_chunkers(self, register: Any) -> None:
        register("words", self.make, settings=WordsSettings)

    @staticmethod
    def make(context: PluginContext) -> StubChunker:
        assert isinstance(context.settings, WordsSettings)  # its own settings, never docmill's
        return StubChunker(context.settings.words)


def _versions(settings: Settings) -> list[int]:
    from sqlalchemy import select

    from docmill.core.ledger.schema import documents

    with Ledger(settings.ledger_database_url) as ledger, ledger.engine.connect() as conn:
        return list(conn.execute(select(documents.c.version).order_by(documents.c.key)).scalars())


def test_a_third_party_chunker_reads_its_own_section_and_its_options_reprocess(
        plugins_on: Any, tmp_path: Path, settings: Settings) -> None:
    plugins_on(WordsPlugin(), "words-plugin")
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text(" ".join(f"word{i}" for i in range(12)))
    three = settings.model_copy(update={"chunker": "words", "plugins": {"words": {"words": 3}}})
    _run(three, root)
    assert len(list(Runtime(three).store.iter_chunks())) == 4
    _run(three, root)  # unchanged: nothing processed again
    assert _versions(three) == [1]
    four = three.model_copy(update={"plugins": {"words": {"words": 4}}})
    _run(four, root)
    assert _versions(four) == [2]
    assert sorted(len(c.text.split()) for c in Runtime(four).store.iter_chunks()) == [4, 4, 4]


def test_a_plugins_secret_setting_never_reaches_a_log_line(plugins_on: Any, settings: Settings) -> None:
    import logging

    from docmill.logs import REDACTOR

    plugins_on(WordsPlugin(), "words-plugin")
    custom = settings.model_copy(update={"chunker": "words", "plugins": {"words": {"token": "hush-hush-42"}}})
    load_plugins(None).chunker(custom)
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "connecting with %s", ("hush-hush-42",), None)
    REDACTOR.filter(record)
    assert record.getMessage() == "connecting with [redacted]"


class Recorder:
    """A hook wrapper around the vector store registry: sees the call and every registration."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(wrapper=True)
    def docmill_register_vector_stores(self, register: Any) -> Any:
        self.seen.append("before")
        return (yield)

    @hookimpl
    def docmill_register_embedders(self, register: Any) -> None:
        register("recorded", lambda context: None)


def test_registry_hooks_go_through_pluggys_hook_caller(plugins_on: Any) -> None:
    recorder = Recorder()
    monitored: list[str] = []
    plugins = load_plugins(None)
    undo = plugins.manager.add_hookcall_monitoring(lambda name, impls, kwargs: monitored.append(name),
                                                   lambda outcome, name, impls, kwargs: None)
    try:
        plugins_on(recorder, "recorder")
        assert plugins.names("store") == ["chroma", "qdrant"]
        assert recorder.seen == ["before"]
        assert "docmill_register_vector_stores" in monitored
        entries = plugins.registry("embedder")
        assert entries["recorded"].plugin == "recorder" and entries["fastembed"].plugin == "fastembed"
    finally:
        undo()
