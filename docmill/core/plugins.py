"""The one PluginManager, and the registries the pipeline builds from it.

Registry hooks are called through pluggy's hook caller (so hook wrappers and
call monitoring see them); each registration is credited to the plugin whose
hook implementation made it. A factory is called with a
:class:`~docmill.core.plugin_context.PluginContext` holding the plugin's own
validated settings, never docmill's whole settings.

Plugins arrive through the ``docmill`` entry-point group; docmill's own
built-ins are declared there too, in its ``pyproject.toml``, so they load
exactly like third-party packages and this module names no concrete plugin.
``DOCMILL_LOAD_PLUGINS`` is an allow-list of third-party plugins (entry-point or
distribution names; empty loads none); the built-ins always load. A plugin
that fails to import or register is reported by name and left out.
"""

from __future__ import annotations

import importlib.metadata
import logging
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import CodeType
from typing import Any

import pluggy
from pydantic import BaseModel

from . import hookspecs
from .config import RuntimeSettings
from .errors import ConfigurationError
from .interfaces import Chunker, Embedder, Extractor, KeywordIndex, OcrEngine, Source, VectorStore
from .ledger_records import Stage
from .plugin_context import PluginContext, RemoteSettings, env_name, masked, secrets_of, validate_settings
from .values import Blob

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "Plugins", "load_plugins"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "docmill"
#: The distribution whose entry points are the built-ins.
BUILTIN_DISTRIBUTION = "docmill"

#: Registry hook per plugin kind, and the setting that selects one.
REGISTRY_HOOKS = {
    "source": "docmill_register_sources",
    "ocr": "docmill_register_ocr_engines",
    "chunker": "docmill_register_chunkers",
    "embedder": "docmill_register_embedders",
    "store": "docmill_register_vector_stores",
    "keywords": "docmill_register_keyword_indexes",
}


@dataclass(frozen=True)
class PluginInfo:
    """A loaded (or broken) plugin, as ``docmill plugins`` shows it."""

    name: str
    package: str
    version: str
    builtin: bool
    error: str | None = None


#: The setting that selects a plugin of each kind (sources are chosen by their ``type``).
SELECTED_BY = {"ocr": "DOCMILL_OCR", "chunker": "DOCMILL_CHUNKER", "embedder": "DOCMILL_EMBEDDER",
               "store": "DOCMILL_STORE", "keywords": "DOCMILL_KEYWORD_INDEX", "source": "source type"}


@dataclass(frozen=True)
class _Entry:
    factory: Callable[..., Any]
    plugin: str
    settings: type[BaseModel] | None = None


