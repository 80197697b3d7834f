"""Settings from the environment, .env and docmill.toml; bad values named at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from docmill.core.errors import ConfigurationError
from docmill.settings import Settings, load_settings


def test_defaults_are_sane_and_home_is_local() -> None:
    s = load_settings()
    assert s.home == Path(".docmill") and s.store == "chroma" and s.embedder == "fastembed"
    assert s.ledger_database_url == f"sqlite:///{Path('.docmill').resolve() / 'ledger.db'}"
    assert s.chunk_overlap < s.chunk_size and s.max_pixels >= 50_000_000


def test_environment_beats_dotenv_which_beats_toml(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    (isolated / "docmill.toml").write_text('chunk_size = 500\nexclude = ["*.tmp"]\n'
                                           '[plugins.tesseract]\nlanguages = "eng"\n')
    (isolated / ".env").write_text("DOCMILL_CHUNK_SIZE=600\nDOCMILL_PLUGINS__TESSERACT__LANGUAGES=eng+deu\n"
                                   "OTHER_TOOL=1\n")
    monkeypatch.setenv("DOCMILL_CHUNK_SIZE", "700")
    monkeypatch.setenv("DOCMILL_LOAD_PLUGINS", "alpha, beta")
    s = load_settings()
    assert (s.chunk_size, s.plugins["tesseract"]["languages"], s.exclude, s.load_plugins) == (
        700, "eng+deu", ["*.tmp"], ["alpha", "beta"])


def test_docmill_config_points_at_another_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('collection = "papers"\nmax_file_size = "5MB"\n')
    monkeypatch.setenv("DOCMILL_CONFIG", str(config))
    s = load_settings()
    assert s.collection == "papers" and int(s.max_file_size) == 5_000_000
    monkeypatch.setenv("DOCMILL_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigurationError, match="DOCMILL_CONFIG"):
        load_settings()


@pytest.mark.parametrize(("name", "value", "says"), [
    ("DOCMILL_CHUNK_SIZE", "big", "DOCMILL_CHUNK_SIZE"),
    ("DOCMILL_CHUNK_OVERLAP", "900", "chunk_overlap (900) must be smaller than chunk_size (800)"),
    ("DOCMILL_MAX_PIXELS", "0", "DOCMILL_MAX_PIXELS"),
    ("DOCMILL_MAX_FILE_SIZE", "lots", "DOCMILL_MAX_FILE_SIZE"),
    ("DOCMILL_COLLECTION", "my papers", "DOCMILL_COLLECTION"),
])
def test_bad_values_fail_naming_the_setting(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                            says: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert says in str(caught.value)


def test_an_unknown_key_in_toml_is_an_error_and_an_unknown_variable_a_warning(
        monkeypatch: pytest.MonkeyPatch, isolated: Path, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("DOCMILL_CHUNK_SIZ", "5")
    load_settings()
    assert "DOCMILL_CHUNK_SIZ is not a docmill setting" in caplog.text
    monkeypatch.delenv("DOCMILL_CHUNK_SIZ")
    (isolated / "docmill.toml").write_text("chunk_sise = 5\n")
    with pytest.raises(ConfigurationError, match="chunk_sise"):
        load_settings()


def test_passwords_in_the_broker_and_ledger_urls_are_secrets_and_user_names_are_not(isolated: Path) -> None:
    # Found by make container-test: a RabbitMQ user named "docmill" was redacted out of every log line.
    settings = Settings(broker_url="amqp://docmill:mq-pass-123@mq:5672/%2F",
                        ledger_url="postgresql+psycopg://docmill:db-pass-456@db:5432/docmill")
    assert set(settings.secret_values()) == {"mq-pass-123", "db-pass-456"}
