"""The HTTP API's application: FastAPI with a router per resource, errors answered by type, and middleware.

``create_app`` puts together what the other modules define: ``routes/`` (one
module per resource), ``errors`` (the table of statuses), ``context`` (the
API's state and the caller's session), and the middleware, outermost first:
security headers, the body limit, the request metrics.
"""

from __future__ import annotations

import inspect

from fastapi import FastAPI

from .. import __version__
from ..app.service import Service
from ..settings import Settings
from . import errors
from .context import ApiState
from .headers import SecurityHeaders
from .limits import BodyLimit
from .request_metrics import RequestMetrics
from .routes import ROUTERS

__all__ = ["DESCRIPTION", "create_app"]

#: The schema's description of the API.
DESCRIPTION = """The HTTP API's routes: thin handlers over ``docmill.app.service`` (the application layer the CLI uses too).

Every route but ``/v1/health`` and the status page needs a bearer token;
each token sees only the jobs and uploads it started, and another token's
are answered 404. Errors are JSON: ``{"error": {"status": 404, "message": ...}}``.
"""  # noqa: E501 - as published


def create_app(service: Service, settings: Settings) -> FastAPI:
    """The FastAPI application for ``service``."""
    state = ApiState(service, settings)
    # FastAPI's own OpenTelemetry instrumentation is off: docmill exports nothing it was not told to
    # (FASTAPI_OTEL_AUTO_CONFIGURE would add exporters), and it cost every request a span.
    off = {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False,
                         "auto_configure": False}} if "telemetry" in inspect.signature(FastAPI).parameters else {}
    app = FastAPI(title="docmill", version=__version__, description=DESCRIPTION,  # no docs page from a CDN
                  openapi_url="/v1/openapi.json", docs_url=None, redoc_url=None, **off)  # type: ignore[arg-type]
    state.install(app)
    for router in ROUTERS:
        app.include_router(router)
    errors.install(app)
    app.add_middleware(RequestMetrics)
    app.add_middleware(BodyLimit, file_limit=state.max_size)  # a file at the limit, and its form around it
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, a 413 from BodyLimit's too
    return app
