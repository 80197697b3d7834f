"""A Dovecot IMAP server of its own, for tests and benchmarks: unprivileged, on a free loopback port.

Debian's ``dovecot-imapd`` runs in the foreground with a configuration file
of its own in a throw-away directory: one user from a passwd-file, mail in
Maildir, no system service touched. As root it runs as the unprivileged
``dovecot`` user the package creates; otherwise as the calling user. With
``tls`` it serves implicit TLS and STARTTLS with a self-signed certificate
for 127.0.0.1 and localhost (``ca_file``), made with openssl.

Dovecot's rawlog records every command each session sent, so a test can
count what a sync asked (``commands``, ``body_fetches``) from the server's
side.
"""

from __future__ import annotations

import getpass
import imaplib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from .servers import free_port

__all__ = ["DOVECOT", "Dovecot"]

DOVECOT = "/usr/sbin/dovecot"
USER = "alice"


def _config(root: Path, login_user: str, port: int, tls_port: int | None) -> str:
    ssl = (f"ssl = yes\nssl_cert = <{root}/cert.pem\nssl_key = <{root}/key.pem\n" if tls_port else "ssl = no\n")
    return f"""
base_dir = {root}/run
state_dir = {root}/state
instance_name = docmill-test-{root.name}
listen = 127.0.0.1
protocols = imap
log_path = {root}/dovecot.log
{ssl}
disable_plaintext_auth = no
first_valid_uid = 1
first_valid_gid = 1
default_internal_user = {login_user}
default_internal_group = {login_user}
default_login_user = {login_user}
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={login_user} gid={login_user} home={root}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port or 0}
  }}
}}
service anvil {{
  chroot =
}}
protocol imap {{
  rawlog_dir = {root}/rawlog
}}
"""


class Dovecot:
    """``with Dovecot(password) as server``: a running server whose one user is ``alice``."""

    def __init__(self, password: str, *, tls: bool = False) -> None:
        if not os.path.exists(DOVECOT):
            raise FileNotFoundError(f"{DOVECOT} is missing: apt-get install dovecot-imapd")
        self.password = password
        self.root = Path(tempfile.mkdtemp(prefix="docmill-dovecot-"))
        self.user = "dovecot" if os.geteuid() == 0 else getpass.getuser()
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.ca_file = str(self.root / "cert.pem") if tls else None
        self.process: subprocess.Popen[bytes] | None = None
        for sub in ("run", "state", "rawlog", "mail"):
            (self.root / sub).mkdir()
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{password}\n", encoding="utf-8")
        if tls:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                            "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                            "-keyout", str(self.root / "key.pem"), "-out", str(self.root / "cert.pem")],
                           check=True, capture_output=True)
        (self.root / "dovecot.conf").write_text(_config(self.root, self.user, self.port, self.tls_port))
        self._own(self.root)

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.user)
            for item in [path, *path.rglob("*")]:
                os.chown(item, entry.pw_uid, entry.pw_gid)

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def start(self) -> None:
        root = os.geteuid() == 0  # then as the unprivileged dovecot user, its group alone
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                        user=self.user if root else None, group=self.user if root else None,
                                        extra_groups=[] if root else None, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                said = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"dovecot exited: {said}{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not listen within 30 s: {self.log()}")

    def stop(self) -> None:
        """Stop the server (its mail stays): the next connection is refused."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self) -> imaplib.IMAP4:
        """A logged-in connection for a test to change the mailbox with (its commands are recorded too)."""
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        if self.password.isascii():
            imap.login(USER, self.password)
        else:
            imap.authenticate("PLAIN", lambda _challenge: f"\0{USER}\0{self.password}".encode())
        return imap

    def commands(self) -> list[str]:
        """Every command the server received so far, of every session (the tests' own included)."""
        lines = []
        for path in sorted((self.root / "rawlog").glob("*.in")):
            for line in path.read_text(errors="replace").splitlines():
                _stamp, _, text = line.partition(" ")
                if re.match(r"^\S+ [A-Z]", text):
                    lines.append(text.split(" ", 1)[1])
        return lines

    def body_fetches(self) -> list[int]:
        """The UIDs of every message body the server was asked for (``UID FETCH n (BODY...``)."""
        return [int(m[1]) for c in self.commands() for m in [re.match(r"UID FETCH (\d+) \(BODY", c, re.I)] if m]

    def renumber(self, folder: str) -> None:
        """Give a folder a new UIDVALIDITY, as a server does when it rebuilds its index (``doveadm``)."""
        root = os.geteuid() == 0
        status = self.client()
        _typ, data = status.status(folder, "(UIDVALIDITY)")
        status.logout()
        current = int(re.findall(rb"UIDVALIDITY (\d+)", data[0] or b"")[0])
        subprocess.run(["/usr/bin/doveadm", "-c", str(self.root / "dovecot.conf"), "mailbox", "update", "-u", USER,
                        "--uid-validity", str(current + 1000), folder], check=True, capture_output=True,
                       user=self.user if root else None, group=self.user if root else None,
                       extra_groups=[] if root else None)

    def rebuild(self, folder: str) -> None:
        """Rebuild a folder's index as a server does after losing it: its messages get new UIDs from 1 (in the
        order the Maildir lists them) under a new UIDVALIDITY. No session may have the folder open."""
        base = self.root / "mail" / USER / "Maildir"
        where = base if folder == "INBOX" else base / f".{folder}"
        for path in [where / "dovecot-uidlist", *where.glob("dovecot.index*")]:
            path.unlink(missing_ok=True)
        self.renumber(folder)  # the rebuilt index may have the old UIDVALIDITY (it is the time, in seconds)

    def write_maildir(self, folder: str, messages: Iterable[bytes]) -> int:
        """Messages put straight into the user's Maildir (quicker than APPEND for thousands); how many."""
        base = self.root / "mail" / USER / "Maildir"
        where = base if folder == "INBOX" else base / f".{folder}"
        for sub in ("cur", "new", "tmp"):
            (where / sub).mkdir(parents=True, exist_ok=True)
        stamp, count = int(time.time()), 0
        for data in messages:
            (where / "cur" / f"{stamp}.{uuid.uuid4().hex}.docmill:2,").write_bytes(data)
            count += 1
        self._own(self.root / "mail")
        return count
