"""The Office and mail extractor on files real office programs wrote (tests/data/office) and on files the
libraries write (docmill.testing.office_files): text, sections, sheets, slides, notes, mail metadata and
attachments."""

from __future__ import annotations

from pathlib import Path

import pytest

from docmill.core.attachments import safe_name
from docmill.core.errors import CorruptDocument, UnsupportedDocument
from docmill.core.sniff import media_type_of
from docmill.core.values import Blob, Extracted, Limits
from docmill.plugins.office import OfficeExtractor
from docmill.testing import office_files as make

DATA = Path(__file__).parent.parent / "data" / "office"
LIMITS = Limits(max_file_size=10**9, max_pages=2000, max_pixels=100_000_000, ocr_timeout=60, ocr_dpi=300)


def _read(name: str, data: bytes | None = None) -> Extracted:
    data = (DATA / name).read_bytes() if data is None else data
    return OfficeExtractor().extract(Blob(name, data, media_type_of(name, data)), LIMITS)


def _sections(found: Extracted) -> dict[str | None, str]:
    return {page.section: page.text for page in found.pages}


@pytest.mark.parametrize("name", ["contract.docx", "contract.odt"])
def test_a_word_document_by_libreoffice_reads_by_heading_with_its_table_a_row_per_line(name: str) -> None:
    sections = _sections(_read(name))
    assert list(sections) == ["Supply contract", "Supply contract › 4 Payment terms", "Supply contract › 5 Delivery"]
    terms = sections["Supply contract › 4 Payment terms"]
    assert "within thirty days of delivery" in terms
    assert "Item: Oak shelf | Quantity: 12 | Price: 140 EUR" in terms.splitlines()
    assert "back door before the spring fair" in sections["Supply contract › 5 Delivery"]
    assert all(page.number is None for page in _read(name).pages)  # Word files state no pages


def test_rtf_by_libreoffice_reads_as_text() -> None:
    [page] = _read("contract.rtf").pages
    assert "within thirty days of delivery" in page.text and "Walnut counter" in page.text


@pytest.mark.parametrize("name", ["budget.xlsx", "budget.ods", "budget.xls"])
def test_each_sheet_is_a_page_named_as_the_sheet_with_a_row_per_line_under_its_header(name: str) -> None:
    pages = _read(name).pages
    assert [(p.number, p.section) for p in pages] == [(1, "Budget"), (2, "Staff")]
    assert pages[0].text.splitlines()[::2] == ["Region | Quarter | Spend", "Region: North | Quarter: Q1 | Spend: 4200",
                                              "Region: South | Quarter: Q1 | Spend: 3100"]
    assert "Name: Mira Okafor | Role: Head beekeeper" in pages[1].text


@pytest.mark.parametrize("name", ["deck.pptx", "deck.odp"])
def test_each_slide_is_a_page_with_its_title_as_section_and_its_speaker_notes(name: str) -> None:
    pages = _read(name).pages
    assert [(p.number, p.section) for p in pages] == [(1, "Orchard plan 2026"), (2, "Beehives"), (3, "Honey yield")]
    assert "Speaker notes: Remind the board that the saplings arrive in November." in pages[0].text
    assert "Hive: Hive 2 | Kilograms: 23" in pages[2].text


def test_an_outlook_message_gives_its_body_metadata_and_attachment() -> None:
    found = _read("outlook-with-image.msg")
    assert found.metadata["subject"] == "Re: test internal"
    assert found.metadata["from"].endswith("<bedfortest@tutanota.de>")
    assert found.metadata["date"] == "2020-10-06T09:57:46+00:00"
    assert "asdfasdf" in found.pages[0].text
    [image] = found.attachments
    assert (image.name, image.media_type, image.data[:3]) == ("serveimage.jpg", "image/jpeg", b"\xff\xd8\xff")
    plain = _read("outlook-plain.msg")
    assert "date" not in plain.metadata  # a FILETIME of zero is no date
    assert plain.pages[0].text.endswith("This is a message") and not plain.attachments


def test_a_generated_word_document_keeps_heading_paths_and_its_title_opens_the_first_section() -> None:
    sections = _sections(_read("gen.docx", make.docx(2, 2)))
    assert list(sections) == ["Contract › 1 Payment terms", "Contract › 2 Clause 2"]
    assert sections["Contract › 1 Payment terms"].startswith("Contract\n\n1 Payment terms\n\nClause 1.0")


@pytest.mark.parametrize(("name", "maker"), [("macro.docm", make.docm), ("macro.xlsm", make.xlsm)])
def test_a_macro_enabled_file_is_read_and_its_macro_never_runs(name: str, maker: object) -> None:
    marker = Path("/tmp/docmill-macro-ran")
    marker.unlink(missing_ok=True)
    data = maker()  # type: ignore[operator]
    assert media_type_of(name, data).endswith("macroEnabled.12")
    found = _read(name, data)
    assert found.pages and any("Budget" in (p.section or "") or "Clause" in p.text for p in found.pages)
    assert not marker.exists()


