"""A reproducible document corpus, generated from a seed with nothing but PyMuPDF and NumPy.

For tests and benchmarks, on any machine: no file outside the repository and
its installed dependencies is read. Each document is about one topic of its
own, so a sentence from it finds it in a semantic search.

    python -m docmill.testing.corpus OUT [--text 6] [--scanned 2] [--seed 7]

* ``text/``: born-digital PDFs with varied layouts: one column or two, a
  table, running headers and footers with page numbers, serif, sans and
  monospaced type, short and long pages, and Greek, Cyrillic and Chinese text
  in some;
* ``scanned/``: image-only PDFs of rendered pages, turned a little, dirtied
  with noise and a grey cast, saved as JPEG at 200 DPI, each with
  ``NAME.truth.txt`` (pages separated by form feeds); and ``photo-000.jpg``, a
  photographed page with uneven light;
* ``plain/``: text and Markdown in UTF-8, Latin-1, UTF-16 and Windows-1252;
* ``bad/``: one file of each kind docmill refuses: truncated and garbage
  PDFs, an empty file, HTML saved as ``.pdf``, a ZIP and an executable, a
  password-protected PDF, a PNG whose header claims 60000x60000 pixels, a
  5000-page PDF, and a PDF of blank pages.

``manifest.json`` says, for each file, what a correct pipeline does with it:
``"expect": "ok"`` (with its pages, whether it needs OCR and, for scans, its
truth), ``"fail"`` or ``"skip"`` with the kind a user is told (``"why"``).
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

__all__ = ["TOPICS", "build"]

#: One topic per document: a title, the words it is about, and sentences a reader could search for.
TOPICS: list[tuple[str, list[str]]] = [
    ("Keeping bees through the winter", [
        "A strong colony clusters around the queen and shivers its flight muscles to stay warm.",
        "Beekeepers leave enough honey in the hive, about twenty kilograms, to feed the bees until spring.",
        "Mouse guards on the hive entrance keep rodents out of the warm brood boxes.",
        "Condensation dripping from the roof of the hive chills the cluster more than the cold itself.",
        "On mild days the workers take cleansing flights and return to the cluster before dusk."]),
    ("Baking sourdough bread at home", [
        "The starter is a living culture of wild yeast and lactic acid bacteria fed with flour and water.",
        "A long cold proof in the refrigerator deepens the sour flavour of the loaf.",
        "Bakers score the dough with a razor so the crust opens where they want it to.",
        "Steam in the oven during the first twenty minutes keeps the crust soft while the loaf rises.",
        "Whole rye flour ferments faster than white wheat flour and makes a denser crumb."]),
    ("Filing a household tax return", [
        "Receipts for deductible expenses must be kept for several years after the return is filed.",
        "The taxable income is what remains after allowances and deductions are subtracted.",
        "Interest from a savings account is income, and the bank reports it to the tax office.",
        "Filing before the deadline avoids late payment penalties and interest charges.",
        "Married couples may choose between joint and separate assessment of their income."]),
    ("Repairing a bicycle wheel", [
        "A wobbling rim is trued by tightening and loosening spokes a quarter turn at a time.",
        "Broken spokes usually fail at the bend near the hub flange where stress concentrates.",
        "The tyre lever lifts the bead over the rim without pinching the inner tube.",
        "Worn brake pads leave grooves in an aluminium rim and should be replaced early.",
        "Hub bearings are cleaned, greased and adjusted until the axle turns freely without play."]),
    ("Collecting rainwater from the roof", [
        "A first flush diverter sends the dirty water from the start of a storm away from the tank.",
        "One millimetre of rain on one square metre of roof yields one litre of water.",
        "Tanks are kept dark so that algae cannot grow in the stored water.",
        "Overflow pipes lead surplus water to a soakaway far from the house foundations.",
        "Gutter screens catch leaves before they clog the downpipes."]),
    ("Pruning an apple orchard", [
        "Apple trees are pruned in late winter while they are dormant and their buds are closed.",
        "Removing crossing branches opens the canopy to light and air.",
        "Fruit forms on short spurs that grow on wood two years old or older.",
        "Cuts are made just outside the branch collar so the wound can close cleanly.",
        "Water shoots growing straight up from the main limbs rarely bear fruit."]),
    ("Insulating an old house", [
        "Heat escapes first through the roof, so loft insulation pays back fastest.",
        "Draught strips around windows and doors stop cold air without blocking ventilation.",
        "Solid brick walls can be insulated from the inside with lime-based boards that breathe.",
        "A vapour control layer keeps moist indoor air from condensing inside the insulation.",
        "Thermal imaging on a cold evening shows where the walls lose the most heat."]),
    ("Opening moves in chess", [
        "Controlling the centre squares early gives the pieces room to move.",
        "Castling moves the king to safety and brings a rook towards the middle.",
        "Developing knights before bishops is an old rule of thumb for the opening.",
        "A gambit sacrifices a pawn to gain time for development.",
        "Moving the same piece twice in the opening usually wastes a tempo."]),
    ("The history of lighthouses", [
        "Early lighthouses burned wood or coal in open braziers on top of stone towers.",
        "The Fresnel lens concentrated lamp light into a beam visible for twenty nautical miles.",
        "Each lighthouse flashes its own pattern so that sailors can tell where they are.",
        "Keepers trimmed the wicks every night, which is why they were called wickies.",
        "Most lighthouses are automatic today and no keeper lives in them any more."]),
    ("Volcanic soils and farming", [
        "Weathered volcanic ash makes soils rich in minerals and able to hold water.",
        "Farmers on the slopes of active volcanoes grow coffee, grapes and vegetables.",
        "Andosols are light, porous soils that form on volcanic ash deposits.",
        "Fresh lava flows stay barren for decades before lichens colonise them.",
        "Phosphate binds tightly to volcanic soil minerals, so crops may still lack it."]),
    ("Solar panels on a family home", [
        "A south-facing roof with a pitch of about thirty degrees collects the most sunlight.",
        "The inverter converts the direct current from the panels into alternating current.",
        "Shade from a single chimney can reduce the output of a whole string of panels.",
        "Battery storage moves solar electricity from midday into the evening.",
        "Panels lose a small fraction of their output each year as they age."]),
    ("The ecology of a small river", [
        "Mayfly larvae live under stones in the riffles where the water is rich in oxygen.",
        "Trees along the bank shade the water and keep it cool enough for trout.",
        "Fallen leaves are the main source of food for the insects at the bottom of a stream.",
        "Kingfishers dig nesting burrows in steep sandy banks above the water.",
        "Floods rearrange gravel bars and create new spawning beds for fish."]),
    ("Typography for the printed page", [
        "A line length of about sixty characters is comfortable to read.",
        "Leading is the vertical space between lines of type, named after strips of lead.",
        "Serif typefaces guide the eye along the line in long printed texts.",
        "Widows and orphans are single lines stranded at the top or bottom of a page.",
        "Kerning adjusts the space between particular pairs of letters."]),
    ("Castles of the Middle Ages", [
        "The keep was the strongest tower and the last refuge during a siege.",
        "A moat filled with water kept siege towers and miners away from the walls.",
        "Arrow slits were narrow on the outside and wide on the inside.",
        "The gatehouse held a portcullis that dropped to close the entrance.",
        "Many castles were slighted after civil wars so they could not be used again."]),
    ("Roasting coffee beans", [
        "Green coffee beans turn yellow, then brown, as sugars caramelise in the roaster.",
        "The first crack is a popping sound when water vapour bursts the bean.",
        "Light roasts keep more of the fruity acidity of the origin.",
        "Freshly roasted coffee releases carbon dioxide for several days.",
        "Cooling the beans quickly stops the roast at the chosen degree."]),
    ("Training for a first marathon", [
        "Weekly mileage should grow by no more than about ten percent.",
        "The long run on the weekend builds endurance for the last ten kilometres.",
        "Runners practise drinking and eating during training, not on race day.",
        "A taper of two or three weeks lets the legs recover before the race.",
        "Easy runs at a conversational pace make up most of the training."]),
    ("Migration of songbirds", [
        "Many songbirds migrate at night and rest and feed during the day.",
        "Birds put on fat before departure, sometimes doubling their weight.",
        "The earth's magnetic field and the stars help birds find their direction.",
        "Headwinds over the sea force exhausted migrants to land on islands.",
        "Young birds make their first journey south without their parents."]),
    ("Glaciers in retreat", [
        "A glacier retreats when more ice melts at its snout than flows down from above.",
        "Moraines of rock and gravel mark where the ice once reached.",
        "Meltwater lakes can burst through moraine dams and flood the valleys below.",
        "Dark dust on the ice absorbs sunlight and speeds up melting.",
        "Mountain villages depend on glacier meltwater in late summer."]),
    ("How a pipe organ works", [
        "Each pipe sounds a single note, so an organ needs thousands of pipes.",
        "Stops let the organist choose which ranks of pipes will speak.",
        "The bellows and blower keep the wind chest under steady pressure.",
        "Reed pipes have a vibrating brass tongue, while flue pipes work like a whistle.",
        "The pedal board plays the deepest pipes with the feet."]),
    ("Reading a railway timetable", [
        "Times in bold mark fast trains that skip the smaller stations.",
        "A small letter beside a time refers to a footnote about the days of operation.",
        "Connecting services are listed so passengers can plan their changes.",
        "Platform numbers may change at short notice and are announced at the station.",
        "Night trains carry sleeping cars and reach the coast early in the morning."]),
    ("Maintaining a wood stove", [
        "Only dry wood with less than twenty percent moisture should be burned.",
        "Creosote builds up in the chimney when fires smoulder at low temperature.",
        "The chimney is swept at least once a year before the heating season.",
        "Door seals made of glass fibre rope are replaced when they no longer close tightly.",
        "Ash is removed when cold and kept in a metal bucket with a lid."]),
    ("Caring for houseplants", [
        "Most houseplants die from too much water rather than too little.",
        "Drainage holes let surplus water escape so the roots do not rot.",
        "Plants near a north window receive soft, indirect light all day.",
        "Repotting in spring gives the roots fresh compost and more room.",
        "Brown leaf tips often mean the air in the room is too dry."]),
    ("Brewing green tea", [
        "Green tea is brewed with water well below boiling, about seventy to eighty degrees.",
        "Steeping for too long draws out bitter tannins.",
        "The same leaves can be infused several times, each cup tasting different.",
        "Matcha is ground green tea whisked into the water rather than steeped.",
        "Tea leaves are steamed or pan fired soon after picking to stop oxidation."]),
    ("Navigating with map and compass", [
        "The compass needle points to magnetic north, which differs from true north.",
        "Contour lines close together on the map show a steep slope.",
        "Taking a bearing means measuring the angle from north to the destination.",
        "Handrails such as streams and walls help walkers keep to their route.",
        "Pacing counts steps to estimate how far one has walked."]),
    ("Building a dry stone wall", [
        "A dry stone wall stands without mortar, held by the weight and fit of its stones.",
        "The wall is wider at the base and narrows towards the top, a shape called the batter.",
        "Through stones span the whole width to tie the two faces together.",
        "Small hearting stones fill the gaps inside the wall.",
        "Cope stones along the top protect the wall from weather and livestock."]),
    ("Tides and the moon", [
        "The moon's gravity pulls the oceans into two bulges on opposite sides of the earth.",
        "Spring tides with the greatest range follow the new and the full moon.",
        "Neap tides occur when the sun and moon pull at right angles.",
        "Most coasts have two high tides and two low tides about every twenty-five hours.",
        "Funnel-shaped bays such as the Bay of Fundy amplify the tidal range."]),
    ("Sharpening kitchen knives", [
        "A whetstone is soaked in water before sharpening and kept wet while in use.",
        "Holding a steady angle of about fifteen degrees gives a keen edge.",
        "A burr forms on the opposite side of the edge when one side is sharpened enough.",
        "A honing steel straightens the edge between sharpenings.",
        "Glass chopping boards dull knives quickly and should be avoided."]),
    ("Stargazing without a telescope", [
        "The eyes need about twenty minutes in the dark to adapt fully.",
        "A red torch preserves night vision while reading a star chart.",
        "The Andromeda galaxy is the most distant object visible to the naked eye.",
        "Planets shine steadily, while stars twinkle near the horizon.",
        "Meteor showers peak when the earth crosses the debris trail of a comet."]),
    ("Composting garden waste", [
        "A good compost heap mixes green nitrogen-rich waste with brown carbon-rich material.",
        "Turning the heap adds oxygen and speeds up decomposition.",
        "A hot heap reaches sixty degrees and kills most weed seeds.",
        "Finished compost is dark, crumbly and smells of forest soil.",
        "Meat and dairy are left out because they attract rats."]),
    ("Learning to sail a dinghy", [
        "Sailing close hauled means heading as near to the wind as the sails allow.",
        "The centreboard stops the dinghy from drifting sideways.",
        "Tacking turns the bow through the wind, while gybing turns the stern through it.",
        "The crew sits out on the windward side to keep the boat level in a gust.",
        "A capsized dinghy is righted by standing on the centreboard."]),
]

#: Text in other scripts, for the documents that have some (MuPDF brings the fonts).
NON_LATIN = [  # these letters are meant
    "Ελληνικά: Η μέλισσα συλλέγει γύρη και νέκταρ από τα λουλούδια του αγρού.",  # noqa: RUF001
    "Русский: Пчёлы собирают нектар с цветов и приносят его в улей.",  # noqa: RUF001
    "中文：蜜蜂从花朵中采集花蜜，带回蜂巢酿造蜂蜜。",  # noqa: RUF001
]

CONNECTIVES = ["In practice, ", "As a rule, ", "Experience shows that ", "It is worth knowing that ",
               "Many guides add that ", "Notably, ", "Observers agree that ", "As the notes record, "]
#: Where and when an observation was made: each sentence gets its own, so no two lines of a corpus repeat.
PLACES = ["Ambleside", "Brixham", "Carrick", "Dunmore", "Elgin", "Falmouth", "Grantown", "Hexham", "Ilfracombe",
          "Jedburgh", "Kendal", "Lerwick", "Malton", "Nairn", "Oban", "Penrith", "Quarff", "Ripon", "Selkirk",
          "Tenby", "Ullapool", "Ventnor", "Whitby", "Yeovil", "Zennor", "Alnwick", "Bala", "Cromer", "Dornoch",
          "Eyemouth"]


def _sentence(rng: random.Random, facts: list[str]) -> str:
    fact = rng.choice(facts)
    where = f"At {rng.choice(PLACES)} in {rng.randint(1950, 2024)}, "
    lead = rng.choice(CONNECTIVES)
    return where + lead.lower() + fact[0].lower() + fact[1:]


def _paragraphs(rng: random.Random, facts: list[str], count: int) -> list[str]:
    return [" ".join(_sentence(rng, facts) for _ in range(rng.randint(3, 6))) for _ in range(count)]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text_pdf(path: Path, index: int, topic: tuple[str, list[str]], rng: random.Random) -> int:
    """A born-digital PDF in one of several layouts; returns its page count."""
    import pymupdf

    title, facts = topic
    layout = index % 5
    pages = [1, 2, 3, 5, 8][index % 5]
    family = ["serif", "sans-serif", "monospace"][index % 3]
    doc = pymupdf.open()
    for number in range(1, pages + 1):
        page = doc.new_page(width=595, height=842)
        body = pymupdf.Rect(56, 72, 539, 770)
        # Running header and footer, as most reports and papers have.
        page.insert_text((56, 48), f"{title} - report {index:03d}", fontname="helv", fontsize=8)
        page.insert_text((290, 810), f"Page {number} of {pages}", fontname="helv", fontsize=8)
        paragraphs = _paragraphs(rng, facts, 2 if number == pages and pages > 1 else rng.randint(3, 5))
        heading = f"<h2>{_escape(title)}</h2>" if number == 1 else ""
        style = f"body {{font-family: {family}; font-size: 11px;}} td {{border: 1px solid black; padding: 3px;}}"
        if layout == 1:  # two columns
            half = len(paragraphs) // 2 or 1
            for rect, part in ((pymupdf.Rect(56, 72, 290, 770), paragraphs[:half]),
                               (pymupdf.Rect(305, 72, 539, 770), paragraphs[half:])):
                page.insert_htmlbox(rect, heading + "".join(f"<p>{_escape(p)}</p>" for p in part), css=style)
                heading = ""
            continue
        html = heading + "".join(f"<p>{_escape(p)}</p>" for p in paragraphs)
        if layout == 2 and number == 1:  # a table
            rows = "".join(f"<tr><td>{i + 1}</td><td>{_escape(f[:60])}</td><td>{rng.randint(10, 999)}</td></tr>"
                           for i, f in enumerate(facts[:4]))
            html += f"<table><tr><td>No.</td><td>Observation</td><td>Count</td></tr>{rows}</table>"
        if layout == 3:  # some text in other scripts
            html += f"<p>{_escape(NON_LATIN[number % len(NON_LATIN)])}</p>"
        if layout == 4 and number % 2 == 0:  # a short page
            html = "".join(f"<p>{_escape(p)}</p>" for p in paragraphs[:1])
        page.insert_htmlbox(body, html, css=style)
    doc.set_metadata({"title": title, "author": "docmill corpus", "producer": "docmill.testing.corpus"})
    doc.subset_fonts()
    doc.save(str(path), garbage=3, deflate=True)
    doc.close()
    return pages


def _scan(page: Any, rng: random.Random, *, dpi: int = 200, photo: bool = False) -> bytes:
    """A page as a grey JPEG that looks scanned (or photographed): turned a little, noisy, greyish."""
    import numpy as np
    import pymupdf

    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
    img: Any = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width).astype(np.float32)
    shear = rng.uniform(-0.008, 0.008)  # up to about half a degree
    rows = np.arange(img.shape[0])
    img = np.stack([np.roll(img[r], round(r * shear)) for r in rows])
    generator = np.random.default_rng(rng.randrange(1 << 30))
    img = img + generator.normal(0, 16, img.shape) - 14
    if photo:  # light falling from one side, and a darker background
        img = img * np.linspace(0.7, 1.0, img.shape[1])[None, :] - 10
    grey = np.clip(img, 0, 255).astype(np.uint8)
    out = pymupdf.Pixmap(pymupdf.csGRAY, grey.shape[1], grey.shape[0], grey.tobytes(), False)
    out.set_dpi(dpi, dpi)
    jpeg: bytes = out.tobytes("jpg", jpg_quality=75)
    return jpeg


def _scanned_pdf(path: Path, source: Path, count: int, rng: random.Random) -> str:
    """An image-only PDF of ``count`` pages rendered from ``source``; returns the truth text."""
    import pymupdf

    with pymupdf.open(str(source)) as original:
        chosen = list(range(min(count, original.page_count)))
        scans = [_scan(original[n], rng) for n in chosen]
        truth = "\n\f".join(original[n].get_text() for n in chosen)
    doc = pymupdf.open()
    for jpeg in scans:
        pix = pymupdf.Pixmap(jpeg)
        page = doc.new_page(width=pix.width * 72 / 200, height=pix.height * 72 / 200)
        page.insert_image(page.rect, stream=jpeg)
    doc.save(str(path), deflate=True)
    doc.close()
    return truth


def _png_claiming(path: Path, side: int = 60000) -> None:
    """A tiny PNG whose header claims side x side pixels: a decompression bomb, refused from its header."""
    raw = b"".join(b"\x00" + b"\x00" * (side // 8) for _ in range(64))  # only 64 rows really present

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9))
                     + chunk(b"IEND", b""))


def _bad_files(out: Path, a_pdf: Path, rng: random.Random) -> list[dict[str, Any]]:
    import pymupdf

    bad = out / "bad"
    data = a_pdf.read_bytes()
    made: list[dict[str, Any]] = []

    def add(name: str, expect: str, why: str, content: bytes | None = None) -> Path:
        if content is not None:
            (bad / name).write_bytes(content)
        made.append({"path": f"bad/{name}", "expect": expect, "why": why})
        return bad / name

    add("truncated.pdf", "fail", "corrupt", data[: len(data) // 3])
    add("garbage.pdf", "fail", "corrupt", b"%PDF-1.7\n" + rng.randbytes(6000))
    add("empty.pdf", "fail", "empty", b"")
    add("not-really.pdf", "fail", "wrong type", b"<html><body>Error 404: not found</body></html>\n" * 20)
    archive = bad / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("notes/readme.txt", "A zip archive is not a document docmill reads.\n" * 20)
    add("archive.zip", "fail", "unsupported")
    # The start of an ELF executable, as a program saved among documents would have.
    elf = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00"
    add("tool.bin", "fail", "unsupported", elf + rng.randbytes(4000))
    aes256 = pymupdf.PDF_ENCRYPT_AES_256  # type: ignore[attr-defined]
    with pymupdf.open(str(a_pdf)) as doc:
        doc.save(str(bad / "locked.pdf"), encryption=aes256, owner_pw="owner-secret", user_pw="user-secret")
    add("locked.pdf", "fail", "encrypted")
    _png_claiming(bad / "bomb.png")
    add("bomb.png", "fail", "too large")
    doc = pymupdf.open()
    for _ in range(5000):
        doc.new_page()
    doc.save(str(bad / "5000-blank-pages.pdf"), garbage=4, deflate=True)
    doc.close()
    add("5000-blank-pages.pdf", "fail", "too many pages")
    doc = pymupdf.open()
    for _ in range(2):
        doc.new_page()
    doc.save(str(bad / "blank.pdf"))
    doc.close()
    add("blank.pdf", "skip", "no text")
    return made


def _plain_files(out: Path, rng: random.Random, topics: list[tuple[str, list[str]]]) -> list[dict[str, Any]]:
    plain = out / "plain"
    made: list[dict[str, Any]] = []
    # Topics from the end of the list: no PDF or scan of a small corpus is about them.
    topics = topics[::-1]
    notes = "\n\n".join(_paragraphs(rng, topics[0][1], 8))
    (plain / "notes.txt").write_text(f"{topics[0][0]}\n\n{notes}\n", encoding="utf-8")
    made.append({"path": "plain/notes.txt", "expect": "ok", "pages": 1, "ocr": False, "encoding": "utf-8"})
    readme = "\n\n".join(f"## {title}\n\n" + " ".join(facts[:3]) for title, facts in topics[1:4])
    (plain / "readme.md").write_text(f"# Notes\n\n{readme}\n", encoding="utf-8")
    made.append({"path": "plain/readme.md", "expect": "ok", "pages": 1, "ocr": False, "encoding": "utf-8"})
    (plain / "latin1.txt").write_bytes("Café, naïve, Zürich — déjà vu.\n".encode("latin-1", "replace") * 50)
    made.append({"path": "plain/latin1.txt", "expect": "ok", "pages": 1, "ocr": False, "encoding": "latin-1"})
    title, facts = topics[4]
    (plain / "utf16.txt").write_text(f"{title}\n\n" + " ".join(facts) + "\n", encoding="utf-16")
    made.append({"path": "plain/utf16.txt", "expect": "ok", "pages": 1, "ocr": False, "encoding": "utf-16"})
    title, facts = topics[5]
    quoted = " ".join(f"\u201c{f}\u201d" for f in facts)  # curly quotes: bytes 0x93/0x94 in Windows-1252
    (plain / "windows.md").write_bytes(f"# {title}\n\n{quoted}\n".encode("cp1252"))
    made.append({"path": "plain/windows.md", "expect": "ok", "pages": 1, "ocr": False, "encoding": "cp1252"})
    return made


def build(out: Path, *, text: int = 6, scanned: int = 2, seed: int = 7) -> dict[str, Any]:
    """Write the corpus into ``out`` and return its manifest."""
    rng = random.Random(seed)
    for sub in ("text", "scanned", "bad", "plain"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    order = list(range(len(TOPICS)))
    rng.shuffle(order)
    topics = [TOPICS[i % len(TOPICS)] for i in order]
    manifest: list[dict[str, Any]] = []
    made: list[Path] = []
    for i in range(text + scanned):
        topic = topics[i % len(topics)]
        if i >= len(topics):  # more documents than topics: tell them apart by their title
            topic = (f"{topic[0]}, part {i // len(topics) + 1}", topic[1])
        slug = "-".join(topic[0].lower().replace(",", "").split()[:4])
        target = out / "text" / f"{i:03d}-{slug}.pdf"
        pages = _text_pdf(target, i, topic, rng)
        made.append(target)
        if i < text:
            manifest.append({"path": f"text/{target.name}", "expect": "ok", "pages": pages, "ocr": False,
                             "topic": topic[0]})
    for j, source in enumerate(made[text:]):  # scans of documents that are not in text/ themselves
        name = f"scan-{j:03d}.pdf"
        truth = _scanned_pdf(out / "scanned" / name, source, 1 + j % 3, rng)
        (out / "scanned" / f"{name}.truth.txt").write_text(truth, encoding="utf-8")
        manifest.append({"path": f"scanned/{name}", "expect": "ok", "pages": truth.count("\f") + 1, "ocr": True,
                         "truth": f"scanned/{name}.truth.txt"})
        if j == 0:  # the same page photographed: its own light, noise and turn
            import pymupdf

            with pymupdf.open(str(source)) as original:
                (out / "scanned" / "photo-000.jpg").write_bytes(_scan(original[0], rng, photo=True))
            manifest.append({"path": "scanned/photo-000.jpg", "expect": "ok", "pages": 1, "ocr": True,
                             "truth": f"scanned/{name}.truth.txt"})
        source.unlink()
    manifest += _bad_files(out, out / manifest[0]["path"], rng)
    manifest += _plain_files(out, rng, topics)
    result = {"seed": seed, "generator": "docmill.testing.corpus", "files": manifest}
    (out / "manifest.json").write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m docmill.testing.corpus", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--text", type=int, default=6, help="born-digital PDFs")
    parser.add_argument("--scanned", type=int, default=2, help="scanned PDFs")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    manifest = build(args.out, text=args.text, scanned=args.scanned, seed=args.seed)["files"]
    ok = [m for m in manifest if m["expect"] == "ok"]
    print(f"{len(ok)} good files ({sum(m['pages'] for m in ok)} pages, {sum(m['pages'] for m in ok if m['ocr'])} "
          f"to OCR), {len(manifest) - len(ok)} bad files -> {args.out}")


if __name__ == "__main__":
    main()
