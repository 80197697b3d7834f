"""What the stages share in one process: settings (``core.config``), plugins, ledger, and the parts built from them.

Heavy parts (the embedding model, the vector store client, the OCR engine)
are built on first use, once, each under its own lock: a re-ingest with
nothing to do never loads a model, two threads never load it twice, and
opening the store never holds up a thread that needs the parsing processes.
A process that runs every stage (embedded mode) starts them in the
background as soon as discovery has found work (:meth:`Runtime.expect_work`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .config import RuntimeSettings
from .errors import UnsupportedDocument
from .events import SILENT, Events
from .indexes import paired
from .interfaces import Chunker, Embedder, Extractor, OcrEngine, Signed, Source, VectorStore
from .keyword_fill import fill_keywords, needs_fill
from .ledger import Ledger
from .plugins import Plugins, load_plugins
from .sandbox import ParsePool
from .values import Blob, Extracted, Page, PageImage, Task

__all__ = ["Runtime"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_unsigned: set[str] = set()  # plugins already warned about


def _signature(part: Chunker | Embedder, kind: str) -> str:
    if isinstance(part, Signed):
        return part.signature
    if part.name not in _unsigned:
        _unsigned.add(part.name)
        log.warning("the %s %r states no signature: changing its options will not process documents again",
                    kind, part.name)
    return part.name


class Runtime:
    """Settings, plugins, ledger and lazily built plugin instances for the stages.

    ``send`` delivers a :class:`~docmill.core.values.Task` to the next stage;
    the transport (Dramatiq) supplies it, so the core never imports one.
    ``send_all`` delivers several at once, in one round trip where the
    transport can (discovery sends a batch of documents that way).
    ``recover_pending`` says that no other process can hold in-flight work on
    this ledger (embedded mode holds a lock on the home directory), so a
    document left pending by an interrupted run is restarted by discovery.
    ``events`` hears what is worth counting (see :mod:`docmill.core.events`).
    """

    def __init__(self, settings: RuntimeSettings, *, send: Callable[[Task], None] | None = None,
                 plugins: Plugins | None = None, ledger: Ledger | None = None,
                 recover_pending: bool = False, warm_up: bool = False, events: Events = SILENT) -> None:
        self.settings = settings
        self.events = events
        self.plugins = plugins or load_plugins(settings.load_plugins)
        if ledger is None and settings.ledger_url is None:
            settings.home.mkdir(parents=True, exist_ok=True)  # the default ledger lives in the home
        self.ledger = ledger or Ledger(settings.ledger_database_url, job_history=settings.job_history_days * 86400)
        self._send = send
        self._send_all: Callable[[Sequence[Task]], None] | None = None
        self.recover_pending = recover_pending
        self.warm_up = warm_up
        self.limits = settings.limits
        self._lock = threading.RLock()
        self._part_locks: dict[str, threading.Lock] = {}
        self._parts: dict[str, Any] = {}
        self._warming: threading.Thread | None = None
        self._sources: dict[str, Source] = {}

    def connect(self, send: Callable[[Task], None], send_all: Callable[[Sequence[Task]], None] | None = None) -> None:
        """Attach the transport that delivers tasks to the next stage (``send_all``: several in one go)."""
        self._send, self._send_all = send, send_all

    def send(self, task: Task) -> None:
        """Hand a task to the transport."""
        if self._send is None:
            raise RuntimeError("this Runtime was built without a transport and cannot send tasks")
        self._send(task)

    def send_all(self, tasks: Sequence[Task]) -> None:
        """Hand several tasks to the transport: all of them are with it when this returns, or it raised."""
        if not tasks:
            return
        if self._send_all is not None:
            self._send_all(tasks)
            return
        for task in tasks:
            self.send(task)

    def _part(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name in self._parts:
                part: T = self._parts[name]
                return part
            lock = self._part_locks.setdefault(name, threading.Lock())
        with lock:  # one builder per part; other parts stay free meanwhile
            if name not in self._parts:
                built = build()
                with self._lock:
                    self._parts[name] = built
            part = self._parts[name]
            return part

    def expect_work(self) -> None:
        """Discovery found documents to process: with ``warm_up`` (a process that runs every stage), start in
        the background what processing them needs, the parsing processes, the vector store and the model,
        so that the first document to reach the embed stage does not wait for them in turn."""
        with self._lock:
            if not self.warm_up or self._warming is not None:
                return
            self._warming = threading.Thread(target=self._warm, name="docmill-warm-up", daemon=True)
        self.parsers.warm()
        self._warming.start()

    def _warm(self) -> None:
        try:
            _ = self.store  # which builds the embedder (the store is made for its vectors)
            warm = getattr(self.embedder, "warm", None)
            if callable(warm):
                warm()
        except Exception:  # the stage that needs the part builds it again and reports the error there
            log.debug("warming up the store and the model failed", exc_info=True)

    @property
    def chunker(self) -> Chunker:
        return self._part("chunker", lambda: self.plugins.chunker(self.settings))

    @property
    def embedder(self) -> Embedder:
        return self._part("embedder", lambda: self.plugins.embedder(self.settings))

    @property
    def store(self) -> VectorStore:
        """The vector store, paired with the keyword index when one is configured (``core.indexes``): the
        stages write both. An index that lacks the keyword index's chunks is filled first (``core.keyword_fill``)."""
        def build() -> VectorStore:
            embedder = self.embedder
            vectors = self.plugins.vector_store(self.settings, embedder.dimension, embedder.model)
            try:
                keywords = self.plugins.keyword_index(self.settings)
            except BaseException:
                vectors.close()
                raise
            if keywords is not None:
                try:
                    if needs_fill(self.ledger, keywords, vectors, self.settings.collection):
                        fill_keywords(self.ledger, vectors, keywords, self.settings.collection)
                except BaseException:
                    keywords.close()
                    vectors.close()
                    raise
            return paired(vectors, keywords)

        return self._part("store", build)

    @property
    def parsers(self) -> ParsePool:
        """The child processes that parse untrusted bytes (started on first use)."""
        processes = self.settings.parse_processes
        return self._part("parsers", lambda: ParsePool(
            self.settings.cpu_count if processes is None else processes,
            memory=int(self.settings.max_parse_memory), timeout=self.settings.parse_timeout))

    def extract(self, blob: Blob) -> Extracted:
        """The blob's pages, metadata and attachments, read by its extractor in a parsing process (see
        ``core/sandbox.py``)."""
        found: list[Page] | Extracted = self.parsers.run(self.extractor_for(blob), "extract", blob, self.limits,
                                                         what=f"this {blob.media_type} file")
        return found if isinstance(found, Extracted) else Extracted(list(found))

    def render(self, blob: Blob, pages: Sequence[int]) -> list[PageImage]:
        """Images of these pages for OCR, rendered in a parsing process."""
        images: list[PageImage] = self.parsers.run(self.extractor_for(blob), "render", blob, list(pages),
                                                   self.limits, what=f"pages of this {blob.media_type} file")
        return images

    @property
    def ocr_engine(self) -> OcrEngine | None:
        """The OCR engine, or None when settings turn OCR off."""
        if self.settings.ocr == "none":
            return None
        return self._part("ocr", lambda: self.plugins.ocr_engine(self.settings))

    @property
    def signature(self) -> str:
        """Identifies the chunker's and the embedder's settings, as each states them: changing them
        re-processes documents. Computed once: discovery asks for every document."""
        def build() -> str:
            text = f"{_signature(self.chunker, 'chunker')}|{_signature(self.embedder, 'embedder')}"
            return hashlib.sha256(text.encode()).hexdigest()[:16]

        return self._part("signature", build)

    @property
    def code_version(self) -> str:
        """docmill's version and every loaded plugin's: a document that failed with a bug (an internal
        error) is tried again when this changes, not on every ingest."""
        from .. import __version__

        parts = [f"docmill {__version__}", *sorted(f"{i.package} {i.version}" for i in self.plugins.infos)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def check(self) -> None:
        """Build the cheap parts now so bad settings fail at start-up, not mid-run."""
        self.plugins.check_settings(self.settings)
        self.plugins.factory("store", self.settings.store)  # opening it would be slow
        if self.settings.keyword_plugin is not None:
            self.plugins.factory("keywords", self.settings.keyword_plugin)
        _ = self.chunker, self.embedder, self.ocr_engine

    def close(self) -> None:
        """Close the parts that hold clients, files or locks (the vector store, sources), then the ledger."""
        if self._warming is not None:
            self._warming.join()  # a store it is opening is closed below, not left open behind it
        with self._lock:
            store = self._parts.pop("store", None)
            if store is not None:
                store.close()
            parsers = self._parts.pop("parsers", None)
            if parsers is not None:
                parsers.close()
            for source in self._sources.values():  # HTTP clients, files
                source.close()
            self._sources.clear()
        self.ledger.close()

    def source(self, source_id: str) -> Source:
        """The source the ledger knows under ``source_id``, built once per process."""
        with self._lock:
            if source_id not in self._sources:
                found = self.ledger.sources.get(source_id)
                if found is None:
                    raise RuntimeError(f"unknown source {source_id!r}: it was never registered in this ledger")
                type_name, options = found
                label = str(options.get("name") or type_name)
                self._sources[source_id] = self.plugins.source(
                    type_name, options, self.settings, on_request=lambda: self.events.source_request(label))
            return self._sources[source_id]

    def extractor_for(self, blob: Blob) -> Extractor:
        """The extractor that reads this blob, or UnsupportedDocument."""
        extractor = self.plugins.extractor_for(blob)
        if extractor is None:
            raise UnsupportedDocument(f"no extractor reads {blob.media_type} files")
        return extractor
