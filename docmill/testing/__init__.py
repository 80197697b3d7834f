"""Helpers for testing docmill and its plugins."""

from .installed import plugin_dir
from .network import ConnectionAudit
from .servers import ChromaServer, free_port

__all__ = ["ChromaServer", "ConnectionAudit", "free_port", "plugin_dir"]
