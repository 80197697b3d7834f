"""The WebDAV source: the files under a WebDAV folder (Apache mod_dav, Nextcloud, ownCloud...), walked by PROPFIND.

Every sync walks the folder tree one folder at a time (``Depth: 1``; never
``Depth: infinity``) and compares each file's ETag (or, where the server
gives none, its ``getlastmodified`` and size) with what the ledger holds: an
unchanged file is neither downloaded nor processed. A file no longer listed
is gone, unless it may lie where the walk could not see (a folder it could
not read, a member the server would not describe: undecided, so kept, never
counted as left out nor pruned), or the exclude globs leave it out now
(filters never destroy; ``--prune`` removes those): excluded folders are
walked only when an indexed file is missing and might be in one.

Where the server gives ``oc:fileid`` (Nextcloud, ownCloud), documents are
keyed by it, so a renamed or moved file stays the same document: its name,
path and metadata are updated in place (``relabelled``) when its ETag is the
one indexed, and nothing is downloaded or embedded again. A missing file id
says nothing of where the file was, so the source's state keeps each file
id's folder as last seen. Elsewhere a document is keyed by its path, and a
rename is a deletion and an addition.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

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
from .source_options import Options

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

    def __init__(self, folders: Mapping[str, Any]) -> None:
        self.present: set[str] = set()
        self.unreadable: list[tuple[str, str]] = []  # folders (ending in /) not listed, and why
        self.excluded: list[str] = []  # folders the exclude globs leave out: walked only if needed
        self.last: dict[str, str] = {  # file id -> its folder, as the last sync saw it
            fileid: folder for folder, ids in folders.items() if isinstance(ids, list) for fileid in ids}
        self.seen: dict[str, str] = {}  # file id -> its folder, as this walk sees it
        self.unsure: set[str] = set()  # folders holding an entry the server would not describe (a file, maybe)

    def under(self, path: str, folders: Sequence[str]) -> bool:
        """Whether the file or folder ``path`` lies in (or is) one of ``folders`` (each ending in /)."""
        return any(path == folder.rstrip("/") or path.startswith(folder) for folder in folders)

    def may_hold(self, where: str | None) -> bool:
        """Whether the file at ``where`` (a path, or "FOLDER\\0" for some file in FOLDER, or None: unknown) may
        lie where this walk could not see: in an unreadable folder, or be an entry the server would not describe."""
        if not self.unreadable:
            return False
        return where is None or self.under(where, [folder for folder, _ in self.unreadable]) or \
            (where.endswith("\0") and where[:-1] in self.unsure)

    def state(self, kept: Sequence[str]) -> dict[str, Any]:
        """Each file id's folder for the next sync: those seen now, and ``kept`` ones (not decided) as before."""
        folders: dict[str, list[str]] = {}
        for fileid, folder in [*((i, self.last[i]) for i in kept if i in self.last), *self.seen.items()]:
            folders.setdefault(folder, []).append(fileid)
        return {"folders": {folder: sorted(set(ids)) for folder, ids in sorted(folders.items())}}


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
        """Every file the filters take; of the indexed ones not listed, only those gone from the server go, and
        those in a folder the walk could not read are undecided: kept as they are, never pruned.

        The state is each file id's folder, so that a file id not listed can be told to lie in such a folder."""
        folders = state.get("folders")
        walk = _Walk(folders if isinstance(folders, Mapping) else {})
        undecided: set[str] = set()
        saved: dict[str, Any] = {}
        return Listing(self._refs(walk, saved), complete=False, gone=lambda keys: self._gone(walk, keys, undecided,
                       saved), state=saved, filtered=True, undecided=undecided)

    def _refs(self, walk: _Walk, state: dict[str, Any]) -> Iterator[DocumentRef]:
        for entry in self._files(walk, [""], listing=True):
            if self.filter.takes(entry.path.rstrip("/")):
                yield self._ref(entry)
        state.update(walk.state([]))  # each file id's folder; gone() adds those of the undecided
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
            if not any(e.path == folder and e.folder and not e.problem for e in entries):
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
                if entry.problem:  # a member the server would not describe: file or folder, nothing under it goes
                    walk.unreadable.append((entry.path.rstrip("/") + "/", entry.problem))
                    if not entry.path.endswith("/"):
                        walk.unsure.add(folder)
                    log.warning("%s: cannot read /%s (%s); nothing under it is deleted", self.scope, entry.path,
                                entry.problem)
                    continue
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
                if entry.fileid:
                    walk.seen[entry.fileid] = folder
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

    def _gone(self, walk: _Walk, keys: list[str], undecided: set[str], state: dict[str, Any]) -> list[str]:
        """Of these keys (indexed, not listed), those whose file the server no longer has; those that may lie in
        a folder the walk could not read go to ``undecided`` (their folders stay in ``state``)."""
        ids, paths = f"{self.scope}fileid/", f"{self.scope}path/"
        missing = [k for k in keys if k.startswith(self.scope) and k not in walk.present]
        where: dict[str, str | None] = {}  # the file's path, or "FOLDER\0" for a file id's folder as last seen
        for key in missing:
            folder = walk.last.get(key.removeprefix(ids))
            where[key] = key.removeprefix(paths) if key.startswith(paths) else None if folder is None else \
                f"{folder}\0"
        # Left out by the exclude globs now, or gone? Only a walk of the excluded folders can tell: of those
        # holding a missing file, or of all of them for a file id whose folder is unknown.
        needed = [f for f in walk.excluded if any(p is None or walk.under(p, [f]) for p in where.values())]
        if needed:
            for _ in self._files(walk, needed, listing=False):
                pass
            missing = [k for k in missing if k not in walk.present]
        undecided.update(k for k in missing if walk.may_hold(where[k]))
        if undecided:
            log.warning("%s: %d indexed files were not found, but may lie where the walk could not see (%d folders "
                        "or entries); they are kept until it can", self.scope, len(undecided), len(walk.unreadable))
        state.update(walk.state([k.removeprefix(ids) for k in undecided if k.startswith(ids)]))
        return [k for k in missing if k not in undecided]

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
            data = self.client.read(response, self.max_bytes, f"/{ref.locator} from {self.client.host}")
            etag = strong(response.headers.get("ETag"))
        return Blob(ref.locator.rsplit("/", 1)[-1], data, checksum=f"etag:{etag}" if etag else None)

    def check(self) -> str:
        """For ``docmill doctor``: the server answers, takes the password, and the folder is there."""
        entries = self.client.propfind("", depth="0", attempts=1)
        if not entries or not entries[0].folder:
            raise PermanentError(f"{self.client.base} is not a WebDAV folder", kind="not a folder")
        ids = "file ids follow renames" if entries[0].fileid else "no file ids: a rename is a deletion and an addition"
        return f"{self.client.host}: reachable, password accepted, folder found ({ids})"


