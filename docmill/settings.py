"""docmill's one Settings object, read once at the edge (the CLI).

Values come, highest priority first, from keyword arguments, ``DOCMILL_*``
environment variables, a ``.env`` file in the working directory, and a TOML file
(``docmill.toml`` in the working directory, or the path in ``DOCMILL_CONFIG``).
Bad values stop docmill at start-up with a message naming the setting.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .core.errors import ConfigurationError, UnknownSource
from .core.values import Limits
from .renamed_settings import RENAMED, RenamedSettings, move_renamed
from .sources_config import SECRET_WORDS, SourceConfig, SourceOverrides

if TYPE_CHECKING:
    from .core.plugins import Plugins

__all__ = ["Settings", "load_settings"]

log = logging.getLogger(__name__)

ENV_PREFIX = "DOCMILL_"
#: Environment variables docmill reads that are not fields of Settings.
_NON_FIELD_ENV = {"DOCMILL_CONFIG", "DOCMILL_WORKER_INDEX", "DOCMILL_WORKER_VERBOSE"}


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class _StrictToml(TomlConfigSettingsSource):
    """docmill.toml is docmill's own file: a key that is no setting is a typo, and an error."""

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        unknown = sorted(set(data) - set(self.settings_cls.model_fields) - set(RENAMED))
        if unknown:
            raise ConfigurationError(f"{self.toml_file_path}: unknown setting(s): {', '.join(unknown)}")
        return data


