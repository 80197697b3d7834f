"""The folder source: globs, stable keys, and nothing read outside the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from docmill.core.errors import ConfigurationError, PermanentError
from docmill.core.values import DocumentRef
from docmill.plugins.folder import FolderSource, GlobFilter


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for rel in ("a.pdf", "notes/b.txt", "notes/deep/c.md", ".hidden/d.txt", "notes/.e.txt", "~$lock.docx"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    return root


def _names(source: FolderSource) -> dict[str, str | None]:
    return {ref.name: ref.skip_reason for ref in source.discover()}


def test_hidden_files_and_office_locks_are_left_out_by_default(tree: Path) -> None:
    source = FolderSource(str(tree), exclude=[".*", "~$*"])
    assert _names(source) == {"a.pdf": None, "notes/b.txt": None, "notes/deep/c.md": None}


def test_include_and_exclude_globs_match_names_and_paths(tree: Path) -> None:
    assert set(_names(FolderSource(str(tree), include=["*.txt", "*.md"], exclude=[".*"]))) == {
        "notes/b.txt", "notes/deep/c.md"}
    assert set(_names(FolderSource(str(tree), include=["notes/**/*.md"]))) == {"notes/deep/c.md"}
    assert set(_names(FolderSource(str(tree), exclude=[".*", "~$*", "deep"]))) == {"a.pdf", "notes/b.txt"}
    glob = GlobFilter(["reports/*.pdf"], [])
    assert glob.takes("reports/q1.pdf") and not glob.takes("reports/2023/q1.pdf")
    leaving = GlobFilter([], [".*", "~$*", "build/**", "tmp"])  # as the walk does: any folder on the path counts
    assert leaving.excludes(".git/config") and leaving.excludes("a/.cache/x.pdf") and leaving.excludes("~$a.docx")
    assert leaving.excludes("a/tmp/x.pdf") and not leaving.takes("a/tmp/x.pdf") and leaving.takes("a/tmpfile.pdf")
    assert leaving.excludes("build/out/x.pdf") and leaving.takes("src/build.pdf") and leaving.takes("a/build/x.pdf")


def test_keys_are_file_uris_of_the_real_path_and_fingerprints_follow_content(tree: Path) -> None:
    source = FolderSource(str(tree), exclude=[".*", "~$*"])
    refs = {ref.name: ref for ref in source.discover()}
    assert refs["a.pdf"].key == "file://" + str(tree.resolve() / "a.pdf")
    assert source.scope == "file://" + str(tree.resolve()) + "/"
    before = source.fingerprint(refs["a.pdf"])
    (tree / "a.pdf").write_text("changed")
    assert source.fingerprint(refs["a.pdf"]) != before
    assert source.fetch(refs["a.pdf"]).data == b"changed"


def test_symlinks_leaving_the_root_are_refused_with_a_reason(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    (tmp_path / "outside_dir").mkdir()
    (tree / "leak.txt").symlink_to(tmp_path / "outside.txt")
    (tree / "leakdir").symlink_to(tmp_path / "outside_dir")
    (tree / "alias.pdf").symlink_to(tree / "a.pdf")
    names = _names(FolderSource(str(tree), exclude=[".*", "~$*"]))
    assert "leaves the ingested folder" in (names["leak.txt"] or "")
    assert "leaves the ingested folder" in (names["leakdir"] or "")
    assert names["alias.pdf"] is None


def test_fetch_refuses_a_locator_outside_the_root(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    source = FolderSource(str(tree))
    sneaky = DocumentRef(key="file:///x", name="x", locator=str(tree / ".." / "outside.txt"))
    with pytest.raises(PermanentError) as caught:
        source.fetch(sneaky)
    assert caught.value.kind == "refused"


def test_pipes_are_listed_as_refused_not_read(tree: Path) -> None:
    os.mkfifo(tree / "pipe.txt")
    assert "not a regular file" in (_names(FolderSource(str(tree)))["pipe.txt"] or "")


def test_a_single_file_is_its_own_scope(tree: Path) -> None:
    source = FolderSource(str(tree / "notes" / "b.txt"), label="notes/b.txt")
    [ref] = source.discover()
    assert ref.name == "notes/b.txt" and source.scope == ref.key


def test_a_missing_root_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        FolderSource(str(tmp_path / "nope"))
