"""The HTTP API's callers as identities: admitted as an API starts, revoked for good by the operator.

A caller is its name (``[[api_tokens]]``). Its uploads and jobs are granted
to that name (``core.access``), so removing its token from the configuration
hides them from everyone at once, and putting a token with the name back
(a new token for the same person) shows them to it again. ``revoke`` ends
the identity: its uploads are deleted from the index or kept hidden from
every caller, and no token may carry the name again, so nobody inherits
what it left.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..core.errors import ConfigurationError
from ..core.ledger_records import Stage
from ..core.values import Task
from ..settings import Settings
from .backend import open_backend
from .progress import follow
from .runs import Watch
from .specs import has_ledger

__all__ = ["Revocation", "admit", "label_grants", "revoke"]


@dataclass(frozen=True)
class Revocation:
    """What ``revoke`` did: the caller's uploaded documents (and their chunks), deleted or kept hidden, and the
    job that deleted them."""

    name: str
    documents: int
    chunks: int
    deleted: bool
    job_id: str | None
    counts: dict[str, int]


def _when(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def admit(ledger: Any, names: Iterable[str]) -> None:
    """Record the configured callers; ConfigurationError when one carries the name of a revoked caller."""
    revoked = ledger.callers.admit(names)
    if revoked:
        who = ", ".join(f"{c.name} (revoked {_when(c.revoked_at)}, its uploads {c.uploads})" for c in revoked)
        raise ConfigurationError(f"DOCMILL_API_TOKENS: {who}: a revoked caller's name is never given to a token "
                                 "again (it would inherit the jobs the name left); choose another name")


def label_grants(runtime: Any, settings: Settings) -> int:
    """Give chunks written before grants theirs, once per store collection (``core.upgrades``); how many
    documents were relabelled."""
    from ..core.upgrades import access_upgrade, label_access

    name = access_upgrade(settings.store, settings.collection)
    if runtime.ledger.upgrades.done(name):  # the store is not opened for nothing (it may be a server, down now)
        return 0
    return label_access(runtime.ledger, runtime.store, name)


def revoke(settings: Settings, name: str, *, delete_uploads: bool, watch: Watch | None = None,
           on_wait: Callable[[], None] | None = None) -> Revocation:
    """End the caller ``name`` for good: its uploads deleted from the index (``delete_uploads``, waiting for
    the deletions) or kept, hidden from every caller; no token may carry the name again.

    ConfigurationError while a token in the settings still carries the name.
    """
    if any(token.name == name for token in settings.api_tokens):
        raise ConfigurationError(f"{name} still has a token: remove its [[api_tokens]] entry from docmill.toml "
                                 "(and restart the API) first, then revoke it")
    if not has_ledger(settings):
        raise ConfigurationError(f"there is no ledger in {settings.home}: no API has served {name} here")
    if not delete_uploads:
        from ..core.ledger import Ledger

        with Ledger(settings.ledger_database_url) as ledger:
            uploads = ledger.callers.uploads_of(name)
            ledger.callers.revoke(name, "kept")
        return Revocation(name, len(uploads), sum(chunks for _, _, chunks in uploads), False, None, {})
    job_id, counts, uploads = _delete_uploads(settings, name, watch, on_wait)
    return Revocation(name, len(uploads), sum(chunks for _, _, chunks in uploads), True, job_id, counts)


def _delete_uploads(settings: Settings, name: str, watch: Watch | None,
                    on_wait: Callable[[], None] | None) -> tuple[str | None, dict[str, int], list[Any]]:
    """Delete every upload of ``name`` from the index, as one job, waited for; then record the revocation."""
    backend = open_backend(settings, on_wait=on_wait)
    try:
        backend.start()
        runtime = backend.runtime
        ledger = runtime.ledger
        uploads = ledger.callers.uploads_of(name)
        job_id, counts = None, {}
        if uploads:
            job_id = ledger.jobs.create("delete", discoveries=0)
            runtime.send_all([Task.for_version(Stage.REMOVE, job_id, key, version, 0)
                              for key, version in ledger.versions.start_removals(job_id, [key for key, _,
                                                                                          _ in uploads])])
            snapshots = follow(lambda: backend.progress(job_id), sleep=backend.pause)
            if watch is not None:
                watch(snapshots)
            else:
                for _ in snapshots:
                    pass
            counts = ledger.jobs.progress(job_id).counts
        ledger.callers.revoke(name, "deleted")
        return job_id, counts, uploads
    finally:
        backend.close()
