"""The embedder contract."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from docmill.core.interfaces import Embedder, Signed

__all__ = ["EmbedderContract"]

TEXTS = [
    "The annual income tax return for 2023 must be filed by April.",
    "Cats are small domesticated carnivorous mammals.",
    "Deadline for submitting your yearly tax declaration.",
    "x",
    "A much longer passage that goes on about many things at once. " * 8,
]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


class EmbedderContract:
    """Provide ``embedder``. Set ``semantic = False`` for embedders that do not capture meaning (stubs)."""

    semantic = True

    def test_one_unit_vector_of_the_declared_dimension_per_text(self, embedder: Embedder) -> None:
        vectors = [list(v) for v in embedder.embed_documents(TEXTS)]
        assert len(vectors) == len(TEXTS)
        for vector in vectors:
            assert len(vector) == embedder.dimension
            assert all(math.isfinite(x) for x in vector)
            assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-3)
        assert list(embedder.embed_documents([])) == []

    def test_it_states_a_signature_naming_its_model(self, embedder: Embedder) -> None:
        assert isinstance(embedder, Signed), "state a `signature`: what decides the vectors (see core.interfaces)"
        assert embedder.model in embedder.signature

    def test_order_and_batching_do_not_change_a_vector(self, embedder: Embedder) -> None:
        together = [list(v) for v in embedder.embed_documents(TEXTS)]
        alone = [list(embedder.embed_query(t)) for t in TEXTS]
        reversed_ = [list(v) for v in embedder.embed_documents(TEXTS[::-1])][::-1]
        for a, b, c in zip(together, alone, reversed_, strict=True):
            assert a == pytest.approx(b, abs=1e-4) and a == pytest.approx(c, abs=1e-4)

    def test_similar_meanings_are_closer_than_unrelated_ones(self, embedder: Embedder) -> None:
        if not self.semantic:
            pytest.skip("this embedder does not claim to capture meaning")
        tax, cats, deadline = (list(v) for v in embedder.embed_documents(TEXTS[:3]))
        assert _cosine(tax, deadline) > _cosine(tax, cats) + 0.1
