"""The bundled offline model through fastembed: real, normalised, order-preserving, no network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from docmill.core.errors import ConfigurationError
from docmill.core.plugins import load_plugins
from docmill.settings import Settings
from docmill.testing import ConnectionAudit

TEXTS = [
    "The annual income tax return for 2023 must be filed by April.",
    "Cats are small domesticated carnivorous mammals.",
    "Deadline for submitting your yearly tax declaration.",
    "x",
    "A long passage " * 60,
]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> object:
    settings = Settings(home=tmp_path_factory.mktemp("home"), plugins={"fastembed": {"batch_size": 2}})
    return load_plugins(None).embedder(settings)


def test_the_default_model_is_bundled_and_loads_without_any_connection(embedder: object) -> None:
    with ConnectionAudit() as audit:
        vectors = np.asarray(embedder.embed_documents(TEXTS))  # type: ignore[attr-defined]
    assert audit.attempts == []
    assert vectors.shape == (5, 384) and embedder.dimension == 384  # type: ignore[attr-defined]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_similar_meanings_are_closer_than_unrelated_ones(embedder: object) -> None:
    tax, cats, deadline = np.asarray(embedder.embed_documents(TEXTS[:3]))  # type: ignore[attr-defined]
    assert tax @ deadline > tax @ cats + 0.2


def test_length_sorted_batches_return_vectors_in_input_order(embedder: object) -> None:
    batched = np.asarray(embedder.embed_documents(TEXTS))  # type: ignore[attr-defined]
    one_by_one = np.stack([np.asarray(embedder.embed_query(t)) for t in TEXTS])  # type: ignore[attr-defined]
    assert np.allclose(batched, one_by_one, atol=1e-4)


def test_a_model_path_without_a_model_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="DOCMILL_PLUGINS__FASTEMBED__MODEL_PATH"):
        load_plugins(None).embedder(Settings(home=tmp_path, plugins={"fastembed": {"model_path": str(tmp_path)}}))
