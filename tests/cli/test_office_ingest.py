"""A folder of every Office and mail format, ingested as a user would: each document done, each attachment a
child document searchable with its provenance, and a mail's children replaced and removed with it."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from docmill.testing import office_files as make

from ..conftest import Cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("stub_embedder")]

DATA = Path(__file__).parent.parent / "data" / "office"
REAL = ["contract.docx", "contract.odt", "contract.rtf", "budget.xlsx", "budget.ods", "budget.xls", "deck.pptx",
        "deck.odp", "outlook-plain.msg"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in REAL:
        shutil.copy(DATA / name, docs / name)
    (docs / "macro.docm").write_bytes(make.docm())
    (docs / "macro.xlsm").write_bytes(make.xlsm())
    (docs / "mail.eml").write_bytes(make.eml())  # a PDF and a Word document attached
    make.mbox(docs / "swarms.mbox", 3)
    return docs


def _search(cli: Cli, query: str, *where: str, k: int = 3) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = cli.json("search", query, "-k", str(k), *(f"--where={w}" for w in where))
    return hits


def test_every_format_ingests_done_with_attachments_as_children_searchable_with_their_provenance(
        folder: Path, cli: Cli, exported: Any) -> None:
    summary = cli.json("ingest", str(folder))
    assert (summary["failed"], summary["skipped"]) == (0, 0), cli("status").stdout
    job = cli.json("status", summary["job"], "--limit", "0")
    items = {item["doc"]: item for item in job["items"]}
    children = {doc: item["parent"] for doc, item in items.items() if item["parent"]}
    assert all(item["state"] == "done" for item in items.values()), items
    assert set(children) == {"mail.eml › invoice.pdf", "mail.eml › contract.docx", "swarms.mbox › Swarm report 1.eml",
                             "swarms.mbox › Swarm report 2.eml", "swarms.mbox › Swarm report 3.eml"}
    assert children["mail.eml › invoice.pdf"] == items["mail.eml"]["key"]
    assert summary["done"] == len(REAL) + 4 + len(children)
    # Children show under their parent.
    plain = cli("status", summary["job"], "--limit", "0").stdout.splitlines()
    at = next(i for i, line in enumerate(plain) if line.endswith("  mail.eml"))
    assert plain[at + 1].endswith("└─ invoice.pdf") and plain[at + 2].endswith("└─ contract.docx")

    [hit] = _search(cli, "Invoice 4471 twelve beehives delivered", k=1)
    assert (hit["doc"], hit["page"]) == ("mail.eml › invoice.pdf", 1)
    assert hit["metadata"]["parent"] == "mail.eml" and hit["metadata"]["attachment"] == "invoice.pdf"
    [mail] = _search(cli, "attached", "from=alice@example.org", "to=carol@example.org", "doc=mail.eml", k=1)
    assert mail["metadata"]["subject"] == "Hives and shelves" and mail["metadata"]["cc"] == ["dave@example.org"]
    # Provenance: a sheet by name, a slide by number with its title, a heading path.
    sheets = _search(cli, "Mira Okafor head beekeeper", "section=Staff", k=10)
    assert {h["doc"] for h in sheets} == {"budget.xlsx", "budget.ods", "budget.xls"}
    assert all(h["page"] == 2 and "Role: Head beekeeper" in h["text"] for h in sheets)
    slides = _search(cli, "saplings arrive in November", "doc=deck.pptx", k=1)
    assert (slides[0]["page"], slides[0]["metadata"]["section"]) == (1, "Orchard plan 2026")
    assert "Speaker notes" in slides[0]["text"]
    terms = _search(cli, "thirty days of delivery", "section=Supply contract › 4 Payment terms", k=10)
    assert {h["doc"] for h in terms} == {"contract.docx", "contract.odt"}
    chunks = exported()
    assert {c["metadata"].get("section") for c in chunks if c["doc"] == "deck.odp"} == {
        "Orchard plan 2026", "Beehives", "Honey yield"}
    threads = {c["metadata"].get("thread") for c in chunks if c["doc"].startswith("swarms.mbox › ")}
    assert threads == {"<swarm1@example.org>"}


def test_a_changed_mail_replaces_its_children_and_a_deleted_mail_removes_them(folder: Path, cli: Cli,
                                                                             exported: Any) -> None:
    for name in list(folder.iterdir()):
        name.unlink()
    pdf = make.pdf("Invoice 4471: twelve beehives delivered to the orchard in March.")
    (folder / "mail.eml").write_bytes(make.eml(attachments=[("invoice.pdf", pdf, "application/pdf"),
                                                            ("contract.docx", make.docx(1, 1), make.DOCX_TYPE)]))
    assert cli.json("ingest", str(folder))["done"] == 3
    invoice = {c["id"] for c in exported() if c["doc"] == "mail.eml › invoice.pdf"}
    (folder / "mail.eml").write_bytes(make.eml(body="Bob, only the invoice this time.",
                                               attachments=[("invoice.pdf", pdf, "application/pdf")]))
    changed = cli.json("ingest", str(folder))
    # The mail is read again; its invoice, the same bytes, stays as it is; the contract it no longer carries goes.
    assert (changed["done"], changed["deleted"], changed["unchanged"]) == (1, 1, 1), changed
    docs = {c["doc"] for c in exported()}
    assert docs == {"mail.eml", "mail.eml › invoice.pdf"}
    assert {c["id"] for c in exported() if c["doc"] == "mail.eml › invoice.pdf"} == invoice  # kept, not redone
    (folder / "mail.eml").unlink()
    gone = cli.json("ingest", str(folder))
    assert gone["deleted"] == 2 and exported() == []
    assert cli.json("status")["documents"]["total"] == 0


def test_office_files_an_older_docmill_failed_as_unsupported_are_read_on_the_next_ingest(
        tmp_path: Path, home: Path, cli: Cli) -> None:
    docs = tmp_path / "upgrade"
    docs.mkdir()
    shutil.copy(DATA / "contract.docx", docs / "contract.docx")
    assert cli.json("ingest", str(docs))["done"] == 1
    # As the release before this one left it: failed for good, no extractor read the type.
    with sqlite3.connect(home / "ledger.db") as db:
        db.execute("UPDATE documents SET state = 'failed', error_kind = 'unsupported', error_permanent = 1, "
                   "code_version = NULL, error = 'no extractor reads application/zip files'")
    again = cli.json("ingest", str(docs))
    assert (again["done"], again["unchanged"]) == (1, 0)
    assert cli.json("ingest", str(docs))["unchanged"] == 1  # and then left alone
