"""``GET /v1/health``: whether the API is up, and in which mode; needs no token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ... import __version__
from .. import schemas
from ..context import State

__all__ = ["router"]

router = APIRouter(tags=["service"])


@router.get("/v1/health", response_model=schemas.Health)
def health(state: State) -> dict[str, Any]:
    """Whether the API is up; needs no token."""
    return {"status": "ok", "mode": state.service.mode, "version": __version__}
