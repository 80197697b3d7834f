"""What a process tree tries on the network, seen at the system-call level with strace.

Python's audit hooks see only what Python's own socket module does; a C
library (onnxruntime's telemetry uploader, glibc's resolver) calls the kernel
directly. ``strace -f`` sees every ``connect``, ``sendto`` and ``sendmsg`` of a
process and all its children, whatever made them:

    log = tmp_path / "trace.log"
    subprocess.run(traced(["docmill", "ingest", "docs"], log), check=True)
    assert not [c for c in contacts(log) if c.lookup or c.outside]

A name lookup shows as a contact with a DNS server (port 53), or as glibc
opening the files of its host lookups (``/etc/hosts``, ``/etc/resolv.conf``,
``/etc/host.conf``), which it does for every name that is not a numeric
address, even one /etc/hosts answers (on a machine running nscd, a lookup
nscd answers from its cache opens neither: trace where nscd does not run). An
attempt to leave the machine shows as a contact with an address outside
loopback. :func:`offline` runs a command in a network namespace with no way
out, where such attempts fail at once instead of waiting on a timeout.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Contact", "contacts", "offline", "traced"]

_INET = re.compile(r'sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(r'sa_family=AF_INET6, sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, "([^"]+)"')
_UNIX = re.compile(r'sa_family=AF_UNIX, sun_path=@?"([^"]+)"')
_OPEN = re.compile(r'openat\([^,]+, "([^"]+)"')
_CALL = re.compile(r"^(\d+)\s+(\w+)\(")
#: Files glibc reads to look a host name up (and for nothing else).
HOST_FILES = ("/etc/hosts", "/etc/resolv.conf", "/etc/host.conf")


@dataclass(frozen=True)
class Contact:
    """One attempt to reach an address (or a file opened): process, system call, family, address, port."""

    pid: int
    call: str
    family: str
    address: str
    port: int | None
    line: str

    @property
    def lookup(self) -> bool:
        """A name lookup: a DNS server asked, or the host lookup files read."""
        return self.port == 53 or (self.family == "FILE" and self.address in HOST_FILES)

    @property
    def outside(self) -> bool:
        """An internet address other than loopback."""
        if self.family not in ("AF_INET", "AF_INET6"):
            return False
        address = ipaddress.ip_address(self.address)
        mapped = getattr(address, "ipv4_mapped", None)
        return not (mapped or address).is_loopback


def traced(command: Sequence[str], log: Path) -> list[str]:
    """``command`` under strace, following every child, writing what it tries to reach into ``log``."""
    strace = shutil.which("strace")
    if strace is None:
        raise RuntimeError("strace is not installed (Debian: apt-get install strace)")
    return [strace, "-f", "-qq", "--seccomp-bpf", "-e", "signal=none", "-e", "trace=connect,sendto,sendmsg,openat",
            "-o", str(log), *command]


def offline(command: Sequence[str]) -> list[str]:
    """``command`` in a new network namespace: no interface but a loopback that is down, so no way out."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise RuntimeError("unshare is not installed (Debian: util-linux)")
    return [unshare, "--net", *command]


def contacts(log: Path) -> list[Contact]:
    """Every address the traced processes tried to reach, and host lookup files they opened."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        call = _CALL.match(line)
        if call is None:
            continue
        pid, name = int(call.group(1)), call.group(2)
        for match in _INET.finditer(line):
            found.append(Contact(pid, name, "AF_INET", match.group(2), int(match.group(1)), line))
        for match in _INET6.finditer(line):
            found.append(Contact(pid, name, "AF_INET6", match.group(2), int(match.group(1)), line))
        for match in _UNIX.finditer(line):
            found.append(Contact(pid, name, "AF_UNIX", match.group(1), None, line))
        opened = _OPEN.search(line) if name == "openat" else None
        if opened is not None and opened.group(1) in HOST_FILES:
            found.append(Contact(pid, name, "FILE", opened.group(1), None, line))
    return found
