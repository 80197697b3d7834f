"""The folder source: every regular file under a root, filtered by globs.

Nothing outside the root is ever read. Symlinks are followed only when they
stay inside the root; one that leaves it is listed as refused (so the user
sees why it is missing), as are symlink loops, entries that vanish or cannot
be read while the folder is listed, FIFOs, sockets and devices: one bad entry
is that entry's refusal, never the folder's failure. Keys are ``file://``
URIs of the real path, so the same file is one document whichever folder it
was ingested through.

Reading is race-free: a file is opened without following a symlink
(``O_NOFOLLOW``) and without blocking (``O_NONBLOCK``), and what was opened
must be a regular file with the device and inode discovery saw, so swapping
a symlink or a FIFO in after discovery reads nothing outside the folder and
blocks nothing.

A listing says which files are gone from disk (``gone``); files that still
exist but that the include/exclude globs now leave out are kept in the index
(filters never destroy), unless the user asks to prune them.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, unquote_to_bytes

from docmill import (
    Blob,
    ConfigurationError,
    DocumentRef,
    Listing,
    PermanentError,
    PluginContext,
    Register,
    SourceFactory,
    SourceUnavailable,
    hookimpl,
)

__all__ = ["FolderSource", "GlobFilter"]


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a path glob: ``**`` spans folders, ``*`` and ``?`` stay within one."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1:end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


class GlobFilter:
    """Include/exclude globs, gitignore-style.

    A pattern without ``/`` matches a single name: in ``exclude`` any folder or
    file name along the path (``.*`` leaves out hidden files and folders), in
    ``include`` the file's name. A pattern with ``/`` matches the whole path
    relative to the root (``reports/**/*.pdf``).
    """

    def __init__(self, include: Sequence[str], exclude: Sequence[str]) -> None:
        self._include = [(("/" in p), _glob_regex(p.strip("/"))) for p in include]
        self._exclude_paths = [_glob_regex(p.strip("/")) for p in exclude if "/" in p]
        names = [_glob_regex(p).pattern for p in exclude if "/" not in p]
        self._exclude_names = re.compile("|".join(f"(?:{n})" for n in names)) if names else None

    def excludes(self, rel: str) -> bool:
        """True if the file or folder at ``rel`` is left out."""
        return any(self.excludes_entry("/".join(parts[:i]), parts[i - 1])
                   for parts in [rel.split("/")] for i in range(1, len(parts) + 1))

    def excludes_entry(self, rel: str, name: str) -> bool:
        """True if the entry ``name`` at ``rel`` is left out, its folders being in (as a walk finds them)."""
        if self._exclude_names is not None and self._exclude_names.match(name):
            return True
        return any(rx.match(rel) for rx in self._exclude_paths)

    def includes(self, rel: str) -> bool:
        """True if the include globs take the file at ``rel`` (all do when there are none)."""
        if not self._include:
            return True
        name = rel.rsplit("/", 1)[-1]
        return any(rx.match(rel if has_slash else name) for has_slash, rx in self._include)

    def takes(self, rel: str) -> bool:
        """True if the file at ``rel`` is indexed."""
        return not self.excludes(rel) and self.includes(rel)


def _key(path: bytes) -> str:
    return "file://" + quote(path)


def _display(path: bytes) -> str:
    return path.decode("utf-8", "replace")


class FolderSource:
    """Files under ``root`` (a folder, or a single file)."""

    name = "folder"

    def __init__(self, root: str, *, label: str | None = None, include: Sequence[str] = (),
                 exclude: Sequence[str] = (), max_file_size: int | None = None,
                 items: Sequence[str] | None = None) -> None:
        given = Path(root)
        if not given.exists():
            raise ConfigurationError(f"no such file or folder: {root}")
        self._root = os.fsencode(os.path.realpath(given))
        self._single = not given.is_dir()
        self._label = label or root
        self._filter = GlobFilter(include, exclude)
        self._max_file_size = max_file_size
        self._items = None if items is None else [_item_path(item, self._filter) for item in items]
        self.scope = _key(self._root) if self._single else _key(self._root.rstrip(b"/") + b"/")

    # Listing -------------------------------------------------------------

    def discover(self) -> Iterator[DocumentRef]:
        if self._single:
            yield self._ref(self._root, self._label)
            return
        if self._items is not None:
            for rel in self._items:
                yield self._item(rel)
            return
        yield from self._walk(self._root)

    def listing(self, state: Mapping[str, Any], *, full: bool) -> Listing:
        """Every file under the root; of the indexed ones not listed, only those gone from disk are removed.
        With ``items``, those files alone, and nothing else is considered."""
        if self._items is not None:
            return Listing(self.discover(), complete=False, state={})
        return Listing(self.discover(), complete=False, gone=self._gone, state={}, filtered=True)

    def _item(self, rel: str) -> DocumentRef:
        """One named file (a path relative to the root): listed, or refused with why."""
        path = self._root.rstrip(b"/") + b"/" + os.fsencode(rel)
        try:
            real = os.path.realpath(path, strict=True)
        except FileNotFoundError:
            return DocumentRef(key=_key(path), name=rel, locator=quote(path),
                               skip_reason="no such file in the source's folder")
        except OSError as exc:
            why = "a symlink loop" if exc.errno == errno.ELOOP else f"cannot be read: {exc.strerror}"
            return DocumentRef(key=_key(path), name=rel, locator=quote(path), skip_reason=why)
        if not self._inside(real):
            return DocumentRef(key=_key(path), name=rel, locator=quote(path),
                               skip_reason=f"leads to {_display(real)}, which leaves the ingested folder")
        if os.path.isdir(real):
            return DocumentRef(key=_key(path), name=rel, locator=quote(path),
                               skip_reason="a folder, not a file: name the files in it")
        if os.path.islink(path):  # as the walk lists a symlink inside the folder: by the link, read at its target
            return self._ref(path, rel, real)
        return self._ref(real, rel)  # by its real path, as the walk reaches it (through its real folders)

    def _gone(self, keys: list[str]) -> list[str]:
        """Of these keys (indexed, not listed: gone, or left out by the filters now), those no longer on disk."""
        gone = []
        for key in keys:
            if not key.startswith("file://"):
                continue
            try:
                os.lstat(unquote_to_bytes(key[len("file://"):]))
            except FileNotFoundError:
                gone.append(key)
            except OSError:
                pass  # there, but not readable now: refused on the next listing, not deleted
        return gone

    def _walk(self, folder: bytes, rel: str = "") -> Iterator[DocumentRef]:
        """The files under ``folder`` (at ``rel`` from the root), which the filters let in."""
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield DocumentRef(key=_key(folder), name=rel or ".", locator=quote(folder),
                              skip_reason=f"cannot list this folder: {exc.strerror}")
            return
        for entry in entries:
            name = _display(entry.name)
            entry_rel = f"{rel}/{name}" if rel else name
            if self._filter.excludes_entry(entry_rel, name):
                continue
            try:
                yield from self._entry(entry, entry_rel)
            except OSError as exc:  # vanished, a loop, no permission: this entry only
                if entry.is_dir(follow_symlinks=False) or self._filter.includes(entry_rel):
                    yield DocumentRef(key=_key(entry.path), name=entry_rel, locator=quote(entry.path),
                                      skip_reason=f"cannot be read: {exc.strerror or exc}")

    def _entry(self, entry: os.DirEntry[bytes], rel: str) -> Iterator[DocumentRef]:
        """One entry that no exclude glob leaves out."""
        path = entry.path
        if entry.is_symlink():
            try:
                target = os.path.realpath(path, strict=True)
            except OSError as exc:
                if self._filter.includes(rel):
                    why = "a symlink loop" if exc.errno == errno.ELOOP else f"a broken symlink ({exc.strerror})"
                    yield DocumentRef(key=_key(path), name=rel, locator=quote(path), skip_reason=why)
                return
            if not self._inside(target):
                if os.path.isdir(target) or self._filter.includes(rel):
                    yield DocumentRef(key=_key(path), name=rel, locator=quote(path),
                                      skip_reason=f"symlink to {_display(target)} leaves the ingested folder")
                return
            if os.path.isdir(target):
                return  # its files are reached through their real folder
            if self._filter.includes(rel):
                yield self._ref(path, rel, target)
            return
        if entry.is_dir(follow_symlinks=False):
            yield from self._walk(path, rel)
        elif self._filter.includes(rel):
            yield self._ref(path, rel)

    def _inside(self, real: bytes) -> bool:
        root = self._root.rstrip(b"/") + b"/"
        return real == self._root or real.startswith(root)

    def _ref(self, path: bytes, name: str, target: bytes | None = None) -> DocumentRef:
        """The file at ``path`` (a symlink inside the root is read at its ``target``)."""
        real = target or path
        try:
            st = os.stat(real, follow_symlinks=False)
        except OSError as exc:
            return DocumentRef(key=_key(path), name=name, locator=quote(real),
                               skip_reason=f"cannot read this file: {exc.strerror}")
        if not stat.S_ISREG(st.st_mode):
            return DocumentRef(key=_key(path), name=name, locator=quote(real),
                               skip_reason="not a regular file (a pipe, socket or device)")
        modified = datetime.datetime.fromtimestamp(st.st_mtime, datetime.UTC).isoformat(timespec="seconds")
        locator = quote(real)
        return DocumentRef(
            key="file://" + locator if target is None else _key(path), name=name, locator=locator,
            stamp=f"{st.st_size}:{st.st_mtime_ns}:{st.st_dev}:{st.st_ino}", size=st.st_size,
            metadata={"filename": _display(os.path.basename(path)), "modified": modified, "size": st.st_size},
        )

    # Reading -------------------------------------------------------------

    def _open_path(self, ref: DocumentRef) -> bytes:
        """The path to open: its folder, resolved, must be inside the root (the file itself is opened with
        O_NOFOLLOW, and checked against what discovery saw, in ``_reading``)."""
        path = unquote_to_bytes(ref.locator)
        folder, name = os.path.split(path)
        try:
            real = os.path.join(os.path.realpath(folder), name)
        except OSError as exc:  # the folder is changing under us
            raise SourceUnavailable(f"cannot read {ref.name} now: {exc.strerror}") from exc
        if not self._inside(real):
            raise PermanentError(f"{ref.name} now leads outside the ingested folder; refusing to read it",
                                 kind="refused")
        return path

    def close(self) -> None:
        pass  # nothing is held open between calls

    def fingerprint(self, ref: DocumentRef) -> str:
        if self._max_file_size is not None and ref.size is not None and ref.size > self._max_file_size:
            return f"stat:{ref.stamp}"  # too large to read; extract will say so
        digest = hashlib.sha256()
        with self._reading(ref) as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return "sha256:" + digest.hexdigest()

    def fetch(self, ref: DocumentRef) -> Blob:
        with self._reading(ref) as fh:
            data = fh.read() if self._max_file_size is None else fh.read(self._max_file_size + 1)
        path = Path(os.fsdecode(unquote_to_bytes(ref.locator)))
        return Blob(name=ref.name, data=data, path=path)

    @contextlib.contextmanager
    def _reading(self, ref: DocumentRef) -> Iterator[BinaryIO]:
        path = self._open_path(ref)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError as exc:
            raise PermanentError("the file was removed before it could be read", kind="gone") from exc
        except (PermissionError, IsADirectoryError) as exc:
            raise PermanentError(f"cannot read the file: {exc.strerror}", kind="unreadable") from exc
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink swapped in after discovery
                raise PermanentError(f"{ref.name} became a symlink after it was listed; refusing to follow it",
                                     kind="refused") from exc
            raise SourceUnavailable(f"cannot read the file now: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise PermanentError(f"{ref.name} is no longer a regular file (a pipe, socket or device)",
                                     kind="refused")
            listed = ref.stamp.split(":")
            if len(listed) == 4 and (listed[2], listed[3]) != (str(st.st_dev), str(st.st_ino)):
                raise PermanentError(f"{ref.name} was replaced after it was listed; it is read again on the next "
                                     "ingest", kind="refused")
            os.set_blocking(fh.fileno(), True)
            try:
                yield fh
            except OSError as exc:
                raise SourceUnavailable(f"cannot read the file now: {exc.strerror}") from exc


def _item_path(item: str, filter_: GlobFilter) -> str:
    """A named item as a path relative to the root; ConfigurationError when it is not one, or when the source's
    globs leave it out (naming a file does not bring in what the source's owner excluded)."""
    rel = item.replace("\\", "/")
    parts = rel.split("/")
    if not rel or rel.startswith("/") or ".." in parts or any(not ch.isprintable() for ch in rel):
        raise ConfigurationError(f"{item!r} is not a path relative to the source's folder")
    rel = "/".join(part for part in parts if part not in ("", "."))
    if not rel:
        raise ConfigurationError(f"{item!r} is not a path relative to the source's folder")
    if not filter_.takes(rel):
        raise ConfigurationError(f"{item!r} is left out by the source's include/exclude globs")
    return rel


def make_folder_source(options: Mapping[str, Any], context: PluginContext) -> FolderSource:
    """Build a folder source from its options: root (``path`` in a named source), label, include, exclude, and
    ``items`` (these files alone, paths relative to the root)."""
    root = options.get("root") or options.get("path")
    if not root:
        raise ConfigurationError("a folder source needs the option 'path'")
    try:
        return FolderSource(
            os.path.realpath(str(root)),
            label=options.get("label"),
            include=options.get("include", list(context.include)),
            exclude=options.get("exclude", list(context.exclude)),
            max_file_size=context.limits.max_file_size,
            items=options.get("items"),
        )
    except KeyError as exc:
        raise ConfigurationError(f"a folder source needs the option {exc.args[0]!r}") from None


@hookimpl
def docmill_register_sources(register: Register[SourceFactory]) -> None:
    register("folder", make_folder_source)

