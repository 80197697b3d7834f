"""One-off upgrades of an index an older release wrote, each done once per ledger and store.

``label_access``: chunks written before grants (``core.access``) carry no
``access`` field, so no API caller sees them (an allow-list passes nothing
it does not name). A store that can (``GrantingStore``) gives each such
chunk the grant of its document key in bulk; any other relabelling store has
each indexed document's chunks relabelled with its metadata as the store
stage writes it now. The ledger then remembers that this store's collection
is done.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .access import access_of
from .document_steps import chunk_metadata
from .errors import DocmillError
from .interfaces import GrantingStore, RelabellingStore, VectorStore
from .ledger_records import State

__all__ = ["access_upgrade", "label_access"]

log = logging.getLogger(__name__)

#: Documents read from the ledger at a time.
PAGE = 500
#: Seconds between progress lines.
REPORT_EVERY = 10.0


def access_upgrade(store: str, collection: str) -> str:
    """The name under which the ledger remembers that this store's collection carries grants."""
    return f"access-labels:{store}:{collection}"


def label_access(ledger: Any, store: VectorStore, name: str) -> int:
    """Give every indexed chunk its grant, once (``name``: :func:`access_upgrade`): in bulk where the store can
    (``GrantingStore``; how many chunks), else by relabelling each document (how many documents); 0 when it
    was done before. A store that can do neither is left as it is, with a warning: its older chunks stay hidden
    from every caller until their documents are processed again."""
    if ledger.upgrades.done(name):
        return 0
    if isinstance(store, GrantingStore):  # in bulk: 2,000 documents' chunks relabelled one by one took 100 s
        log.info("labelling indexed chunks with who may see them (once, after an upgrade)",
                 extra={"event": "upgrade.access.started"})
        given = store.grant_unlabelled(access_of)
        ledger.upgrades.record(name)
        log.info("labelled %d chunks", given, extra={"event": "upgrade.access.done"})
        return given
    if not isinstance(store, RelabellingStore):
        log.warning("the %s store cannot relabel chunks: chunks written before this release stay hidden from "
                    "the API's callers until their documents are processed again", store.name,
                    extra={"event": "upgrade.access.skipped"})
        ledger.upgrades.record(name)
        return 0
    log.info("labelling indexed chunks with who may see them (once, after an upgrade)",
             extra={"event": "upgrade.access.started"})
    done, after, reported = 0, None, time.monotonic()
    while page := ledger.documents.documents_after(after, PAGE):
        for doc in page:
            if doc.state == State.DELETING:  # its chunks are being removed
                continue
            try:
                store.relabel(doc.key, doc=doc.name, metadata=chunk_metadata(doc))
            except DocmillError as exc:  # one document's chunks stay hidden; its next processing labels them
                log.warning("could not label the chunks of %s: %s", doc.key, exc.reason,
                            extra={"event": "upgrade.access.failed"})
            done += 1
        after = page[-1].key
        if time.monotonic() - reported > REPORT_EVERY:
            reported = time.monotonic()
            log.info("labelled the chunks of %d documents so far", done, extra={"event": "upgrade.access.progress"})
    ledger.upgrades.record(name)
    log.info("labelled the chunks of %d documents", done, extra={"event": "upgrade.access.done"})
    return done