class Plugins:
    """Registries of every kind, built once from a PluginManager."""

    def __init__(self, manager: pluggy.PluginManager, infos: Sequence[PluginInfo]) -> None:
        self.manager = manager
        self.infos = list(infos)
        self._registries: dict[str, dict[str, _Entry]] = {}
        self._lock = threading.Lock()
        #: Hears the secret values of each plugin's settings as they are read, to keep them out of logs: whoever
        #: owns the logs sets it (``Settings.plugin_registry``); the core registers nothing itself.
        self.on_secrets: Callable[[Sequence[str]], None] | None = None

    def register(self, plugin: object, name: str) -> None:
        """Add a plugin object at run time (tests, embedding applications)."""
        with self._lock:
            _register(self.manager, name, plugin)
            self._registries.clear()

    def unregister(self, name: str) -> None:
        """Remove a plugin added with :meth:`register`."""
        with self._lock:
            self.manager.unregister(name=name)
            self._registries.clear()

    def registry(self, kind: str) -> dict[str, _Entry]:
        """Name -> factory for one plugin kind; clashes are a ConfigurationError."""
        with self._lock:
            if kind not in self._registries:
                self._registries[kind] = self._build_registry(kind)
            return self._registries[kind]

    def _build_registry(self, kind: str) -> dict[str, _Entry]:
        entries: dict[str, _Entry] = {}
        caller = getattr(self.manager.hook, REGISTRY_HOOKS[kind])
        authors = {_code(impl.function): self.manager.get_name(impl.plugin) or repr(impl.plugin)
                   for impl in caller.get_hookimpls()}

        def register(name: str, factory: Callable[..., Any], *, settings: type[BaseModel] | None = None) -> None:
            plugin = _caller_plugin(authors)
            if name in entries:
                raise ConfigurationError(
                    f"two plugins register the {kind} {name!r}: {entries[name].plugin} and {plugin}; "
                    "remove one, or leave one out with DOCMILL_LOAD_PLUGINS"
                )
            if settings is not None and not (isinstance(settings, type) and issubclass(settings, BaseModel)):
                raise ConfigurationError(f"the {plugin} plugin registers the {kind} {name!r} with settings that "
                                         "are not a pydantic model class")
            entries[name] = _Entry(factory, plugin, settings)

        caller(register=register)
        return entries

    def names(self, kind: str) -> list[str]:
        """Registered names of one kind, sorted."""
        return sorted(self.registry(kind))

    def entry(self, kind: str, name: str) -> _Entry:
        """The registration of ``name`` among plugins of ``kind``; a ConfigurationError lists the others."""
        entry = self.registry(kind).get(name)
        if entry is None:
            known = ", ".join(self.names(kind)) or "none"
            raise ConfigurationError(f"{SELECTED_BY[kind]}: no {kind} plugin named {name!r} (installed: {known})")
        return entry

    def factory(self, kind: str, name: str) -> Callable[..., Any]:
        """The factory registered as ``name`` among plugins of ``kind``."""
        return self.entry(kind, name).factory

    def plugin_settings(self, kind: str, name: str, settings: RuntimeSettings) -> BaseModel | None:
        """The validated settings of the plugin registered as ``name`` (None when it declares none)."""
        model = self.entry(kind, name).settings
        if model is None:
            return None
        values = validate_settings(model, name, settings.plugins.get(name, {}))
        if self.on_secrets is not None:
            self.on_secrets(secrets_of(values))
        return values

    def context(self, kind: str, name: str, settings: RuntimeSettings) -> PluginContext:
        """What the factory of ``name`` is given: its own settings and the shared facts."""
        return PluginContext(
            name=name, settings=self.plugin_settings(kind, name, settings), home=settings.home,
            collection=settings.collection, cpu_count=settings.cpu_count, limits=settings.limits,
            chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap, ocr_workers=settings.ocr_workers,
            include=tuple(settings.include), exclude=tuple(settings.exclude),
            on_secrets=self.on_secrets or (lambda _: None), ledger_url=settings.ledger_database_url)

    def source(self, type_name: str, options: Mapping[str, Any], settings: RuntimeSettings,
               on_request: Callable[[], None] | None = None) -> Source:
        """A source of the given type; a named source (``options["name"]``) gets its token from the settings.
        ``on_request`` is what the source calls for each request it sends (see ``PluginContext``)."""
        named = {s.name: s for s in settings.sources}.get(str(options.get("name", "")))
        context = replace(self.context("source", type_name, settings), source=options.get("name"),
                          token=named.token if named is not None else None)
        if on_request is not None:
            context = replace(context, on_request=on_request)
        source: Source = self.factory("source", type_name)(dict(options), context)
        return source

    def ocr_engine(self, settings: RuntimeSettings) -> OcrEngine:
        """The OCR engine the settings select."""
        engine: OcrEngine = self.factory("ocr", settings.ocr)(self.context("ocr", settings.ocr, settings))
        return engine

    def chunker(self, settings: RuntimeSettings) -> Chunker:
        """The chunker the settings select."""
        chunker: Chunker = self.factory("chunker", settings.chunker)(
            self.context("chunker", settings.chunker, settings))
        return chunker

    def embedder(self, settings: RuntimeSettings) -> Embedder:
        """The embedder the settings select."""
        embedder: Embedder = self.factory("embedder", settings.embedder)(
            self.context("embedder", settings.embedder, settings))
        return embedder

    def vector_store(self, settings: RuntimeSettings, dimension: int, model: str) -> VectorStore:
        """The vector store the settings select, for vectors of this model."""
        factory = self.factory("store", settings.store)
        store: VectorStore = factory(self.context("store", settings.store, settings), dimension, model)
        return store

    def keyword_index(self, settings: RuntimeSettings) -> KeywordIndex | None:
        """The keyword index the settings select (``settings.keyword_plugin``); None when they turn it off."""
        name = settings.keyword_plugin
        if name is None:
            return None
        index: KeywordIndex = self.factory("keywords", name)(self.context("keywords", name, settings))
        return index

    def keywords_are_local(self, settings: RuntimeSettings) -> bool:
        """Whether the selected keyword index says it lives in files of this machine's home."""
        name = settings.keyword_plugin
        if name is None:
            return False
        values = self.plugin_settings("keywords", name, settings)
        return isinstance(values, RemoteSettings) and not values.remote

    def store_is_remote(self, settings: RuntimeSettings) -> bool:
        """Whether the selected vector store is a server (it may hold an index without a local ledger)."""
        values = self.plugin_settings("store", settings.store, settings)
        return isinstance(values, RemoteSettings) and bool(values.remote)

    def store_is_local(self, settings: RuntimeSettings) -> bool:
        """Whether the selected vector store says it lives in files that one process at a time may write."""
        values = self.plugin_settings("store", settings.store, settings)
        return isinstance(values, RemoteSettings) and not values.remote

    def check_store_writers(self, settings: RuntimeSettings, stages: Collection[str]) -> None:
        """Raise ConfigurationError when workers of these stages would write a store only one process may write.

        A worker is always several processes (its processes, the isolation
        process that re-runs the suspects of a crash alone, other workers),
        and a persistent Chroma directory or a local-mode Qdrant path takes
        one writer. Stages that never open the store (extract, OCR) may run
        anywhere.
        """
        writing = [stage for stage in stages if stage in (Stage.EMBED, Stage.STORE)]
        if writing and not self.store_is_local(settings) and self.keywords_are_local(settings):
            raise ConfigurationError(
                f"the store stage writes the keyword index, and the {settings.keyword_plugin} keyword index is a "
                f"file in {settings.home}, which workers on other hosts do not share: use the PostgreSQL ledger's "
                "(DOCMILL_KEYWORD_INDEX=postgres, the default with a PostgreSQL ledger), or "
                "DOCMILL_KEYWORD_INDEX=none for dense search only")
        if not writing or not self.store_is_local(settings):
            return
        name = settings.store
        raise ConfigurationError(
            f"the {' and '.join(writing)} stage(s) write the vector store, and the {name} store is local (in "
            f"{settings.home}), which only one process may write, while a worker is several (its processes, the "
            f"isolation process, other workers): serve it from a server every worker reaches "
            f"({env_name(name, 'url')}; for Chroma, `chroma run --path DIR`), or run `docmill ingest` in one "
            "process instead")

    def check_settings(self, settings: RuntimeSettings) -> None:
        """Validate every ``[plugins.NAME]`` section now, so a bad value stops start-up.

        A section that no loaded plugin declares is reported and ignored: it may
        belong to a plugin switched off with DOCMILL_LOAD_PLUGINS.
        """
        declared: dict[str, str] = {}
        for kind in REGISTRY_HOOKS:
            for name, entry in self.registry(kind).items():
                if entry.settings is not None:
                    declared[name] = kind
        for name in settings.plugins:
            if name in declared:
                self.plugin_settings(declared[name], name, settings)
            else:
                log.warning("[plugins.%s] / %s__*: no loaded plugin named %r has settings, so these are ignored "
                            "(plugins with settings: %s)", name, env_name(name), name, ", ".join(sorted(declared)))

    def catalog(self, settings: RuntimeSettings, source_types: Collection[str] = ()) -> list[dict[str, Any]]:
        """Every plugin's contributions: kind, name, plugin, package, version, active, error.

        ``source_types`` are the source types the caller uses (settings select
        everything else). A registry that cannot be built (two plugins claim
        one name) is listed with its error rather than stopping the listing.
        """
        infos = {info.name: info for info in self.infos}
        selected: dict[str, set[str | None]] = {
            "store": {settings.store}, "embedder": {settings.embedder}, "chunker": {settings.chunker},
            "ocr": {settings.ocr}, "keywords": {settings.keyword_plugin}, "source": set(source_types)}

        def row(kind: str, name: str, plugin: str, active: bool, error: str | None = None) -> dict[str, Any]:
            info = infos.get(plugin)
            return {"kind": kind, "name": name, "plugin": plugin,
                    "package": info.package if info else "(registered at run time)",
                    "version": info.version if info else None, "active": active, "error": error}

        def with_settings(kind: str, name: str, entry: _Entry) -> dict[str, Any]:
            found = row(kind, name, entry.plugin, name in selected[kind])
            if entry.settings is not None:
                found["settings"] = {"section": f"[plugins.{name}]", "environment": f"{env_name(name)}__<FIELD>",
                                     "schema": entry.settings.model_json_schema()}
                try:
                    values = self.plugin_settings(kind, name, settings)
                    found["settings"]["values"] = masked(values) if values is not None else None
                except ConfigurationError as exc:
                    found["error"] = str(exc)
            return found

        rows = []
        for kind in REGISTRY_HOOKS:
            try:
                entries = self.registry(kind)
            except ConfigurationError as exc:
                rows.append(row(kind, "", "", False, str(exc)))
                continue
            rows += [with_settings(kind, name, entry) for name, entry in sorted(entries.items())]
        for impl in self.manager.hook.docmill_extractor.get_hookimpls():
            name = self.manager.get_name(impl.plugin) or repr(impl.plugin)
            rows.append(row("extractor", name, name, True))
        rows += [row("broken", "", i.name, False, i.error) for i in self.infos if i.error]
        return rows

    def extractor_for(self, blob: Blob) -> Extractor | None:
        """The first extractor that claims this blob, or None."""
        extractor: Extractor | None = self.manager.hook.docmill_extractor(blob=blob)
        return extractor


