"""The public surface: the error tree as drawn, a deliberate __all__, documented hooks with tests."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Any

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
        errors.LedgerUnavailable: errors.TransientError,
        errors.DiskFull: errors.DocmillError,
        errors.ConfigurationError: errors.DocmillError,
        errors.UnknownSource: errors.ConfigurationError,
    }
    assert {cls: cls.__bases__[0] for cls in tree} == tree
    assert errors.RateLimited("slow down", retry_after=30).retry_after == 30
    assert errors.CorruptDocument("x\n  y", kind="empty").reason == "x y"


def test_all_lists_exactly_the_public_names() -> None:
    # dir(), not vars(): PluginContext is provided on first use (it needs pydantic, which parsing processes skip).
    public = {name for name in dir(docmill) if not name.startswith("_") and not inspect.ismodule(
        getattr(docmill, name))}
    assert set(docmill.__all__) == public | {"__version__"}


def test_every_hook_is_documented_and_exercised_by_a_test() -> None:
    hooks = [name for name, fn in vars(hookspecs).items() if name.startswith("docmill_") and callable(fn)]
    assert len(hooks) == 7
    tests = "".join(p.read_text() for p in Path(__file__).parent.rglob("test_*.py") if p.name != Path(__file__).name)
    guide = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text()
    for name in hooks:
        spec = getattr(hookspecs, name)
        doc = inspect.getdoc(spec) or ""
        assert len(doc) > 150, f"{name} needs a docstring for plugin authors"
        arguments = ", ".join(inspect.signature(spec).parameters)
        assert f"### `{name}({arguments})`" in guide, f"docs/plugins.md has no reference section for {name}"
        assert f"def {name}(" in tests, f"no test implements {name}"


def test_every_public_name_is_in_the_plugin_guide_and_documented_in_code() -> None:
    guide = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text()
    undocumented = [name for name in docmill.__all__ if name != "__version__" and f"`{name}`" not in guide]
    assert undocumented == []
    for name in docmill.__all__:
        member = getattr(docmill, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert len(inspect.getdoc(member) or "") > 20, f"docmill.{name} needs a docstring"


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    from docmill.settings import Settings

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"| `DOCMILL_{name.upper()}` |" not in readme]
    assert missing == []


def test_every_built_in_plugin_setting_is_in_the_readme() -> None:
    from docmill.core.plugins import REGISTRY_HOOKS, load_plugins

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    plugins = load_plugins(None)
    builtin = {info.name for info in plugins.infos if info.builtin}
    documented = 0
    for kind in REGISTRY_HOOKS:
        for name, entry in plugins.registry(kind).items():
            if entry.plugin in builtin and entry.settings is not None:
                for field in entry.settings.model_fields:
                    assert f"| `DOCMILL_PLUGINS__{name.upper()}__{field.upper()}` |" in readme, (name, field)
                    documented += 1
    assert documented >= 10


def _block(text: str, after: str, language: str) -> str:
    start = text.index(f"```{language}\n", text.index(after)) + len(language) + 4
    return text[start:text.index("```", start)]


def test_the_plugin_settings_guide_works_as_written(plugins_on: Any, isolated: Path) -> None:
    """The example in docs/plugins.md registers its model, and its docmill.toml configures it."""
    from docmill.core.plugin_context import PluginContext
    from docmill.core.plugins import load_plugins
    from docmill.settings import load_settings

    guide = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text()
    module: dict[str, Any] = {}
    exec(compile(_block(guide, "## Settings of your own", "python"), "plugins.md", "exec", dont_inherit=True), module)
    plugins_on(SimpleNamespace(docmill_register_vector_stores=module["docmill_register_vector_stores"]),
               "guide-example")
    (isolated / "docmill.toml").write_text(_block(guide, "## Settings of your own", "toml"))
    settings = load_settings()
    values = load_plugins(None).plugin_settings("store", settings.store, settings)
    assert (settings.store, values.url, values.timeout) == ("mystore", "https://vectors.example.lan", 10.0)
    table = guide[guide.index("Besides `settings`, the `PluginContext`"):guide.index("## Testing a plugin")]
    for field in PluginContext.__dataclass_fields__:
        assert f"`{field}`" in table, f"the PluginContext table in docs/plugins.md has no row for {field}"
