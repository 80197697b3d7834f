"""What the HTTP API's requests and answers look like, as the OpenAPI schema publishes them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SUBMIT_BODY",
    "Accepted",
    "ErrorBody",
    "Health",
    "Hit",
    "JobBrief",
    "JobStatus",
    "SourceItems",
    "SyncTriggered",
]

#: What a search filter looks like: FIELD OP VALUE (docmill.core.filters says what each field takes).
WHERE_PATTERN = r"^\s*[A-Za-z_][A-Za-z0-9_.-]*\s*(!=|>=|<=|=|>|<)\s*\S.*$"

StateName = Literal["pending", "deleting", "done", "skipped", "failed", "deleted"]
StageName = Literal["discover", "extract", "ocr", "embed", "store", "remove", "relabel"]


class ErrorDetail(BaseModel):
    status: int
    message: str


class ErrorBody(BaseModel):
    """Every 4xx: what was wrong, in words."""

    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"]
    mode: Literal["embedded", "distributed"]
    version: str


class Accepted(BaseModel):
    """A job was started (``job_id``), or there was nothing to do (``null``)."""

    job_id: str | None


class SourceItems(BaseModel):
    """``POST /v1/documents`` as JSON: items (paths relative to its folder) of a configured folder source."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=63, description="A [[sources]] name of docmill.toml.")
    items: list[str] = Field(min_length=1, max_length=10_000,
                             description="Paths of documents relative to the source's folder.")
    priority: int = Field(0, ge=0, le=9, description="9 goes first in every stage.")


class Item(BaseModel):
    doc: str
    key: str
    state: str
    stage: str | None
    priority: int | None
    attempts: int | None
    finished_at: float | None
    error: str | None = Field(description="The error kind when it failed or was skipped.")
    reason: str | None = Field(description="Why, in words.")
    parent: str | None = Field(None, description="For an attachment read as a document of its own, the key of "
                               "the document carrying it.")


class JobBrief(BaseModel):
    job: str
    kind: str
    priority: int
    created_at: float
    discovered_at: float | None
    error: str | None
    owner: str | None
    finished: bool
    counts: dict[str, int]


class JobStatus(JobBrief):
    items: list[Item]
    more: int = Field(description="Items after this page that match.")
    next: str | None = Field(description="The `after` of the next page, null on the last.")


class Hit(BaseModel):
    doc: str
    page: int | None
    score: float = Field(description="The fused score (hybrid, 0 to 1), the cosine similarity (dense) or BM25 "
                         "(keyword); higher is better.")
    text: str
    id: str
    metadata: dict[str, Any]
    dense_rank: int | None = Field(description="Its rank by meaning (1 is first); null when not found that way.")
    dense_score: float | None = Field(description="Its cosine similarity to the query; null as dense_rank.")
    keyword_rank: int | None = Field(description="Its rank by the query's words; null when not found that way.")
    keyword_score: float | None = Field(description="Its BM25 score; null as keyword_rank.")


class SyncTriggered(BaseModel):
    source: str
    sync: Literal["started", "coalesced"]


#: The two bodies ``POST /v1/documents`` takes, for the OpenAPI schema (the handler reads them itself).
SUBMIT_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "array", "minItems": 1, "items": {"type": "string", "format": "binary"}},
                       "priority": {"type": "integer", "minimum": 0, "maximum": 9}}}},
    "application/json": {"schema": SourceItems.model_json_schema()},
}}}
