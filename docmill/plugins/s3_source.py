"""The S3 source: the objects of a bucket (under a prefix) as documents, synced by listing.

Every sync lists the prefix whole with ListObjectsV2, a page of up to 1,000
objects per request; S3 has no cheaper way to ask what changed. An object is
changed when its ETag or its size differs from the ones its indexed version
was made from; only changed and new objects are downloaded. A single-part
upload's ETag is the MD5 of its bytes, but a multipart upload's is the MD5
of its parts' MD5s and depends on how it was cut, and with SSE-KMS or SSE-C
it is no content hash at all: so an ETag is taken as a version stamp, never
compared with the bytes. The same bytes uploaded again in other parts count
as a change: downloaded and extracted again, while their chunks' vectors are
reused (nothing is embedded again).

An indexed object that the listing no longer holds is gone and is removed;
one that the ``include``/``exclude`` globs now leave out stays until
``--prune`` (filters never destroy). A listing that fails part-way (the
endpoint down) fails the sync and deletes nothing. In a versioned bucket the
listing and the downloads see the current version only; an object whose
current version is a delete marker is gone. Objects in archive storage
classes are listed like any other (see ``_ref``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from docmill import Blob, DocumentRef, Listing

from .folder import GlobFilter
from .s3_client import S3Client

__all__ = ["S3Source"]

log = logging.getLogger(__name__)

class S3Source:
    """Objects under ``prefix`` in one bucket; keys are ``source:NAME/OBJECT-KEY``."""

    def __init__(self, name: str, client: S3Client, *, prefix: str = "", max_bytes: int,
                 include: Sequence[str] = (), exclude: Sequence[str] = (), page_size: int = 1000) -> None:
        self.scope = f"source:{name}/"
        self.client = client
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.page_size = page_size
        self._filter = GlobFilter(include, exclude)

    def discover(self) -> Iterator[DocumentRef]:
        yield from self.listing({}, full=True).refs

    def listing(self, state: Mapping[str, Any], *, full: bool) -> Listing:
        """Every object the filters take; of the indexed ones not listed, those the bucket no longer holds
        are gone. Nothing is kept between syncs: the ledger's ETag and size of each object decide."""
        present: set[str] = set()

        def refs() -> Iterator[DocumentRef]:
            for page in self.client.pages(self.prefix, self.page_size):
                for item in page:
                    key = str(item["Key"])
                    present.add(self.scope + key)
                    if key.endswith("/"):  # a "folder" made by a console: no document
                        continue
                    if self._filter.takes(key[len(self.prefix):].lstrip("/")):
                        yield self._ref(key, item)

        return Listing(refs(), complete=False, state={}, filtered=True,
                       gone=lambda keys: [key for key in keys if key not in present])

    def _ref(self, key: str, item: Mapping[str, Any]) -> DocumentRef:
        etag, size = str(item.get("ETag", "")).strip('"'), int(item.get("Size", 0))
        modified = item.get("LastModified")
        metadata = {"bucket": self.client.bucket, "object_key": key, "etag": etag,
                    "modified": modified.isoformat() if isinstance(modified, datetime) else str(modified or ""),
                    "url": f"s3://{self.client.bucket}/{key}"}
        # Not refused by its StorageClass: an indexed object a lifecycle rule moved to an archive class keeps
        # its ETag, so it is never downloaded again and stays indexed; a new one fails its download as
        # "archived" (InvalidObjectState), which also catches the Intelligent-Tiering archive tiers that the
        # listing does not show, and a restored object, still listed as GLACIER, is read.
        return DocumentRef(key=self.scope + key, name=key, locator=key, stamp=f"{etag}|{size}", size=size,
                           metadata=metadata)

    def fingerprint(self, ref: DocumentRef) -> str:
        return f"s3:{ref.stamp}"  # ETag and size: see the module's docstring for why not a content hash

    def fetch(self, ref: DocumentRef) -> Blob:
        data = self.client.download(ref.locator, self.max_bytes)
        return Blob(ref.locator.rsplit("/", 1)[-1] or ref.locator, data)

    def check(self) -> str:
        """Contact the endpoint: it answers, accepts the credentials, has the bucket and lets them list the prefix.

        One ListObjectsV2 of one key under the prefix, not HeadBucket: a policy that allows listing only under
        a prefix (``s3:prefix`` condition) refuses HeadBucket, and a sync needs nothing more than this.
        """
        next(iter(self.client.pages(self.prefix, 1)))
        listed = f"prefix {self.prefix!r}" if self.prefix else "bucket"
        return f"{self.client.where}: reachable, {self.client.signer} accepted, {listed} listed"

    def close(self) -> None:
        self.client.close()