def test_a_mail_gives_its_headers_as_metadata_its_body_and_its_attachments() -> None:
    found = _read("mail.eml", make.eml(in_reply_to="<start@example.org>"))
    assert found.metadata == {
        "from": "alice@example.org", "to": ["bob@example.org", "carol@example.org"], "cc": ["dave@example.org"],
        "subject": "Hives and shelves", "date": "2026-03-02T10:00:00+00:00", "message_id": "<m1@example.org>",
        "thread": "<start@example.org>"}
    [page] = found.pages
    assert page.section == "Hives and shelves" and page.text.endswith("the contract are attached.\n")
    assert [(a.name, a.media_type) for a in found.attachments] == [("invoice.pdf", "application/pdf"),
                                                                   ("contract.docx", make.DOCX_TYPE)]
    assert found.attachments[0].data.startswith(b"%PDF-")


def test_an_html_only_mail_is_read_as_text_and_a_forwarded_mail_is_an_attachment() -> None:
    inner = make.eml("Original swarm report", "The swarm settled in the old apple tree.", [])
    found = _read("fwd.eml", make.eml("Fwd: swarm", "<b>See below</b>", [("report.eml", inner, "message/rfc822")],
                                      html=True))
    assert "See below" in found.pages[0].text and "<b>" not in found.pages[0].text
    [forwarded] = found.attachments
    assert forwarded.media_type == "message/rfc822" and b"The swarm settled" in forwarded.data
    assert found.metadata["thread"] == "<m1@example.org>"  # its own first message


def test_a_mailbox_gives_each_message_as_an_attachment(tmp_path: Path) -> None:
    make.mbox(tmp_path / "swarms.mbox", 3)
    found = _read("swarms.mbox", (tmp_path / "swarms.mbox").read_bytes())
    assert found.pages == [] and found.metadata == {"messages": 3}
    assert [a.name for a in found.attachments] == [f"Swarm report {n}.eml" for n in (1, 2, 3)]
    second = _read("m.eml", found.attachments[1].data)
    assert second.metadata["thread"] == "<swarm1@example.org>" and "number 2 settled" in second.pages[0].text


def test_a_mail_with_a_malformed_header_is_read_without_it() -> None:
    data = make.eml(attachments=[]).replace(b"Date: Mon, 02 Mar 2026 10:00:00 +0000", b"Date: the day after \xff")
    found = _read("bad.eml", data)
    assert "date" not in found.metadata and found.metadata["subject"] == "Hives and shelves"


@pytest.mark.parametrize(("name", "maker", "media_type"), [
    ("x", make.docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("x", make.xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("x", make.pptx, "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("x", make.eml, "message/rfc822"),
])
def test_formats_are_told_by_their_content(name: str, maker: object, media_type: str) -> None:
    assert media_type_of(name, maker()) == media_type  # type: ignore[operator]


def test_real_files_are_told_by_their_content_alone() -> None:
    told = {path.name: media_type_of("no-name", path.read_bytes()) for path in sorted(DATA.glob("*.*"))
            if path.suffix != ".md"}
    assert told == {
        "budget.ods": "application/vnd.oasis.opendocument.spreadsheet", "budget.xls": "application/vnd.ms-excel",
        "budget.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "contract.docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "contract.odt": "application/vnd.oasis.opendocument.text", "contract.rtf": "application/rtf",
        "deck.odp": "application/vnd.oasis.opendocument.presentation",
        "deck.pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "encrypted.docx": "application/x-encrypted-office",
        "outlook-plain.msg": "application/vnd.ms-outlook", "outlook-with-image.msg": "application/vnd.ms-outlook"}


def test_a_name_that_contradicts_the_content_is_a_wrong_type_and_a_text_file_holding_a_mail_stays_text() -> None:
    with pytest.raises(UnsupportedDocument) as wrong:
        media_type_of("budget.docx", make.xlsx())
    assert wrong.value.kind == "wrong type" and "a spreadsheet, not a Word document" in wrong.value.reason
    assert media_type_of("notes.txt", make.eml(attachments=[])) == "text/plain"


def test_attachment_names_lose_paths_control_characters_and_key_separators() -> None:
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\x\\invoice.pdf") == "invoice.pdf"
    assert safe_name("in\x07voice\u202e.pdf\n") == "invoice.pdf"
    assert safe_name("a#b.txt") == "a_b.txt"
    assert safe_name("...") == "attachment" and safe_name(None) == "attachment"
    assert len(safe_name("x" * 500)) == 120


def test_a_reader_that_divides_by_zero_on_a_damaged_file_says_the_file_is_damaged(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a mutated file once made a reader divide by a count read from it (the hostile-file property test)
    from docmill.plugins import office

    def divide(blob: Blob, limits: Limits) -> Extracted:
        return 1 // 0  # type: ignore[return-value]

    monkeypatch.setitem(office.READERS, "application/rtf", divide)
    with pytest.raises(CorruptDocument) as failed:
        OfficeExtractor().extract(Blob("a.rtf", b"{\\rtf1 x}", "application/rtf"),
                                 Limits(10**8, 200, 10**7, 30, 150, 10**6))
    assert "damaged" in failed.value.reason and "ZeroDivisionError" in failed.value.reason
