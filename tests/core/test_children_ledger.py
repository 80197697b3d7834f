"""The ledger's child documents, on SQLite and PostgreSQL: started under their parent's version, left alone when
unchanged, sent again while in flight, retired when the parent's version no longer carries them, removed with
their parent, and their bytes held only while they are needed."""

from __future__ import annotations

from docmill.core.ledger import Ledger, NewChild, NewVersion
from docmill.core.values import DocumentRef, Page

PARENT = "file:///mail.eml"


def _parent(ledger: Ledger, previous: int | None = None) -> tuple[str, int]:
    job = ledger.jobs.create("test", discoveries=1)
    ref = DocumentRef(key=PARENT, name="mail.eml", locator="/mail.eml", stamp="1:1", size=1)
    [(_key, version)] = ledger.versions.start_versions(job, "src", [NewVersion(ref, f"fp{previous}", "sig",
                                                                               previous)])
    return job, version


def _child(number: int, data: bytes, *, skip: str | None = None) -> NewChild:
    key = f"{PARENT}#attachment/{number}/file-{number}.txt"
    return NewChild(key, f"mail.eml › file-{number}.txt", data, f"sha256:{data.hex()}", {"parent": "mail.eml"},
                    skip_kind="too deep" if skip else None, skip_reason=skip)


def test_children_start_under_their_parent_with_their_bytes_held_until_they_end(ledger: Ledger) -> None:
    job, version = _parent(ledger)
    parent = ledger.documents.begin(PARENT, version, "extract")
    assert parent is not None
    started = ledger.children.start(job, parent, [_child(1, b"one"), _child(2, b"two"),
                                                  _child(3, b"deep", skip="nested too deep")], "sig")
    assert [key.rsplit("/", 1)[1] for key, _ in started] == ["file-1.txt", "file-2.txt"]
    first = ledger.documents.document(started[0][0])
    assert first is not None and (first.parent, first.parent_version, first.state) == (PARENT, version, "pending")
    assert ledger.children.attachment_bytes(*started[0]) == b"one"
    skipped = ledger.documents.document(f"{PARENT}#attachment/3/file-3.txt")
    assert skipped is not None and (skipped.state, skipped.error_kind) == ("skipped", "too deep")
    assert ledger.children.attachment_bytes(skipped.key, skipped.version) is None
    assert ledger.children.exist(PARENT) and not ledger.children.exist(started[0][0])
    # A replayed extract of the parent sends the children still in flight again, as they are.
    assert ledger.children.start(job, parent, [_child(1, b"one"), _child(2, b"two")], "sig") == started
    # Done: the bytes go. Failed: they stay, for a retry.
    assert ledger.documents.finish(*started[0], "done", stage="store", chunks=1)
    assert ledger.documents.finish(*started[1], "failed", stage="extract", error_kind="corrupt", reason="x")
    assert ledger.children.attachment_bytes(*started[0]) is None
    assert ledger.children.attachment_bytes(*started[1]) == b"two"
    items = {item["key"]: item for item in ledger.jobs.items(job)[0]}
    assert {items[key]["parent"] for key, _ in started} == {PARENT}


def test_a_new_parent_version_keeps_unchanged_children_restarts_changed_ones_and_retires_the_rest(
        ledger: Ledger) -> None:
    job, version = _parent(ledger)
    parent = ledger.documents.begin(PARENT, version, "extract")
    assert parent is not None
    started = ledger.children.start(job, parent, [_child(1, b"one"), _child(2, b"two"), _child(3, b"three")], "sig")
    for key, child_version in started:
        ledger.documents.finish(key, child_version, "done", stage="store", chunks=1)
    job2, version2 = _parent(ledger, previous=version)
    parent2 = ledger.documents.begin(PARENT, version2, "extract")
    assert parent2 is not None
    again = ledger.children.start(job2, parent2, [_child(1, b"one"), _child(2, b"TWO")], "sig")
    assert again == [(started[1][0], started[1][1] + 1)]  # only the changed one starts a new version
    assert ledger.children.stale(PARENT, version2) == [started[2][0]]
    assert ledger.documents.document(started[0][0]).parent_version == version2  # type: ignore[union-attr]
    # Removing the parent removes every descendant with it, grandchildren included.
    grandchild = f"{started[0][0]}#attachment/1/inner.txt"
    child_row = ledger.documents.document(started[0][0])
    assert child_row is not None
    ledger.children.start(job2, child_row, [NewChild(grandchild, "inner.txt", b"in", "sha256:in", {})], "sig")
    removed = ledger.versions.start_removals(job2, [PARENT])
    assert sorted(key for key, _ in removed) == sorted([PARENT, grandchild, *(key for key, _ in started)])


def test_discovery_never_counts_a_child_as_gone_from_its_source(ledger: Ledger) -> None:
    job, version = _parent(ledger)
    parent = ledger.documents.begin(PARENT, version, "extract")
    assert parent is not None
    ledger.inflight.save_pages(PARENT, version, [Page(None, "body")], [], 0.0)
    ledger.children.start(job, parent, [_child(1, b"one")], "sig")
    later = ledger.jobs.create("test", discoveries=1)
    assert ledger.versions.unlisted(later, "file:///") == [(PARENT, "pending")]
