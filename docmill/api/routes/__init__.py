"""The HTTP API's routes, one module per resource; ``ROUTERS`` in the order the schema lists them."""

from __future__ import annotations

from fastapi import APIRouter

from . import documents, health, jobs, page, search, sources

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (health.router, documents.router, jobs.router, search.router, sources.router,
                                  page.router)
