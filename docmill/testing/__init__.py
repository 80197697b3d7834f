"""Helpers for testing docmill and its plugins."""

from .network import ConnectionAudit

__all__ = ["ConnectionAudit"]
