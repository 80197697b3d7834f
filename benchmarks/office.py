"""Office and mail benchmark: docmill's extraction in its parsing processes against each library's bare call.

    .venv/bin/python benchmarks/office.py [--copies 12] [--rounds 3] [--out DIR]

For each format, a corpus of files (tests/data/office, written by
LibreOffice and Outlook, and files docmill.testing.office_files writes, each
``--copies`` times) is read, alternating for ``--rounds`` rounds so every
row sees the same machine load:

1. ``sandbox``: docmill's office extractor through ``ParsePool`` with 2
   child processes (the default on 2 cores), from 2 threads, as the
   pipeline's extract workers call it;
2. ``in_process``: the same extractor with ``ParsePool(0)``, from 2 threads;
3. ``bare``: the library's own minimal call for the text (python-docx's
   paragraphs and tables, openpyxl's read-only rows, defusedxml's parse of
   content.xml and its text, ``email``'s body...), from 2 threads.

Documents per second and MB per second come from the best round of each;
``ratio`` is sandbox / bare and ``overhead`` in_process / bare (the target
is at most 1.2). Results go to OUT/office.json.
"""

from __future__ import annotations

import argparse
import io
import json
import mailbox
import tempfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from docmill.core.sandbox import ParsePool
from docmill.core.sniff import media_type_of
from docmill.core.values import Blob, Limits
from docmill.plugins.office import OfficeExtractor
from docmill.testing import office_files as make

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "office"
LIMITS = Limits(max_file_size=256_000_000, max_pages=2000, max_pixels=100_000_000, ocr_timeout=120, ocr_dpi=300)


def _docx(data: bytes) -> int:
    import docx

    document = docx.Document(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    texts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return sum(map(len, texts))


def _xlsx(data: bytes) -> int:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    size = sum(len(str(v)) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for v in row
               if v is not None)
    book.close()
    return size


def _xls(data: bytes) -> int:
    import xlrd

    book = xlrd.open_workbook(file_contents=data)
    return sum(len(str(v)) for sheet in book.sheets() for i in range(sheet.nrows) for v in sheet.row_values(i))


def _pptx(data: bytes) -> int:
    import pptx

    deck = pptx.Presentation(io.BytesIO(data))
    size = 0
    for slide in deck.slides:
        size += sum(len(s.text_frame.text) for s in slide.shapes if s.has_text_frame)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            size += len(slide.notes_slide.notes_text_frame.text)
    return size


def _odf(data: bytes) -> int:
    from defusedxml.ElementTree import fromstring

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = fromstring(archive.read("content.xml"))
    return sum(len(t) for t in root.itertext())


def _rtf(data: bytes) -> int:
    from striprtf.striprtf import rtf_to_text

    return len(rtf_to_text(data.decode("latin-1"), errors="replace"))


def _eml(data: bytes) -> int:
    from email import policy
    from email.parser import BytesParser

    message = BytesParser(policy=policy.default).parsebytes(data)
    body = message.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    attached = sum(len(part.get_content()) for part in message.iter_attachments())  # type: ignore[attr-defined]
    return len(body.get_content() if body is not None else "") + attached


def _mbox(data: bytes) -> int:
    with tempfile.NamedTemporaryFile(suffix=".mbox") as fh:
        fh.write(data)
        fh.flush()
        box = mailbox.mbox(fh.name, create=False)
        size = sum(len(box.get_bytes(key)) for key in box.iterkeys())
        box.close()
    return size


def _msg(data: bytes) -> int:
    from oxmsg import Message

    message = Message.load(data)
    return len(message.body or "") + sum(len(a.file_bytes or b"") for a in message.attachments)


def corpus(copies: int, folder: Path) -> dict[str, tuple[list[Blob], Callable[[bytes], int]]]:
    """The files of each format, and the bare library call that reads one."""
    made = {
        "gen.docx": make.docx(8, 6), "gen.xlsx": make.xlsx(400), "gen.pptx": make.pptx(12),
        "gen.eml": make.eml(), "gen.docm": make.docm(),
    }
    make.mbox(folder / "gen.mbox", 40)
    made["gen.mbox"] = (folder / "gen.mbox").read_bytes()
    real = {p.name: p.read_bytes() for p in sorted(DATA.glob("*.*")) if p.suffix not in (".md",)
            and p.name != "encrypted.docx"}
    bare = {".docx": _docx, ".docm": None, ".xlsx": _xlsx, ".xls": _xls, ".pptx": _pptx, ".odt": _odf,
            ".ods": _odf, ".odp": _odf, ".rtf": _rtf, ".eml": _eml, ".mbox": _mbox, ".msg": _msg}
    rows: dict[str, tuple[list[Blob], Callable[[bytes], int]]] = {}
    for name, data in {**real, **made}.items():
        suffix = name[name.rfind("."):]
        call = bare[suffix]
        if call is None:  # python-docx refuses a .docm: no bare call to compare with
            continue
        blobs, _ = rows.setdefault(suffix, ([], call))
        blobs += [Blob(name, data, media_type_of(name, data))] * copies
    return rows


def _timed(blobs: list[Blob], read: Callable[[Blob], Any]) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as threads:
        list(threads.map(read, blobs))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = corpus(args.copies, args.out)
    extractor = OfficeExtractor()
    sandbox, in_process = ParsePool(2, memory=4 * 2**30, timeout=300), ParsePool(0, memory=0, timeout=300)
    best: dict[str, dict[str, float]] = {suffix: {} for suffix in rows}
    try:
        for pool in (sandbox, in_process):  # started and warm, as in a running pipeline
            for blobs, _ in rows.values():
                pool.run(extractor, "extract", blobs[0], LIMITS)
        for _ in range(args.rounds):
            for suffix, (blobs, bare) in rows.items():
                seconds = {
                    "sandbox": _timed(blobs, lambda b: sandbox.run(extractor, "extract", b, LIMITS)),
                    "in_process": _timed(blobs, lambda b: in_process.run(extractor, "extract", b, LIMITS)),
                    "bare": _timed(blobs, lambda b, call=bare: call(b.data)),  # type: ignore[misc]
                }
                for name, value in seconds.items():
                    best[suffix][name] = min(best[suffix].get(name, value), value)
    finally:
        sandbox.close()
    result = {}
    for suffix, (blobs, _) in rows.items():
        size = sum(len(b.data) for b in blobs) / 1e6
        times = best[suffix]
        result[suffix] = {
            "documents": len(blobs), "mb": round(size, 2),
            "docs_per_s": {name: round(len(blobs) / s, 1) for name, s in times.items()},
            "mb_per_s": {name: round(size / s, 2) for name, s in times.items()},
            "ratio": round(times["sandbox"] / times["bare"], 2),
            "overhead": round(times["in_process"] / times["bare"], 2),
        }
    (args.out / "office.json").write_text(json.dumps({"result": result, "rounds": args.rounds}, indent=1))
    print(f"{'format':<7} {'docs':>5} {'MB':>6}  {'sandbox docs/s':>14} {'bare docs/s':>11} {'MB/s sandbox':>12} "
          f"{'MB/s bare':>9}  {'ratio':>5} {'overhead':>8}")
    for suffix, row in result.items():
        print(f"{suffix:<7} {row['documents']:>5} {row['mb']:>6} {row['docs_per_s']['sandbox']:>14} "
              f"{row['docs_per_s']['bare']:>11} {row['mb_per_s']['sandbox']:>12} {row['mb_per_s']['bare']:>9}  "
              f"{row['ratio']:>5} {row['overhead']:>8}")


if __name__ == "__main__":
    main()
