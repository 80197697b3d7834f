"""Which folders and messages an IMAP source takes: folder patterns, search criteria, and what changed.

Folders are named as people see them: modified UTF-7 decoded, the server's
hierarchy delimiter shown as ``/``. A pattern's ``*`` matches anything,
``/`` included, and ``%`` anything within one level, as in IMAP's LIST;
``INBOX`` matches in any case.

A folder is read again only when it may have changed: its UIDVALIDITY,
UIDNEXT, message count or, where the server offers CONDSTORE, its
HIGHESTMODSEQ moved since the last sync (a new message, an expunge, a flag
set or cleared). Without CONDSTORE (or with a HIGHESTMODSEQ of 0) every
folder is searched every sync, which costs one search per folder; no
message is read either way unless it is new.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote, unquote

from docmill import ConfigurationError

from .imap_client import Folder

__all__ = ["Criteria", "FolderFilter", "FolderKey", "Pass", "display_name"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _decode_utf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3) as text; left as it is when it is not valid."""
    def shifted(match: re.Match[str]) -> str:
        encoded = match.group(1)
        if not encoded:
            return "&"
        padded = encoded.replace(",", "/") + "=" * (-len(encoded) % 4)
        try:
            return base64.b64decode(padded, validate=True).decode("utf-16-be")
        except (binascii.Error, UnicodeDecodeError):
            return match.group(0)

    return re.sub(r"&([A-Za-z0-9+,]*)-", shifted, name)


def display_name(folder: Folder) -> str:
    """The folder's name as people see it: decoded, with ``/`` between levels."""
    name = _decode_utf7(folder.name)
    if folder.delimiter and folder.delimiter != "/":
        name = name.replace(folder.delimiter, "/")
    return name


def _pattern(text: str) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in text.strip("/")]
    body = "".join(parts)
    if re.fullmatch(r"(?i)inbox", text.split("/", 1)[0]):  # INBOX is case-insensitive, its children are not
        body = "(?i:INBOX)" + "".join(parts[5:])
    return re.compile(body + r"\Z")


class FolderFilter:
    """The folders a source reads: those ``folders`` patterns take and ``exclude`` patterns do not."""

    def __init__(self, folders: Sequence[str], exclude: Sequence[str]) -> None:
        self._take = [_pattern(p) for p in folders]
        self._leave = [_pattern(p) for p in exclude]

    def takes(self, name: str) -> bool:
        return any(p.match(name) for p in self._take) and not any(p.match(name) for p in self._leave)


@dataclass(frozen=True)
class Criteria:
    """The optional search criteria of a source: messages since a date, from a sender, flagged."""

    since: date | None = None
    sender: str | None = None
    flagged: bool = False

    @classmethod
    def of(cls, options: Mapping[str, Any], name: str) -> Criteria:
        since = options.get("since")
        if since is not None and not isinstance(since, date):
            try:
                since = date.fromisoformat(str(since))
            except ValueError:
                raise ConfigurationError(f"the imap source {name!r}'s since must be a date like \"2024-01-31\", not "
                                         f"{since!r}") from None
        sender = options.get("from")
        if sender is not None and (not isinstance(sender, str) or not sender.strip()
                                   or not sender.isascii() or any(c in sender for c in '\r\n\0"\\')):
            raise ConfigurationError(f"the imap source {name!r}'s from must be an address or part of one, not "
                                     f"{sender!r}")
        flagged = options.get("flagged", False)
        if isinstance(flagged, str) and flagged.strip().lower() in ("true", "false"):  # from the environment
            flagged = flagged.strip().lower() == "true"
        if not isinstance(flagged, bool):
            raise ConfigurationError(f"the imap source {name!r}'s flagged must be true or false, not {flagged!r}")
        return cls(since, sender.strip() if sender else None, flagged)

    @property
    def any(self) -> bool:
        return bool(self.since or self.sender or self.flagged)

    def search_keys(self) -> list[str]:
        """The IMAP SEARCH keys: messages not marked deleted, matching every criterion."""
        keys = ["UNDELETED"]
        if self.since:
            keys += ["SINCE", f"{self.since.day}-{_MONTHS[self.since.month - 1]}-{self.since.year}"]
        if self.sender:
            keys += ["FROM", f'"{self.sender}"']
        if self.flagged:
            keys.append("FLAGGED")
        return keys


@dataclass(frozen=True)
class FolderKey:
    """Where a message is: its folder on the wire, and its UID; ``key`` is its document key under ``scope``."""

    folder: str
    uid: int

    def key(self, scope: str) -> str:
        return f"{scope}{quote(self.folder, safe='')}/{self.uid}"

    @classmethod
    def parse(cls, scope: str, key: str) -> FolderKey | None:
        folder, _, uid = key[len(scope):].rpartition("/")
        return cls(unquote(folder), int(uid)) if key.startswith(scope) and uid.isdigit() and folder else None


@dataclass
class Pass:
    """What one listing found, for its ``gone``: the folders on the server, those skipped as unchanged, and the
    messages still there (not marked deleted) in each folder searched."""

    existing: set[str] = field(default_factory=set)
    unchanged: set[str] = field(default_factory=set)
    present: dict[str, set[int] | None] = field(default_factory=dict)
    #: Folders with indexed messages that are still there but that the filters leave out now.
    left_out: set[str] = field(default_factory=set)
    #: Folders the server would not show (STATUS or EXAMINE refused): their messages are undecided.
    refused: set[str] = field(default_factory=set)

    def gone(self, scope: str, keys: Iterable[str], still: Callable[[str], set[int] | None],
             undecided: set[str]) -> list[str]:
        """Of these keys (indexed, not listed), those whose message is no longer on the server.

        ``still(folder)`` gives the UIDs in a folder searched this time when
        they were not kept (search criteria narrowed the listing), or None when
        its UIDs cannot be compared (renumbered): its keys go to ``undecided``.
        """
        found = []
        for key in keys:
            where = FolderKey.parse(scope, key)
            if where is None:
                continue
            if where.folder not in self.existing:
                found.append(key)  # the folder itself was deleted or renamed
            elif where.folder in self.refused:
                undecided.add(key)
            elif where.folder in self.unchanged:
                continue  # HIGHESTMODSEQ says nothing was expunged or flagged there
            else:
                if where.folder not in self.present:
                    self.present[where.folder] = still(where.folder)
                uids = self.present[where.folder]
                if uids is None:
                    undecided.add(key)
                elif where.uid not in uids:
                    found.append(key)
                else:
                    self.left_out.add(where.folder)
        return found
