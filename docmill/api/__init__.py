"""`docmill api`: the HTTP front end (FastAPI on uvicorn) over ``docmill.app.service``.

Embedded mode runs the pipeline's workers in this process, so an upload is
processed here; distributed mode only enqueues for `docmill worker`
processes. docs/api.md has the endpoints, with curl examples.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from ..settings import Settings

__all__ = ["create_app", "serve"]

log = logging.getLogger(__name__)


def _server_class() -> Any:
    import contextlib
    import threading

    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, but a SIGTERM or Ctrl-C ends ``run`` instead of killing the process once it has
        shut down (uvicorn raises the signal again): the pipeline still has to stop after it."""

        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def create_app(service: Any, settings: Settings) -> Any:
    """The ASGI application over a running ``Service``."""
    from .application import create_app as build

    return build(service, settings)


class _StoppedWaiting(Exception):
    """SIGTERM came while the API waited for the home."""


def _stop_waiting(_signum: int, _frame: Any) -> None:
    raise _StoppedWaiting


def _say_why_it_waits(settings: Settings) -> None:
    """Say which process holds the embedded home the API waits for (its lock file names the holder's pid)."""
    try:
        holder = f" (pid {int((settings.home / 'embedded.lock').read_text().split()[0])})"
    except (OSError, ValueError, IndexError):
        holder = ""
    log.warning("another docmill process%s is using %s in embedded mode: this API waits for it to end before it "
                "opens its port (an embedded home serves one process at a time; stop the other, or set "
                "DOCMILL_BROKER_URL to run several APIs over shared workers)", holder, settings.home,
                extra={"event": "api.waiting"})


def serve(settings: Settings, *, host: str | None = None, port: int | None = None,
          on_ready: Any = None) -> None:
    """Serve the API until SIGTERM or Ctrl-C, then stop the pipeline (what is in flight finishes or resumes)."""
    import uvicorn

    from .. import metrics

    _Server = _server_class()
    from ..app import serve_metrics
    from ..app.service import Service
    from ..core.errors import ConfigurationError

    if not settings.api_tokens:
        raise ConfigurationError("DOCMILL_API_TOKENS: no caller is configured; make a token with "
                                 "`docmill api --new-token NAME` and add the [[api_tokens]] it prints to "
                                 "docmill.toml")
    serve_metrics(settings)
    metrics.enable()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_waiting) if main else None  # stopped while it waits: cleanly
    try:
        service = Service(settings, on_wait=lambda: _say_why_it_waits(settings))
    except _StoppedWaiting:
        log.info("stopped before serving", extra={"event": "api.stopped"})
        return
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
    try:
        config = uvicorn.Config(create_app(service, settings), host=host or settings.api_host,
                                port=port or settings.api_port, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=30)
        server = _Server(config)
        if on_ready is not None:
            on_ready(config.host, config.port)
        server.run()
    finally:
        service.close()
