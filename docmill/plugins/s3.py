"""The s3 source type: a bucket of an S3-compatible object store (AWS, MinIO, Ceph, Garage...).

This module registers the type and reads its options; the source
(``s3_source.py``) and boto3 with it (``s3_client.py``) are imported only
when a sync builds one, since every docmill command loads the plugins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from docmill import ConfigurationError, PluginContext, Register, SourceFactory, hookimpl

if TYPE_CHECKING:
    from .s3_source import S3Source

__all__ = ["make_s3_source"]

OPTIONS = {"name", "type", "endpoint", "region", "bucket", "prefix", "access_id", "profile", "anonymous",
           "addressing", "ca_file", "proxy", "attempts", "timeout", "page_size", "include", "exclude"}


def _number(options: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigurationError(f"the s3 source's {key} must be a number from {low:g} to {high:g}, not {value!r}")
    return float(value)


def _text(options: Mapping[str, Any], key: str) -> str | None:
    value = options.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"the s3 source's {key} must be a string, not {value!r}")
    return value or None


def _globs(options: Mapping[str, Any], key: str, default: tuple[str, ...]) -> list[str]:
    value = options.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
        raise ConfigurationError(f"the s3 source's {key} must be a list of globs, such as [\"*.pdf\"], not {value!r}")
    return value


def _url(options: Mapping[str, Any], key: str, example: str) -> str | None:
    """An http(s) URL without a path, and without a user name or password (they would reach every message)."""
    url = _text(options, key)
    if url is not None:
        parts = urlsplit(url)
        if "@" in parts.netloc:
            raise ConfigurationError(f"the s3 source's {key} must not hold a user name or password: give it as "
                                     f"{parts.scheme}://{parts.netloc.rpartition('@')[2]} (the key goes in "
                                     "access_id and token)" if key == "endpoint" else
                                     f"the s3 source's {key} must not hold a user name or password "
                                     "(a proxy that asks for one is not supported)")
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
            raise ConfigurationError(f"the s3 source's {key} must be a URL such as \"{example}\" "
                                     f"(no bucket or path in it), not {url!r}")
    return url


def make_s3_source(options: Any, context: PluginContext) -> S3Source:
    """Build an S3 source from its options, with the secret access key from its token (or the AWS variables)."""
    from .s3_client import S3Client, resolve_credentials
    from .s3_source import S3Source

    options = dict(options)
    unknown = sorted(set(options) - OPTIONS - {"schedule", "token", "webhook_secret"})
    if unknown:
        raise ConfigurationError(f"the s3 source has no option {', '.join(map(repr, unknown))}; it takes "
                                 f"{', '.join(sorted(OPTIONS - {'name', 'type'}))}")
    name, bucket = str(options.get("name", "s3")), _text(options, "bucket")
    if not bucket or "/" in bucket:
        raise ConfigurationError(f"the s3 source {name!r} needs bucket = \"NAME\" (a bucket name, no '/'; "
                                 "put folders in prefix)")
    endpoint = _url(options, "endpoint", "https://minio.lan:9000")
    addressing = options.get("addressing", "path" if endpoint else "auto")
    if addressing not in ("auto", "path", "virtual"):
        raise ConfigurationError(f"the s3 source's addressing must be 'auto', 'path' or 'virtual', not {addressing!r}")
    anonymous = options.get("anonymous", False)
    if not isinstance(anonymous, bool):
        raise ConfigurationError(f"the s3 source's anonymous must be true or false, not {anonymous!r}")
    secret = context.token.get_secret_value() if context.token is not None else None
    if anonymous and (secret or options.get("access_id")):
        raise ConfigurationError("the s3 source is anonymous = true but has credentials: drop one or the other")
    access_id, profile = _text(options, "access_id"), _text(options, "profile")
    credentials = None if anonymous else resolve_credentials(access_id, secret, profile)
    # Keys from the AWS variables and files are read again at each sync: temporary ones get renewed there.
    renew = None if anonymous or secret else lambda: resolve_credentials(None, None, profile)
    client = S3Client(bucket, endpoint=endpoint, region=_text(options, "region") or "us-east-1",
                      credentials=credentials, addressing=addressing, ca_file=_text(options, "ca_file"),
                      proxy=_url(options, "proxy", "http://proxy.lan:3128"),
                      attempts=int(_number(options, "attempts", 5, 1, 20)),
                      timeout=_number(options, "timeout", 30, 1, 600), on_request=context.on_request, renew=renew,
                      on_secrets=context.on_secrets)
    return S3Source(name, client, prefix=_text(options, "prefix") or "", max_bytes=context.limits.max_file_size,
                    include=_globs(options, "include", context.include),
                    exclude=_globs(options, "exclude", context.exclude),
                    page_size=int(_number(options, "page_size", 1000, 1, 1000)))


@hookimpl
def docmill_register_sources(register: Register[SourceFactory]) -> None:
    register("s3", make_s3_source)
