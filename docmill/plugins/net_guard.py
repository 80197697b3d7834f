"""The SSRF guard for sources that fetch URLs they were given: no loopback, private or metadata addresses.

A URL from a list (or a redirect from one) must not make docmill read its
own host's services, the internal network or a cloud metadata endpoint. Each
host is resolved and every address checked before the request; each redirect
is checked again; and where the connection tells which address it reached,
that is checked too (a name that resolved differently the second time). Hosts
on the allow-list are trusted as they are.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from docmill.core.errors import PermanentError

__all__ = ["Resolver", "UrlGuard"]

#: host -> its addresses (``socket.getaddrinfo`` by default; tests give their own).
Resolver = Callable[[str], list[str]]

#: Cloud metadata endpoints that are not covered by "link-local" or "private".
METADATA = {ipaddress.ip_address("fd00:ec2::254")}


def _resolve(host: str) -> list[str]:
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
    except socket.gaierror as exc:
        raise PermanentError(f"cannot resolve {host}: {exc.strerror}", kind="unreachable") from exc


def forbidden(address: str) -> str | None:
    """Why this address may not be fetched, or None."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, what in ((ip.is_loopback, "loopback"), (ip.is_link_local, "link-local (metadata)"),
                       (ip.is_private, "private"), (ip.is_multicast, "multicast"),
                       (ip.is_unspecified, "unspecified"), (ip.is_reserved, "reserved"), (ip in METADATA, "metadata")):
        if test:
            return what
    return None


class UrlGuard:
    """Checks URLs (and the addresses they reach) against the SSRF rules and an allow-list of hosts."""

    def __init__(self, allow_hosts: Iterable[str] = (), resolve: Resolver | None = None) -> None:
        self.allow = {h.lower().strip("[]") for h in allow_hosts}
        self.resolve = resolve or _resolve

    def check(self, url: str) -> None:
        """Raise PermanentError (kind 'refused address') unless ``url`` may be fetched."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PermanentError(f"not an http(s) URL: {url}", kind="refused address")
        host = parts.hostname.lower()
        if host in self.allow:
            return
        for address in self.resolve(host):
            why = forbidden(address)
            if why:
                raise PermanentError(
                    f"{host} is a {why} address ({address}); docmill does not fetch those unless the host is "
                    "in the source's allow_hosts", kind="refused address")

    def check_peer(self, url: str, address: str | None) -> None:
        """The address a connection actually reached (a name may resolve differently the second time)."""
        host = (urlsplit(url).hostname or "").lower()
        if address is None or host in self.allow:
            return
        why = forbidden(address)
        if why:
            raise PermanentError(f"{host} connected to a {why} address ({address}); refused",
                                 kind="refused address")
