"""The package's shape, read from its source: no import cycles, the CLI on top of everything, a core that knows
no transport, no concrete plugin, no settings, metrics or logs, and front ends that never branch on the mode."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "docmill"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(module: str, *, top_level_only: bool) -> Iterator[str]:
    """The docmill modules ``module`` imports (at import time only, with ``top_level_only``)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    nodes: list[ast.AST] = []
    if top_level_only:
        pending: list[ast.stmt] = list(tree.body)
        while pending:
            node = pending.pop()
            if _is_type_checking(node):
                continue
            nodes.append(node)
            if isinstance(node, ast.If | ast.Try):
                pending += [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                            *(s for h in getattr(node, "handlers", []) for s in h.body)]
    else:
        nodes = list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("docmill"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("docmill"):
                continue
            for alias in node.names:  # `from . import app` imports the submodule docmill.app
                sub = f"{target}.{alias.name}"
                yield sub if sub in MODULES else target


def _graph(*, top_level_only: bool) -> dict[str, set[str]]:
    graph = {}
    for module in MODULES:
        targets = set()
        for target in _imports(module, top_level_only=top_level_only):
            # Importing a.b.c runs a/__init__ and a/b/__init__ first.
            parts = target.split(".")
            targets |= {".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in MODULES}
        graph[module] = targets - {module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _is_package_parent(a: str, b: str) -> bool:
    return b.startswith(a + ".") or a.startswith(b + ".")


def test_no_module_imports_itself_back() -> None:
    graph = _graph(top_level_only=False)  # imports inside functions too: a lazy cycle is still a tangle
    # A package's __init__ importing its own submodules, which import their package, is how packages work;
    # any other loop is a cycle.
    pruned = {m: {t for t in targets if not _is_package_parent(m, t)} for m, targets in graph.items()}
    assert _cycles(pruned) == []


def test_nothing_outside_the_command_line_imports_it() -> None:
    graph = _graph(top_level_only=False)  # function-level imports too
    offenders = sorted(m for m, targets in graph.items()
                       if not m.startswith("docmill.cli") and m != "docmill.__main__"
                       and any(t == "docmill.cli" or t.startswith("docmill.cli.") for t in targets))
    assert offenders == []


def test_the_core_knows_no_transport_and_no_concrete_plugin() -> None:
    for module, path in MODULES.items():
        if not module.startswith("docmill.core"):
            continue
        tree = ast.parse(path.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module and not node.level}
        assert not imported & {"dramatiq", "pika", "click", "chromadb", "qdrant_client", "fastembed", "pymupdf",
                               "pytesseract", "httpx"}, (module, imported)
        assert not any(t.startswith(("docmill.actors", "docmill.plugins", "docmill.cli", "docmill.app", "docmill.api"))
                       for t in _imports(module, top_level_only=False)), module
        # A closed room: the core receives what it needs (core.config, core.events, Plugins.on_secrets); it
        # reads no settings, counts no metrics and registers nothing with the logs itself.
        assert not {t for t in _imports(module, top_level_only=False)} & {
            "docmill.settings", "docmill.metrics", "docmill.logs", "docmill.privacy"}, module


def test_the_check_sees_a_cycle_when_there_is_one() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_built_in_plugins_import_only_what_a_third_party_plugin_can() -> None:
    """docmill's own plugins use the public surface (``docmill``'s ``__all__``) and each other, nothing deeper: a
    built-in that needs more than a third-party plugin can have shows a gap in the public API."""
    import docmill

    public = set(docmill.__all__)
    found = []
    for module, path in MODULES.items():
        if not module.startswith("docmill.plugins."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found += [(module, alias.name) for alias in node.names if alias.name.startswith("docmill")]
            elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("docmill"):
                if node.module == "docmill":
                    found += [(module, f"docmill.{a.name}") for a in node.names if a.name not in public]
                elif not (node.module or "").startswith("docmill.plugins"):
                    found.append((module, node.module or ""))
    assert found == []


def test_no_module_imports_from_another_packages_private_module() -> None:
    private = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            private += [(module, name) for name in names
                        if any(part.startswith("_") and not part.startswith("__") for part in name.split("."))]
    assert private == []


def _mode_branches(source: str) -> list[int]:
    """Lines of ``source`` that read ``settings.distributed`` (or any ``.distributed``): a branch on the mode."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr == "distributed"]


def test_no_front_end_branches_on_the_mode() -> None:
    # The mode is chosen once, in docmill.actors.backends (the settings define it); everything above the
    # actors (app, cli, api, the scheduler) goes through the Backend contract (docmill.app.backend).
    offenders = [f"{module}:{line}" for module, path in sorted(MODULES.items())
                 if not module.startswith(("docmill.actors", "docmill.settings"))
                 for line in _mode_branches(path.read_text())]
    assert offenders == []
    graph = _graph(top_level_only=False)
    implementations = {"docmill.actors.embedded", "docmill.actors.distributed"}
    direct = sorted(m for m, targets in graph.items()
                    if not m.startswith(("docmill.actors", "docmill.testing")) and targets & implementations)
    assert direct == [], "reach the two modes through docmill.app.backend.open_backend"


def test_the_mode_check_sees_a_branch() -> None:
    assert _mode_branches("if settings.distributed:\n    pass\nx = 1\n") == [1]
    assert _mode_branches("mode = mode_of(settings)\n") == []


def test_the_ledgers_roles_return_typed_records_not_dictionaries_of_anything() -> None:
    untyped = []
    for module, path in MODULES.items():
        if not module.startswith("docmill.core.ledger"):
            continue
        for node in ast.parse(path.read_text()).body:
            if not (isinstance(node, ast.ClassDef) and any(ast.unparse(b) == "Role" for b in node.bases)):
                continue
            for method in node.body:
                if isinstance(method, ast.FunctionDef) and not method.name.startswith("_"):
                    returns = ast.unparse(method.returns) if method.returns else "(none)"
                    if "Any" in returns or returns == "(none)":
                        untyped.append(f"{node.name}.{method.name} -> {returns}")
    assert untyped == []


#: The front ends and what every front end does: they use plugins through the plugin manager, by name.
FRONT_ENDS = ("docmill.api", "docmill.cli", "docmill.app", "docmill.scheduler")


def _front_end(module: str) -> bool:
    return any(module == front or module.startswith(front + ".") for front in FRONT_ENDS)


def _concrete_plugin_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((module, target) for module, targets in graph.items() if _front_end(module)
                  for target in targets if target == "docmill.plugins" or target.startswith("docmill.plugins."))


def test_front_ends_import_no_concrete_plugin() -> None:
    assert _concrete_plugin_imports(_graph(top_level_only=False)) == []  # function-level imports too


def test_the_check_sees_a_front_end_importing_a_plugin() -> None:
    graph = {"docmill.api.routes.search": {"docmill.plugins.chroma_store"}, "docmill.actors.wiring":
             {"docmill.plugins.chroma_store"}, "docmill.app.service": {"docmill.core.plugins"}}
    assert _concrete_plugin_imports(graph) == [("docmill.api.routes.search", "docmill.plugins.chroma_store")]


def _documented_errors() -> dict[str, set[str]]:
    """docs/api.md's error table: status -> the exception types it names."""
    docs = (PACKAGE.parent / "docs" / "api.md").read_text()
    section = docs.split("### Errors", 1)[1].split("\n#", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].strip("`").isdigit():
            table[cells[0].strip("`")] = {name.strip().strip("`") for name in cells[2].split(",")}
    return table


def test_each_error_the_http_api_answers_is_documented_with_its_status() -> None:
    from docmill.api.errors import ANSWERS, WRITING

    documented = {(status, name) for status, names in _documented_errors().items() for name in names}
    fixed = {(str(answer.status), kind.__name__) for kind, answer in ANSWERS.items() if answer.status is not None}
    # Starlette's HTTPException carries its own status (404, 405): documented under each status it answers.
    own = {kind.__name__ for kind, answer in ANSWERS.items() if answer.status is None}
    assert fixed <= documented, sorted(fixed - documented)
    assert own <= {name for _, name in documented}
    assert {(status, name) for status, name in documented if name not in own} == fixed  # no stale row
    # ... and the OpenAPI schema documents every fixed status on some route.
    assert {int(status) for status, _ in fixed} <= {int(status) for status in WRITING}


def test_an_error_is_answered_by_its_nearest_class_in_the_table() -> None:
    from docmill.api.errors import answer
    from docmill.core.errors import DiskFull, PermanentError, StoreUnavailable, UnknownSource

    assert answer(UnknownSource("no source named 'x' (sources: a, b)", name="x"))[:2] == (404, "no source named 'x'")
    assert answer(StoreUnavailable("Chroma  is down")) == (503, "Chroma is down", {"Retry-After": "5"})
    assert answer(PermanentError("the store refused it"))[0] == 503
    status, message, _ = answer(DiskFull("the disk holding uploaded files (/srv/uploads) is full"))
    assert status == 507 and "/srv/uploads" not in message


def _handled_classes(module: str, handler: ast.ExceptHandler) -> list[type]:
    """The classes an ``except (A, B, ...)`` names, looked up in its module as it runs."""
    import builtins
    import importlib

    namespace = {**vars(builtins), **vars(importlib.import_module(module))}
    classes = []
    for node in handler.type.elts if isinstance(handler.type, ast.Tuple) else []:
        parts = ast.unparse(node).split(".")
        found = namespace.get(parts[0])
        for part in parts[1:]:
            found = getattr(found, part, None)
        if isinstance(found, type):
            classes.append(found)
    return classes


def test_front_ends_never_catch_a_class_together_with_its_own_subclass() -> None:
    """``except (ConfigurationError, DocmillError)`` reads as two cases and is one: the subclass is dead."""
    found = []
    for module, path in MODULES.items():
        if not _front_end(module):
            continue
        for handler in (n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ExceptHandler)):
            classes = _handled_classes(module, handler)
            found += [(module, handler.lineno, a.__name__, b.__name__) for a in classes for b in classes
                      if a is not b and issubclass(a, b)]
    assert found == []


def test_the_office_readers_reach_no_network_and_start_no_process() -> None:
    """Office files carry macros and links: the modules that read them import nothing that could run a
    program or reach a network, so nothing in a document can make docmill do either."""
    forbidden = {"subprocess", "socket", "http", "urllib", "httpx", "requests", "ctypes", "multiprocessing"}
    found = []
    for module, path in MODULES.items():
        if not module.startswith("docmill.plugins.office"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            found += [(module, name) for name in names if name.split(".")[0] in forbidden]
    assert found == []
    assert any(module.startswith("docmill.plugins.office.") for module in MODULES)  # the check saw them
