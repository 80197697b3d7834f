"""A real WebDAV server for tests and benchmarks: Debian's Apache 2.4 with mod_dav_fs, on a free loopback port.

It runs unprivileged: as the current user, or as ``nobody`` when that is
root (Apache refuses to serve as root), in a throw-away directory with its
own configuration, password file ({SHA}), lock database, error log and an
access log that records each request's method, ``Depth`` header, status and
path, so tests count PROPFINDs and GETs from what the server itself saw.
``stop()`` and ``start()`` make an outage; ``deny(folder)`` forbids a folder
(``Require all denied``: Apache still lists it in its parent, and answers
403 for it and everything under it).
"""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .servers import free_port

__all__ = ["APACHE", "ApacheDav", "Logged"]

#: Debian's Apache binary (in /usr/sbin, which a user's PATH may lack).
APACHE = shutil.which("apache2") or ("/usr/sbin/apache2" if os.path.exists("/usr/sbin/apache2") else None)
MODULES = "/usr/lib/apache2/modules"
LOADED = ("mpm_event", "authz_core", "authz_user", "authn_core", "auth_basic", "authn_file", "dav", "dav_fs", "alias")


@dataclass(frozen=True)
class Logged:
    """One request in the access log."""

    method: str
    depth: str
    status: int
    path: str


class ApacheDav:
    """Apache serving ``files`` (a folder under the server's directory) over WebDAV to one user."""

    def __init__(self, user: str, password: str, *, prefix: str = "/dav") -> None:
        if APACHE is None:
            raise RuntimeError("Apache is not installed (Debian: apt-get install apache2-bin)")
        self.user, self.password, self.prefix = user, password, prefix.rstrip("/")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{self.prefix}/"
        # /tmp, not pytest's tmp_path: pytest makes that 0700 for root, and Apache's children run as nobody
        self.dir = Path(tempfile.mkdtemp(prefix="docmill-webdav-"))
        self.files = self.dir / "files"
        self.files.mkdir()
        self.process: subprocess.Popen[bytes] | None = None
        self.denied: list[str] = []
        self._account = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
        self._write_config()

    def _write_config(self) -> None:
        run = self.dir / "run"
        run.mkdir(exist_ok=True)
        digest = base64.b64encode(hashlib.sha1(self.password.encode()).digest()).decode()
        (run / "htpasswd").write_text(f"{self.user}:{{SHA}}{digest}\n")
        loads = "\n".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in LOADED)
        (run / "httpd.conf").write_text(f"""ServerRoot {run}
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
PidFile {run}/httpd.pid
ErrorLog {run}/error.log
LogFormat "%m\\t%{{Depth}}i\\t%>s\\t%U" dav
CustomLog {run}/access.log dav
{loads}
DavLockDB {run}/davlock
Alias {self.prefix} {self.files}
<Directory {self.files}>
  Dav On
  AuthType Basic
  AuthName "docmill test"
  AuthUserFile {run}/htpasswd
  Require valid-user
</Directory>
""" + "".join(f"<Directory {self.files / folder}>\n  Require all denied\n</Directory>\n" for folder in self.denied))
        if self._account is not None:
            for path in [self.dir, *self.dir.rglob("*")]:
                os.chown(path, self._account.pw_uid, self._account.pw_gid)
            self.dir.chmod(0o755)

    def start(self) -> None:
        account = self._account
        self.process = subprocess.Popen(
            [str(APACHE), "-f", str(self.dir / "run" / "httpd.conf"), "-DFOREGROUND"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            user=account.pw_uid if account else None, group=account.pw_gid if account else None,
            extra_groups=[] if account else None)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Apache stopped at once:\n{self.errors()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Apache did not listen on port {self.port}:\n{self.errors()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)
            self.process = None

    def deny(self, *folders: str) -> None:
        """Forbid these folders (``a/b``) from now on, or, given none, forbid nothing again; restarts a running
        server with the new configuration."""
        self.denied = [folder.strip("/") for folder in folders]
        self._write_config()
        if self.process is not None:
            self.stop()
            self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ApacheDav:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def errors(self) -> str:
        log = self.dir / "run" / "error.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def requests(self) -> list[Logged]:
        """Every request the server has answered so far, oldest first."""
        log = self.dir / "run" / "access.log"
        found = []
        for line in (log.read_text(errors="replace").splitlines() if log.exists() else []):
            method, depth, status, path = line.split("\t", 3)
            found.append(Logged(method, depth, int(status), path))
        return found

    def write(self, path: str, data: bytes | str) -> Path:
        """Create or replace a file under the served folder (``a/b.txt``), its folders too."""
        target = self.files / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        return target
