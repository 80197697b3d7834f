"""Talking to an S3-compatible object store with botocore: credentials, the one endpoint, errors, capped reads.

botocore signs the requests (no hand-written signing). It is built so that it
contacts the configured endpoint and nothing else:

* Credentials are resolved by docmill from a short explicit list: the
  source's ``access_id`` and secret (its ``token``), or else the standard AWS
  variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_SESSION_TOKEN``) and the shared credentials and config files (a
  ``profile``). botocore's own chain is never run: it would ask the EC2
  instance metadata service (169.254.169.254) and the container credentials
  endpoint when nothing else answers, and a profile can send it to STS or SSO.
  Those from the variables and files are read again at every listing (every
  sync) and before a download once ``RENEW_AFTER`` seconds passed, so that a
  long-running scheduler or worker picks up temporary credentials renewed in
  the files (the environment of a running process does not change).
* The client gets that endpoint and region explicitly, ignores endpoint URLs
  from the environment and config files (``AWS_ENDPOINT_URL``...), uses no
  endpoint discovery, no proxy from the environment (a ``proxy`` can be named),
  and the legacy defaults mode (``auto`` looks the region up in the instance
  metadata).

The secret and session token are given to the log redactor and never logged
(botocore's and urllib3's loggers stay at INFO at most: at DEBUG botocore
prints the request headers), and every error message is built here from the
error's code and the operation, with the secret scrubbed from what the
server said, in case an emulator or a proxy echoes it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.credentials
import botocore.exceptions
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config

from docmill import (
    ConfigurationError,
    DocumentTooLarge,
    PermanentError,
    RateLimited,
    SourceUnavailable,
    __version__,
)

__all__ = ["S3Client", "S3Credentials", "resolve_credentials"]

log = logging.getLogger(__name__)

#: Bytes read from an object's body at a time.
READ_SIZE = 1 << 20
#: Seconds after which a download reads the credentials from the AWS variables and files again.
RENEW_AFTER = 300.0
#: Error codes that trying again later may cure (not RequestTimeTooSkewed: a wrong clock stays wrong).
BUSY = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"}
#: Error codes of refused credentials.
REFUSED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
           "AllAccessDisabled", "AuthorizationHeaderMalformed", "403"}
#: The client method of each S3 operation used.
METHODS = {"ListObjectsV2": "list_objects_v2", "GetObject": "get_object"}
#: botocore's errors of a connection that failed or broke off.
NETWORK = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionError,
           botocore.exceptions.HTTPClientError, botocore.exceptions.ReadTimeoutError,
           botocore.exceptions.ResponseStreamingError, botocore.exceptions.IncompleteReadError)


@dataclass(frozen=True, repr=False)
class S3Credentials:
    """An access key (and a session token, for temporary credentials), or None for anonymous requests."""

    access_id: str
    secret: str
    session_token: str | None = None
    origin: str = "the source's settings"


def resolve_credentials(access_id: str | None, secret: str | None, profile: str | None) -> S3Credentials:
    """The source's own key, or else the AWS variables and shared files; never the instance metadata."""
    if secret:
        if not access_id:
            raise ConfigurationError("the s3 source's token is the secret access key: give its key id as "
                                     "access_id = \"...\" too")
        return S3Credentials(access_id, secret)
    if access_id:
        raise ConfigurationError(f"the s3 source has access_id = {access_id!r} but no secret: set its token "
                                 "(or DOCMILL_SOURCES__<n>__TOKEN) to the secret access key")
    session = botocore.session.Session(profile=profile)
    providers: list[Any] = [] if profile else [botocore.credentials.EnvProvider()]
    name = session.profile or "default"
    providers += [
        botocore.credentials.SharedCredentialProvider(
            os.path.expanduser(session.get_config_variable("credentials_file")), name),
        botocore.credentials.ConfigProvider(os.path.expanduser(session.get_config_variable("config_file")), name),
    ]
    try:
        found = botocore.credentials.CredentialResolver(providers).load_credentials()
    except botocore.exceptions.BotoCoreError as exc:  # a malformed file, a profile without a key
        raise ConfigurationError(f"cannot read the AWS credentials of profile {name!r}: "
                                 f"{type(exc).__name__}") from None
    if found is None:
        raise ConfigurationError(
            "the s3 source has no credentials: set access_id and token (DOCMILL_SOURCES__<n>__TOKEN), or "
            f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a key in profile {name!r} of ~/.aws/credentials "
            "(or anonymous = true for a public bucket). docmill never asks the instance metadata service")
    frozen = found.get_frozen_credentials()
    return S3Credentials(frozen.access_key, frozen.secret_key, frozen.token,
                         origin="the AWS variables" if found.method == "env" else f"profile {name!r} ({found.method})")


