"""The IMAP source: the messages of a mailbox's folders, each a document, its attachments documents under it.

A message is keyed by its folder and UID (``source:NAME/INBOX/42``). IMAP
messages never change: an edit is a new message (a new UID) and the old
one's expunge, so a message once read is never read again while its folder
keeps its UIDVALIDITY. Each sync asks every folder's STATUS; a folder whose
UIDVALIDITY, UIDNEXT, message count and (where the server offers CONDSTORE)
HIGHESTMODSEQ are those of the last sync is not opened at all (a HIGHESTMODSEQ
of 0, a server without persistent modseqs, is no HIGHESTMODSEQ). A changed folder is searched (UIDs
only, no message is read): new UIDs are new documents, and a UID indexed
before that is no longer there, or is marked ``\\Deleted``, is removed. A
message moved to another folder is removed from the old one and read once
in the new one (its chunks' vectors are reused, nothing is embedded again).

When a folder's UIDVALIDITY changes (the server rebuilt its index), its
messages are listed again under their new UIDs, and each whose key was
indexed is compared by content: the message is read and its SHA-256
compared with the one indexed. The same bytes are only relabelled, with no
extraction or embedding; other bytes are processed again. That helps only
where messages kept their UID numbers: a real rebuild numbers them again,
and most are extracted again (their chunks' vectors reused by chunk hash).
A folder not listed whole (left out by the filters, narrowed by criteria)
is compared by UID only while it keeps the UIDVALIDITY the state holds;
otherwise its indexed keys are undecided (kept, never pruned).

Reading never marks a message read: folders are opened with EXAMINE and
bodies read with BODY.PEEK. The mail extractor (``docmill.plugins.office``)
reads each message like an ``.eml`` file.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import ssl
from collections.abc import Iterator, Mapping
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

from .imap_client import FolderStatus, ImapServer
from .imap_listing import Criteria, FolderFilter, FolderKey, Pass, display_name

if TYPE_CHECKING:
    from .imap_client import ImapClient
    from .imap_pool import ImapPool

__all__ = ["ImapSource"]

log = logging.getLogger(__name__)

TLS_MODES = ("implicit", "starttls", "none")
DEFAULT_PORTS = {"implicit": 993, "starttls": 143, "none": 143}


class ImapSource:
    """A mailbox's folders; keys are ``source:NAME/FOLDER/UID`` (the folder percent-encoded)."""

    def __init__(self, name: str, pool: ImapPool, *, folders: FolderFilter, criteria: Criteria,
                 max_bytes: int) -> None:
        self.scope = f"source:{name}/"
        self.pool = pool
        self.folders = folders
        self.criteria = criteria
        self.max_bytes = max_bytes

    # ----- listing -----------------------------------------------------------------------------

    def discover(self) -> Iterator[DocumentRef]:
        yield from self.listing({}, full=True).refs

    def listing(self, state: Mapping[str, Any], *, full: bool) -> Listing:
        """Every message of the folders that changed since ``state`` (of every folder when ``full``).

        ``filtered`` turns true once every folder taken was searched: only then are the indexed messages not
        listed either gone or left out by the filters (a folder skipped as unchanged was not searched).
        """
        found = Pass()
        known: Mapping[str, Any] = {} if full else state
        out: dict[str, Any] = {"folders": {}}
        before: Mapping[str, Any] = state.get("folders") or {}
        listing = Listing((), complete=False, state=out,
                          gone=lambda keys: self._gone(found, keys, out, before, listing.undecided))
        listing.refs = self._refs(known, out, found, listing, before)
        return listing

    def _refs(self, known: Mapping[str, Any], out: dict[str, Any], found: Pass, listing: Listing,
              saved: Mapping[str, Any]) -> Iterator[DocumentRef]:
        # other criteria than last time take other messages from every folder, changed or not
        left_out_before = known.get("left_out") is True or known.get("criteria") != self.criteria.search_keys()
        out["criteria"] = self.criteria.search_keys()
        listed: list[tuple[str, str, int, list[int]]] = []
        # The UIDs are gathered first and the connection freed before any is handed out: discovery reads
        # renumbered messages (content_id) while it takes these, and a pool of one would wait for itself.
        with self.pool.connection() as client:
            client.release()
            taken = []
            for folder in client.folders():
                if not folder.selectable:  # a level of the hierarchy holding no messages (or not any more)
                    continue
                found.existing.add(folder.name)
                if self.folders.takes(display_name(folder)):
                    taken.append((folder.name, display_name(folder)))
            for wire, shown in taken:
                try:
                    status = client.status(wire)
                except PermanentError as exc:
                    self._refused(wire, exc, out, found, saved)
                    continue
                before = (known.get("folders") or {}).get(wire) or {}
                out["folders"][wire] = now = {"uidvalidity": status.uidvalidity, "modseq": status.modseq,
                                              "uidnext": status.uidnext, "messages": status.messages}
                if self.criteria.any and before.get("renumbered"):  # still not listed whole: see _gone
                    out["folders"][wire]["renumbered"] = True
                # unchanged only when all four say so: a server with CONDSTORE alone need not raise
                # HIGHESTMODSEQ on an expunge, and one without persistent modseqs gives 0 (no modseq at all)
                if status.modseq and all(before.get(k) == v for k, v in now.items()) and not left_out_before:
                    found.unchanged.add(wire)
                    continue
                try:
                    uids = self._search(client, wire, status)
                except PermanentError as exc:
                    self._refused(wire, exc, out, found, saved)
                    continue
                if not self.criteria.any:
                    found.present[wire] = set(uids)
                listed.append((wire, shown, status.uidvalidity, uids))
        for wire, shown, uidvalidity, uids in listed:
            for uid in uids:
                yield self._ref(wire, shown, uidvalidity, uid)
        listing.filtered = not found.unchanged
        log.info("%s: %d folders, %d unchanged since the last sync", self.scope, len(taken), len(found.unchanged))

    def _refused(self, folder: str, exc: PermanentError, out: dict[str, Any], found: Pass,
                 saved: Mapping[str, Any]) -> None:
        """A folder the server will not show (no right to it, say): skipped, its messages kept as they are."""
        if exc.kind != "refused":
            raise exc
        log.warning("%s: %s; its indexed messages are kept until it can be read", self.scope, exc.reason)
        found.refused.add(folder)
        if saved.get(folder):
            out["folders"][folder] = dict(saved[folder])

    def _search(self, client: ImapClient, folder: str, status: FolderStatus) -> list[int]:
        if not status.messages:
            return []
        uidvalidity = client.examine(folder, fresh=True)
        if uidvalidity != status.uidvalidity:
            raise PermanentError(f"{folder}'s UIDVALIDITY changed while it was listed; sync again",
                                 kind="renumbered")
        return client.search(folder, self.criteria.search_keys(), status.uidnext)

    def _ref(self, folder: str, shown: str, uidvalidity: int, uid: int) -> DocumentRef:
        where = FolderKey(folder, uid)
        return DocumentRef(key=where.key(self.scope), name=f"{shown}/{uid}", locator=f"{uidvalidity}/{uid}/{folder}",
                           stamp=str(uidvalidity), metadata={"folder": shown, "imap_uid": uid})

    def _gone(self, found: Pass, keys: list[str], out: dict[str, Any], before: Mapping[str, Any],
              undecided: set[str]) -> list[str]:
        """The keys whose message is gone. When the filters leave out messages still on the server, the state
        says so, and the next syncs search every folder (none skipped as unchanged) until none is left out: only
        a listing of every folder tells left out from unchanged, for the count and for ``--prune``.

        A folder not listed whole (the filters leave it out, or search criteria narrow it) is compared by UID
        only while it keeps the UIDVALIDITY the state holds for it: after a change its UIDs name other messages,
        so its keys not listed again are undecided (kept, never pruned) until a listing of the whole folder
        (taken, without criteria) tells them apart."""
        with self.pool.connection() as client:
            client.release()

            def still(folder: str) -> set[int] | None:
                try:
                    status = client.status(folder)
                except PermanentError as exc:
                    self._refused(folder, exc, out, found, before)
                    return None
                entry = out["folders"].setdefault(folder, {"uidvalidity": status.uidvalidity,
                                                           "modseq": status.modseq})
                old = before.get(folder) or {}
                if old.get("renumbered") or old.get("uidvalidity") != status.uidvalidity:
                    if old.get("uidvalidity") is not None:
                        entry["renumbered"] = True  # carried forward until the folder is listed whole
                    return None
                if not status.messages:
                    return set()
                try:
                    client.examine(folder, fresh=True)
                    return set(client.search(folder, ["UNDELETED"], status.uidnext))
                except PermanentError as exc:
                    self._refused(folder, exc, out, found, before)
                    return None

            gone = found.gone(self.scope, keys, still, undecided)
        if undecided:
            log.warning("%s: %d indexed messages are in folders renumbered (a new UIDVALIDITY) and not listed "
                        "whole; they are kept until the folder is", self.scope, len(undecided))
        out["left_out"] = bool(found.left_out or undecided)  # next time: every folder searched, to tell them
        log.info("%s: %d of %d indexed messages not listed are gone from the server", self.scope, len(gone),
                 len(keys))
        return gone

    # ----- documents ---------------------------------------------------------------------------

    def close(self) -> None:
        self.pool.close()

    def fingerprint(self, ref: DocumentRef) -> str:
        # A message never changes while its folder keeps its UIDVALIDITY: where it is says what it is.
        return f"imap:{ref.stamp}/{ref.locator.split('/', 2)[1]}"

    def _read(self, ref: DocumentRef) -> bytes:
        """The message's bytes. A pooled connection may have its folder open from before the message arrived
        (a worker's, a scheduler's): a message it does not see is looked for again in the folder opened anew."""
        uidvalidity, uid, folder = ref.locator.split("/", 2)
        with self.pool.connection() as client:
            for fresh in (False, True):
                if client.examine(folder, fresh=fresh) != int(uidvalidity):
                    if not fresh:
                        continue
                    raise PermanentError(f"{folder} was renumbered (its UIDVALIDITY changed) since it was listed; "
                                         "the next sync lists it again", kind="gone")
                try:
                    return client.message(int(uid), self.max_bytes)
                except PermanentError as exc:
                    if exc.kind != "gone" or fresh:
                        raise
        raise AssertionError("unreachable")

    def fetch(self, ref: DocumentRef) -> Blob:
        data = self._read(ref)
        return Blob(f"{ref.locator.split('/', 2)[1]}.eml", data, media_type="message/rfc822",
                    checksum=f"sha256:{hashlib.sha256(data).hexdigest()}")

    def content_id(self, ref: DocumentRef) -> str | None:
        """The SHA-256 of the message now: asked only when an indexed key's UIDVALIDITY moved, so the same
        bytes under a new UID are relabelled rather than processed again."""
        return f"sha256:{hashlib.sha256(self._read(ref)).hexdigest()}"

    def check(self) -> str:
        """Log in and list the folders the source takes (for ``docmill doctor``); raises what a sync would."""
        with self.pool.connection() as client:
            names = [display_name(f) for f in client.folders() if f.selectable]
        taken = [n for n in names if self.folders.takes(n)]
        if not taken:
            raise PermanentError(f"none of the {len(names)} folders of {self.pool.server.user!r} matches the "
                                 f"source's folders ({', '.join(names[:10]) or 'none'})", kind="no folder")
        return (f"logged in to {self.pool.server.host}:{self.pool.server.port} as {self.pool.server.user!r}; "
                f"{len(taken)} folder{'s' if len(taken) != 1 else ''}: {', '.join(taken[:10])}"
                + (", ..." if len(taken) > 10 else ""))


