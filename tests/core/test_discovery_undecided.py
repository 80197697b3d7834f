"""A listing may say which indexed keys' existence it could not tell this time (``Listing.undecided``): those are
neither removed, nor counted as left out by the filters, nor pruned, whether the listing is complete or not."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from docmill.core import document_steps
from docmill.core.ledger import Ledger
from docmill.core.ledger_records import Stage
from docmill.core.runtime import Runtime
from docmill.core.values import Blob, DocumentRef, Listing, Task
from docmill.settings import Settings

KEYS = [f"memo:note-{i}" for i in range(6)]


class _Memo:
    """An incremental source over a list of keys; ``gone`` and ``undecided`` say what its next listing reports."""

    scope = "memo:"

    def __init__(self) -> None:
        self.listed, self.gone, self.undecided, self.complete = list(KEYS), set[str](), set[str](), False

    def _refs(self) -> Iterator[DocumentRef]:
        for key in self.listed:
            yield DocumentRef(key=key, name=key, locator=key, stamp="1")

    def discover(self) -> Iterator[DocumentRef]:
        return self._refs()

    def listing(self, state: Mapping[str, Any], *, full: bool) -> Listing:
        return Listing(self._refs(), complete=self.complete, gone=lambda keys: [k for k in keys if k in self.gone],
                       filtered=True, undecided=set(self.undecided))

    def fingerprint(self, ref: DocumentRef) -> str:
        return f"memo:{ref.stamp}"

    def fetch(self, ref: DocumentRef) -> Blob:
        return Blob(ref.name, b"memo")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("complete", [False, True])
def test_undecided_keys_are_never_removed_left_out_or_pruned(ledger: Ledger, settings: Settings,
                                                             complete: bool) -> None:
    sent: list[Task] = []
    rt = Runtime(settings, ledger=ledger, send=sent.append)
    memo = _Memo()
    rt.ledger.sources.put("memo", "memo", {"name": "memo"})
    rt._sources["memo"] = memo  # the runtime builds a source once per process: this one is built already

    def sync(prune: bool) -> tuple[list[str], int]:
        sent.clear()
        job = ledger.jobs.create("sync", discoveries=1)
        document_steps.discover(rt, job, "memo", prune=prune)
        with ledger.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE documents SET state = 'done', stage = 'store', chunks = 1 "
                                 "WHERE state = 'pending'")
        return sorted(t.args["key"] for t in sent if t.stage == Stage.REMOVE), ledger.jobs.summary(job)["left_out"]

    assert sync(prune=False) == ([], 0)
    # When four are no longer listed: one gone, two undecided (in a folder it could not read, say), one left out
    memo.listed, memo.complete = KEYS[:2], complete
    memo.gone, memo.undecided = {KEYS[2]}, {KEYS[3], KEYS[4]}
    removed, left_out = sync(prune=False)
    # Then only the gone one goes (a complete listing: all but the undecided); the undecided are not "left out"
    assert removed == ([KEYS[2], KEYS[5]] if complete else [KEYS[2]])
    assert left_out == (0 if complete else 1)
    # And pruning removes what the filters leave out, never the undecided (the removals above, not yet carried
    # out here, are sent again)
    again, left_out = sync(prune=True)
    assert (again, left_out) == ([KEYS[2], KEYS[5]], 0)
    assert {d.key for d in map(ledger.documents.document, KEYS[3:5]) if d is not None and d.state == "done"} == {
        KEYS[3], KEYS[4]}
