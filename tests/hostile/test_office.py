"""Hostile Office files and mails: each ends with its kind, within the parsing limits, the good files beside
them done; and mutated Office files and mails end with pages or a kind, never an internal error.

Every input is made here (tests/hostile/office_generators.py) but for the encrypted Word document
(tests/data/office). The ingest runs the real pipeline, with the limits of tests/hostile/test_files.py and
small attachment and mailbox caps.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from docmill.core.errors import DocmillError, PermanentError
from docmill.core.sandbox import ParsePool
from docmill.core.sniff import media_type_of
from docmill.core.values import Blob, Limits
from docmill.plugins.office import OfficeExtractor
from docmill.plugins.text_extractor import TextExtractor
from docmill.testing import office_files as make

from ..conftest import Cli
from . import office_generators as hostile
from .test_files import LIMITS as FILE_LIMITS
from .test_files import _peak_rss_mib
from .test_properties import KINDS, mutated

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent.parent / "data" / "office"
LIMITS = {**FILE_LIMITS, "DOCMILL_MAX_ATTACHMENTS": "20", "DOCMILL_MAX_MESSAGES": "5"}

#: file name -> (how to make it, the state and kind it must end with)
HOSTILE: dict[str, tuple[Any, tuple[str, str | None]]] = {
    "bomb.docx": (hostile.docx_bomb, ("failed", "too large")),
    "bomb.odt": (hostile.odt_bomb, ("failed", "too large")),
    "huge-shared-strings.xlsx": (hostile.huge_shared_strings, ("failed", "too large")),
    "entities.docx": (hostile.docx_with_entities, ("failed", "corrupt")),
    "entities.odt": (hostile.odt_with_entities, ("failed", "corrupt")),
    "million-rows.xlsx": (hostile.million_rows, ("failed", "too large")),
    "encrypted.docx": (lambda path: shutil.copy(DATA / "encrypted.docx", path), ("failed", "encrypted")),
    "macro.docm": (lambda path: path.write_bytes(make.docm()), ("done", None)),
    "mime-bomb.eml": (hostile.mime_bomb, ("failed", "too large")),
    "many-attachments.eml": (lambda path: hostile.many_attachments(path, 25), ("failed", "too many attachments")),
    "big.mbox": (lambda path: make.mbox(path, 6), ("failed", "too many messages")),
    "malformed-header.eml": (lambda path: path.write_bytes(make.eml(attachments=[]).replace(
        b"Date: Mon, 02 Mar 2026 10:00:00 +0000", b"Date: =?utf-8?q?=FF broken\r\n\tX-: \xff")), ("done", None)),
    "odd-names.eml": (hostile.hostile_names, ("done", None)),
    "nested.eml": (lambda path: hostile.nested_mails(path, 5), ("done", None)),
}
GOOD = {"a.txt": "Beekeeping in winter: the colony clusters around the queen.",
        "contract.docx": DATA / "contract.docx", "budget.xlsx": DATA / "budget.xlsx"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = tmp_path_factory.mktemp("hostile-office") / "docs"
    docs.mkdir()
    for name, (maker, _) in HOSTILE.items():
        maker(docs / name)
    for name, content in GOOD.items():
        if isinstance(content, Path):
            shutil.copy(content, docs / name)
        else:
            (docs / name).write_text(content)
    return docs


@pytest.mark.usefixtures("stub_embedder")
def test_every_hostile_office_file_ends_with_its_kind_and_the_others_end_done(folder: Path, cli: Cli) -> None:
    started = time.monotonic()
    summary = cli.json("ingest", str(folder), env=LIMITS)
    took = time.monotonic() - started
    items = {item["doc"]: item for item in cli.json("status", summary["job"], "--limit", "0", env=LIMITS)["items"]}
    for name, (_, (state, kind)) in HOSTILE.items():
        assert (items[name]["state"], items[name]["error"]) == (state, kind), (name, items[name])
    for name in GOOD:
        assert items[name]["state"] == "done", (name, items[name])
    # Names with paths and control characters are made safe, and their files read.
    odd = sorted(doc for doc in items if doc.startswith("odd-names.eml › "))
    assert odd == ["odd-names.eml › bell[31mred.txt", "odd-names.eml › evil.txt", "odd-names.eml › gpj.txt"]
    assert all(items[doc]["state"] == "done" for doc in odd)
    # A mail in a mail in a mail...: read to DOCMILL_MAX_ATTACHMENT_DEPTH (3), deeper is skipped with its kind.
    nested = sorted((doc.count(" › "), items[doc]["state"], items[doc]["error"]) for doc in items
                    if doc.startswith("nested.eml › "))
    assert nested == [(1, "done", None), (2, "done", None), (3, "done", None), (4, "skipped", "too deep")]
    assert took < 240, f"the hostile office ingest took {took:.0f} s"
    # The macro was read, never run.
    assert not Path("/tmp/docmill-macro-ran").exists()


@pytest.mark.parametrize("name", ["bomb.docx", "bomb.odt", "huge-shared-strings.xlsx", "million-rows.xlsx",
                                  "mime-bomb.eml"])
def test_an_office_bomb_fails_within_the_parsing_process_memory(folder: Path, name: str) -> None:
    data = (folder / name).read_bytes()
    pool = ParsePool(1, memory=2**30, timeout=30)
    try:
        started = time.monotonic()
        with pytest.raises(PermanentError) as failed:
            pool.run(OfficeExtractor(), "extract", Blob(name, data, media_type_of(name, data)),
                     Limits(10**9, 2000, 10**8, 60, 300, 1_000_000))
        assert failed.value.kind == "too large" and time.monotonic() - started < 30, failed.value.reason
        [child] = pool._idle
        assert _peak_rss_mib(child.process.pid) < 1024, failed.value
    finally:
        pool.close()


SEEDS = {"a.docx": (DATA / "contract.docx").read_bytes(), "b.xlsx": (DATA / "budget.xlsx").read_bytes(),
         "c.pptx": (DATA / "deck.pptx").read_bytes(), "d.odt": (DATA / "contract.odt").read_bytes(),
         "e.rtf": (DATA / "contract.rtf").read_bytes(),
         "f.eml": make.eml(attachments=[("n.txt", b"a note", "text/plain")]),
         "g.msg": (DATA / "outlook-plain.msg").read_bytes(), "h.xls": (DATA / "budget.xls").read_bytes()}
RAN: dict[str, int] = {}


@pytest.fixture(scope="module")
def pool() -> Iterator[ParsePool]:
    parsers = ParsePool(2, memory=2**30, timeout=20)
    yield parsers
    parsers.close()
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(RAN.items()))
    print(f"\nhostile office property run: {sum(RAN.values())} cases ({counts})")


@settings(max_examples=1000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated(SEEDS))
def test_mutated_office_files_end_with_pages_or_a_kind_never_an_internal_error(pool: ParsePool,
                                                                              case: tuple[str, bytes]) -> None:
    name, data = case
    try:
        blob = Blob(name, data, media_type_of(name, data))
        extractor = TextExtractor() if blob.media_type.startswith("text/") else OfficeExtractor()
        found = pool.run(extractor, "extract", blob, Limits(10**8, 200, 20_000_000, 30, 150, 2_000_000))
        outcome = "pages"
        assert found is not None
    except DocmillError as exc:
        outcome = exc.kind
        assert exc.kind in KINDS | {"too many attachments"}, (name, exc.kind, exc.reason)
    RAN[outcome] = RAN.get(outcome, 0) + 1
