"""The status page at ``/`` and its script and style: public files, left out of the schema."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

__all__ = ["PAGE", "router"]

#: The page; its script and style sit beside it (``page.js``, ``page.css``).
PAGE = Path(__file__).resolve().parent.parent / "page.html"

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def page() -> HTMLResponse:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))


@router.get("/page.js")
def page_script() -> Response:
    return Response(PAGE.with_suffix(".js").read_bytes(), media_type="text/javascript; charset=utf-8")


@router.get("/page.css")
def page_style() -> Response:
    return Response(PAGE.with_suffix(".css").read_bytes(), media_type="text/css; charset=utf-8")
