"""A source type's own options, checked as its ``[[sources]]`` entry gives them.

Each check raises ConfigurationError with the option's name and what it
takes: a number in a range, a string, a list of globs, true or false, a URL
with no user name or password in it; and an option the type does not know
is refused rather than ignored (a misspelt ``exlude`` would exclude nothing).
A refused URL is never repeated in the message: it may hold a password.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from docmill import ConfigurationError

__all__ = ["Options"]

#: What every [[sources]] entry may hold besides its type's options (see ``docmill.sources_config``).
COMMON = frozenset({"name", "type", "schedule", "token", "webhook_secret"})


class Options:
    """The options of one source of type ``kind``, of which ``known`` are the type's own."""

    def __init__(self, kind: str, options: Mapping[str, Any], known: set[str]) -> None:
        self.kind, self.options = kind, dict(options)
        unknown = sorted(set(self.options) - known - COMMON)
        if unknown:
            raise ConfigurationError(f"the {kind} source has no option {', '.join(map(repr, unknown))}; it takes "
                                     f"{', '.join(sorted(known - COMMON))}")

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ConfigurationError(f"the {self.kind} source's {key} must be a number from {low:g} to {high:g}, "
                                     f"not {value!r}")
        return float(value)

    def text(self, key: str) -> str | None:
        value = self.options.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"the {self.kind} source's {key} must be a string, not {value!r}")
        return value or None

    def flag(self, key: str, default: bool) -> bool:
        value = self.options.get(key, default)
        if not isinstance(value, bool):
            raise ConfigurationError(f"the {self.kind} source's {key} must be true or false, not {value!r}")
        return value

    def strings(self, key: str, default: Sequence[str], what: str = "globs, such as [\"*.pdf\"]") -> list[str]:
        value = self.options.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigurationError(f"the {self.kind} source's {key} must be a list of {what}, not {value!r}")
        return value

    def url(self, key: str, example: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
        """A URL with no credentials in it (they would reach logs, the ledger and every chunk's url)."""
        value = self.text(key)
        if value is None:
            raise ConfigurationError(f"the {self.kind} source needs {key} = \"{example}\"")
        parts = urlsplit(value)
        if parts.username is not None or parts.password is not None:
            raise ConfigurationError(f"the {self.kind} source's {key} has a user name or password in it (before "
                                     "the @): give the URL without it (a source's password goes in 'token', which "
                                     "is never stored or logged)")
        if parts.scheme not in schemes or not parts.hostname:
            raise ConfigurationError(f"the {self.kind} source's {key} must be a URL such as \"{example}\", "
                                     f"not {value!r}")
        return value
