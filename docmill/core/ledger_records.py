"""What the ledger says about a document, as typed records, and the names of states and stages.

``State`` and ``Stage`` are string enums: they compare equal to the strings
stored in the ledger, so a record read from any release compares as expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, NamedTuple, TypedDict

__all__ = ["PIPELINE", "Document", "Failure", "JobInfo", "JobItem", "JobSummary", "Json", "JsonObject", "KnownDocument",
           "LastSync", "Stage", "State"]

#: A JSON value, as a source's options and state are kept.
Json = str | int | float | bool | None | list["Json"] | dict[str, "Json"]
JsonObject = dict[str, Json]


class State(StrEnum):
    """Where a document version stands."""

    PENDING = "pending"    # in flight
    DONE = "done"
    SKIPPED = "skipped"    # nothing to index (no text), or refused, or unchanged in a job
    FAILED = "failed"
    DELETING = "deleting"  # gone from its source; its chunks are being removed
    DELETED = "deleted"    # an outcome in a job only: the document's chunks and its row are gone

    @property
    def final(self) -> bool:
        """Whether a version in this state has ended."""
        return self in (State.DONE, State.SKIPPED, State.FAILED)


class Stage(StrEnum):
    """The steps of a document, and the tasks that carry them out."""

    DISCOVER = "discover"
    EXTRACT = "extract"
    OCR = "ocr"
    EMBED = "embed"
    STORE = "store"
    REMOVE = "remove"    # a document gone from its source: its chunks are deleted
    RELABEL = "relabel"  # only its labels changed: its chunks' metadata is updated


#: The stages a version passes through, in order; a stage never moves backwards.
PIPELINE = (Stage.DISCOVER, Stage.EXTRACT, Stage.OCR, Stage.EMBED, Stage.STORE)


@dataclass(frozen=True)
class Document:
    """One row of the ledger's documents table: a source document and where its current version stands."""

    key: str
    source: str
    name: str
    locator: str
    stamp: str
    size: int | None
    fingerprint: str | None
    content_id: str | None
    code_version: str | None
    signature: str | None
    version: int
    state: State
    stage: Stage
    attempts: int
    error_kind: str | None
    error: str | None
    error_permanent: bool | None
    pages: int | None
    ocr_pages: int | None
    ocr_remaining: int | None
    chunks: int | None
    embedded_chunks: int | None
    reused_chunks: int | None
    metadata: str | None
    dead_letter: str | None
    priority: int
    job_id: str | None
    sent_at: float | None
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None
    extract_seconds: float
    ocr_seconds: float
    embed_seconds: float
    store_seconds: float
    parent: str | None = None
    parent_version: int | None = None
    extracted: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Document:
        """The record of a row of the documents table."""
        values = row._mapping
        return cls(**{f.name: _typed(f.name, values[f.name]) for f in fields(cls)})


class KnownDocument(NamedTuple):
    """What discovery needs of an indexed document to decide whether it changed (a tuple: one is built for each
    listed document, in 2 µs, where a frozen dataclass took 3)."""

    key: str
    stamp: str
    fingerprint: str | None
    signature: str | None
    state: State
    version: int
    error_permanent: bool | None
    stage: Stage
    attempts: int
    sent_at: float | None
    priority: int
    content_id: str | None
    error_kind: str | None
    code_version: str | None

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> KnownDocument:
        """From its fields' column values in field order, as ``known`` reads them, one row for each listed
        document (so this is kept cheap: positional)."""
        key, stamp, fingerprint, signature, state, version, error_permanent, stage, *rest = values
        return cls(key, stamp, fingerprint, signature, State(state), version, error_permanent, Stage(stage), *rest)


def _typed(name: str, value: Any) -> Any:
    if name == "state":
        return State(value)
    if name == "stage":
        return Stage(value)
    return value


class JobInfo(TypedDict):
    """A job's own row: its id, kind, priority, owner, when it was created and discovered, why discovery failed."""

    job: str
    kind: str
    priority: int
    created_at: float
    discovered_at: float | None
    error: str | None
    owner: str | None


class Failure(TypedDict):
    """One failed document of a job, for its summary."""

    doc: str
    stage: str
    error: str | None
    reason: str | None
    unchanged: bool


class JobSummary(TypedDict):
    """A job's end-of-run report: counts by state, its seconds, chunks written, embedded and reused, unchanged
    and left-out documents, failures, and why discovery failed (None when it did not)."""

    counts: dict[str, int]
    seconds: float
    chunks: int
    embedded: int
    reused: int
    unchanged: int
    left_out: int
    failures: list[Failure]
    error: str | None


class JobItem(TypedDict):
    """Where one of a job's documents stands now."""

    doc: str
    key: str
    state: str
    stage: str | None
    priority: int | None
    attempts: int | None
    finished_at: float | None
    error: str | None
    reason: str | None
    #: The key of the document carrying it, for an attachment read as a document of its own.
    parent: str | None


class LastSync(TypedDict, total=False):
    """A named source's last sync: when, how long, and what it found (new, changed, deleted... counts)."""

    at: float
    seconds: float
    new: int
    changed: int
    relabelled: int
    deleted: int
    unchanged: int
    refused: int
    failed: int
    left_out: int
