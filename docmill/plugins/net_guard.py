"""The SSRF guard for sources that fetch URLs they were given: only addresses on the public internet.

A URL from a list (or a redirect from one) must not make docmill read its
own host's services, the internal network or a cloud metadata endpoint. Only
globally routable addresses are allowed (``ipaddress``'s ``is_global``), after
unwrapping the IPv4 address an IPv6 one may carry (IPv4-mapped, 6to4,
Teredo): shared address space (100.64.0.0/10, where some clouds put their
metadata service), 192.0.0.0/24, private, loopback, link-local and the rest
are refused. Hosts on the allow-list are trusted as they are.

The check is made where the connection is made: the guarded client's
network backend resolves the name once, checks every address, and connects
to exactly the address it checked, with the original Host header and TLS
server name; every redirect hop makes a new connection and is checked the
same way. A name that answers differently the second time it is asked (DNS
rebinding) therefore cannot steer a request to an address that was not
checked. Proxies from the environment are ignored; an explicitly configured
proxy resolves names itself, and the guard then checks only the names.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from docmill import PermanentError

__all__ = ["Resolver", "UrlGuard", "forbidden", "guarded_client"]

#: host -> its addresses (``socket.getaddrinfo`` by default; tests give their own).
Resolver = Callable[[str], list[str]]


def _resolve(host: str) -> list[str]:
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
    except socket.gaierror as exc:
        raise PermanentError(f"cannot resolve {host}: {exc.strerror}", kind="unreachable") from exc


#: Special-purpose ranges (IANA's registry) that older Pythons' ``is_global`` lets through.
_NOT_GLOBAL = [ipaddress.ip_network(n) for n in ("192.0.0.0/24", "192.88.99.0/24", "198.18.0.0/15",
                                                  "2001::/23", "64:ff9b:1::/48")]
#: ...and the few addresses inside them that are global.
_GLOBAL = {ipaddress.ip_address(a) for a in ("192.0.0.9", "192.0.0.10", "2001:1::1", "2001:1::2")}
#: NAT64's well-known prefix: the last 32 bits are an IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (IPv4-mapped, 6to4, Teredo's server and client, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo is not None:
        found += list(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _is_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip in _GLOBAL:
        return True
    return ip.is_global and not any(ip in network for network in _NOT_GLOBAL if network.version == ip.version)


def forbidden(address: str) -> str | None:
    """Why this address may not be fetched (it is not a public internet address), or None."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return "not an IP address"
    for candidate in (*_embedded(ip), ip):  # the carried IPv4 address first: its kind says more
        if not _is_global(candidate):
            kinds = ((candidate.is_loopback, "loopback"), (candidate.is_link_local, "link-local (metadata)"),
                     (candidate.is_private, "private"), (candidate.is_multicast, "multicast"),
                     (candidate.is_unspecified, "unspecified"), (candidate.is_reserved, "reserved"))
            kind = next((what for test, what in kinds if test), "non-public")
            return kind if candidate is ip else f"{kind} (inside {ip})"
    return None


class UrlGuard:
    """Checks URLs (and the addresses they reach) against the SSRF rules and an allow-list of hosts."""

    def __init__(self, allow_hosts: Iterable[str] = (), resolve: Resolver | None = None) -> None:
        self.allow = {h.lower().strip("[]") for h in allow_hosts}
        self.resolve = resolve or _resolve

    def check(self, url: str) -> None:
        """Raise PermanentError (kind 'refused address') unless ``url`` may be fetched (an early, friendly
        refusal: the connection itself is checked again in ``addresses``)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PermanentError(f"not an http(s) URL: {url}", kind="refused address")
        self.addresses(parts.hostname)

    def addresses(self, host: str) -> list[str]:
        """The addresses to connect to for ``host``: all of them allowed, or PermanentError."""
        host = host.lower().strip("[]")
        if host in self.allow:
            return [host]  # trusted as it is: connected to by name
        resolved = [host] if _is_ip(host) else self.resolve(host)
        if not resolved:
            raise PermanentError(f"{host} has no address", kind="unreachable")
        for address in resolved:
            why = forbidden(address)
            if why:
                raise PermanentError(
                    f"{host} is a {why} address ({address}); docmill does not fetch those unless the host is "
                    "in the source's allow_hosts", kind="refused address")
        return resolved

    def check_peer(self, url: str, address: str | None) -> None:
        """The address a connection reached (belt and braces: ``addresses`` already chose it)."""
        host = (urlsplit(url).hostname or "").lower()
        if address is None or host in self.allow:
            return
        why = forbidden(address)
        if why:
            raise PermanentError(f"{host} connected to a {why} address ({address}); refused",
                                 kind="refused address")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True


class _PinnedBackend(httpcore.SyncBackend):
    """Connects to the address the guard checked, not to whatever the name resolves to a moment later."""

    def __init__(self, guard: UrlGuard) -> None:
        self.guard = guard

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in self.guard.addresses(host):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # the next checked address, if there is one
                last = exc
        assert last is not None
        raise last


def guarded_client(guard: UrlGuard, *, timeout: float, headers: dict[str, str],
                   proxy: str | None = None) -> httpx.Client:
    """An httpx client whose every connection goes to an address the guard allowed; no proxy from the
    environment (an explicit ``proxy`` resolves names itself: then only names are checked)."""
    if proxy:
        return httpx.Client(timeout=timeout, headers=headers, proxy=proxy, trust_env=False)
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx builds its connection pool with the default backend; the guarded one replaces it (a pool
    # holds its backend and uses it for every new connection, the TLS server name staying the host's).
    transport._pool._network_backend = _PinnedBackend(guard)
    return httpx.Client(timeout=timeout, headers=headers, transport=transport, trust_env=False)
