"""What a long-running front end (the HTTP API) holds: the pipeline, and the jobs it starts for its callers.

Embedded mode runs the stages in this process, with the same worker pools as
``docmill ingest``; distributed mode is a client of RabbitMQ and the ledger
and only enqueues. Either way a request's job exists, with its owner, before
the request is answered, and nothing slow (extraction, OCR, embedding) runs
in the request: uploads are on disk and a job id is returned while the work
has not started.

Every job belongs to the caller that started it (``owner``); asking about
another caller's job is answered as if it did not exist.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.access import upload_key, visible_to
from ..core.errors import ConfigurationError
from ..core.fairness import FAIR_SHARE, raised
from ..core.filters import Filter
from ..core.hybrid import RankedHit
from ..core.ledger_records import JobInfo, Stage
from ..core.values import SourceSpec, Task
from ..settings import Settings
from . import callers
from .backend import Backend, open_backend
from .syncs import SyncInterrupted, SyncRunners

__all__ = ["UPLOAD_SOURCE", "NotFound", "Service"]

#: Source type of uploaded files (the built-in plugin ``api-upload``), and the prefix of their source ids.
UPLOAD_SOURCE, UPLOAD_PREFIX = "api-upload", "upload"
#: Seconds a stopping service gives the pipeline's workers to finish the messages they hold.
STOP_WAIT = 10.0

log = logging.getLogger(__name__)


class NotFound(LookupError):
    """No such job or document for this caller (another caller's is not found either); the message says which,
    in words the caller may read."""


class Service:
    """Submits and watches jobs for named callers; searches with filters; syncs named sources on demand."""

    def __init__(self, settings: Settings, *, on_wait: Callable[[], None] | None = None) -> None:
        """``on_wait`` hears when another process holds the embedded home, which this one then waits for."""
        self.settings = settings
        self.upload_dir = Path(settings.upload_dir or settings.home / "uploads")
        self._syncs = SyncRunners(settings, self.run_sync)
        self.backend: Backend = open_backend(settings, on_wait=on_wait)
        try:
            self.runtime = self.backend.runtime
            self.ledger = self.runtime.ledger
            callers.admit(self.ledger, [token.name for token in settings.api_tokens])
            callers.label_grants(self.runtime, settings)  # before any search: an older index's chunks get grants
            self.backend.start()
        except BaseException:
            self.close()
            raise

    @property
    def mode(self) -> str:
        return self.backend.mode

    # Jobs -----------------------------------------------------------------

    def submit(self, specs: Sequence[SourceSpec], *, owner: str | None, kind: str = "ingest",
               priority: int = 0) -> str:
        """Start a job discovering these sources; its id. Nothing is listed here: embedded mode hands discovery
        to its worker threads, distributed mode to the workers of the ``discover`` queue (a TransientError when
        RabbitMQ does not take it: the job then never started, and the same request again starts it)."""
        queued_at = priority
        if owner is not None and self.ledger.jobs.undiscovered_of(owner) < FAIR_SHARE:  # the caller's fair share
            queued_at = raised(priority)
        return self.backend.submit(specs, kind=kind, priority=priority, owner=owner, queued_at=queued_at)

    def upload(self, owner: str, items: Sequence[Mapping[str, Any]], *, priority: int = 0) -> str:
        """A job processing files already stored by their content (``store_blob``): ``items`` of name,
        sha256, size and uploaded (ISO time)."""
        listed = [dict(item) for item in items]
        digest = hashlib.sha256(json.dumps(listed, sort_keys=True).encode()).hexdigest()[:16]
        spec = SourceSpec(id=f"{UPLOAD_PREFIX}:{owner}:{digest}", type=UPLOAD_SOURCE,
                          options={"root": str(self.upload_dir), "owner": owner, "items": listed})
        return self.submit([spec], owner=owner, kind="upload", priority=priority)

    def submit_items(self, source: str, items: Sequence[str], *, owner: str | None, priority: int = 0) -> str:
        """A job ingesting these files (paths relative to its folder) of a named folder source, as ``docmill
        ingest`` would: the source's other files are not considered. UnknownSource for an unknown name;
        ConfigurationError for a source that is not a folder, or an item that is not a relative path inside it
        or that the source's globs leave out. An item missing, or leading out of the folder, is skipped in the
        job with why."""
        from .specs import FOLDER_SOURCE, source_spec

        config = self.settings.source(source)
        if config.type != FOLDER_SOURCE:
            raise ConfigurationError(f"items are files of a folder source, and {source!r} is a {config.type} "
                                     f"source: POST /v1/sources/{source}/webhook syncs it")
        spec = source_spec(config)
        # A source of its own (an id under the named source's): the named source's options, state and last
        # sync stay as they are, and a worker's source built for other items is not reused for these.
        digest = hashlib.sha256(json.dumps(list(items)).encode()).hexdigest()[:16]
        spec = SourceSpec(id=f"{spec.id}@items-{digest}", type=spec.type,
                          options={**spec.options, "items": list(items)})
        self.settings.plugin_registry().source(spec.type, dict(spec.options), self.settings).close()
        return self.submit([spec], owner=owner, kind="ingest", priority=priority)

    def owned_job(self, job_id: str, owner: str | None) -> JobInfo:
        """The job's row when ``owner`` started it; NotFound otherwise (another caller's job does not exist)."""
        try:
            info = self.ledger.jobs.info(job_id)
        except KeyError:
            raise NotFound(f"no job {job_id!r}") from None
        if owner is not None and info.get("owner") != owner:
            raise NotFound(f"no job {job_id!r}")
        return info

    def job(self, job_id: str, owner: str | None, **page: Any) -> dict[str, Any]:
        """Counts and a page of the job's documents (see ``app.job_status``); NotFound as ``owned_job``."""
        info = self.owned_job(job_id, owner)
        # Progress first: a job seen finished has written every item, so the items read after it are all there
        # (read the other way round, a finished job could show the items of a moment before: none).
        progress = self.ledger.jobs.progress(job_id)
        items, more = self.ledger.jobs.items(job_id, **page)
        return {**info, "finished": progress.finished, "counts": progress.counts, "items": items, "more": more,
                "next": items[-1]["key"] if more else None}

    def jobs(self, owner: str | None, limit: int = 50) -> list[dict[str, Any]]:
        """The caller's most recent jobs, newest first, with their counts."""
        found = []
        for info in self.ledger.jobs.of(owner, limit):
            progress = self.ledger.jobs.progress(info["job"])
            found.append({**info, "finished": progress.finished, "counts": progress.counts})
        return found

    def progress(self, job_id: str) -> Any:
        """The job's progress; embedded mode fails documents the broker lost, as ``docmill ingest`` does."""
        return self.backend.progress(job_id)

    def retry(self, job_id: str, owner: str | None) -> str | None:
        """Re-run the job's failed documents from the stage that failed, as a new job of the same caller; its
        id, or None when nothing failed."""
        self.owned_job(job_id, owner)
        ids = self.ledger.jobs.dead_letters(job_id)
        if not ids:
            return None
        return self.backend.retry(ids, owner=owner)[0]

    def remove(self, key: str, owner: str) -> str:
        """Remove one of the caller's uploaded documents from the index; the job doing it. NotFound when the
        caller has no such document."""
        if not key.startswith(upload_key(owner, "")) or self.ledger.documents.document(key) is None:
            raise NotFound(f"no document {key!r} of yours")
        job_id = self.ledger.jobs.create("delete", discoveries=0, owner=owner)
        tasks = [Task.for_version(Stage.REMOVE, job_id, key, version, 0)
                 for key, version in self.ledger.versions.start_removals(job_id, [key])]
        self.runtime.send_all(tasks)
        return job_id

    # Search ---------------------------------------------------------------

    def search(self, query: str, k: int, where: Filter = (), *, caller: str, mode: str = "hybrid"
               ) -> list[RankedHit]:
        """The ``k`` chunks that best answer ``query`` (ranked as ``mode`` says, ``core.hybrid``) that pass
        ``where`` and that ``caller`` may see: the shared sources' and its own uploads (``core.access``), on both
        sides of a hybrid search. ConfigurationError: the store cannot filter, or no keyword index for a keyword
        search."""
        from .reports import ranked

        return ranked(self.runtime.store, self.runtime.embedder.embed_query, query, k, (*where, visible_to(caller)),
                      mode)

    # Named sources ----------------------------------------------------------

    def sync(self, name: str) -> bool:
        """Sync a named source in the background, under its lease; False when a sync of it is already running
        here (this request is folded into one more run after it: a burst of triggers costs at most one)."""
        self.settings.source(name)  # ConfigurationError for an unknown name
        return self._syncs.trigger(name)

    def run_sync(self, specs: Sequence[SourceSpec], *, kind: str) -> tuple[str, Any]:
        """A sync's run, on this service's pipeline (what ``app.sync_source`` calls instead of ``app.run``);
        SyncInterrupted when the service stops meanwhile."""
        job_id = self.submit(specs, owner=None, kind=kind)
        while not self.progress(job_id).finished:
            if self._syncs.stopping:
                raise SyncInterrupted(job_id)
            time.sleep(0.2)
        return job_id, self.ledger.jobs.summary(job_id)

    def close(self) -> None:
        """Stop: no sync starts any more, running ones stop waiting, then the pipeline stops (a stage's message
        in progress finishes within ``STOP_WAIT`` seconds, or resumes when the pipeline starts again)."""
        self._syncs.stop()
        self.backend.close(timeout=STOP_WAIT)
