"""The public surface: the error tree as drawn, a deliberate __all__, documented hooks with tests."""

from __future__ import annotations

import inspect
from pathlib import Path

import docmill
from docmill.core import errors, hookspecs


def test_the_error_tree_is_the_one_in_the_design() -> None:
    tree = {
        errors.PermanentError: errors.DocmillError,
        errors.UnsupportedDocument: errors.PermanentError,
        errors.CorruptDocument: errors.PermanentError,
        errors.EncryptedDocument: errors.PermanentError,
        errors.DocumentTooLarge: errors.PermanentError,
        errors.TransientError: errors.DocmillError,
        errors.SourceUnavailable: errors.TransientError,
        errors.RateLimited: errors.TransientError,
        errors.StoreUnavailable: errors.TransientError,
        errors.ConfigurationError: errors.DocmillError,
    }
    assert {cls: cls.__bases__[0] for cls in tree} == tree
    assert errors.RateLimited("slow down", retry_after=30).retry_after == 30
    assert errors.CorruptDocument("x\n  y", kind="empty").reason == "x y"


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(docmill) if not name.startswith("_") and not inspect.ismodule(
        getattr(docmill, name))}
    assert set(docmill.__all__) == public | {"__version__"}


def test_every_hook_is_documented_and_exercised_by_a_test() -> None:
    hooks = [name for name, fn in vars(hookspecs).items() if name.startswith("docmill_") and callable(fn)]
    assert len(hooks) == 6
    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py") if p.name != "test_api.py")
    guide = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text()
    for name in hooks:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert len(doc) > 150, f"{name} needs a docstring for plugin authors"
        assert f"### `{name}(" in guide, f"docs/plugins.md has no reference section for {name}"
        assert f"def {name}(" in tests, f"no test implements {name}"


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    from docmill.settings import Settings

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"| `DOCMILL_{name.upper()}` |" not in readme]
    assert missing == []
