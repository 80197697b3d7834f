"""Service outages as one process sees them: a document's retries are not spent on them, and they are told once.

A message's retries are for its own trouble: a store that refused one write,
a source's 503. An outage of the ledger is nobody's document's: with five
retries backing off for about 45 s, every message in flight during a longer
outage would run out of them and end in the dead-letter queue, and since the
ledger could not record that failure either, its document would wait
``pending`` for ever. So:

* A message that raised because the ledger did not answer is charged nothing
  when a probe confirms the ledger is down (a busy ledger, which answers the
  probe, is an ordinary transient error): it goes back to its queue as it was.
* While the ledger is down, every worker thread waits before its next message
  (:class:`.hold.Hold`, ahead of the time limit), one of them probing the ledger
  with a backoff; the process takes no new work and spends no retries, and it
  resumes when the ledger answers, whether that takes a minute or an hour.
* A full disk is an outage too: workers (and the embedded API) wait for
  space (the database answers reads meanwhile, so the work is tried again
  and again, a few seconds apart). An embedded command instead stops at once
  (:class:`EmbeddedWatch`): someone watches it, and should hear at once that
  the disk is full; what was in flight resumes on the next run.

Each outage is one warning line when it starts (which service, since when,
what this process does meanwhile) and one when it ends, however many messages
it touches. RabbitMQ's outages are only told: RabbitMQ itself gives back what
a closed channel held, and the consumers reconnect on their own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ...core.errors import DiskFull, LedgerUnavailable
from ...core.ledger import Ledger

__all__ = ["ConsumerErrors", "EmbeddedWatch", "LedgerWatch", "Outage", "Stopping", "Watch", "detail",
           "mark_not_requeued", "not_requeued"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds an outage that ended must stay over before the same service failing again is a new outage (and a
#: new warning): a database that drops each connection as it comes back is one outage, not one a second.
SETTLE = 60.0
#: Seconds between probes of a service that is down: the first, and the longest as they back off.
PROBE_FIRST, PROBE_MAX = 1.0, 5.0


#: Set on a delivered message whose retry RabbitMQ could not take: it comes back by redelivery instead.
_NOT_REQUEUED = "_docmill_not_requeued"


def mark_not_requeued(message: object) -> None:
    """This delivery's retry was not queued (RabbitMQ is down): RabbitMQ delivers it again."""
    setattr(message, _NOT_REQUEUED, True)


def not_requeued(message: object) -> bool:
    return bool(getattr(message, _NOT_REQUEUED, False))


class Stopping(Exception):
    """The worker is stopping while a message waits for a service: hand the message back."""


class Outage:
    """One service's outage as this process sees it: a warning when it begins, a line when it ends."""

    def __init__(self, service: str, state: str, meanwhile: str) -> None:
        """``service`` names it ("the ledger (PostgreSQL at db:5432/docmill)"), ``state`` says what is wrong
        ("cannot be reached"), ``meanwhile`` what this process does until it is over."""
        self.service, self.state, self.meanwhile = service, state, meanwhile
        self.since: float | None = None  # epoch seconds, while down
        self._ended: tuple[float, float] | None = None  # (since, monotonic time it ended) of the last outage
        self._back_told = False  # whether this outage's end was told (a relapse within SETTLE is not told again)
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.since is not None

    def begin(self, detail: str) -> bool:
        """The service failed (``detail``: how): tell it if this starts an outage. True when it does (not when
        it was down already, or came back only moments ago)."""
        with self._lock:
            if self.since is not None:
                return False
            if self._ended is not None and time.monotonic() - self._ended[1] < SETTLE:
                self.since = self._ended[0]  # the same outage, going on
                return False
            self.since, self._back_told = time.time(), False
        log.warning("%s %s since %s (%s): %s", self.service, self.state, time.strftime("%H:%M:%S"), detail,
                    self.meanwhile, extra={"event": "outage.started"})
        return True

    def end(self) -> bool:
        """The service answered again; True when that ends an outage not told to have ended yet."""
        with self._lock:
            since, self.since = self.since, None
            if since is None:
                return False
            self._ended = (since, time.monotonic())
            if self._back_told:
                return False
            self._back_told = True
        log.info("%s is back, after %.0f s; resuming", self.service, time.time() - since,
                 extra={"event": "outage.ended"})
        return True


def detail(error: BaseException) -> str:
    """What the service's client said, without docmill's own wording around it."""
    cause = error.__cause__
    said = getattr(cause, "orig", None) or cause or error  # a database driver's error, under SQLAlchemy's
    return " ".join(str(said).split())


