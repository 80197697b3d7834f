"""docmill: documents in, searchable chunked vectors out, kept in sync with their sources."""

from .core.errors import (
    ConfigurationError,
    CorruptDocument,
    DocmillError,
    DocumentTooLarge,
    EncryptedDocument,
    PermanentError,
    RateLimited,
    SourceUnavailable,
    StoreUnavailable,
    TransientError,
    UnsupportedDocument,
)
from .core.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "CorruptDocument",
    "DocmillError",
    "DocumentTooLarge",
    "EncryptedDocument",
    "PermanentError",
    "RateLimited",
    "SourceUnavailable",
    "StoreUnavailable",
    "TransientError",
    "UnsupportedDocument",
    "__version__",
    "hookimpl",
]
