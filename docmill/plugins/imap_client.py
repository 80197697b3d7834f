"""Talking to an IMAP server with the standard library's imaplib: TLS checked, errors translated.

A connection is implicit TLS (port 993), STARTTLS (port 143, refused when
the server does not offer it), or plain text, which only a loopback server
may use: the password would cross the network readable. Certificates are
checked against the system's trust store, or a CA file the source names.

Every command is one request (``on_request``, for docmill's metrics).
Folders are opened read-only (``EXAMINE``) and bodies read with
``BODY.PEEK``, so reading never marks a message read. A message is read
only when its ``RFC822.SIZE`` is within the size limit, and then as a
partial fetch of at most one byte past the limit. Whatever size a server
announces for a literal, docmill reads none over the limit and a margin of
64 KiB: such an answer breaks the connection before a byte of it is read.

The password goes to the server in ``LOGIN`` (or, when it or the user name
is not ASCII, in ``AUTHENTICATE PLAIN`` as UTF-8) and nowhere else: imaplib's
debug output stays off, and no error message carries a command's arguments.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from docmill import DocumentTooLarge, PermanentError, SourceUnavailable

__all__ = ["Folder", "FolderStatus", "ImapClient", "ImapServer"]


#: UIDs per ``UID SEARCH`` (imaplib refuses an answer line over 1 MB; 100,000 UIDs take at most 700 KB).
SEARCH_SPAN = 100_000
_LIST = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>NIL|"(?:\\.|[^"\\])*") ?(?P<name>.*)$', re.IGNORECASE)
_STATUS = re.compile(rb"\b(MESSAGES|UIDNEXT|UIDVALIDITY|HIGHESTMODSEQ)\s+(\d+)", re.IGNORECASE)
_SIZE = re.compile(rb"RFC822\.SIZE\s+(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class ImapServer:
    """Where and how to connect: ``tls`` is ``"implicit"``, ``"starttls"`` or ``"none"`` (loopback only)."""

    host: str
    port: int
    user: str
    tls: str = "implicit"
    ca_file: str | None = None
    timeout: float = 30.0
    attempts: int = 3
    backoff: float = 1.0

    @property
    def where(self) -> str:
        return f"the IMAP server {self.host}:{self.port}"


@dataclass(frozen=True)
class Folder:
    """A mailbox as LIST names it: ``name`` on the wire (modified UTF-7), and its hierarchy delimiter."""

    name: str
    delimiter: str | None
    selectable: bool


@dataclass(frozen=True)
class FolderStatus:
    uidvalidity: int
    uidnext: int
    messages: int
    modseq: int | None


def _unquote(raw: bytes) -> str:
    text = raw.decode("utf-8", "surrogateescape")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _quote(text: str) -> str:
    if any(c in text for c in "\r\n\0"):
        raise PermanentError(f"a folder name or search value holds a line break: {text!r}", kind="bad folder")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _translate(server: ImapServer, exc: Exception, doing: str) -> Exception:
    """The docmill error for what imaplib or the network raised (the server's words, never the command's)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentError(f"{server.where} showed a certificate docmill does not trust ({exc.verify_message}); "
                              "name the CA that signed it in the source's ca_file", kind="untrusted certificate")
    if isinstance(exc, imaplib.IMAP4.abort | OSError | EOFError):
        return SourceUnavailable(f"{server.where} did not answer {doing} ({type(exc).__name__}: "
                                 f"{' '.join(str(exc).split())[:200]})")
    return PermanentError(f"{server.where} refused {doing}: {' '.join(str(exc).split())[:300]}", kind="refused")


#: Bytes past the size limit a literal of the server's may have (a folder name, a search answer line).
LITERAL_MARGIN = 1 << 16


class _Capped(imaplib.IMAP4):
    """imaplib reads whatever size a server announces for a literal (``{4000000000}``) in one allocation:
    here a literal over ``limit`` bytes breaks the connection before a byte of it is read."""

    limit = 1 << 26

    def read(self, size: int) -> bytes:
        if size > self.limit:
            raise imaplib.IMAP4.abort(f"the server announced {size:,} bytes, over the {self.limit:,} docmill reads")
        return super().read(size)


class _CappedSSL(_Capped, imaplib.IMAP4_SSL):
    pass