def _code(function: Callable[..., Any]) -> CodeType | None:
    return getattr(function, "__code__", None)


def _caller_plugin(authors: Mapping[CodeType | None, str]) -> str:
    """The plugin whose hook implementation is calling ``register`` (found on the call stack)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code in authors:
            return authors[frame.f_code]
        frame = frame.f_back  # type: ignore[assignment]
    return "(unknown plugin)"


def _distribution(ep: importlib.metadata.EntryPoint, known: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """The name and version of the package declaring ``ep``; each package's metadata is parsed once (every
    entry point carries its own copy, and parsing them all was 40 ms of every command's start)."""
    if ep.dist is None:
        return "?", "?"
    where = str(getattr(ep.dist, "_path", id(ep.dist)))
    if where not in known:
        known[where] = (ep.dist.name, ep.dist.version)
    return known[where]


def _allowed(ep: importlib.metadata.EntryPoint, dist: str, allow: set[str] | None) -> bool:
    if dist == BUILTIN_DISTRIBUTION or allow is None:
        return True
    return ep.name in allow or dist in allow


def _register(manager: pluggy.PluginManager, name: str, plugin: object) -> None:
    manager.register(plugin, name=name)
    try:
        manager.check_pending()  # a hook name with a typo is this plugin's bug
    except pluggy.PluginValidationError:
        manager.unregister(plugin)
        raise


