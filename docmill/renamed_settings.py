"""Settings that moved into their plugin's own section, still read under their old names for one release.

``DOCMILL_CHROMA_URL=http://chroma:8000`` (or ``chroma_url`` in docmill.toml)
now means ``[plugins.chroma] url`` / ``DOCMILL_PLUGINS__CHROMA__URL``. An old
name gives a warning saying the new one; where both are set, the new one
wins. These aliases go in the release after next.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

__all__ = ["RENAMED", "RenamedSettings", "move_renamed"]

#: Old top-level setting -> (plugin, field) of its new place.
RENAMED: dict[str, tuple[str, str]] = {
    "chroma_url": ("chroma", "url"),
    "qdrant_url": ("qdrant", "url"),
    "qdrant_api_key": ("qdrant", "api_key"),
    "qdrant_path": ("qdrant", "path"),
    "qdrant_timeout": ("qdrant", "timeout"),
    "embed_model": ("fastembed", "model"),
    "embed_model_path": ("fastembed", "model_path"),
    "embed_batch_size": ("fastembed", "batch_size"),
    "embed_threads": ("fastembed", "threads"),
    "ocr_languages": ("tesseract", "languages"),
}


class RenamedSettings(PydanticBaseSettingsSource):
    """Old ``DOCMILL_<NAME>`` variables from the environment, then ``.env`` (the environment wins)."""

    def __init__(self, settings_cls: type[BaseSettings], env_file: Path) -> None:
        super().__init__(settings_cls)
        self.env_file = env_file

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        layers: list[dict[str, Any]] = []
        if self.env_file.is_file():
            from dotenv import dotenv_values

            layers.append(dict(dotenv_values(self.env_file)))
        layers.append(dict(os.environ))
        found: dict[str, Any] = {}
        for layer in layers:
            upper = {name.upper(): value for name, value in layer.items()}
            for old in RENAMED:
                value = upper.get(f"DOCMILL_{old.upper()}")
                if value is not None:
                    found[old] = value
        return found


def move_renamed(data: dict[str, Any]) -> dict[str, Any]:
    """Move old names in the settings' input to their plugin's section, warning about each."""
    old = [name for name in RENAMED if name in data]
    if not old:
        return data
    data = dict(data)
    plugins = {name: dict(values) for name, values in (data.get("plugins") or {}).items()}
    for name in old:
        plugin, field = RENAMED[name]
        value = data.pop(name)
        section = plugins.setdefault(plugin, {})
        new = f"DOCMILL_PLUGINS__{plugin.upper()}__{field.upper()}"
        warnings.warn(f"DOCMILL_{name.upper()} ({name}) is deprecated: use {new} or {field} in [plugins.{plugin}] "
                      f"of docmill.toml{'; the new setting is also set and wins' if field in section else ''}",
                      FutureWarning, stacklevel=2)
        section.setdefault(field, value)
    data["plugins"] = plugins
    return data
