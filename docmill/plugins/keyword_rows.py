"""What the built-in keyword indexes keep of a chunk besides its words: the same fields the vector stores keep.

A chunk's row holds its identity (id, document key, version, position, page,
text hash), its text, the document's name and metadata as search hits show
them, and ``fields``: the keys a search's filter tests (``filterable`` of the
metadata, with ``doc``, ``page`` and ``hash``), as JSON that the database
compares itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from docmill import Chunk, SearchHit, filterable

__all__ = ["fields_of", "hit", "meta_json"]


def meta_json(metadata: Mapping[str, Any]) -> str:
    """The document's metadata as hits give it back."""
    return json.dumps(dict(metadata), default=str, sort_keys=True)


def fields_of(metadata: Mapping[str, Any], *, doc: str, page: int | None, hash: str) -> dict[str, Any]:
    """What a filter tests on one chunk: the document's filterable metadata, its name, the page and text hash."""
    return {**filterable(metadata), "doc": doc, "page": page, "hash": hash}


def chunk_fields(chunk: Chunk, doc: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`fields_of` for a chunk being written."""
    return fields_of(metadata, doc=doc, page=chunk.page, hash=chunk.hash)


def hit(id_: str, doc: str, page: int | None, text: str, meta: str | Mapping[str, Any], score: float) -> SearchHit:
    """A search hit from a row."""
    metadata = json.loads(meta) if isinstance(meta, str) else dict(meta)
    return SearchHit(id=id_, doc=doc, page=page, score=score, text=text, metadata=metadata)
