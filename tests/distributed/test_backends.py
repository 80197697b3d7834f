"""Distributed mode keeps the backend contract, over RabbitMQ, PostgreSQL, a Chroma server and real workers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from docmill.actors.backends import DistributedBackend, open_backend
from docmill.app import folder_specs
from docmill.app.backend import Backend
from docmill.core.values import SourceSpec
from docmill.settings import load_settings
from docmill.testing.contracts.backend import BackendContract

from ..workers import Workers


class TestDistributedBackend(BackendContract):
    @pytest.fixture
    def make_backend(self, dist_env: dict[str, str], workers: Workers) -> Callable[[], Backend]:
        workers.start("--processes", "1", "--threads", "2")

        def make() -> Backend:
            backend = open_backend(load_settings())
            assert isinstance(backend, DistributedBackend)
            return backend

        return make

    @pytest.fixture
    def folder(self, dist_env: dict[str, str]) -> Callable[[Path], SourceSpec]:
        return lambda path: folder_specs(load_settings(), [str(path)])[0]
