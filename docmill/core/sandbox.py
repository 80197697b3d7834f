"""Untrusted bytes are parsed in child processes with hard limits (invariant 6).

Every extractor call (``extract``, and ``render`` of pages for OCR) runs in
one of a few reusable child processes, each with an address-space limit
(``DOCMILL_MAX_PARSE_MEMORY``) and a wall-clock limit per call
(``DOCMILL_PARSE_TIMEOUT``). A decompression bomb, a hang inside C code or a
segfault in MuPDF then fails one document, with a kind a person understands,
and never blocks or kills the pipeline:

* out of memory in the child: ``too large``;
* over its time: ``timeout`` (the child is killed and replaced);
* killed by a signal (a crash in a C library): ``crashed`` (replaced).

All three are permanent for that version of the document. The calling
thread only waits on a pipe, never inside C code. Children are fresh
interpreters (``python -m docmill.core.sandbox``: the pipeline's threads make
``fork`` unsafe), import docmill (and with it the privacy switches) and keep
their imported libraries between calls, so a call costs a round trip, not a
start-up.

The extractor object itself travels to the child (pickled by reference to
its class), so a third-party extractor runs there unchanged. One that cannot
be pickled runs in the calling process instead, with a warning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from .errors import DocmillError, DocumentTooLarge, PermanentError

__all__ = ["ParseFailed", "ParsePool"]

log = logging.getLogger(__name__)


class ParseFailed(RuntimeError):
    """An extractor raised something outside docmill's error tree in the child: a bug, named by its type."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name


def _limit_memory(limit: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _serve(requests: Connection, replies: Connection, memory: int) -> None:
    """A child's life: take a call, run it, send back the result or what went wrong, until the pipe closes."""
    _limit_memory(memory)
    while True:
        try:
            payload = requests.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            extractor, method, args = pickle.loads(payload)
            result = getattr(extractor, method)(*args)
            if method == "render":
                result = list(result)
            reply: tuple[str, Any] = ("ok", result)
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            data = pickle.dumps(("memory", None))
        except DocmillError as exc:
            data = pickle.dumps(("error", exc))
        except BaseException as exc:  # a bug or an untranslated library error
            data = pickle.dumps(("bug", (type(exc).__name__, " ".join(str(exc).split())[:500])))
        try:
            replies.send_bytes(data)
        except (EOFError, OSError):
            return


def _main() -> None:
    """Entry of a parsing process: requests on stdin, replies on a copy of stdout (stdout itself goes to stderr,
    so nothing a library prints can corrupt a reply)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    replies = os.dup(1)
    os.dup2(2, 1)
    _serve(Connection(0, writable=False), Connection(replies, readable=False), int(sys.argv[1]))


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    requests: Connection
    replies: Connection
    calls: int = field(default=0)

    def kill(self) -> None:
        with contextlib.suppress(Exception):  # already gone
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(5)
        for end in (self.requests, self.replies):
            with contextlib.suppress(Exception):
                end.close()


class ParsePool:
    """Up to ``size`` child processes, each parsing one document at a time (``size`` 0: in this process,
    without limits, for debugging and benchmarks)."""

    def __init__(self, size: int, *, memory: int, timeout: float) -> None:
        self.size = max(0, size)
        self.memory = memory
        self.timeout = timeout
        self._idle: list[_Child] = []
        self._started = 0
        self._cond = threading.Condition()
        self._closed = False
        self._warned: set[str] = set()

    def _spawn(self) -> _Child:
        process = subprocess.Popen([sys.executable, "-m", "docmill.core.sandbox", str(self.memory)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        assert process.stdin is not None and process.stdout is not None
        # The connections own the pipe ends from here on.
        requests = Connection(os.dup(process.stdin.fileno()), readable=False)
        replies = Connection(os.dup(process.stdout.fileno()), writable=False)
        process.stdin.close()
        process.stdout.close()
        return _Child(process, requests, replies)

    def _checkout(self) -> _Child:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the parsing pool is closed")
                if self._idle:
                    return self._idle.pop()
                if self._started < self.size:
                    self._started += 1
                    break
                self._cond.wait()
        try:
            return self._spawn()
        except BaseException:
            with self._cond:
                self._started -= 1
                self._cond.notify()
            raise

    def _checkin(self, child: _Child | None) -> None:
        with self._cond:
            if child is None or self._closed:
                self._started -= 1
            else:
                self._idle.append(child)
            self._cond.notify()
        if child is not None and self._closed:
            child.kill()

    def warm(self) -> None:
        """Start the children now (in the background), so the first documents do not wait for them."""
        if not self.size:
            return

        def start() -> None:
            children = []
            try:
                for _ in range(self.size):
                    children.append(self._checkout())
            except RuntimeError:
                pass
            for child in children:
                self._checkin(child)

        threading.Thread(target=start, name="docmill-parser-warm", daemon=True).start()

    def run(self, extractor: Any, method: str, *args: Any, what: str = "the document") -> Any:
        """``extractor.method(*args)`` in a child; its DocmillError is raised here, as are the limits' kinds."""
        if not self.size:
            result = getattr(extractor, method)(*args)
            return list(result) if method == "render" else result
        try:
            payload = pickle.dumps((extractor, method, args), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError):
            name = f"{type(extractor).__module__}.{type(extractor).__qualname__}"
            if name not in self._warned:
                self._warned.add(name)
                log.warning("the extractor %s cannot be sent to a parsing process (it does not pickle); it runs "
                            "in the pipeline's own process, without memory and time limits", name)
            result = getattr(extractor, method)(*args)
            return list(result) if method == "render" else result
        child = self._checkout()
        try:
            reply = self._call(child, payload, what)
        except BaseException:
            child.kill()
            self._checkin(None)
            raise
        self._checkin(child)
        return self._result(reply, what)

    def _call(self, child: _Child, payload: bytes, what: str) -> tuple[str, Any]:
        child.calls += 1
        try:
            child.requests.send_bytes(payload)
            if not child.replies.poll(self.timeout):
                raise DocumentTooLarge(f"parsing {what} took longer than {self.timeout:g} s "
                                       "(DOCMILL_PARSE_TIMEOUT); stopped", kind="timeout")
            reply: tuple[str, Any] = pickle.loads(child.replies.recv_bytes())
            return reply
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(5)
            code = child.process.returncode
            how = (f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
                   else f"exited with code {code}")
            raise PermanentError(f"the process parsing {what} died ({how}): a crash inside the parsing library",
                                 kind="crashed") from exc

    def _result(self, reply: tuple[str, Any], what: str) -> Any:
        status, value = reply
        if status == "ok":
            return value
        if status == "memory":
            raise DocumentTooLarge(f"parsing {what} needed more than {self.memory / 2**30:.1f} GiB of memory "
                                   "(DOCMILL_MAX_PARSE_MEMORY)")
        if status == "error":
            raise value
        type_name, message = value
        if type_name in ("MemoryError",):
            raise DocumentTooLarge(f"parsing {what} ran out of memory (DOCMILL_MAX_PARSE_MEMORY)")
        raise ParseFailed(type_name, message)

    def close(self) -> None:
        """Stop every child."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for child in idle:
            child.kill()


if __name__ == "__main__":
    _main()
