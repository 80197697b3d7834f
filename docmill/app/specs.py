"""Which sources a job discovers: folders given by path, named sources from the settings."""

from __future__ import annotations

import os
from collections.abc import Iterable

from ..core.values import SourceSpec
from ..settings import Settings
from ..sources_config import SourceConfig

__all__ = ["FOLDER_SOURCE", "folder_specs", "has_ledger", "source_id", "source_spec"]

#: The source type `docmill ingest PATH` reads through.
FOLDER_SOURCE = "folder"


def folder_specs(settings: Settings, paths: Iterable[str], include: Iterable[str] = (), exclude: Iterable[str] = (),
                 *, prune: bool = False, retry_failed: bool = False) -> list[SourceSpec]:
    """One folder source per path, with the settings' globs and these."""
    specs = []
    for path in paths:
        real = os.path.realpath(path)
        options = {"root": real, "label": path, "include": [*settings.include, *include],
                   "exclude": [*settings.exclude, *exclude]}
        specs.append(SourceSpec(id=f"{FOLDER_SOURCE}:{real}", type=FOLDER_SOURCE, options=options, prune=prune,
                                retry_failed=retry_failed))
    return specs


def source_id(name: str) -> str:
    """The ledger's id of a named source."""
    return f"source:{name}"


def source_spec(config: SourceConfig, full: bool = False, *, prune: bool = False,
                retry_failed: bool = False) -> SourceSpec:
    """How workers rebuild a named source: its type and options, and its name (to find its token in their
    settings)."""
    return SourceSpec(id=source_id(config.name), type=config.type, options={**config.options, "name": config.name},
                      full=full, prune=prune, retry_failed=retry_failed)


def has_ledger(settings: Settings) -> bool:
    """Whether there is a ledger to read: a database URL, or an embedded home that exists."""
    return settings.ledger_url is not None or settings.home.is_dir()