class ConsumerErrors(logging.Filter):
    """Dramatiq's consumer threads log a CRITICAL "Consumer encountered a connection error" each time they try
    to reconnect while RabbitMQ is down: every few seconds, for every queue. The outage's one warning says it.
    A filter of the log handlers (each queue's consumer has a logger of its own)."""

    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.name.startswith("dramatiq.worker.ConsumerThread")
                and str(record.msg).startswith("Consumer encountered a connection error")):
            return True
        said = record.args[0] if isinstance(record.args, tuple) and record.args else ""
        self.outage.begin(" ".join(str(said).split()))
        return False


class Watch:
    """What a process does while a service it needs is down. This base class waits for nothing."""

    #: RabbitMQ, told when publishing a retry finds it unreachable.
    broker: Outage | None = None

    def holds(self, error: BaseException) -> bool:
        """Whether ``error`` is an outage's rather than the message's: the message is tried again, uncharged."""
        return False

    def wait(self) -> None:
        """Return when work may go on; raise Stopping (hand the message back) or DiskFull (drop it)."""

    def call(self, work: Callable[[], T]) -> T:
        """``work()``, waiting out an outage of the ledger it meets."""
        return work()

    def stop(self) -> None:
        """The worker is stopping: waiting threads hand their messages back."""

    def quiet(self, error: BaseException) -> bool:
        """Whether a line about ``error`` would only repeat an outage's warning."""
        return False


class LedgerWatch(Watch):
    """A worker process's view of the ledger: whether it answers; waiting, probing, while it does not."""

    def __init__(self, ledger: Ledger, broker_address: str | None = None) -> None:
        self.ledger = ledger
        self.outage = Outage(f"the ledger ({ledger.where})", "cannot be reached", "this process holds its "
                             "messages and takes no new ones until it answers; no document is retried or failed "
                             "for it")
        self.disk = Outage("a disk docmill writes to", "is full", "this process holds its messages until "
                           "there is space again; no document is retried or failed for it")
        if broker_address is not None:
            self.broker = Outage(f"RabbitMQ ({broker_address})", "cannot be reached", "messages in flight go back "
                                 "to their queues and run again once it is back; the workers reconnect on their own")
        self._up = threading.Event()
        self._up.set()
        self._stopping = threading.Event()
        self._probing = threading.Lock()
        self._pause = PROBE_FIRST
        self.on_end: Callable[[], None] | None = None  # called (in a thread of its own) when an outage ends

    def _down(self, error: LedgerUnavailable | DiskFull) -> None:
        outage = self.disk if isinstance(error, DiskFull) else self.outage
        if outage.begin(error.reason if isinstance(error, DiskFull) else detail(error)):
            self._pause = PROBE_FIRST
        self._up.clear()

    def holds(self, error: BaseException) -> bool:
        if isinstance(error, DiskFull):
            self._down(error)
            return True
        if not isinstance(error, LedgerUnavailable):
            return False
        if not self._up.is_set():
            return True
        try:
            self.ledger.ping()
        except (LedgerUnavailable, DiskFull):
            self._down(error)
            return True
        return False  # it answers: busy, not down; an ordinary retry

    def quiet(self, error: BaseException) -> bool:
        if isinstance(error, LedgerUnavailable | DiskFull):
            return not self._up.is_set() or self.outage.down or self.disk.down
        return self.broker is not None and self.broker.down and getattr(error, "kind", None) == "broker unavailable"

    def wait(self) -> None:
        while not self._up.is_set():
            if self._stopping.is_set():
                raise Stopping
            if not self._probing.acquire(blocking=False):  # another thread probes; wait for its verdict
                self._up.wait(0.5)
                continue
            try:
                self._probe()
            finally:
                self._probing.release()

    def _probe(self) -> None:
        if self._stopping.wait(self._pause) or self._up.is_set():
            return
        try:
            self.ledger.ping()
        except (LedgerUnavailable, DiskFull):
            self._pause = min(self._pause * 2, PROBE_MAX)
            return
        ended = [self.outage.end(), self.disk.end()]
        self._up.set()
        if self.on_end is not None and any(ended):
            threading.Thread(target=self.on_end, name="docmill-after-outage", daemon=True).start()

    def call(self, work: Callable[[], T]) -> T:
        while True:
            self.wait()
            try:
                return work()
            except (LedgerUnavailable, DiskFull) as exc:
                if not self.holds(exc):
                    raise

    def stop(self) -> None:
        self._stopping.set()


class EmbeddedWatch(Watch):
    """An embedded run's: a full disk stops it at once, with the disk named, instead of retrying for minutes."""

    def __init__(self) -> None:
        self.halted: DiskFull | None = None

    def holds(self, error: BaseException) -> bool:
        if not isinstance(error, DiskFull):
            return False
        if self.halted is None:
            self.halted = error
            log.info("%s: stopping; what was in flight resumes when docmill runs again", error.reason,
                     extra={"event": "outage.disk_full"})
        return True

    def quiet(self, error: BaseException) -> bool:
        return isinstance(error, DiskFull)

    def wait(self) -> None:
        if self.halted is not None:
            raise self.halted
