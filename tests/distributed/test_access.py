"""Access is granted, never inferred, in distributed mode: the API enqueues, `docmill worker` processes write
the chunks with their grants into a Chroma server, and a removed caller's uploads are seen by nobody."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ..api_server import ApiServer
from ..app.test_access import carol_is_removed_then_revoked, handbook_toml


@pytest.mark.usefixtures("stub_embedder")
def test_a_removed_callers_uploads_are_seen_by_nobody_and_revoking_keeps_or_deletes_them(
        api_over_workers: Callable[..., ApiServer], tmp_path: Path) -> None:
    carol_is_removed_then_revoked(api_over_workers("--processes", "1", toml=handbook_toml(tmp_path)))