class ImapClient:
    """One logged-in connection, as one user; not for two threads at once (the pool hands it to one)."""

    def __init__(self, server: ImapServer, password: str, *, on_request: Callable[[], None] = lambda: None,
                 max_bytes: int = 1 << 26) -> None:
        self.server = server
        self.max_bytes = max_bytes
        self.on_request = on_request
        self.selected: str | None = None
        self.uidvalidity = 0
        self.used = time.monotonic()
        self.imap = self._open()
        self.imap.limit = max_bytes + 1 + LITERAL_MARGIN  # a message is read as at most max_bytes + 1
        try:
            self._login(password)
            self.capabilities = {c.upper() for c in self._capabilities()}
            self.condstore = "CONDSTORE" in self.capabilities
            if self.condstore:
                self.run("enable CONDSTORE", self.imap.enable, "CONDSTORE")
        except BaseException:
            self.close()
            raise

    def _open(self) -> _Capped:
        server = self.server
        try:
            context = ssl.create_default_context(cafile=server.ca_file)
        except (OSError, ssl.SSLError) as exc:  # checked with the options; changed since
            raise PermanentError(f"the ca_file {server.ca_file!r} is not a readable file of CA certificates "
                                 f"({type(exc).__name__})", kind="bad configuration") from None
        self.on_request()
        try:
            if server.tls == "implicit":
                return _CappedSSL(server.host, server.port, ssl_context=context, timeout=server.timeout)
            imap = _Capped(server.host, server.port, timeout=server.timeout)
        except Exception as exc:
            raise _translate(server, exc, "a connection") from None
        if server.tls == "starttls":
            if "STARTTLS" not in imap.capabilities:
                with contextlib.suppress(Exception):
                    imap.shutdown()
                raise PermanentError(f"{server.where} does not offer STARTTLS: set tls = \"implicit\" (port 993) if "
                                     "it speaks TLS from the start", kind="no tls")
            try:
                self.on_request()
                imap.starttls(ssl_context=context)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    imap.shutdown()
                raise _translate(server, exc, "STARTTLS") from None
        return imap

    def _login(self, password: str) -> None:
        self.on_request()
        try:
            if (self.server.user + password).isascii():
                self.imap.login(self.server.user, password)
            else:  # LOGIN's arguments are ASCII only: SASL PLAIN carries UTF-8 (RFC 4616)
                plain = b"\0" + self.server.user.encode() + b"\0" + password.encode()
                self.imap.authenticate("PLAIN", lambda _challenge: plain)
        except imaplib.IMAP4.error as exc:
            if isinstance(exc, imaplib.IMAP4.abort):
                raise _translate(self.server, exc, "the login") from None
            raise PermanentError(f"{self.server.where} refused the login of {self.server.user!r}: give the source "
                                 "the user's password (or app password) as its token", kind="unauthorized") from None
        except UnicodeError:  # its text would show a character of the password
            raise PermanentError(f"{self.server.where} could not be sent the login of {self.server.user!r}",
                                 kind="unauthorized") from None
        except Exception as exc:
            raise _translate(self.server, exc, "the login") from None
        finally:
            # imaplib keeps its last commands (LOGIN with the password among them) for its debug output: not here.
            getattr(self.imap, "_cmd_log", {}).clear()

    def _capabilities(self) -> list[str]:
        _typ, data = self.run("CAPABILITY", self.imap.capability)
        return b" ".join(d for d in data if isinstance(d, bytes)).decode("ascii", "replace").split()

    def run(self, doing: str, command: Callable[..., tuple[str, list[Any]]], *args: Any) -> tuple[str, list[Any]]:
        """One command, its errors translated; a NO or BAD answer is a PermanentError."""
        self.on_request()
        self.used = time.monotonic()
        try:
            typ, data = command(*args)
        except Exception as exc:
            raise _translate(self.server, exc, doing) from None
        if typ != "OK":
            said = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
            raise PermanentError(f"{self.server.where} refused {doing}: {typ} {said[:300]}", kind="refused")
        return typ, data

    def folders(self) -> list[Folder]:
        """Every folder the user sees (``LIST "" *``)."""
        _typ, data = self.run("the folder list", self.imap.list, '""', "*")
        found = []
        for item in data:
            line, literal = (item[0], item[1]) if isinstance(item, tuple) else (item, None)
            if line is None or line == b"":  # imaplib's [None] for no line; b"" closing a literal's line
                continue
            match = _LIST.match(line) if isinstance(line, bytes) else None
            if match is None:  # a folder docmill cannot name is not a folder gone: nothing may be judged
                raise SourceUnavailable(f"{self.server.where} gave a folder list docmill cannot read")
            flags = match["flags"].decode("ascii", "replace").lower().split()
            delimiter = None if match["delim"].upper() == b"NIL" else _unquote(match["delim"])
            name = literal.decode("utf-8", "surrogateescape") if literal is not None else _unquote(
                re.sub(rb"\{\d+\}$", b"", match["name"]))
            found.append(Folder(name, delimiter, "\\noselect" not in flags and "\\nonexistent" not in flags))
        if not any(f.name.upper() == "INBOX" for f in found):  # every server has one: this list is cut short
            raise SourceUnavailable(f"{self.server.where} gave a folder list without INBOX")
        return found

    def status(self, folder: str) -> FolderStatus:
        """UIDVALIDITY, UIDNEXT, message count and (with CONDSTORE) HIGHESTMODSEQ, without opening the folder."""
        items = "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)" if self.condstore else "(MESSAGES UIDNEXT UIDVALIDITY)"
        _typ, data = self.run(f"STATUS of {folder}", self.imap.status, _quote(folder), items)
        values = {k.decode().upper(): int(v) for k, v in _STATUS.findall(b" ".join(
            d for d in data if isinstance(d, bytes)))}
        missing = [k for k in ("MESSAGES", "UIDNEXT", "UIDVALIDITY") if k not in values]
        if missing:  # never read as "no messages": that would remove every message indexed from the folder
            raise SourceUnavailable(f"{self.server.where} gave no {' or '.join(missing)} for {folder}")
        return FolderStatus(values["UIDVALIDITY"], values["UIDNEXT"], values["MESSAGES"],
                            values.get("HIGHESTMODSEQ") or None)  # 0: the server keeps no modseqs

    def examine(self, folder: str, *, fresh: bool = False) -> int:
        """Open a folder read-only (unless open already, and not ``fresh``); its UIDVALIDITY."""
        if fresh or self.selected != folder:
            self.selected = None
            self.run(f"EXAMINE {folder}", self.imap.select, _quote(folder), True)
            value = self.imap.untagged_responses.get("UIDVALIDITY", [b""])[-1]
            if not isinstance(value, bytes) or not value.isdigit():
                raise PermanentError(f"{self.server.where} gave no UIDVALIDITY for {folder}", kind="unexpected answer")
            self.selected, self.uidvalidity = folder, int(value)
        return self.uidvalidity

    def release(self) -> None:
        """Close the open folder (nothing is expunged: it was opened read-only), so that STATUS sees it as it is
        now rather than as this session last saw it."""
        if self.selected is not None:
            self.selected = None
            self.run("CLOSE", self.imap.close)

    def search(self, folder: str, criteria: Sequence[str], uidnext: int) -> list[int]:
        """The UIDs of the open folder's messages that match ``criteria``, in spans of ``SEARCH_SPAN`` UIDs."""
        found: list[int] = []
        for low in range(1, max(uidnext, 2), SEARCH_SPAN):
            span = f"{low}:*" if low + SEARCH_SPAN >= uidnext else f"{low}:{low + SEARCH_SPAN - 1}"
            _typ, data = self.run(f"a search of {folder}", self.imap.uid, "SEARCH", "UID", span, *criteria)
            found += [int(n) for d in data if isinstance(d, bytes) for n in d.split()]
        return sorted(set(found))

    def message(self, uid: int, max_bytes: int) -> bytes:
        """The whole message of ``uid`` in the open folder, read with BODY.PEEK; PermanentError ``gone`` when the
        server has no such message now, DocumentTooLarge past ``max_bytes``."""
        folder = self.selected
        _typ, data = self.run(f"the size of message {uid} in {folder}", self.imap.uid, "FETCH", str(uid),
                              "(RFC822.SIZE)")
        sizes = [int(m[1]) for d in data if isinstance(d, bytes) and re.search(rb"\bUID %d\b" % uid, d)
                 for m in [_SIZE.search(d)] if m]
        if not sizes:
            raise PermanentError(f"message {uid} is no longer in {folder}: it was moved or deleted since it was "
                                 "listed; the next sync removes it", kind="gone")
        if sizes[0] > max_bytes:
            raise DocumentTooLarge(f"the message is {sizes[0]:,} bytes, over the limit of {max_bytes:,} "
                                   "(DOCMILL_MAX_FILE_SIZE)")
        _typ, data = self.run(f"message {uid} in {folder}", self.imap.uid, "FETCH", str(uid),
                              f"(BODY.PEEK[]<0.{max_bytes + 1}>)")
        bodies = [d[1] for d in data if isinstance(d, tuple) and re.search(rb"\bUID %d\b" % uid, d[0])]
        if not bodies:
            raise PermanentError(f"message {uid} is no longer in {folder}; the next sync removes it", kind="gone")
        if len(bodies[0]) > max_bytes:
            raise DocumentTooLarge(f"the message is over the limit of {max_bytes:,} bytes (DOCMILL_MAX_FILE_SIZE), "
                                   "although the server gave a smaller size")
        return bytes(bodies[0])

    def alive(self) -> bool:
        try:
            self.run("NOOP", self.imap.noop)
            return True
        except (PermanentError, SourceUnavailable):
            return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.imap.logout()
        with contextlib.suppress(Exception):
            self.imap.shutdown()
