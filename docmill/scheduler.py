"""`docmill scheduler`: the sources' periodic syncs, on APScheduler, never overlapping.

Each named source with a ``schedule`` becomes a job in a job store inside the
ledger database (table ``scheduler_jobs``), so next-run times survive
restarts. Jobs run with ``max_instances=1`` and ``coalesce=True``: a trigger
that fires while the previous sync of its source still runs is skipped, and
triggers missed while the scheduler was down run once, not once each. Across
scheduler replicas (run two for safety), the source's lease decides: a sync
whose source is being synced elsewhere is coalesced into that one. Both kinds
of skip are counted and logged as coalesced.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from typing import Any

from . import metrics
from .settings import Settings, load_settings
from .sources_config import Interval, SourceConfig

__all__ = ["Scheduler", "run_sync"]

log = logging.getLogger(__name__)

#: Table of the job store in the ledger database.
JOBS_TABLE = "scheduler_jobs"
#: Seconds late a run may start and still run (a longer outage runs it once, at once, by coalescing).
MISFIRE_GRACE = 3600

#: Syncs skipped because one was still running (here or elsewhere), per source.
coalesced: Counter[str] = Counter()


def run_sync(name: str) -> None:
    """The scheduled job: sync one source, unless another holder is syncing it."""
    from .app import sync_source

    found = sync_source(load_settings(), name)
    if found is None:
        coalesced[name] += 1
        log.info("sync of %s coalesced: another process is syncing it (%d so far)", name, coalesced[name],
                 extra={"event": "sync.coalesced"})
        return
    if found["error"]:
        log.error("sync of %s could not list the source: %s", name, found["error"], extra={"event": "sync.failed"})
    log.info("synced %s: %d new, %d changed, %d deleted, %d unchanged, %d failed", name, found["new"],
             found["changed"], found["deleted"], found["unchanged"], found["failed"], extra={"event": "sync.done"})


def _trigger(source: SourceConfig) -> Any:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if isinstance(source.schedule, Interval):
        return IntervalTrigger(seconds=source.schedule.total_seconds)
    return CronTrigger.from_crontab(str(source.schedule))


def _create_job_table(store: Any, attempts: int = 5) -> None:
    """Create the job store's table unless it exists, tolerating a replica that creates it at the same moment.

    APScheduler checks for the table and then creates it; two schedulers
    started together on a fresh ledger both see none, and the second CREATE
    fails ("table scheduler_jobs already exists"). Trying again finds it.
    """
    from sqlalchemy.exc import DBAPIError

    for attempt in range(1, attempts + 1):
        try:
            store.jobs_t.create(store.engine, checkfirst=True)
            return
        except DBAPIError as exc:
            if attempt == attempts:
                raise
            log.info("creating the job table raced another scheduler (%s); trying again", exc.orig)
            time.sleep(0.1 * attempt)


class Scheduler:
    """APScheduler over the settings' scheduled sources, with its job store in the ledger."""

    def __init__(self, settings: Settings) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        self.settings = settings
        self.sources = [s for s in settings.sources if s.schedule is not None]
        settings.home.mkdir(parents=True, exist_ok=True)
        store = SQLAlchemyJobStore(url=settings.ledger_database_url, tablename=JOBS_TABLE)
        _create_job_table(store)
        self.scheduler = BackgroundScheduler(
            jobstores={"default": store},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": MISFIRE_GRACE})
        self.scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES)
        self._stop = threading.Event()

    def _skipped(self, event: Any) -> None:
        name = str(event.job_id).removeprefix("sync:")
        coalesced[name] += 1
        metrics.sync_run(name, "coalesced")
        log.info("sync of %s coalesced: the previous one is still running (%d so far)", name, coalesced[name],
                 extra={"event": "sync.coalesced"})

    def _install_jobs(self) -> None:
        wanted = {f"sync:{s.name}": s for s in self.sources}
        for job in self.scheduler.get_jobs():
            if job.id not in wanted:  # a source removed from the settings
                log.info("removing the schedule of %s: no longer in the settings", job.id.removeprefix("sync:"))
                job.remove()
        for job_id, source in wanted.items():
            existing = self.scheduler.get_job(job_id)
            trigger = _trigger(source)
            if existing is not None and str(existing.trigger) == str(trigger):
                continue  # keep its stored next-run time
            self.scheduler.add_job(run_sync, trigger, args=[source.name], id=job_id, name=f"sync {source.name}",
                                   replace_existing=True)
        for job in self.scheduler.get_jobs():
            log.info("%s: next run %s", job.name, job.next_run_time)

    def run(self) -> None:
        """Run until SIGTERM or Ctrl-C; a sync in progress finishes first."""
        if not self.sources:
            log.warning("no source has a schedule: add schedule = ... to a [[sources]] table")
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, lambda *_: self._stop.set())
        from .app import serve_metrics

        serve_metrics(self.settings)
        self.scheduler.start(paused=True)
        self._install_jobs()
        self.scheduler.resume()
        self._stop.wait()
        log.info("stopping: a sync in progress finishes first")
        self.scheduler.shutdown(wait=True)
