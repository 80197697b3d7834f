"""Named sources in settings: ``[[sources]]`` in docmill.toml, secrets from the environment.

Each source has a name, a type (a source plugin), an optional schedule (a
cron line or an interval) and the type's own options. Its ``token`` is a
secret: it never enters the ledger, a message or a log line. Workers read it
from their own settings, by the source's name. A token (or any field) of the
i-th source can come from ``DOCMILL_SOURCES__<i>__TOKEN`` in the environment
or ``.env``, applied over what docmill.toml says.
"""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from .core.errors import ConfigurationError

__all__ = ["Interval", "SourceConfig", "SourceOverrides"]

#: Option names that would hold a secret: they belong in ``token`` (a SecretStr), not in plain options.
SECRET_WORDS = ("token", "key", "secret", "pass", "credential", "auth")


def _has_credentials(text: str) -> bool:
    """Whether ``text`` is a URL with ``user:password@`` (or ``user@``) before its host."""
    if "://" not in text:
        return False
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return False
    return bool(parts.username or parts.password)


class Interval(BaseModel):
    """A schedule every so often: ``schedule = { minutes = 10 }``."""

    model_config = ConfigDict(extra="forbid")

    weeks: float = Field(0, ge=0)
    days: float = Field(0, ge=0)
    hours: float = Field(0, ge=0)
    minutes: float = Field(0, ge=0)
    seconds: float = Field(0, ge=0)

    @model_validator(mode="after")
    def _positive(self) -> Interval:
        if self.total_seconds <= 0:
            raise ValueError("an interval needs a positive length, e.g. { minutes = 10 }")
        return self

    @property
    def total_seconds(self) -> float:
        return (((self.weeks * 7 + self.days) * 24 + self.hours) * 60 + self.minutes) * 60 + self.seconds


class SourceConfig(BaseModel):
    """One named source. Options other than these fields belong to the source type."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
                      description="Lower-case letters, digits, '-' and '_'; how commands name the source.")
    type: str = Field(description="Source plugin: folder, or a third-party type.")
    schedule: str | Interval | None = Field(None, description="Cron line ('*/30 * * * *') or interval.")
    token: SecretStr | None = Field(None, description="The source's credential; never stored or logged.")
    webhook_secret: SecretStr | None = Field(
        None, description="What `POST /v1/sources/NAME/webhook` must carry (X-Docmill-Webhook-Secret) to trigger "
        "a sync of this source; unset: the source takes no webhooks.")

    @field_validator("token", "webhook_secret")
    @classmethod
    def _strip_token(cls, value: SecretStr | None) -> SecretStr | None:
        # A token pasted with its line end (``$(cat token.txt)``, an editor's final newline) is the same token.
        return SecretStr(value.get_secret_value().strip()) if value is not None else None

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | Interval | None) -> str | Interval | None:
        if isinstance(value, str):
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise ValueError(f"not a cron line ({exc}); e.g. '*/30 * * * *'") from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _dates_as_text(cls, values: Any) -> Any:
        """TOML dates and times (``since = 2024-01-31``) as ISO text: options are stored in the ledger as JSON."""
        def plain(value: Any) -> Any:
            if isinstance(value, datetime.date | datetime.time):
                return value.isoformat()
            return [plain(v) for v in value] if isinstance(value, list) else value

        return {k: plain(v) for k, v in values.items()} if isinstance(values, dict) else values

    @model_validator(mode="after")
    def _no_plain_secrets(self) -> SourceConfig:
        for key, value in (self.model_extra or {}).items():
            if any(word in key.lower() for word in SECRET_WORDS):
                raise ValueError(f"option {key!r} looks like a secret: put it in 'token' "
                                 "(or DOCMILL_SOURCES__<n>__TOKEN), which is never stored or logged")
            for text in value if isinstance(value, list) else [value]:
                if isinstance(text, str) and _has_credentials(text):
                    raise ValueError(f"option {key!r} holds a URL with a user name or password in it: put the "
                                     "credential in 'token' (or DOCMILL_SOURCES__<n>__TOKEN), which is never "
                                     "stored or logged, and give the URL without it")
        return self

    @property
    def options(self) -> dict[str, Any]:
        """The type's own options (no secret among them)."""
        return dict(self.model_extra or {})


_OVERRIDE = re.compile(r"^DOCMILL_SOURCES__(\d+)__([A-Za-z0-9_]+)$", re.IGNORECASE)


class SourceOverrides(PydanticBaseSettingsSource):
    """``DOCMILL_SOURCES__<i>__<FIELD>`` (environment, then ``.env``) applied to the i-th source of docmill.toml.

    pydantic-settings would let such a variable replace the whole list; here
    it changes one field of one source, which is what a token in the
    environment means.
    """

    def __init__(self, settings_cls: type[BaseSettings], toml: PydanticBaseSettingsSource, env_file: Path) -> None:
        super().__init__(settings_cls)
        self.toml = toml
        self.env_file = env_file

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def _overrides(self) -> dict[int, dict[str, str]]:
        found: dict[int, dict[str, str]] = {}
        layers: list[dict[str, Any]] = []
        if self.env_file.is_file():
            from dotenv import dotenv_values

            layers.append(dict(dotenv_values(self.env_file)))
        layers.append(dict(os.environ))  # the environment wins over .env
        for layer in layers:
            for name, value in layer.items():
                match = _OVERRIDE.match(name)
                if match and value is not None:
                    found.setdefault(int(match.group(1)), {})[match.group(2).lower()] = value
        return found

    def __call__(self) -> dict[str, Any]:
        overrides = self._overrides()
        if not overrides:
            return {}
        sources = [dict(s) for s in self.toml().get("sources", [])]
        for index, fields in sorted(overrides.items()):
            if index >= len(sources):
                names = ", ".join(f"DOCMILL_SOURCES__{index}__{f.upper()}" for f in fields)
                raise ConfigurationError(f"{names}: there is no source number {index} in the settings file "
                                         f"({len(sources)} [[sources]] defined, numbered from 0)")
            sources[index].update(fields)
        return {"sources": sources}
