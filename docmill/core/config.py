"""What the core reads of docmill's settings: a small, read-only interface, so that the core never imports
``docmill.settings`` (which depends on the core, never the reverse).

``docmill.settings.Settings`` provides every attribute below; so can a test's or an embedding program's own
object. Limits the parsing processes enforce travel as the value object ``core.values.Limits``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr

from .values import Limits

__all__ = ["NamedSourceSettings", "RuntimeSettings"]


class NamedSourceSettings(Protocol):
    """A named source as the core needs it: its name, and the token its plugin is given."""

    @property
    def name(self) -> str: ...

    @property
    def token(self) -> SecretStr | None: ...


class RuntimeSettings(Protocol):
    """The settings a runtime and the plugin registry read: where things live, which plugins, their limits."""

    @property
    def home(self) -> Path: ...

    @property
    def ledger_url(self) -> str | None: ...

    @property
    def ledger_database_url(self) -> str: ...

    @property
    def job_history_days(self) -> float: ...

    @property
    def load_plugins(self) -> Sequence[str] | None: ...

    @property
    def plugins(self) -> Mapping[str, Mapping[str, Any]]: ...

    @property
    def sources(self) -> Sequence[NamedSourceSettings]: ...

    @property
    def store(self) -> str: ...

    @property
    def keyword_plugin(self) -> str | None: ...

    @property
    def collection(self) -> str: ...

    @property
    def embedder(self) -> str: ...

    @property
    def chunker(self) -> str: ...

    @property
    def ocr(self) -> str: ...

    @property
    def chunk_size(self) -> int: ...

    @property
    def chunk_overlap(self) -> int: ...

    @property
    def include(self) -> Sequence[str]: ...

    @property
    def exclude(self) -> Sequence[str]: ...

    @property
    def limits(self) -> Limits: ...

    @property
    def cpu_count(self) -> int: ...

    @property
    def ocr_workers(self) -> int | None: ...

    @property
    def ocr_pages_per_task(self) -> int: ...

    @property
    def max_chunks(self) -> int: ...

    @property
    def max_attachment_depth(self) -> int: ...

    @property
    def max_parse_memory(self) -> int: ...

    @property
    def parse_timeout(self) -> float: ...

    @property
    def parse_processes(self) -> int | None: ...

