"""docmill: documents in, searchable chunked vectors out, kept in sync with their sources."""

from .core import errors
from .core.errors import *  # noqa: F403 - the error tree is part of the public surface
from .core.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [*errors.__all__, "__version__", "hookimpl"]
