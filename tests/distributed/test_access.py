"""Access is granted, never inferred, in distributed mode: the API enqueues, `docmill worker` processes write
the chunks with their grants into a Chroma server, and a removed caller's uploads are seen by nobody."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..api_server import ApiServer
from ..test_access import carol_is_removed_then_revoked, handbook_toml
from .conftest import Workers


@pytest.mark.usefixtures("stub_embedder")
def test_a_removed_callers_uploads_are_seen_by_nobody_and_revoking_keeps_or_deletes_them(
        dist_env: dict[str, str], workers: Workers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uploads = tmp_path / "uploads"
    monkeypatch.setenv("DOCMILL_UPLOAD_DIR", str(uploads))
    workers.start("--processes", "1")
    server = ApiServer(tmp_path / "api", toml=handbook_toml(tmp_path),
                       env={**dist_env, "DOCMILL_UPLOAD_DIR": str(uploads)})
    carol_is_removed_then_revoked(server)
