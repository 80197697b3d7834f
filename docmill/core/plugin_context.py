"""What a plugin's factory is given: its own settings, validated, and the few facts every plugin may need.

A plugin declares its settings as a pydantic model when it registers a factory::

    class MyStoreSettings(BaseModel):
        model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not ignored
        url: str = "http://localhost:9000"
        api_key: SecretStr | None = None

    register("mystore", make_store, settings=MyStoreSettings)

Values come from ``[plugins.mystore]`` in docmill.toml and from
``DOCMILL_PLUGINS__MYSTORE__URL`` in the environment or ``.env`` (which win
over the file). The factory gets a :class:`PluginContext` whose ``settings``
is the validated model; ``SecretStr`` values are redacted from every log
line and masked in ``docmill plugins --json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, SecretStr, ValidationError

from .errors import ConfigurationError
from .values import Limits

__all__ = ["PluginContext", "RemoteSettings", "env_name", "masked", "validate_settings"]


@dataclass(frozen=True)
class PluginContext:
    """What a factory is given instead of docmill's whole settings.

    ``name`` is the name the plugin was selected by (``DOCMILL_STORE=mystore``
    or a source's ``type``); ``settings`` is the instance of the model the
    plugin registered (None when it declared none). The rest is shared by
    every plugin: where docmill keeps its files (``home``; make a directory
    of your own in it), the index's ``collection`` name, the cores this
    process may use, the limits every parser respects, the chunking sizes,
    the OCR concurrency, the default name filters, and the ledger's
    SQLAlchemy URL (``ledger_url``: a keyword index keeps its tables beside a
    PostgreSQL ledger's; it may hold a password, and is left out of ``repr``).

    Sources also get their ``source`` name and its ``token`` (a SecretStr
    from the source's ``[[sources]]`` entry, or None), and ``on_request``,
    to call once for each request they send their server (docmill counts
    them in its metrics).

    ``on_secrets`` takes secret values a plugin learns as it runs (a key
    read from a credentials file, a session token), to be redacted from
    every log line as the configured ones are.
    """

    name: str
    settings: Any
    home: Path
    collection: str
    cpu_count: int
    limits: Limits
    chunk_size: int
    chunk_overlap: int
    ocr_workers: int | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    source: str | None = None
    token: SecretStr | None = None
    on_request: Callable[[], None] = lambda: None
    on_secrets: Callable[[Sequence[str]], None] = lambda _: None
    ledger_url: str | None = field(default=None, repr=False)


@runtime_checkable
class RemoteSettings(Protocol):
    """Settings of a vector store that may live on a server rather than in docmill's home.

    ``docmill status`` and ``search`` look for an index without a local ledger
    only when the selected store's settings say ``remote``.
    """

    @property
    def remote(self) -> bool:
        """True when the store is a server shared by other machines."""
        ...


def env_name(plugin: str, field: str = "") -> str:
    """The environment variable of a plugin's setting: ``DOCMILL_PLUGINS__NAME__FIELD``."""
    name = f"DOCMILL_PLUGINS__{plugin.upper().replace('-', '_')}"
    return f"{name}__{field.upper()}" if field else name


def validate_settings(model: type[BaseModel], plugin: str, values: Mapping[str, Any]) -> BaseModel:
    """The plugin's settings model filled from ``values``; a ConfigurationError names each bad setting."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            where = f"{env_name(plugin, str(error['loc'][0]))} ([plugins.{plugin}] {field})" if field else \
                f"[plugins.{plugin}]"
            lines.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
        raise ConfigurationError(f"bad settings of the {plugin} plugin:\n  " + "\n  ".join(lines)) from None


def secrets_of(settings: BaseModel) -> list[str]:
    """The SecretStr values of a plugin's settings (to keep out of logs)."""
    values = (getattr(settings, name) for name in type(settings).model_fields)
    return [v.get_secret_value() for v in values if isinstance(v, SecretStr) and v.get_secret_value()]


def masked(settings: BaseModel) -> dict[str, Any]:
    """The settings as JSON values, with every SecretStr shown as ``**********``."""
    return settings.model_dump(mode="json")
