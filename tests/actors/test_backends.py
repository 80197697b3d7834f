"""Embedded mode keeps the backend contract (tests/distributed/test_backends.py holds distributed mode's run)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from docmill.actors.backends import EmbeddedBackend, open_backend
from docmill.app import folder_specs
from docmill.app.backend import Backend
from docmill.core.errors import ConfigurationError
from docmill.core.values import SourceSpec
from docmill.settings import Settings
from docmill.testing.contracts.backend import BackendContract


class TestEmbeddedBackend(BackendContract):
    @pytest.fixture
    def make_backend(self, settings: Settings) -> Callable[[], Backend]:
        return lambda: open_backend(settings)

    @pytest.fixture
    def folder(self, settings: Settings) -> Callable[[Path], SourceSpec]:
        return lambda path: folder_specs(settings, [str(path)])[0]


def test_the_settings_choose_the_backend_once_and_embedded_mode_cannot_leave_work_behind(settings: Settings) -> None:
    assert isinstance(open_backend(settings), EmbeddedBackend)
    with pytest.raises(ConfigurationError, match="DOCMILL_BROKER_URL is not set"):
        open_backend(settings, detached=True)


def test_an_embedded_backend_builds_no_pipeline_to_purge(settings: Settings) -> None:
    backend = EmbeddedBackend(settings)
    assert backend.purge([]) == 0 and backend.dead_messages() is None
    assert backend._pipeline is None  # no plugins loaded, no model, no lock on the home
    backend.close()
