"""The example store passes docmill's vector store contract: that is all its tests need to say."""

from collections.abc import Callable
from pathlib import Path

import pytest
from docmill_jsonl_store import JsonlStore

from docmill.testing.contracts import VectorStoreContract


class TestJsonlStore(VectorStoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Callable[[int, str], JsonlStore]:
        return lambda dimension, model: JsonlStore(tmp_path / "store.jsonl", dimension=dimension, model=model)
