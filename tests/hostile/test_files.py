"""Hostile files: each ends with its kind, in bounded time and memory, and the others of its ingest end done.

Every input is made here (tests/hostile/generators.py), small on disk. The
ingest runs the real pipeline as a user would, with tight limits so the test
is quick: text past 1,000,000 characters, 1 GiB of address space per parsing
process, 15 s per parse.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from docmill.core.errors import PermanentError
from docmill.core.sandbox import ParsePool
from docmill.core.sniff import media_type_of
from docmill.core.values import Blob, Limits
from docmill.plugins.chunker import TextChunker
from docmill.plugins.pymupdf_extractor import PyMuPdfExtractor
from docmill.testing import plugin_dir

from ..conftest import Cli
from . import generators as make

pytestmark = pytest.mark.slow

LIMITS = {"DOCMILL_MAX_TEXT": "1000000", "DOCMILL_MAX_PARSE_MEMORY": "1GiB", "DOCMILL_PARSE_TIMEOUT": "15"}

#: An extractor for two made-up types: one that crashes its process as a segfault in MuPDF would, one that hangs.
MISBEHAVING = '''
    """A test plugin: extractors that crash (SIGSEGV) or hang, as a C library can."""
    import os
    import signal
    import time

    from docmill import hookimpl


    class Misbehaving:
        name = "misbehaving"

        def extract(self, blob, limits):
            if blob.name.endswith(".crash"):
                os.kill(os.getpid(), signal.SIGSEGV)
            time.sleep(3600)

        def render(self, blob, pages, limits):
            return iter(())


    @hookimpl
    def docmill_extractor(blob):
        return Misbehaving() if blob.name.endswith((".crash", ".hang")) else None
'''

#: file name -> (how to make it, the state and kind it must end with)
HOSTILE: dict[str, tuple[Any, tuple[str, str | None]]] = {
    "text-bomb.pdf": (make.text_bomb_pdf, ("failed", "too large")),
    "one-line.txt": (make.one_line_text, ("failed", "too large")),
    "bomb.epub": (make.epub_bomb, ("failed", "too large")),
    "huge-mimetype.epub": (make.zip_with_huge_mimetype, ("failed", "wrong type")),
    "claims-100000x100000.png": (make.png_claiming, ("failed", "too large")),
    "false-count.pdf": (make.false_count_pdf, ("failed", "corrupt")),
    "charset-idna.html": (make.html_with_charset, ("done", None)),
    "utf16-no-bom.txt": (make.utf16_without_bom, ("done", None)),
    "segfault.crash": (lambda path: path.write_text("crashes the parser"), ("failed", "crashed")),
    "forever.hang": (lambda path: path.write_text("hangs the parser"), ("failed", "timeout")),
}
GOOD = {"a.txt": "Beekeeping in winter: the colony clusters around the queen.",
        "b.md": "# Sourdough\n\nA long cold proof deepens the flavour of the loaf.",
        "line\nbreak.txt": "A file whose name holds a newline, about lighthouse keepers."}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile") / "docs"
    folder.mkdir()
    for name, (maker, _) in HOSTILE.items():
        maker(folder / name)
    for name, text in GOOD.items():
        (folder / name).write_text(text)
    outside = folder.parent / "outside.txt"
    outside.write_text("a secret outside the ingested folder")
    (folder / "escape.txt").symlink_to(outside)
    (folder / "loop-a").symlink_to(folder / "loop-b")
    (folder / "loop-b").symlink_to(folder / "loop-a")
    os.mkfifo(folder / "pipe.txt")
    return folder


@pytest.mark.usefixtures("stub_embedder")
def test_every_hostile_file_ends_with_its_kind_and_the_others_end_done(
        hostile: Path, tmp_path: Path, cli: Cli) -> None:
    plugins = plugin_dir(tmp_path / "plugins", "docmill_misbehaving", MISBEHAVING)
    env = {**LIMITS, "PYTHONPATH": os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH")]))}
    started = time.monotonic()
    summary = cli.json("ingest", str(hostile), env=env)
    took = time.monotonic() - started
    job = cli.json("status", summary["job"], env=env)
    items = {item["doc"]: item for item in job["items"]}
    for name, (_, (state, kind)) in HOSTILE.items():
        assert (items[name]["state"], items[name]["error"]) == (state, kind), (name, items[name])
        assert kind is None or items[name]["reason"], name
    for name in GOOD:
        assert items[name]["state"] == "done", (name, items[name])
    for name, why in (("escape.txt", "leaves the ingested folder"), ("loop-a", "symlink loop"),
                      ("loop-b", "symlink loop"), ("pipe.txt", "not a regular file")):
        assert (items[name]["state"], items[name]["error"]) == ("skipped", "refused"), (name, items[name])
        assert why in items[name]["reason"], (name, items[name])  # the reason shows in status JOB --json
    assert took < 180, f"the hostile ingest took {took:.0f} s"
    # Plain output escapes control characters: the name with a newline stays on one line.
    plain = cli("status", summary["job"], env=env).stdout
    assert "line\\nbreak.txt" in plain and "line\nbreak.txt" not in plain
    search = cli("search", "lighthouse keepers", "-k", "1", env=env).stdout
    assert "line\\nbreak.txt" in search
    # Failed for good: the next ingest does not read them again (the crash and the hang included).
    again = cli.json("ingest", str(hostile), env=env)
    assert again["done"] == 0 and again["unchanged"] == len(items) - 4  # the 4 refused entries: refused again


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("name", ["text-bomb.pdf", "bomb.epub", "claims-100000x100000.png", "false-count.pdf"])
def test_a_parsing_process_stays_within_its_memory_and_the_pipeline_process_grows_nothing(
        hostile: Path, name: str) -> None:
    data = (hostile / name).read_bytes()
    blob = Blob(name, data, media_type_of(name, data))
    limit = 2**30
    pool = ParsePool(1, memory=limit, timeout=30)
    try:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        with pytest.raises(PermanentError) as failed:
            pool.run(PyMuPdfExtractor(), "extract", blob, Limits(10**9, 2000, 10**8, 60, 300, 1_000_000))
        assert time.monotonic() - started < 30
        [child] = pool._idle  # the child survived its own allocation failure and is reused
        assert _peak_rss_mib(child.process.pid) < limit / 2**20, failed.value
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB
    finally:
        pool.close()


def test_the_sniffer_reads_a_bounded_part_of_a_zip_whatever_its_entries_inflate_to(hostile: Path) -> None:
    # VmHWM, not ru_maxrss: the latter survives exec, and would report the forking test process's size.
    probe = ("import sys\nfrom docmill.core.sniff import media_type_of\n"
             "data = open(sys.argv[1], 'rb').read()\n"
             "try:\n    media_type_of(sys.argv[1], data)\nexcept Exception as exc:\n    print(type(exc).__name__)\n"
             "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
             "print(int(hwm.split()[1]) // 1024)\n")
    done = subprocess.run([sys.executable, "-c", probe, str(hostile / "huge-mimetype.epub")], capture_output=True,
                          text=True, timeout=60, check=True)
    kind, peak = done.stdout.split()
    assert kind == "UnsupportedDocument" and int(peak) < 150, done.stdout  # MiB: the 1 GiB entry was never read


def test_the_chunker_is_linear_in_its_input() -> None:
    chunker = TextChunker(800, 100)
    from docmill.core.values import Page

    sentence = ("word " * (8 * 2**20 // 5)).strip()  # 8 MB of one sentence, no punctuation
    started = time.monotonic()
    chunks = chunker.chunk([Page(1, sentence)])
    took = time.monotonic() - started
    assert len(chunks) > 10_000 and took < 5, took  # quadratic took 12 s for this (and minutes beyond)


@pytest.mark.usefixtures("stub_embedder")
def test_a_filter_that_matches_nothing_destroys_nothing_and_prune_removes_what_it_leaves_out(
        tmp_path: Path, cli: Cli, exported: Any) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(6):
        (folder / f"note-{i}.txt").write_text(f"Note {i} about the harbour wall and its repairs.")
    assert cli.json("ingest", str(folder))["done"] == 6
    narrowed = cli.json("ingest", str(folder), "--include", "*.pdf")
    assert (narrowed["deleted"], narrowed["left_out"]) == (0, 6)
    assert len(exported()) == 6
    (folder / "note-0.txt").unlink()  # really gone: removed, filters or not
    again = cli.json("ingest", str(folder), "--include", "*.pdf")
    assert (again["deleted"], again["left_out"]) == (1, 5)
    pruned = cli.json("ingest", str(folder), "--include", "*.pdf", "--prune")
    assert (pruned["deleted"], pruned["left_out"]) == (5, 0) and exported() == []
