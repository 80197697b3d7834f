"""What every route of the HTTP API shares: the API's state, who is calling, and the service as that caller.

The state (the service, the settings, the callers' token hashes and the rate
limiters) lives on ``app.state``, set once by ``create_app``; routes reach it
through FastAPI dependencies, never through a closure or a global:

* ``Caller``: the authenticated caller's name (401 without a valid bearer
  token, 429 over the caller's rate; counted once per request);
* ``Session``: a ``CallerSession``, the service as that caller sees it for
  this one request: every call is on the caller's behalf, so a route cannot
  forget whose jobs it asks about;
* ``State``: the ``ApiState``, for the routes that need no caller (health, webhooks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from ..app.service import Service
from ..core.filters import Filter
from ..core.hybrid import RankedHit
from ..core.ledger import JobProgress
from ..settings import Settings
from .auth import RateLimiter, TokenBook
from .errors import OverRateLimit, Unauthenticated

__all__ = ["WEBHOOK_GUESSES", "ApiState", "Caller", "CallerSession", "Session", "State", "api_state",
           "authenticated"]

#: Wrong webhook secrets a client address may send a source: one a second on average, after the first five.
WEBHOOK_GUESSES = (1.0, 5)


@dataclass
class ApiState:
    """What the API holds for its whole life: the service over the pipeline, the settings, who may call, and
    how fast."""

    service: Service
    settings: Settings
    tokens: TokenBook = field(init=False)
    limiter: RateLimiter = field(init=False)  # requests, per caller
    webhook_guesses: RateLimiter = field(init=False)  # wrong webhook secrets, per source and client address

    def __post_init__(self) -> None:
        rate = self.settings.api_rate_limit
        self.tokens = TokenBook({t.name: t.sha256 for t in self.settings.api_tokens})
        self.limiter = RateLimiter(rate, max(1, int(rate * 2)))
        self.webhook_guesses = RateLimiter(*WEBHOOK_GUESSES)

    @property
    def max_size(self) -> int:
        """Bytes an uploaded file may have (``DOCMILL_MAX_FILE_SIZE``)."""
        return int(self.settings.max_file_size)

    def install(self, app: FastAPI) -> None:
        """Keep this state on ``app`` for the routes' dependencies."""
        app.state.docmill = self


def api_state(request: Request) -> ApiState:
    """The state of the API serving ``request``."""
    state: ApiState = request.app.state.docmill
    return state


async def _state(request: Request) -> ApiState:  # async: a dependency this cheap needs no thread
    return api_state(request)


async def authenticated(request: Request) -> str:
    """The caller's name from its bearer token, counted against its rate (a hash and a comparison: no thread
    needed)."""
    state = api_state(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    name = state.tokens.caller(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if name is None:
        raise Unauthenticated("a valid bearer token is needed: Authorization: Bearer TOKEN",
                              {"WWW-Authenticate": "Bearer"})
    wait = state.limiter.wait(name)
    if wait:
        seconds = max(1, math.ceil(wait))  # what Retry-After can say: whole seconds, never 0
        raise OverRateLimit(f"over the rate limit of {state.settings.api_rate_limit:g} requests a second; "
                            f"try again in {seconds} s", seconds)
    return name


class CallerSession:
    """The service as one caller sees it, for one request: its jobs, its uploads, its searches.

    Another caller's job or document is ``NotFound`` here, as one that does not exist.
    """

    def __init__(self, service: Service, name: str) -> None:
        self.service, self.name = service, name
        self._followed: set[str] = set()  # jobs this session found to be the caller's

    @property
    def upload_dir(self) -> Path:
        """Where uploaded files are stored by their content."""
        return self.service.upload_dir

    def upload(self, items: Sequence[Mapping[str, Any]], *, priority: int) -> str:
        """A job processing files already stored by their content; its id."""
        return self.service.upload(self.name, items, priority=priority)

    def submit_items(self, source: str, items: Sequence[str], *, priority: int) -> str:
        """A job ingesting these items of a named folder source; its id."""
        return self.service.submit_items(source, items, owner=self.name, priority=priority)

    def jobs(self, limit: int) -> list[dict[str, Any]]:
        """The caller's most recent jobs, newest first."""
        return self.service.jobs(self.name, limit)

    def job(self, job_id: str, *, limit: int | None, after: str | None, state: str | None,
            stage: str | None) -> dict[str, Any]:
        """Counts, and a page of the job's documents."""
        return self.service.job(job_id, self.name, limit=limit, after=after, state=state, stage=stage)

    def follow(self, job_id: str) -> None:
        """Check that the job is the caller's, before its progress is followed."""
        self.service.owned_job(job_id, self.name)
        self._followed.add(job_id)

    def progress(self, job_id: str) -> JobProgress:
        """The progress of a job of the caller's (checked once a session, not at every poll)."""
        if job_id not in self._followed:
            self.follow(job_id)
        progress: JobProgress = self.service.progress(job_id)
        return progress

    def retry(self, job_id: str) -> str | None:
        """Run the job's failed documents again, as a new job; its id, or None when none failed."""
        return self.service.retry(job_id, self.name)

    def remove(self, key: str) -> str:
        """Remove one of the caller's uploaded documents; the job doing it."""
        return self.service.remove(key, self.name)

    def search(self, query: str, k: int, where: Filter, *, mode: str = "hybrid") -> list[RankedHit]:
        """The chunks that best answer ``query`` (``mode``: ``core.hybrid``) that pass ``where`` and that the caller
        may see."""
        return self.service.search(query, k, where, caller=self.name, mode=mode)


Caller = Annotated[str, Depends(authenticated)]


async def _session(request: Request, name: Caller) -> CallerSession:
    return CallerSession(api_state(request).service, name)


Session = Annotated[CallerSession, Depends(_session)]
State = Annotated[ApiState, Depends(_state)]