def build_manager(entry_points: Iterable[importlib.metadata.EntryPoint],
                  allow: set[str] | None) -> Plugins:
    """A PluginManager with every allowed entry point registered."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    seen: set[str] = set()
    known: dict[str, tuple[str, str]] = {}
    # Built-ins first: pluggy asks later registrations first, so third-party
    # plugins get the first word in firstresult hooks.
    ordered = sorted(((ep, *_distribution(ep, known)) for ep in entry_points),
                     key=lambda found: found[1] != BUILTIN_DISTRIBUTION)
    for ep, dist, version in ordered:
        if ep.name in seen or not _allowed(ep, dist, allow):
            continue
        seen.add(ep.name)
        builtin = dist == BUILTIN_DISTRIBUTION
        try:
            _register(manager, ep.name, ep.load())
        except Exception as exc:  # a broken plugin must not stop docmill
            error = f"{type(exc).__name__}: {exc}"
            log.warning("plugin %r from %s %s could not be loaded and is left out: %s", ep.name, dist, version, error)
            infos.append(PluginInfo(ep.name, dist, version, builtin, error))
            continue
        infos.append(PluginInfo(ep.name, dist, version, builtin))
    return Plugins(manager, infos)


_cache: dict[tuple[str, ...] | None, Plugins] = {}
_cache_lock = threading.Lock()


def load_plugins(allow: Sequence[str] | None = None) -> Plugins:
    """The process's plugins, loaded from entry points once per allow-list."""
    key = tuple(sorted(allow)) if allow is not None else None
    with _cache_lock:
        if key not in _cache:
            eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
            plugins = build_manager(eps, set(key) if key is not None else None)
            if not any(info.builtin and info.error is None for info in plugins.infos):
                raise ConfigurationError(
                    "docmill's built-in plugins are missing: install the package (pip install -e .) "
                    "rather than running it from a source tree"
                )
            _cache[key] = plugins
        return _cache[key]
