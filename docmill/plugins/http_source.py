"""The HTTP source: a list of URLs (inline or in a file), each a document (see ``url_source.py``).

This module registers the source and reads its options; the source itself,
and httpx with it, is imported only when a sync builds one, since every
docmill command loads the plugins and few of them fetch anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from docmill import ConfigurationError, PluginContext, Register, SourceFactory, hookimpl

if TYPE_CHECKING:
    from .url_source import HttpSource

__all__ = ["make_http_source"]


def _urls(options: dict[str, Any]) -> list[str]:
    urls = list(options.get("urls") or [])
    if options.get("urls_file"):
        path = Path(str(options["urls_file"]))
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise ConfigurationError(f"cannot read the source's urls_file {path}: {exc.strerror}") from exc
        urls += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not urls:
        raise ConfigurationError("an http source needs 'urls' (a list) or 'urls_file' (one URL per line)")
    return urls


def make_http_source(options: Any, context: PluginContext) -> HttpSource:
    """Build an HTTP source from its options: urls or urls_file, allow_hosts, content_types, timeout, proxy."""
    from .url_source import CONTENT_TYPES, HttpSource

    options = dict(options)
    return HttpSource(str(options.get("name", "http")), _urls(options), max_bytes=context.limits.max_file_size,
                      allow_hosts=options.get("allow_hosts", ()),
                      content_types=options.get("content_types", CONTENT_TYPES),
                      timeout=float(options.get("timeout", 30.0)), proxy=options.get("proxy"),
                      on_request=context.on_request)


@hookimpl
def docmill_register_sources(register: Register[SourceFactory]) -> None:
    register("http", make_http_source)
