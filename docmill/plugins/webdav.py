"""The WebDAV source: the files under a WebDAV folder (Apache mod_dav, Nextcloud, ownCloud...), walked by PROPFIND.

Every sync walks the folder tree one folder at a time (``Depth: 1``; never
``Depth: infinity``) and compares each file's ETag (or, where the server
gives none, its ``getlastmodified`` and size) with what the ledger holds: an
unchanged file is neither downloaded nor processed. A file no longer listed
is gone, unless it lies in a folder the walk could not read or that the
exclude globs leave out now (filters never destroy; ``--prune`` removes
those): excluded folders are walked only when an indexed file is missing and
might be in one.

Where the server gives ``oc:fileid`` (Nextcloud, ownCloud), documents are
keyed by it, so a renamed or moved file stays the same document: its name,
path and metadata are updated in place (``relabelled``) when its ETag is the
one indexed, and nothing is downloaded or embedded again. Elsewhere a
document is keyed by its path, and a rename is a deletion and an addition.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from docmill import (
    Blob,
    ConfigurationError,
    DocumentRef,
    Listing,
    PermanentError,
    PluginContext,
    Register,
    SourceFactory,
    hookimpl,
)

from .folder import GlobFilter
from .http_body import read_limited

if TYPE_CHECKING:  # httpx is imported when a sync builds the source, not by every command
    from .webdav_client import Entry, WebdavClient

__all__ = ["WebdavSource"]

log = logging.getLogger(__name__)


def _iso(http_date: str | None) -> str | None:
    try:
        return parsedate_to_datetime(http_date).isoformat() if http_date else None
    except (TypeError, ValueError):
        return http_date


class _Walk:
    """What one walk saw: every file's key (those the filters leave out too), and what it could not see."""

    def __init__(self) -> None:
        self.present: set[str] = set()
        self.unreadable: list[tuple[str, str]] = []  # folders not listed, and why: nothing under them is deleted
        self.excluded: list[str] = []  # folders the exclude globs leave out: walked only if needed