def _strings(options: Mapping[str, Any], key: str, default: list[str], name: str) -> list[str]:
    value = options.get(key, default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value) \
            or (key == "folders" and not value):
        raise ConfigurationError(f"the imap source {name!r}'s {key} must be a list of folder patterns, not {value!r}")
    return [v.strip() for v in value]


def _number(options: Mapping[str, Any], key: str, default: float, low: float, high: float, name: str) -> float:
    value = options.get(key, default)
    if isinstance(value, str):  # from DOCMILL_SOURCES__<n>__PORT, say
        with contextlib.suppress(ValueError):
            value = float(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigurationError(f"the imap source {name!r}'s {key} must be a number from {low:g} to {high:g}, "
                                 f"not {value!r}")
    return float(value)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _server(options: Mapping[str, Any], name: str) -> ImapServer:
    host, user = str(options.get("host", "")).strip(), str(options.get("user", "")).strip()
    if not host or not user:
        raise ConfigurationError(f"the imap source {name!r} needs host = \"mail.example.com\" and user = \"...\"")
    tls = options.get("tls", "implicit")
    if tls not in TLS_MODES:
        raise ConfigurationError(f"the imap source {name!r}'s tls must be one of {', '.join(TLS_MODES)}, not {tls!r}")
    if tls == "none" and not _loopback(host):
        raise ConfigurationError(f"the imap source {name!r} would send its password unencrypted to {host}: "
                                 "tls = \"none\" is for a server on this machine (127.0.0.1) only; use \"implicit\" "
                                 "or \"starttls\"")
    ca_file = options.get("ca_file")
    if ca_file is not None and not isinstance(ca_file, str):
        raise ConfigurationError(f"the imap source {name!r}'s ca_file must be a path, not {ca_file!r}")
    if ca_file is not None:
        try:
            ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"the imap source {name!r}'s ca_file {ca_file!r} is not a readable file of CA "
                                     f"certificates ({type(exc).__name__}: {exc.strerror or exc})") from None
    return ImapServer(host, int(_number(options, "port", DEFAULT_PORTS[tls], 1, 65535, name)), user, tls=tls,
                      ca_file=ca_file, timeout=_number(options, "timeout", 30, 1, 600, name),
                      attempts=int(_number(options, "attempts", 3, 1, 20, name)),
                      backoff=_number(options, "backoff_seconds", 1, 0.01, 60, name))


def make_imap_source(options: Any, context: PluginContext) -> ImapSource:
    """Build an IMAP source from its options and the password (its ``token``) of its [[sources]] entry."""
    from .imap_pool import ImapPool

    options = dict(options)
    name = str(options.get("name", "imap"))
    server = _server(options, name)
    token = context.token
    if token is None or not token.get_secret_value():
        raise ConfigurationError(f"the imap source {name!r} has no token: set token in its [[sources]] entry or "
                                 "DOCMILL_SOURCES__<n>__TOKEN (the user's password, or an app password)")
    criteria = Criteria.of(options, name)
    folders = FolderFilter(_strings(options, "folders", ["INBOX"], name), _strings(options, "exclude", [], name))
    pool = ImapPool(server, token.get_secret_value(), size=int(_number(options, "connections", 4, 1, 32, name)),
                    on_request=context.on_request, max_bytes=context.limits.max_file_size)
    return ImapSource(name, pool, folders=folders, criteria=criteria, max_bytes=context.limits.max_file_size)


@hookimpl
def docmill_register_sources(register: Register[SourceFactory]) -> None:
    register("imap", make_imap_source)
