"""Who is calling: bearer tokens checked against the hashes in the settings, and a rate limit per token.

Settings hold each token's SHA-256, never the token (``docmill api --new-token
NAME`` makes one and prints the line to add). A request without a token, or
with one no hash matches, is 401; each token's requests are counted in a
token bucket, and one over its rate is 429 with ``Retry-After``. Wrong webhook
secrets are counted the same way, per client address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Mapping

__all__ = ["RateLimiter", "TokenBook", "new_token"]


def token_hash(token: str) -> str:
    """The hex SHA-256 of a token, as the settings keep it."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh random token and its hash."""
    token = "dm_" + secrets.token_urlsafe(32)
    return token, token_hash(token)


class TokenBook:
    """The callers the settings know: name -> SHA-256 of its token."""

    def __init__(self, hashes: Mapping[str, str]) -> None:
        self._hashes = {name: digest.lower() for name, digest in hashes.items()}

    def caller(self, token: str) -> str | None:
        """The name whose hash matches ``token``, or None (every hash is compared, in constant time each)."""
        digest, found = token_hash(token), None
        for name, expected in self._hashes.items():
            if hmac.compare_digest(digest, expected):
                found = name
        return found


class RateLimiter:
    """A token bucket per key (a caller, a client's address): ``rate`` a second on average, bursts of ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _level(self, key: str, now: float) -> float:
        level, at = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), level + (now - at) * self.rate)

    def available(self, key: str) -> float:
        """0 when ``key`` has a request left now (none is counted); otherwise the seconds until it has."""
        with self._lock:
            level = self._level(key, time.monotonic())
        return 0.0 if level >= 1 else (1 - level) / self.rate

    def take(self, key: str) -> None:
        """Count one request of ``key`` (a wrong webhook secret, say), whether or not it had one left."""
        now = time.monotonic()
        with self._lock:
            self._buckets[key] = (max(0.0, self._level(key, now) - 1), now)

    def wait(self, key: str) -> float:
        """0 when the request may go now (and it is counted); otherwise the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            level = self._level(key, now)
            if level >= 1:
                self._buckets[key] = (level - 1, now)
                return 0.0
            self._buckets[key] = (level, now)
            return (1 - level) / self.rate
