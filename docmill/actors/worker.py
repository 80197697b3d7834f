"""`docmill worker`: a supervisor process and the Dramatiq worker processes it keeps alive.

The supervisor checks RabbitMQ's queues once, starts ``processes`` worker
processes (``python -m docmill.actors.worker``), and starts a new one when one
dies: whatever the dead one held goes back to its queue and is redelivered.
SIGTERM (or Ctrl-C) drains: each process stops taking messages, finishes the
ones it is running, and returns the ones it had only prefetched. A second
signal stops at once. A process that cannot start because of bad settings
(exit code 3) stops the supervisor instead of being restarted in a loop.

Beside them, when there is work for it, runs one isolation process: a single
thread taking one message at a time from the stages' isolation queues, where
the messages that ran beside others in a worker that died wait to be run
alone (see ``crashguard.py``). It starts after a worker process dies by a
signal, or when those queues hold messages, and exits once they are empty
and it has been idle a while.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import metrics

__all__ = ["Supervisor", "run_worker_process"]

log = logging.getLogger("docmill.worker")

EXIT_CONFIGURATION = 3
EXIT_UNAVAILABLE = 4
#: A process that dies sooner than this after starting counts towards a crash loop.
QUICK_DEATH = 10.0
#: Longest pause before restarting a process that keeps dying at once.
MAX_RESTART_DELAY = 30.0
#: Seconds an isolation process waits with nothing to do before it exits.
ISOLATION_IDLE = 15.0
#: Seconds between the supervisor's looks at the isolation queues while no isolation process runs.
ISOLATION_POLL = 10.0


@dataclass
class _Child:
    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    quick_deaths: int = 0
    restart_at: float = 0.0
    #: The isolation process: started when needed, not restarted after it exits on its own.
    isolation: bool = False
    wanted: bool = True


class Supervisor:
    """Keeps ``processes`` worker processes running over ``stages`` until told to stop.

    ``isolated_waiting`` tells how many messages wait in the stages' isolation
    queues (None when RabbitMQ cannot say); without it no isolation process runs.
    """

    def __init__(self, stages: Sequence[str], processes: int, threads: int,
                 isolated_waiting: Callable[[], int | None] | None = None) -> None:
        self.stages = list(stages)
        self.metrics_dir: str | None = None
        self.threads = threads
        self.children = [_Child(i) for i in range(processes)]
        self.isolation = _Child(processes, isolation=True, wanted=isolated_waiting is not None)
        self._isolated_waiting = isolated_waiting
        self._polled = 0.0
        self._stopping = threading.Event()
        self._signals = 0

    def _command(self, child: _Child) -> list[str]:
        if child.isolation:
            return [sys.executable, "-m", "docmill.actors.worker", "--queues", ",".join(self.stages),
                    "--threads", "1", "--isolation"]
        return [sys.executable, "-m", "docmill.actors.worker", "--queues", ",".join(self.stages),
                "--threads", str(self.threads)]

    def _start(self, child: _Child) -> None:
        level = logging.getLogger().getEffectiveLevel()
        verbose = "2" if level <= logging.DEBUG else "1" if level <= logging.INFO else "0"
        env = {**os.environ, "DOCMILL_WORKER_INDEX": str(child.index), "DOCMILL_WORKER_VERBOSE": verbose}
        if self.metrics_dir is not None:
            env[metrics.MULTIPROCESS_DIR] = self.metrics_dir
        child.process = subprocess.Popen(self._command(child), env=env)
        child.started = time.monotonic()
        what = "isolation process" if child.isolation else "worker process"
        log.info("%s %d started (pid %d) for %s", what, child.index, child.process.pid, ",".join(self.stages),
                 extra={"event": "worker.started"})

    def serve_metrics(self, port: int, host: str) -> None:
        """Serve the sum of the worker processes' metrics on ``host:port`` (they write them to a directory of
        this supervisor's, removed when it exits). OSError when the port is taken."""
        self.metrics_dir = tempfile.mkdtemp(prefix="docmill-metrics-")
        atexit.register(shutil.rmtree, self.metrics_dir, True)
        metrics.serve(port, host, multiprocess_dir=self.metrics_dir)

    def _all(self) -> list[_Child]:
        return [*self.children, self.isolation]

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._signals += 1
        self._stopping.set()
        for child in self._all():
            if child.process is not None and child.process.poll() is None:
                # The first signal asks for a drain; a second one means now.
                child.process.send_signal(signal.SIGTERM if self._signals == 1 else signal.SIGKILL)

    def run(self) -> int:
        """Supervise until a signal; return the exit code."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for child in self.children:
            self._start(child)
        while not self._stopping.is_set():
            now = time.monotonic()
            for child in self.children:
                code = self._check(child, now)
                if code is not None:
                    self._on_signal(signal.SIGTERM, None)
                    self._wait_all()
                    return code
            self._check_isolation(now)
            self._stopping.wait(0.5)
        log.info("draining: worker processes finish the messages they are running")
        self._wait_all()
        return 0

    def _check(self, child: _Child, now: float) -> int | None:
        process = child.process
        if process is None:
            if now >= child.restart_at and not self._stopping.is_set():
                self._start(child)
            return None
        code = process.poll()
        if code is None:
            return None
        if code == EXIT_CONFIGURATION:
            log.error("worker process %d cannot start (configuration error); stopping", child.index)
            return EXIT_CONFIGURATION
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        if self.metrics_dir is not None:
            metrics.process_died(process.pid)
        if code < 0 and self.isolation.wanted and self.isolation.process is None:
            # What ran beside the dead process's messages will wait in the isolation queues.
            self.isolation.restart_at = 0.0
            self._start(self.isolation)
        # A process that exits on its own right after starting is in a crash loop (a broken
        # install, say): back off. One killed by a signal (OOM killer, an operator) comes back at once;
        # a document that keeps killing workers is the crash guard's business.
        quick = code > 0 and now - child.started < QUICK_DEATH
        child.quick_deaths = child.quick_deaths + 1 if quick else 0
        delay = min(MAX_RESTART_DELAY, 2.0 ** (child.quick_deaths - 1)) if quick else 0.0
        log.warning("worker process %d (pid %d) died (%s); starting a new one%s", child.index, process.pid, how,
                    f" in {delay:.0f} s" if delay else "", extra={"event": "worker.died"})
        child.process, child.restart_at = None, now + delay
        return None

    def _check_isolation(self, now: float) -> None:
        """Keep the isolation process running while there is work for it (a death by signal: at once)."""
        child = self.isolation
        if not child.wanted or self._stopping.is_set():
            return
        if child.process is not None:
            code = child.process.poll()
            if code is None:
                return
            pid, child.process = child.process.pid, None
            if code < 0:  # killed while running a suspect alone: the crash guard counts it; start again
                log.warning("isolation process (pid %d) died (signal %d); starting a new one", pid, -code)
                self._start(child)
                return
            if code == EXIT_CONFIGURATION:
                log.error("the isolation process cannot start (configuration error); not starting it again")
                child.wanted = False
                return
            self._polled = 0.0  # it found nothing to do; look again now, a suspect may have just arrived
        if now - self._polled < ISOLATION_POLL:
            return
        self._polled = now
        assert self._isolated_waiting is not None
        if self._isolated_waiting():
            self._start(child)

    def _wait_all(self) -> None:
        for child in self._all():
            if child.process is not None:
                child.process.wait()


def run_worker_process(stages: Sequence[str], threads: int, isolation: bool = False) -> int:
    """One worker process: Dramatiq worker threads over the stages' queues until SIGTERM.

    With ``isolation``, one thread over the stages' isolation queues, one
    message at a time, until they have been empty for ``ISOLATION_IDLE`` seconds.
    """
    import dramatiq

    from ..core.errors import ConfigurationError, DiskFull, TransientError
    from ..core.ledger_records import Stage
    from ..settings import load_settings
    from .middleware.outages import ConsumerErrors, LedgerWatch
    from .rabbitmq import housekeeping as rabbitmq
    from .stage_actors import QUEUES, isolation_queue, queue_names
    from .wiring import wire

    if os.environ.get(metrics.MULTIPROCESS_DIR):  # the supervisor serves what this process counts
        metrics.enable()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        settings = load_settings()
        if settings.broker_url is None:
            raise ConfigurationError("DOCMILL_BROKER_URL is not set: `docmill worker` serves a RabbitMQ broker "
                                     "(embedded mode needs no workers)")
        pipeline = wire(settings)
        pipeline.runtime.plugins.check_store_writers(settings, stages)
        runtime, broker = pipeline.runtime, pipeline.broker
        queues = queue_names(stages)
        rabbitmq.check_queues(broker, queue_names(isolation=True))  # type: ignore[arg-type]
        if isolation:
            queues = {isolation_queue(q) for q in queues}
            threads = 1
            for queue in queues:
                broker.declare_queue(queue)
        elif QUEUES[Stage.EMBED] in queues:
            runtime.embedder.embed_query("warm-up")  # load the model before taking messages
        if queues & {QUEUES[Stage.EMBED], QUEUES[Stage.STORE]}:
            import numpy  # noqa: F401 - staged vectors are arrays: imported before the first message, not in it
        if queues & {QUEUES[Stage.EXTRACT], QUEUES[Stage.OCR], isolation_queue(QUEUES[Stage.EXTRACT]),
                     isolation_queue(QUEUES[Stage.OCR])}:
            runtime.parsers.warm()
    except ConfigurationError as exc:
        log.error("configuration error: %s", exc)
        return EXIT_CONFIGURATION
    except (TransientError, DiskFull) as exc:  # RabbitMQ or the ledger not up: the supervisor tries again, backing off
        log.error("%s", exc.reason)
        return EXIT_UNAVAILABLE
    if isinstance(pipeline.watch, LedgerWatch):  # what an outage dead-lettered, although the ledger waits for it
        pipeline.watch.on_end = lambda: _requeue_strays(pipeline)
    if pipeline.watch.broker is not None:  # RabbitMQ's outages told once, not by each consumer's every attempt
        quiet = ConsumerErrors(pipeline.watch.broker)
        for handler in logging.getLogger().handlers:
            handler.addFilter(quiet)
    activity = _activity()
    broker.add_middleware(activity)
    from .work_order import order_by_priority

    worker = order_by_priority(dramatiq.Worker(broker, queues=queues, worker_threads=threads, worker_timeout=1000))
    worker.queue_prefetch = 1 if isolation else settings.broker_prefetch or threads
    worker.start()
    log.info("%s %d ready: %s, %d thread(s)", "isolation process" if isolation else "worker process", os.getpid(),
             ",".join(sorted(queues)), threads)
    while not stop.wait(1.0):
        if isolation and activity.idle_for() > ISOLATION_IDLE and not _waiting(broker, queues):
            log.info("isolation process %d: nothing left to run alone; exiting", os.getpid())
            break
    log.info("worker process %d draining", os.getpid())
    worker.stop(timeout=int(settings.stage_time_limit * 1000))
    pipeline.close()
    return 0


def _activity() -> Any:
    """Dramatiq middleware that notes when this process last started or ended a message."""
    from dramatiq.middleware import Middleware

    class Activity(Middleware):
        def __init__(self) -> None:
            self.running = 0
            self.last = time.monotonic()
            self._lock = threading.Lock()

        def idle_for(self) -> float:
            with self._lock:
                return 0.0 if self.running else time.monotonic() - self.last

        def _change(self, by: int) -> None:
            with self._lock:
                self.running = max(0, self.running + by)  # a message skipped before it started ends uncounted
                self.last = time.monotonic()

        def before_process_message(self, broker: Any, message: Any) -> None:
            self._change(+1)

        def after_process_message(self, broker: Any, message: Any, *, result: Any = None,
                                  exception: BaseException | None = None) -> None:
            self._change(-1)

        def after_skip_message(self, broker: Any, message: Any) -> None:
            self._change(-1)

    return Activity()


def _requeue_strays(pipeline: Any) -> None:
    from .rabbitmq.strays import requeue_strays
    from .stage_actors import queue_names

    try:
        requeue_strays(pipeline.broker, pipeline.runtime.ledger, queue_names(isolation=True))
    except Exception as exc:  # the next outage's end, the next `docmill worker` or `submit` tries again
        log.info("could not look for dead-lettered messages the ledger waits for: %s", exc)


def _waiting(broker: object, queues: set[str]) -> int:
    """Messages ready in these queues and their delay queues (a large number when RabbitMQ cannot say)."""
    from .rabbitmq import housekeeping as rabbitmq

    try:
        stats = rabbitmq.queue_stats(broker, queues)  # type: ignore[arg-type]
    except Exception as exc:
        log.info("cannot read the isolation queues: %s", exc)
        return 1
    return sum(stat.messages for stat in stats)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="docmill-worker-process")
    parser.add_argument("--queues", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--isolation", action="store_true")
    args = parser.parse_args(argv)
    from ..logs import configure_logging

    configure_logging(int(os.environ.get("DOCMILL_WORKER_VERBOSE", "1")))
    sys.exit(run_worker_process(args.queues.split(","), args.threads, args.isolation))


if __name__ == "__main__":
    main()