class S3Client:
    """ListObjectsV2 and GetObject on one bucket of one endpoint.

    ``on_secrets`` is given the secret and session token of every key the client signs with, for the log
    redactor (``PluginContext.on_secrets``).
    ``renew``, when given, reads the credentials again (from the AWS variables and files): at every listing,
    and before a download once ``RENEW_AFTER`` seconds passed since the last reading.
    """

    def __init__(self, bucket: str, *, endpoint: str | None, region: str, credentials: S3Credentials | None,
                 addressing: str = "auto", ca_file: str | None = None, proxy: str | None = None,
                 attempts: int = 5, timeout: float = 30.0, on_request: Callable[[], None] = lambda: None,
                 renew: Callable[[], S3Credentials] | None = None,
                 on_secrets: Callable[[Sequence[str]], None] = lambda _: None) -> None:
        self.bucket = bucket
        host = urlsplit(endpoint).netloc.rpartition("@")[2] if endpoint else f"s3.{region}.amazonaws.com"
        self.where = f"bucket {bucket!r} at {host}"
        self._endpoint, self._region, self._ca_file = endpoint, region, ca_file
        self._on_request, self._on_secrets = on_request, on_secrets
        self._config = Config(
            region_name=region, signature_version=UNSIGNED if credentials is None else None,
            s3={"addressing_style": addressing}, retries={"mode": "standard", "total_max_attempts": attempts},
            connect_timeout=timeout, read_timeout=timeout, proxies={"http": proxy, "https": proxy} if proxy else {},
            endpoint_discovery_enabled=False, ignore_configured_endpoint_urls=True,
            defaults_mode="legacy",  # "auto" would ask the instance metadata service for the region
            user_agent_appid=f"docmill-{__version__}", max_pool_connections=16)
        self._renew, self._lock, self._secrets = renew, threading.Lock(), list[str]()
        self._connect(credentials)

    def _connect(self, credentials: S3Credentials | None) -> None:
        """A botocore client signing with these credentials (their secrets registered with the log redactor)."""
        secrets = [s for s in (credentials.secret, credentials.session_token) if s] if credentials else []
        self._on_secrets(secrets)
        keys: dict[str, Any] = {} if credentials is None else {
            "aws_access_key_id": credentials.access_id, "aws_secret_access_key": credentials.secret,
            "aws_session_token": credentials.session_token}
        client = boto3.Session(botocore_session=botocore.session.Session()).client(
            "s3", endpoint_url=self._endpoint, region_name=self._region, config=self._config, verify=self._ca_file,
            **keys)
        client.meta.events.register("before-send.s3", lambda **_: self._on_request())
        self._credentials, self._client = credentials, client
        self._secrets += secrets  # the old ones too: a server may still echo them
        #: Where the credentials came from, for ``docmill doctor`` (never the key itself).
        self.signer = f"the key of {credentials.origin}" if credentials else "no key (anonymous)"
        self._read_at = time.monotonic()

    def renew(self, older_than: float = 0.0) -> None:
        """Read the credentials again if they came from the AWS variables or files and were read more than
        ``older_than`` seconds ago; sign with them from now on if they changed."""
        if self._renew is None or time.monotonic() - self._read_at < older_than:
            return
        with self._lock:
            if time.monotonic() - self._read_at < older_than:
                return
            try:
                credentials = self._renew()
            except ConfigurationError as exc:
                if not older_than:  # a listing: the sync stops and says why
                    raise
                self._read_at = time.monotonic()  # a download: the key read before may still do
                log.warning("%s; %s goes on with the credentials read before", exc, self.where)
                return
            if credentials == self._credentials:
                self._read_at = time.monotonic()
            else:  # the old client is left to other threads' requests under way, not closed under them
                log.info("the credentials of %s changed (%s): signing with the new ones", self.where,
                         credentials.origin)
                self._connect(credentials)

    def close(self) -> None:
        self._client.close()

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return " ".join(text.split())

    def _translate(self, exc: Exception, what: str) -> Exception:
        """A docmill error for a botocore one: refused, missing, busy or unreachable, without a secret."""
        if isinstance(exc, botocore.exceptions.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            said = self._scrub(str(error.get("Message") or "")).rstrip(".")
            told = f"{self.where} answered {code or f'HTTP {status}'} to {what}" + (f": {said}" if said else "")
            if code in ("SlowDown", "Throttling") or status == 429:
                return RateLimited(told, retry_after=None)
            if code == "RequestTimeTooSkewed":
                return PermanentError(f"{told}. The clock of this machine is more than 15 minutes off the "
                                      "server's: set it right (NTP), then sync again", kind="clock skew")
            if code == "InvalidObjectState":
                return PermanentError(f"{told}. The object is archived (S3 Glacier Flexible Retrieval or Deep "
                                      "Archive, or an Intelligent-Tiering archive tier) and cannot be read until it "
                                      "is restored: restore it, then sync with --retry-failed", kind="archived")
            if code in BUSY or status >= 500:
                return SourceUnavailable(told)
            if code in REFUSED or status in (401, 403):
                return PermanentError(f"{told}. Check the credentials and that they may read the bucket",
                                      kind="unauthorized")
            if code == "NoSuchBucket":
                return PermanentError(f"{self.where}: no such bucket", kind="no such bucket")
            if code in ("NoSuchKey", "404", "NotFound"):
                return PermanentError(f"{told}: the object is gone", kind="gone")
            return PermanentError(told, kind=f"s3 {code or status}")
        if isinstance(exc, NETWORK):
            return SourceUnavailable(f"{self.where} did not answer {what} ({type(exc).__name__})")
        if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
            return ConfigurationError(f"{self.where}: no usable credentials")
        if isinstance(exc, botocore.exceptions.BotoCoreError):
            return PermanentError(f"{self.where}: {what} failed ({type(exc).__name__})", kind="s3 client")
        return exc

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self._client, METHODS[operation])(Bucket=self.bucket, **params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise self._translate(exc, operation) from None  # botocore's own text may quote the request
        return answer

    def pages(self, prefix: str, page_size: int = 1000) -> Iterator[list[Mapping[str, Any]]]:
        """The objects under ``prefix``, a ListObjectsV2 page at a time, in key order. A listing the server
        cuts short (truncated without a continuation token, or a token it gave before) is SourceUnavailable:
        ending there would make every later object look deleted, going on would loop."""
        self.renew()
        params: dict[str, Any] = {"Prefix": prefix, "MaxKeys": page_size}
        tokens: set[str] = set()
        while True:
            page = self._call("ListObjectsV2", **params)
            yield list(page.get("Contents") or [])
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")
            if not token or token in tokens:
                said = "a continuation token it had given before" if token else "no continuation token"
                raise SourceUnavailable(f"{self.where} cut the listing short: page {len(tokens) + 1} is truncated "
                                        f"but has {said}. Nothing is deleted; the next sync lists again")
            tokens.add(token)
            params["ContinuationToken"] = token

    def download(self, key: str, max_bytes: int) -> bytes:
        """The current version of an object; refused by its size before its body is read, and cut off past
        ``max_bytes`` should the server send more than it said."""
        self.renew(RENEW_AFTER)
        answer = self._call("GetObject", Key=key)
        body = answer["Body"]
        try:
            length = answer.get("ContentLength")
            if length is not None and int(length) > max_bytes:
                raise DocumentTooLarge(f"{key} is {int(length):,} bytes, over the limit of {max_bytes:,} "
                                       "(DOCMILL_MAX_FILE_SIZE)")
            data = bytearray()
            for part in body.iter_chunks(READ_SIZE):
                data += part
                if len(data) > max_bytes:
                    raise DocumentTooLarge(f"{key} grew past the limit of {max_bytes:,} bytes "
                                           "(DOCMILL_MAX_FILE_SIZE)")
        except NETWORK as exc:
            raise SourceUnavailable(f"the download of {key} from {self.where} broke off "
                                    f"({type(exc).__name__})") from None
        finally:
            body.close()
        return bytes(data)