OPTIONS = {"url", "user", "allow_hosts", "include", "exclude", "follow_renames", "attempts", "backoff_seconds",
           "timeout", "proxy"}


def make_webdav_source(options: Any, context: PluginContext) -> WebdavSource:
    """Build a WebDAV source from its options and the app password in its [[sources]] entry's token."""
    from .webdav_client import WebdavClient

    given = Options("webdav", options, OPTIONS)
    name = str(given.get("name", "webdav"))
    url = given.url("url", "https://cloud.example.lan/remote.php/dav/files/USER/FOLDER")
    user = given.get("user")
    if not isinstance(user, str) or not user:
        raise ConfigurationError(f"the webdav source {name!r} needs user = \"...\" (the account's login name)")
    token = context.token
    if token is None or not token.get_secret_value():
        raise ConfigurationError(f"the webdav source {name!r} has no password: set token in its [[sources]] entry "
                                 "or DOCMILL_SOURCES__<n>__TOKEN (a Nextcloud app password, or the account's)")
    client = WebdavClient(url, user, token.get_secret_value(),
                          allow_hosts=tuple(given.strings("allow_hosts", [], "host names")),
                          timeout=given.number("timeout", 30, 1, 600),
                          attempts=int(given.number("attempts", 4, 1, 20)),
                          backoff=given.number("backoff_seconds", 1, 0.01, 60),
                          proxy=given.url("proxy", "http://proxy.lan:3128", ("http", "https", "socks5"))
                          if given.text("proxy") else None,
                          on_request=context.on_request)
    return WebdavSource(name, client, max_bytes=context.limits.max_file_size,
                        include=given.strings("include", context.include),
                        exclude=given.strings("exclude", context.exclude),
                        follow_renames=given.flag("follow_renames", True))


@hookimpl
def docmill_register_sources(register: Register[SourceFactory]) -> None:
    register("webdav", make_webdav_source)