class ApiToken(BaseModel):
    """One caller of the HTTP API: a name (what its jobs and uploads belong to) and its token's SHA-256."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="The caller's name.")
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="Hex SHA-256 of the token (never the token).")


class Settings(BaseSettings):
    """Everything docmill can be told. Each field is ``DOCMILL_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_nested_delimiter="__",
        extra="ignore",  # a shared .env holds other tools' variables too
        validate_default=True,
    )

    # Where state lives.
    home: Path = Field(Path(".docmill"), description="Directory holding the ledger, the Chroma store and caches.")
    ledger_url: str | None = Field(
        None, description="SQLAlchemy URL of the ledger; default: a SQLite file in the home directory."
    )
    broker_url: SecretStr | None = Field(
        None, description="RabbitMQ URL (amqp://user:password@host:5672/vhost) for distributed mode; "
        "unset: embedded mode. Never logged.")
    broker_prefetch: int | None = Field(
        None, ge=1, le=1000, description="Messages a worker process takes from each queue at once; "
        "default: one per thread (tasks are long).")
    max_redeliveries: int = Field(
        3, ge=1, le=100, description="Times a document may kill the worker processing it, while running "
        "alone, before it is quarantined as failed.")
    job_history_days: float = Field(
        30.0, ge=0, description="Days a job and what became of each of its documents are kept for `docmill status "
        "JOB`; older jobs are forgotten as new ones start (0: keep them all). Every run adds one row per document "
        "it lists, so a large source synced often grows the ledger by millions of rows a day without a limit.")
    load_plugins: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="Comma-separated allow-list of third-party plugins to load (empty: none). Unset: all.",
    )

    # Which plugin does each job.
    store: str = Field("chroma", description="Vector store plugin.")
    collection: str = Field(
        "docmill", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]$",
        description="Collection (index) name inside the vector store: 3-128 letters, digits, '.', '_' or '-'.")
    keyword_index: str = Field(
        "auto", description="Keyword index plugin beside the vector store, for hybrid and keyword search: 'auto' "
        "(PostgreSQL full-text search in the ledger's database when the ledger is PostgreSQL, else SQLite FTS5 in "
        "the home), a plugin name ('sqlite', 'postgres'), or 'none' (dense search only).")
    embedder: str = Field("fastembed", description="Embedder plugin.")
    chunker: str = Field("text", description="Chunker plugin.")
    chunk_size: int = Field(800, ge=100, le=20000, description="Largest chunk, in characters.")
    chunk_overlap: int = Field(100, ge=0, description="Characters a chunk repeats from the one before.")
    ocr: str = Field("tesseract", description="OCR engine plugin, or 'none' to index text layers only.")
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Each plugin's own settings: [plugins.NAME] in docmill.toml, or "
        "DOCMILL_PLUGINS__NAME__FIELD (`docmill plugins --json` shows every plugin's settings).")
    ocr_dpi: int = Field(300, ge=72, le=1200, description="Render resolution for pages without a scanned image.")
    ocr_pages_per_task: int = Field(
        4, ge=1, le=100, description="Most pages of a scan per OCR message (short scans are split across the OCR "
        "workers).")

    # Limits (bounded by design).
    max_file_size: ByteSize = Field(ByteSize(256_000_000), gt=0, description="Largest file accepted.")
    max_pages: int = Field(2000, ge=1, description="Most pages accepted in one document.")
    max_pixels: int = Field(100_000_000, ge=1, description="Most pixels in one image or rendered page.")
    ocr_timeout: float = Field(120.0, gt=0, description="Seconds of OCR allowed per page.")
    max_text: int = Field(10_000_000, ge=1000, description="Most characters of text in one document.")
    max_chunks: int = Field(20_000, ge=1, description="Most chunks of one document.")
    max_attachments: int = Field(100, ge=0, description="Most attachments (or embedded files) of one document; "
                                 "each is a document of its own.")
    max_messages: int = Field(10_000, ge=1, description="Most messages of one mailbox (.mbox); each is a document "
                              "of its own.")
    max_attachment_depth: int = Field(3, ge=0, description="How deep attachments are read: a mail's attachment is "
                                      "1 deep, a mail attached to it holds attachments 2 deep...")
    max_parse_memory: ByteSize = Field(
        ByteSize(4 * 2**30), ge=256 * 2**20,
        description="Address space of each process that parses untrusted bytes (extraction, rendering for OCR).")
    parse_timeout: float = Field(300.0, gt=0, description="Seconds one extraction or page rendering may take.")
    parse_processes: int | None = Field(
        None, ge=0, le=64, description="Processes parsing untrusted bytes; default: one per core; 0 parses in "
        "the pipeline's own process, without the memory and time limits (for debugging and benchmarks).")

    # Folder sources.
    include: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Glob patterns of files to take (comma-separated); default: all."
    )
    exclude: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [".*", "~$*", "Thumbs.db", "desktop.ini"],
        description="Glob patterns of files and folders to leave out (comma-separated).",
    )

    # Named sources, synced by `docmill sync NAME` and `docmill scheduler`.
    sources: list[SourceConfig] = Field(
        default_factory=list, description="Named sources ([[sources]] in docmill.toml): name, type, schedule, "
        "token (or DOCMILL_SOURCES__<n>__TOKEN) and the type's options.")

    # Work and retries.
    workers: int | None = Field(None, ge=1, description="Threads for extract, store and discovery.")
    ocr_workers: int | None = Field(None, ge=1, description="Concurrent OCR pages; default: one per core.")
    max_retries: int = Field(5, ge=0, le=50, description="Retries of a transient failure before it fails.")
    retry_min_backoff: float = Field(1.0, gt=0, description="Seconds before the first retry.")
    retry_max_backoff: float = Field(300.0, gt=0, description="Longest wait between retries, in seconds.")
    stage_time_limit: float = Field(1200.0, gt=0, description="Seconds one message may run before it is stopped.")

    # Watching the services.
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Port on which `docmill worker`, `docmill scheduler` and `docmill api` "
        "serve Prometheus metrics at /metrics; unset or 0: none.")
    metrics_host: str = Field("127.0.0.1", description="Address the metrics endpoint listens on (0.0.0.0: all, as "
                              "in a container).")
    log_format: Literal["plain", "json"] = Field(
        "plain", description="Log lines as plain text, or one JSON object per line (job, doc, stage, event).")

    # The HTTP API (`docmill api`).
    api_host: str = Field("127.0.0.1", description="Address `docmill api` listens on (0.0.0.0: every interface).")
    api_port: int = Field(8080, ge=1, le=65535, description="Port `docmill api` listens on.")
    api_tokens: list[ApiToken] = Field(
        default_factory=list, description="Callers of the API: [[api_tokens]] tables of name and sha256 (the hex "
        "SHA-256 of the token; `docmill api --new-token NAME` makes one).")
    api_rate_limit: float = Field(20.0, gt=0, le=10_000,
                                  description="Requests a second each API token may make (bursts of twice that).")
    upload_dir: Path | None = Field(
        None, description="Where the API stores uploaded files by their SHA-256; default: uploads/ in the home. "
        "Distributed mode: a directory every extract and OCR worker reads at the same path.")

    @field_validator("load_plugins", "include", "exclude", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        return _comma_list(value)

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, value: list[SourceConfig]) -> list[SourceConfig]:
        names = [s.name for s in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"source names must be unique: {', '.join(twice)}")
        return value

    @field_validator("broker_url")
    @classmethod
    def _amqp_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("amqp://", "amqps://")):
            raise ValueError("must be an amqp:// or amqps:// URL of a RabbitMQ server")
        return value

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        return move_renamed(data) if isinstance(data, dict) else data

    @field_validator("plugins", mode="before")
    @classmethod
    def _plugin_names(cls, value: Any) -> Any:
        # DOCMILL_PLUGINS__MY_STORE__URL reaches us as "my_store"; a plugin named "my-store" reads it too.
        if isinstance(value, dict):
            return {str(name).lower(): section for name, section in value.items()}
        return value

    # Cross-field checks sit on the later field, so the error names the setting to change.
    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info: ValidationInfo) -> int:
        size = info.data.get("chunk_size")
        if size is not None and value >= size:
            raise ValueError(f"chunk_overlap ({value}) must be smaller than chunk_size ({size})")
        return value

    @field_validator("retry_max_backoff")
    @classmethod
    def _backoffs_ordered(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("retry_min_backoff")
        if low is not None and low > value:
            raise ValueError(f"retry_max_backoff ({value}) must not be below retry_min_backoff ({low})")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("DOCMILL_CONFIG", "docmill.toml"))
        toml = _StrictToml(settings_cls, toml_file=toml_path)
        return (
            init_settings,
            SourceOverrides(settings_cls, toml, Path(".env")),
            env_settings,
            dotenv_settings,
            RenamedSettings(settings_cls, Path(".env")),
            toml,
        )

    # Derived values: one place that says where things live.
    @property
    def ledger_database_url(self) -> str:
        """The ledger's SQLAlchemy URL."""
        return self.ledger_url or f"sqlite:///{self.home.resolve() / 'ledger.db'}"

    @property
    def keyword_plugin(self) -> str | None:
        """The keyword index plugin ``keyword_index`` selects; None when it is ``none``."""
        name = self.keyword_index.strip().lower()
        if name == "none":
            return None
        if name == "auto":
            return "postgres" if self.ledger_database_url.startswith("postgresql") else "sqlite"
        return name

    def source(self, name: str) -> SourceConfig:
        """The named source, or a ConfigurationError listing the names there are."""
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none: add [[sources]] to docmill.toml"
        raise UnknownSource(f"no source named {name!r} in the settings (sources: {known})", name=name)

    @property
    def distributed(self) -> bool:
        """True when a broker is configured: work goes to `docmill worker` processes."""
        return self.broker_url is not None

    def plugin_registry(self) -> Plugins:
        """The plugins these settings allow (``load_plugins``), whose settings' secrets are kept out of the logs
        as each plugin's settings are read."""
        from .core.plugins import load_plugins
        from .logs import redact_secrets

        plugins = load_plugins(self.load_plugins)
        plugins.on_secrets = redact_secrets
        return plugins

    def secret_values(self) -> list[str]:
        """Every configured secret (source tokens, passwords in the broker's and the ledger's URLs, plugin
        settings named like secrets), to redact. A plugin's SecretStr settings are added when its settings are
        read (``plugin_registry``)."""
        from urllib.parse import urlsplit

        found = [secret.get_secret_value() for s in self.sources for secret in (s.token, s.webhook_secret)
                 if secret is not None]
        # Passwords in the broker's and the ledger's URLs; not their user names, which are no secret and are
        # often a word the logs need (a RabbitMQ user called "docmill" blanked out every logger's name).
        for url in (self.broker_url.get_secret_value() if self.broker_url else None, self.ledger_url):
            password = urlsplit(url).password if url else None
            if password and password != "guest":
                found.append(password)
        for section in self.plugins.values():
            found += [str(value) for key, value in section.items()
                      if any(word in key.lower() for word in SECRET_WORDS) and isinstance(value, str)]
        return [value for value in found if value]

    @property
    def limits(self) -> Limits:
        """The bounds every extractor and OCR engine respects."""
        return Limits(max_file_size=int(self.max_file_size), max_pages=self.max_pages, max_pixels=self.max_pixels,
                      ocr_timeout=self.ocr_timeout, ocr_dpi=self.ocr_dpi, max_text=self.max_text,
                      max_attachments=self.max_attachments, max_messages=self.max_messages)

    @property
    def cpu_count(self) -> int:
        """Cores this process may use."""
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _setting_name(loc: tuple[int | str, ...]) -> str:
    field = "__".join(str(part) for part in loc) if loc else ""
    if not field:
        return "settings"
    return f"{ENV_PREFIX}{field.upper()} ({field})"


def load_settings(**overrides: Any) -> Settings:
    """Read settings, or raise ConfigurationError naming each bad setting."""
    config = os.environ.get("DOCMILL_CONFIG")
    if config and not Path(config).is_file():
        raise ConfigurationError(f"DOCMILL_CONFIG: no such file: {config}")
    known = {ENV_PREFIX + name.upper() for name in [*Settings.model_fields, *RENAMED]} | _NON_FIELD_ENV
    for name in sorted(os.environ):
        if name.startswith(ENV_PREFIX) and name.split("__")[0] not in known:
            log.warning("%s is not a docmill setting and is ignored", name)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{_setting_name(error['loc'])}: {message}")
        raise ConfigurationError("bad settings:\n  " + "\n  ".join(lines)) from None
    except (OSError, ValueError) as exc:  # an unreadable or malformed docmill.toml
        raise ConfigurationError(f"cannot read settings: {exc}") from None
    from .logs import redact_secrets

    redact_secrets(settings.secret_values())
    return settings
