"""`docmill worker`: a supervisor process and the Dramatiq worker processes it keeps alive.

The supervisor checks RabbitMQ's queues once, starts ``processes`` worker
processes (``python -m docmill.actors.worker``), and starts a new one when one
dies: whatever the dead one held goes back to its queue and is redelivered.
SIGTERM (or Ctrl-C) drains: each process stops taking messages, finishes the
ones it is running, and returns the ones it had only prefetched. A second
signal stops at once. A process that cannot start because of bad settings
(exit code 3) stops the supervisor instead of being restarted in a loop.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Supervisor", "run_worker_process"]

log = logging.getLogger("docmill.worker")

EXIT_CONFIGURATION = 3
EXIT_UNAVAILABLE = 4
#: A process that dies sooner than this after starting counts towards a crash loop.
QUICK_DEATH = 10.0
#: Longest pause before restarting a process that keeps dying at once.
MAX_RESTART_DELAY = 30.0


@dataclass
class _Child:
    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    quick_deaths: int = 0
    restart_at: float = 0.0


class Supervisor:
    """Keeps ``processes`` worker processes running over ``stages`` until told to stop."""

    def __init__(self, stages: Sequence[str], processes: int, threads: int) -> None:
        self.stages = list(stages)
        self.threads = threads
        self.children = [_Child(i) for i in range(processes)]
        self._stopping = threading.Event()
        self._signals = 0

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "docmill.actors.worker", "--queues", ",".join(self.stages),
                "--threads", str(self.threads)]

    def _start(self, child: _Child) -> None:
        level = logging.getLogger().getEffectiveLevel()
        verbose = "2" if level <= logging.DEBUG else "1" if level <= logging.INFO else "0"
        env = {**os.environ, "DOCMILL_WORKER_INDEX": str(child.index), "DOCMILL_WORKER_VERBOSE": verbose}
        child.process = subprocess.Popen(self._command(), env=env)
        child.started = time.monotonic()
        log.info("worker process %d started (pid %d) for %s", child.index, child.process.pid, ",".join(self.stages))

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._signals += 1
        self._stopping.set()
        for child in self.children:
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
        # A process that exits on its own right after starting is in a crash loop (a broken
        # install, say): back off. One killed by a signal (OOM killer, an operator) comes back at once;
        # a document that keeps killing workers is the crash guard's business.
        quick = code > 0 and now - child.started < QUICK_DEATH
        child.quick_deaths = child.quick_deaths + 1 if quick else 0
        delay = min(MAX_RESTART_DELAY, 2.0 ** (child.quick_deaths - 1)) if quick else 0.0
        log.warning("worker process %d (pid %d) died (%s); starting a new one%s", child.index, process.pid, how,
                    f" in {delay:.0f} s" if delay else "")
        child.process, child.restart_at = None, now + delay
        return None

    def _wait_all(self) -> None:
        for child in self.children:
            if child.process is not None:
                child.process.wait()


def run_worker_process(stages: Sequence[str], threads: int) -> int:
    """One worker process: Dramatiq worker threads over the stages' queues until SIGTERM."""
    import dramatiq

    from ..core.errors import ConfigurationError, TransientError
    from ..core.runtime import Runtime
    from ..settings import load_settings
    from . import rabbitmq
    from .broker import build_broker
    from .stages import QUEUES, declare_actors, queue_names, sender

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        settings = load_settings()
        if settings.broker_url is None:
            raise ConfigurationError("DOCMILL_BROKER_URL is not set: `docmill worker` serves a RabbitMQ broker "
                                     "(embedded mode needs no workers)")
        runtime = Runtime(settings)
        runtime.check()
        broker = build_broker(settings, runtime)
        actors = declare_actors(broker, runtime, settings)
        runtime.connect(sender(actors))
        queues = queue_names(stages)
        rabbitmq.check_queues(broker, queue_names())  # type: ignore[arg-type]
        if QUEUES["embed"] in queues:
            runtime.embedder.embed_query("warm-up")  # load the model before taking messages
    except ConfigurationError as exc:
        log.error("configuration error: %s", exc)
        return EXIT_CONFIGURATION
    except TransientError as exc:  # RabbitMQ or the ledger not up yet: the supervisor tries again, backing off
        log.error("%s", exc.reason)
        return EXIT_UNAVAILABLE
    worker = dramatiq.Worker(broker, queues=queues, worker_threads=threads, worker_timeout=1000)
    worker.queue_prefetch = settings.broker_prefetch or threads
    worker.start()
    log.info("worker process %d ready: %s, %d thread(s)", os.getpid(), ",".join(sorted(queues)), threads)
    stop.wait()
    log.info("worker process %d draining", os.getpid())
    worker.stop(timeout=int(settings.stage_time_limit * 1000))
    runtime.close()
    broker.close()
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="docmill-worker-process")
    parser.add_argument("--queues", required=True)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args(argv)
    from ..logs import configure_logging

    configure_logging(int(os.environ.get("DOCMILL_WORKER_VERBOSE", "1")))
    sys.exit(run_worker_process(args.queues.split(","), args.threads))


if __name__ == "__main__":
    main()
