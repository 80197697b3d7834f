"""``POST /v1/sources/NAME/webhook``: sync a named source now, authenticated by the source's own secret."""

from __future__ import annotations

import hmac
import math
from typing import Any

from fastapi import APIRouter, Request

from ...app.service import NotFound
from .. import schemas
from ..context import State
from ..errors import RESPONSES, OverRateLimit, Unauthenticated

__all__ = ["router"]

router = APIRouter(tags=["sources"])


@router.post("/v1/sources/{source}/webhook", status_code=202, response_model=schemas.SyncTriggered,
             responses=RESPONSES)
def webhook(source: str, request: Request, state: State) -> dict[str, Any]:
    """Sync a named source now (a Paperless-ngx workflow's webhook); authenticated by the source's own
    ``webhook_secret``, sent as ``X-Docmill-Webhook-Secret``. A burst of calls is one more sync."""
    configured = next((s for s in state.settings.sources if s.name == source), None)
    secret = configured.webhook_secret.get_secret_value() if configured and configured.webhook_secret else None
    if secret is None:
        raise NotFound(f"no source {source!r} takes webhooks (set webhook_secret in its [[sources]] entry)")
    client = f"{source} {request.client.host if request.client else '?'}"
    wait = state.webhook_guesses.available(client)
    if wait:  # refused before the secret is compared: guessing goes no faster than WEBHOOK_GUESSES allow
        seconds = max(1, math.ceil(wait))
        raise OverRateLimit(f"too many wrong webhook secrets from this address; try again in {seconds} s", seconds)
    given = request.headers.get("x-docmill-webhook-secret", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        state.webhook_guesses.take(client)
        raise Unauthenticated("the webhook secret is missing or wrong (X-Docmill-Webhook-Secret)")
    started = state.service.sync(source)
    return {"source": source, "sync": "started" if started else "coalesced"}
