"""The Paperless look-alike held against answers recorded from a real Paperless-ngx 3.0.5 server.

Every recorded request is sent to ``docmill.testing.paperless.PaperlessServer``
holding an archive like the recorded one (12 documents, no tags, the same
modification times). Status, ``x-api-version``, ``x-version``, ``content-type``
and the shape of each body (keys and value types, not values) must match.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from docmill.testing.paperless import PaperlessServer

RECORDING = Path(__file__).parents[1] / "data" / "paperless" / "paperless-ngx-3.0.5.json"
TOKEN = "look-alike-token-0b1e"
ENTRIES: list[dict[str, Any]] = json.loads(RECORDING.read_text())


def shape(value: Any) -> Any:
    """Keys and value types, recursively; a list by its first element (lists of records are uniform)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.fixture(scope="module")
def server() -> Iterator[PaperlessServer]:
    with PaperlessServer(12, TOKEN, labels=False) as server:
        listed = next(e for e in ENTRIES if e["path"].startswith("/api/documents/?fields=id,modified"))
        for item in listed["body"]["results"]:  # the recorded archive's modification times
            doc = server.documents[item["id"]]
            doc.modified = doc.added = server_time(item["modified"])
            doc.created = doc.modified
        for doc in server.documents.values():
            # Born-digital PDFs got no archived version on the real server; the 12th, a scan, did.
            doc.has_archive = doc.id == 12
        yield server


def server_time(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value)


def _headers(entry: dict[str, Any]) -> dict[str, str]:
    headers = {k: v for k, v in entry["request_headers"].items()}
    if headers.get("Authorization") == "Token <redacted>":
        headers["Authorization"] = f"Token {TOKEN}"
    if "Accept" not in headers:
        headers["Accept"] = ""  # httpx would send */*; the recording sent no Accept at all
    return headers


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{i:02d} {e['status']} {e['path'][:60]}"
                                               for i, e in enumerate(ENTRIES)])
def test_the_look_alike_answers_each_recorded_request_like_the_real_server(
        server: PaperlessServer, entry: dict[str, Any]) -> None:
    answer = httpx.get(server.url + entry["path"], headers=_headers(entry), timeout=10)
    recorded = entry["response_headers"]
    assert answer.status_code == entry["status"]
    for header in ("x-api-version", "x-version"):
        assert answer.headers.get(header) == recorded.get(header), header
    media = answer.headers.get("content-type", "")
    assert media == recorded["content-type"], media
    body = entry["body"]
    if media.startswith("text/html"):
        # The look-alike serves a short page, not Paperless's Swagger UI: only its title is compared.
        assert "Paperless-ngx REST API" in body and "Paperless-ngx REST API" in answer.text
    elif media == "application/pdf":
        # Downloads are recorded by size and type only; the look-alike's PDFs are generated.
        assert body.startswith("<") and "application/pdf" in body and answer.content.startswith(b"%PDF-")
        disposition = answer.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="') and "; filename*=utf-8''" in disposition
        assert recorded["content-disposition"].startswith('attachment; filename="')
    else:
        assert shape(answer.json()) == shape(body)
        if "detail" in body:  # error answers: the very words
            assert answer.json() == body


def test_the_recording_is_complete() -> None:
    """What the look-alike must get right is in the recording: the test above would be weaker without it."""
    statuses = {(e["status"], e["request_headers"].get("Accept", "")) for e in ENTRIES}
    assert (406, "application/json; version=5") in statuses and (406, "application/json; version=11") in statuses
    assert any(e["status"] == 404 and e["body"] == {"detail": "Invalid page."} for e in ENTRIES)
    assert any("all" in (e["body"] if isinstance(e["body"], dict) else {}) for e in ENTRIES)
    assert len(ENTRIES) == 27