class WebdavSource:
    """The files under one WebDAV folder; keys are ``source:NAME/fileid/N`` or ``source:NAME/path/PATH``."""

    def __init__(self, name: str, client: WebdavClient, *, max_bytes: int, include: Sequence[str] = (),
                 exclude: Sequence[str] = (), follow_renames: bool = True) -> None:
        self.scope = f"source:{name}/"
        self.client = client
        self.max_bytes = max_bytes
        self.filter = GlobFilter(include, exclude)
        self.follow_renames = follow_renames

    def _key(self, entry: Entry) -> str:
        if entry.fileid and self.follow_renames:
            return f"{self.scope}fileid/{entry.fileid}"
        return f"{self.scope}path/{entry.path}"

    # ----- listing -----------------------------------------------------------------------------

    def discover(self) -> Iterator[DocumentRef]:
        yield from self.listing({}, full=True).refs

    def listing(self, state: Mapping[str, Any], *, full: bool) -> Listing:
        """Every file the filters take; of the indexed ones not listed, only those gone from the server go."""
        walk = _Walk()
        return Listing(self._refs(walk), complete=False, gone=lambda keys: self._gone(walk, keys), state={},
                       filtered=True)

    def _refs(self, walk: _Walk) -> Iterator[DocumentRef]:
        for entry in self._files(walk, [""], listing=True):
            if self.filter.takes(entry.path.rstrip("/")):
                yield self._ref(entry)
        for folder, reason in walk.unreadable:
            if reason:  # forbidden, say: shown as refused (a folder that vanished meanwhile is not)
                yield DocumentRef(key=f"{self.scope}path/{folder}", name=folder, locator=folder,
                                  skip_reason=f"cannot list this folder: {reason}")

    def _files(self, walk: _Walk, start: list[str], *, listing: bool) -> Iterator[Entry]:
        """The files under the folders ``start``, walked with Depth 1, depth first in name order."""
        pending, seen = list(reversed(start)), set(start)
        while pending:
            folder = pending.pop()
            try:
                entries = self.client.propfind(folder)
            except PermanentError as exc:
                if not folder or exc.kind == "unauthorized":
                    raise  # the configured folder itself, or the password: the sync fails
                walk.unreadable.append((folder, "" if exc.kind == "gone" else exc.reason))
                log.warning("%s: cannot list /%s (%s); nothing under it is deleted", self.scope, folder, exc.reason)
                continue
            if not any(e.path == folder and e.folder for e in entries):
                # Without the folder itself the answer says nothing reliable about its members: listing none
                # of them would delete them all.
                why = f"the server's answer for /{folder} does not hold the folder itself (is it a folder? does " \
                      f"a proxy rewrite paths outside {self.client.base_path}?)"
                if not folder:
                    raise PermanentError(why, kind="not a folder")
                walk.unreadable.append((folder, why))
                continue
            subfolders = []
            for entry in sorted(entries, key=lambda e: e.path):
                if entry.path == folder or not entry.path.startswith(folder) or \
                        "/" in entry.path[len(folder):].rstrip("/"):
                    continue  # the folder itself, or not a direct member
                if entry.folder:
                    if entry.path in seen:
                        continue
                    seen.add(entry.path)
                    rel = entry.path.rstrip("/")
                    if listing and self.filter.excludes_entry(rel, rel.rsplit("/", 1)[-1]):
                        walk.excluded.append(entry.path)
                    else:
                        subfolders.append(entry.path)
                    continue
                walk.present.add(self._key(entry))
                yield entry
            pending.extend(reversed(subfolders))

    def _ref(self, entry: Entry) -> DocumentRef:
        validator = f"etag:{entry.etag}" if entry.etag else f"modified:{entry.modified}:{entry.size}"
        metadata: dict[str, Any] = {"path": entry.path, "url": self.client.url(entry.path),
                                    "modified": _iso(entry.modified), "size": entry.size, "etag": entry.etag}
        if entry.fileid:
            metadata["fileid"] = entry.fileid
        return DocumentRef(key=self._key(entry), name=entry.path, locator=entry.path,
                           stamp=f"{validator}|{entry.path}", size=entry.size, metadata=metadata)

    def _gone(self, walk: _Walk, keys: list[str]) -> list[str]:
        """Of these keys (indexed, not listed), those whose file the server no longer has."""
        missing = [k for k in keys if k.startswith(self.scope) and k not in walk.present]
        # Left out by the exclude globs now, or gone? Only a walk of the excluded folders can tell: of those
        # holding a missing path, or of all of them for a missing file id (which says nothing of its folder).
        ids = any(k.startswith(f"{self.scope}fileid/") for k in missing)
        needed = [f for f in walk.excluded if ids or any(self._under(k, [(f, "")]) for k in missing)]
        if needed:
            for _ in self._files(walk, needed, listing=False):
                pass
            missing = [k for k in missing if k not in walk.present]
        if not walk.unreadable:
            return missing
        if self.follow_renames and any(k.startswith(f"{self.scope}fileid/") for k in missing):
            log.warning("%s: %d indexed files were not found, but %d folders could not be listed; deletions wait "
                        "until they can be", self.scope, len(missing), len(walk.unreadable))
            return [k for k in missing if k.startswith(f"{self.scope}path/") and not self._under(k, walk.unreadable)]
        return [k for k in missing if not self._under(k, walk.unreadable)]

    def _under(self, key: str, folders: list[tuple[str, str]]) -> bool:
        path = key.removeprefix(f"{self.scope}path/")
        return any(path.startswith(folder) for folder, _ in folders)

    # ----- documents ---------------------------------------------------------------------------

    def close(self) -> None:
        self.client.close()

    def fingerprint(self, ref: DocumentRef) -> str:
        return f"webdav:{ref.stamp}"  # the ETag (or date and size) and the path: no download

    def content_id(self, ref: DocumentRef) -> str | None:
        """The file's ETag as listed: equal to the one of the version indexed when only its name or folder moved."""
        etag = ref.metadata.get("etag")
        return f"etag:{etag}" if etag else None

    def fetch(self, ref: DocumentRef) -> Blob:
        from .webdav_client import strong

        with self.client.download(ref.locator) as response:
            data = read_limited(response, self.max_bytes, f"/{ref.locator} from {self.client.host}")
            etag = strong(response.headers.get("ETag"))
        return Blob(ref.locator.rsplit("/", 1)[-1], data, checksum=f"etag:{etag}" if etag else None)

    def check(self) -> str:
        """For ``docmill doctor``: the server answers, takes the password, and the folder is there."""
        entries = self.client.propfind("", depth="0", attempts=1)
        if not entries or not entries[0].folder:
            raise PermanentError(f"{self.client.base} is not a WebDAV folder", kind="not a folder")
        ids = "file ids follow renames" if entries[0].fileid else "no file ids: a rename is a deletion and an addition"
        return f"{self.client.host}: reachable, password accepted, folder found ({ids})"


def _number(options: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigurationError(f"the webdav source's {key} must be a number from {low:g} to {high:g}, not {value!r}")
    return float(value)


def make_webdav_source(options: Any, context: PluginContext) -> WebdavSource:
    """Build a WebDAV source from its options and the app password in its [[sources]] entry's token."""
    from .webdav_client import WebdavClient

    options = dict(options)
    name, url, user = str(options.get("name", "webdav")), str(options.get("url", "")), options.get("user")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ConfigurationError(f"the webdav source {name!r} needs url = \"https://cloud.example.lan/remote.php/"
                                 f"dav/files/USER/FOLDER\" (got {url!r})")
    if not isinstance(user, str) or not user:
        raise ConfigurationError(f"the webdav source {name!r} needs user = \"...\" (the account's login name)")
    token = context.token
    if token is None or not token.get_secret_value():
        raise ConfigurationError(f"the webdav source {name!r} has no password: set token in its [[sources]] entry "
                                 "or DOCMILL_SOURCES__<n>__TOKEN (a Nextcloud app password, or the account's)")
    hosts = options.get("allow_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise ConfigurationError(f"the webdav source's allow_hosts must be a list of host names, not {hosts!r}")
    client = WebdavClient(url, user, token.get_secret_value(), allow_hosts=tuple(hosts),
                          timeout=_number(options, "timeout", 30, 1, 600),
                          attempts=int(_number(options, "attempts", 4, 1, 20)),
                          backoff=_number(options, "backoff_seconds", 1, 0.01, 60), proxy=options.get("proxy"),
                          on_request=context.on_request)
    return WebdavSource(name, client, max_bytes=context.limits.max_file_size,
                        include=options.get("include", list(context.include)),
                        exclude=options.get("exclude", list(context.exclude)),
                        follow_renames=bool(options.get("follow_renames", True)))


@hookimpl
def docmill_register_sources(register: Register[SourceFactory]) -> None:
    register("webdav", make_webdav_source)
