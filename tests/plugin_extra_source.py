"""A minimal third-party plugin registering a source type."""

from typing import Any

from docmill import hookimpl


@hookimpl
def docmill_register_sources(register: Any) -> None:
    register("extra", lambda options, context: None)
