"""The source contract."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from docmill.core.errors import PermanentError
from docmill.core.interfaces import Source
from docmill.core.values import DocumentRef

__all__ = ["SourceContract"]


class SourceContract:
    """Provide ``source`` (listing at least two documents) and ``change``.

    ``change(ref)`` must alter the content of that document at the source,
    so the contract can check that its fingerprint follows.
    """

    def _refs(self, source: Source) -> list[DocumentRef]:
        refs = [r for r in source.discover() if not r.skip_reason]
        assert len(refs) >= 2, "the source fixture must list at least two documents"
        return refs

    def test_keys_are_unique_and_inside_the_scope(self, source: Source) -> None:
        refs = self._refs(source)
        assert len({r.key for r in refs}) == len(refs)
        assert all(r.key.startswith(source.scope) and r.name for r in refs)

    def test_every_listed_document_can_be_fetched(self, source: Source) -> None:
        for ref in self._refs(source):
            blob = source.fetch(ref)
            assert isinstance(blob.data, bytes) and blob.name

    def test_fingerprints_are_stable_and_follow_content(self, source: Source,
                                                        change: Callable[[DocumentRef], None]) -> None:
        first, second = self._refs(source)[:2]
        before = source.fingerprint(first)
        assert source.fingerprint(first) == before != source.fingerprint(second)
        change(first)
        [again] = [r for r in source.discover() if r.key == first.key]
        assert source.fingerprint(again) != before

    def test_a_vanished_document_is_a_permanent_error(self, source: Source) -> None:
        ref = self._refs(source)[0]
        with pytest.raises(PermanentError):
            source.fetch(replace(ref, locator=ref.locator + "-no-such-document"))
