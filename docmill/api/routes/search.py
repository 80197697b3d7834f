"""``GET /v1/search``: the chunks that best answer a query, by meaning and words (``mode``), filtered, and never
another caller's uploads."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from ...app.reports import hit_record
from ...core.filters import parse
from .. import schemas
from ..context import Session
from ..errors import RESPONSES

__all__ = ["MAX_CONDITION", "MAX_CONDITIONS", "MAX_QUERY", "router"]

#: A search's longest query and filters, in characters. The HTTP server refuses a request line over 64 KiB
#: with a plain-text 400 before docmill sees it, and a character can take 12 bytes percent-encoded: these
#: keep every valid search under that (a longer one is a JSON 422). The model reads 256 word pieces anyway.
MAX_QUERY, MAX_CONDITIONS, MAX_CONDITION = 2000, 10, 200

router = APIRouter(tags=["search"])

Conditions = Annotated[
    list[Annotated[str, Field(pattern=schemas.WHERE_PATTERN, max_length=MAX_CONDITION)]] | None,
    Query(max_length=MAX_CONDITIONS,
          description="FIELD OP VALUE, repeatable: tags=invoice, page>=2, modified>=2024-01-01")]


@router.get("/v1/search", response_model=list[schemas.Hit], responses=RESPONSES)
def search(session: Session, q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY)],
           k: Annotated[int, Query(ge=1, le=100)] = 5, where: Conditions = None,
           mode: Annotated[Literal["hybrid", "dense", "keyword"], Query(description=(
               "hybrid: by meaning and words together; dense: by meaning; keyword: by words"))] = "hybrid",
           ) -> list[dict[str, Any]]:
    """The ``k`` chunks that best answer ``q`` (by meaning and by its words, as ``mode`` says) that pass every
    ``where``; never another caller's uploads, on either side of a hybrid search."""
    return [hit_record(h) for h in session.search(q, k, parse(where or []), mode=mode)]
