# ruff: noqa: RUF001  (the Greek, Cyrillic and Japanese text is meant: users search for it)
"""The generated documents of the search corpus: what people search for by the exact term.

Invoices with numbers (``INV-0042`` in exactly one of them), order numbers, e-mail addresses, dates as
written, people's names, German compounds, accented and non-Latin words, next to prose a user asks about
in their own words. The wording is fixed here; a seeded random generator picks the invoices' quantities and
prices, so the same seed gives byte-identical PDFs (PyMuPDF's HTML boxes, fonts subset, no new file id).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pymupdf

SEED = 30
CSS = """
* {font-family: sans-serif; font-size: 10.5pt; line-height: 1.35;}
h1 {font-size: 17pt; margin: 0 0 6pt 0;} h2 {font-size: 12.5pt; margin: 10pt 0 4pt 0;}
table {border-collapse: collapse; width: 100%;} td, th {border: 0.5pt solid #888; padding: 2pt 4pt; text-align: left;}
.small {font-size: 9pt; color: #333;}
"""


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _items_table(rng: random.Random, pool: list[tuple[str, float]], count: int, currency: str,
                 vat: float) -> tuple[str, str]:
    """An items table picked from ``pool`` by the seeded generator; its HTML and the total as written."""
    rows, subtotal = [], 0.0
    for position, (name, base) in enumerate(rng.sample(pool, count), start=1):
        quantity = rng.randint(1, 6)
        price = round(base * rng.uniform(0.9, 1.1), 2)
        amount = round(quantity * price, 2)
        subtotal += amount
        rows.append(f"<tr><td>{position}</td><td>{name}</td><td>{quantity}</td>"
                    f"<td>{_money(price)}</td><td>{_money(amount)}</td></tr>")
    tax = round(subtotal * vat, 2)
    total = _money(subtotal + tax)
    html = ("<table><tr><th>Pos.</th><th>Description</th><th>Qty</th>"
            f"<th>Unit price ({currency})</th><th>Amount ({currency})</th></tr>" + "".join(rows) +
            f"<tr><td></td><td>Subtotal</td><td></td><td></td><td>{_money(subtotal)}</td></tr>"
            f"<tr><td></td><td>VAT {vat * 100:.0f}%</td><td></td><td></td><td>{_money(tax)}</td></tr>"
            f"<tr><td></td><td><b>Total due</b></td><td></td><td></td><td><b>{total}</b></td></tr></table>")
    return html, total


def invoice_walnut(rng: random.Random) -> list[str]:
    items, total = _items_table(rng, [
        ("Reception desk, solid walnut, 240 cm", 2150.0), ("Waiting-room bench, oiled oak", 640.0),
        ("Wall shelving for patient files", 385.0), ("Delivery and on-site assembly (hours)", 62.0),
        ("Sliding door for the sterilisation room", 910.0), ("Brass cable grommets", 14.5)], 5, "EUR", 0.19)
    return [f"""
<h1>Invoice INV-0042</h1>
<p><b>Brandt &amp; Söhne Tischlerei</b>, Werkstattweg 4, 37073 Göttingen, Germany</p>
<p>Billed to: <b>Lindqvist Dental Practice</b>, attn. Dr Margarethe Lindqvist, 18 Harbour Row, Aberdeen AB11 5DN,
United Kingdom. Contact: m.lindqvist@example.com</p>
<p>Invoice date: 3 March 2024 &#160;&#160; Delivery date: 2024-02-26 &#160;&#160; Your order: 2023-117</p>
{items}
<h2>Payment</h2>
<p>Please pay the total of EUR {total} within 14 days of the invoice date, that is by 17 March 2024, quoting
INV-0042 as the payment reference. Bank: Sparkasse Göttingen, IBAN DE89 3704 0044 0532 0130 00, BIC COLSDE33.
Payments received after the due date incur interest of 1.5% per month on the outstanding amount.</p>
<p class="small">VAT ID DE 813 447 902. Thank you for letting our workshop furnish your new practice.</p>
""", """
<h1>Terms of delivery and warranty</h1>
<p>These terms belong to invoice INV-0042 and to every delivery of Brandt &amp; Söhne Tischlerei.</p>
<h2>Ownership</h2>
<p>All furniture remains our property until the invoice has been paid in full. Until then the customer may use
it but must not sell it, pledge it or move it to other premises without our written consent.</p>
<h2>Defects</h2>
<p>Visible defects such as scratches, dents or the wrong colour of stain must be reported in writing within
8 days of delivery; later complaints about visible defects cannot be accepted. Hidden defects must be reported
as soon as they are discovered.</p>
<h2>Warranty</h2>
<p>We guarantee the joinery and the glued joints of solid-wood furniture for five years from delivery. The
warranty does not cover wear of the oiled surface, damage from standing water, direct sunlight or heating placed
closer than 50 cm to the wood, nor repairs by third parties.</p>
<h2>Care</h2>
<p>Oiled surfaces should be wiped with a damp cloth only and re-oiled once a year with the care set we supplied.
Solid wood moves with the humidity of the room: small gaps of up to 2 mm in winter are normal and close again
in summer.</p>
"""]


def invoice_hosting(rng: random.Random) -> list[str]:
    items, total = _items_table(rng, [
        ("Managed web hosting, 12 months", 420.0), ("Domain renewal orchardlane-school.example", 18.0),
        ("TLS certificate, organisation validated", 95.0), ("Nightly off-site backup, 50 GB", 120.0),
        ("Mailbox licences for staff", 36.0)], 4, "GBP", 0.20)
    return [f"""
<h1>Invoice INV-0041</h1>
<p><b>Kestrel Web Hosting Ltd</b>, Unit 7, Calder Mill, Hebden Bridge HX7 8AD</p>
<p>Customer: <b>Orchard Lane Primary School</b>, Bursar Mr Desmond Achterberg, it-office@orchardlane.example.net</p>
<p>Invoice date: 27 February 2024 &#160;&#160; Order number: 2023-118 &#160;&#160; Customer number: K-20931</p>
{items}
<h2>Payment</h2>
<p>The total of GBP {total} will be collected by direct debit on 2024-03-12 from the account ending 4471 under the
mandate signed in September. You do not need to do anything. If you wish to pay by card instead, call our
accounts team before the collection date.</p>
<h2>Service notes</h2>
<p>Your hosting plan renews automatically each year. To cancel, give us 30 days' notice before the renewal date;
we will then send you a full export of the website and the mailboxes. Planned maintenance takes place on the
first Sunday of every month between 02:00 and 04:00, during which the website may be unreachable for a few
minutes.</p>
"""]


def invoice_catering(rng: random.Random) -> list[str]:
    items, total = _items_table(rng, [
        ("Conference lunch buffet, per guest", 34.0), ("Vegetarian and vegan main course, per guest", 31.0),
        ("Coffee, tea and pastries service", 6.5), ("Waiting staff, per hour", 48.0),
        ("Table linen and crockery hire", 3.2), ("Smoked salmon canapés, tray of 30", 55.0)], 5, "NOK", 0.15)
    return [f"""
<h1>Faktura / Invoice INV-0420</h1>
<p><b>Fjordlys Catering AS</b>, Strandkaien 21, 5013 Bergen, Norway &#8212; org. nr. 921 554 038</p>
<p>Customer: <b>Nakamura &amp; Pereira Architects</b>, Rua das Flores 88, 4050-265 Porto, Portugal;
contact João Pereira, j.pereira@example.com</p>
<p>Invoice date: 12 April 2024 &#160;&#160; Event: studio anniversary conference, Bryggen, 9 April 2024
&#160;&#160; Order: 2024-017</p>
{items}
<h2>Payment</h2>
<p>Total NOK {total}, due 30 days net. Please transfer to DNB, IBAN NO93 8601 1117 947, and state INV-0420.</p>
<p class="small">Allergens: the lunch contained fish, milk, gluten and nuts; the vegan dishes were prepared in a
separate kitchen area.</p>
""", """
<h1>Cancellation and changes</h1>
<p>Bookings may be cancelled free of charge up to 72 hours before the event begins. For cancellations made
later than that, we charge half of the agreed price for food, because ingredients have already been bought and
prepared. A cancellation on the day of the event is charged in full.</p>
<p>The number of guests may be reduced by up to ten percent until 48 hours before the event at no cost.
Increases are accepted as long as our kitchen has capacity; we confirm them in writing.</p>
<p>Leftover food is not handed out after the event, for reasons of food safety under Norwegian regulations.
We donate unserved dishes to a local shelter where this is possible.</p>
"""]


def invoice_electrician(rng: random.Random) -> list[str]:
    items, total = _items_table(rng, [
        ("Kitchen rewiring, labour (hours)", 55.0), ("Consumer unit with RCD protection, supplied and fitted", 480.0),
        ("Electrical installation certificate EIC-5531", 120.0), ("Cable, 2.5 mm twin and earth, per metre", 1.9),
        ("Outdoor socket, weatherproof", 64.0)], 4, "GBP", 0.20)
    return [f"""
<h1>Invoice INV-0043</h1>
<p><b>Voltaic Electrical Services</b>, 3 Foundry Lane, Leeds LS11 5QP &#8212; registered contractor no. 604417</p>
<p>Customer: <b>Hannah Abernathy-Osei</b>, 52 Cranbrook Avenue, Leeds LS8 1RF, hannah.ao@example.net</p>
<p>Invoice date: 2024-03-05 &#160;&#160; Work carried out: 26 to 29 February 2024 &#160;&#160; Job reference:
2023-171</p>
{items}
<h2>Payment</h2>
<p>Total GBP {total}. Please pay within 7 days by bank transfer to sort code 20-45-77, account 30918842.</p>
<h2>About the work</h2>
<p>We replaced the old fuse box with a modern consumer unit. If a circuit trips, open the grey cover in the hall
cupboard and push the switch that points down back up; if it trips again at once, unplug the appliances on that
circuit and call us. Test the residual-current devices every three months by pressing the button marked T.
Your installation certificate has been registered with the local building control office, which you will need
when you sell the house.</p>
"""]


def kuendigung(rng: random.Random) -> list[str]:
    return ["""
<p>Jürgen Weißmüller<br/>Lindenstraße 12<br/>80331 München</p>
<p>Grünwald Immobilien GmbH<br/>Hausverwaltung<br/>Maximilianstraße 40<br/>80539 München</p>
<p>München, den 22. April 2024</p>
<h2>Mietvertragskündigung zum 31. Juli 2024 &#8212; Wohnung 3. Obergeschoss links</h2>
<p>Sehr geehrte Damen und Herren,</p>
<p>hiermit kündige ich den Mietvertrag vom 1. Oktober 2019 über die oben genannte Wohnung fristgerecht unter
Einhaltung der gesetzlichen Kündigungsfrist von drei Monaten zum 31. Juli 2024. Bitte bestätigen Sie mir den
Eingang dieser Mietvertragskündigung schriftlich.</p>
<p>Für die Wohnungsübergabe schlage ich Mittwoch, den 31. Juli 2024, um 10 Uhr vor. Die Schlüssel (zwei
Haustürschlüssel, zwei Wohnungsschlüssel, ein Briefkastenschlüssel) übergebe ich bei diesem Termin. Die
Schönheitsreparaturen werden bis dahin fachgerecht ausgeführt.</p>
<p>Die Mietkaution in Höhe von 2.400 Euro überweisen Sie bitte nach der Abnahme auf mein Konto bei der
Stadtsparkasse München, IBAN DE02 7015 0000 0012 3456 78. Die Nebenkostenabrechnung für 2023
(Rechnungsnummer NK-2023-4471) habe ich am 15. Februar 2024 vollständig beglichen.</p>
<p>Mit freundlichen Grüßen<br/>Jürgen Weißmüller</p>
""", """
<p>Jürgen Weißmüller, Lindenstraße 12, 80331 München</p>
<p>Alpenland Versicherung AG, Kundenservice, Postfach 10 04 55, 86005 Augsburg</p>
<p>München, den 22. April 2024</p>
<h2>Kündigung meiner Haftpflichtversicherung und Hausratversicherung wegen Umzugs ins Ausland</h2>
<p>Versicherungsnummer: HP-558-2291-7 &#160;&#160; Versicherungsnehmer: Jürgen Weißmüller, geboren am 4. Mai 1981</p>
<p>Sehr geehrte Damen und Herren,</p>
<p>da ich zum 1. August 2024 nach Wien umziehe und meinen Wohnsitz in Deutschland aufgebe, kündige ich meine
Privathaftpflichtversicherung sowie meine Hausratversicherung zum 31. Juli 2024. Ich berufe mich dabei auf mein
Sonderkündigungsrecht wegen Wegfalls des versicherten Risikos.</p>
<p>Bitte erstatten Sie den zu viel gezahlten Jahresbeitrag (Beitragsrückerstattung) anteilig auf das Ihnen
bekannte Konto. Die Größe der neuen Wohnung in Wien beträgt 68 Quadratmeter; ein Angebot für eine
österreichische Hausratversicherung nehme ich gern entgegen.</p>
<p>Bitte senden Sie mir eine schriftliche Kündigungsbestätigung an meine neue Anschrift: Praterstraße 31/7,
1020 Wien, Österreich.</p>
<p>Mit freundlichen Grüßen<br/>Jürgen Weißmüller</p>
"""]


def staff_directory(rng: random.Random) -> list[str]:
    people = [
        ("Zoë Lefèvre", "Head of the French desk; legal and notarial texts", "zoe.lefevre@example.org", "201"),
        ("Małgorzata Wiśniewska", "Polish court interpreting, sworn translations", "m.wisniewska@example.org", "214"),
        ("Αθηνά Παπαδοπούλου (Athina Papadopoulou)", "Greek medical and pharmaceutical texts",
         "a.papadopoulou@example.org", "216"),
        ("Дмитрий Соколов (Dmitri Sokolov)", "Russian and Ukrainian technical manuals", "d.sokolov@example.org",
         "219"),
        ("山田太郎 (Yamada Tarō)", "Japanese patents and software localisation", "t.yamada@example.org", "223"),
        ("Björn Ødegård", "Norwegian, Danish and Swedish; terminology database", "b.odegard@example.org", "225"),
        ("Ana Núñez Peña", "Spanish and Catalan; subtitles", "a.nunez@example.org", "230"),
        ("Siobhán Ní Bhriain", "Office manager, invoicing and holidays", "s.nibhriain@example.org", "200"),
    ]
    rows = "".join(f"<tr><td>{n}</td><td>{r}</td><td>{m}</td><td>{x}</td></tr>" for n, r, m, x in people)
    return [f"""
<h1>Meridian Translation Bureau &#8212; staff directory</h1>
<p>As of 2 September 2024. Switchboard +44 131 496 0800. General enquiries and requests for quotes:
user@example.org (answered within one working day).</p>
<table><tr><th>Name</th><th>Role</th><th>E-mail</th><th>Ext.</th></tr>{rows}</table>
""", """
<h1>How we work</h1>
<h2>Office hours</h2>
<p>The office is staffed Monday to Friday from 08:30 to 17:30 UK time. Outside these hours, urgent court
interpreting can be booked through the emergency line, which forwards to the interpreter on call.</p>
<h2>Rush jobs</h2>
<p>A translation needed within 24 hours is a rush job. We accept rush jobs of up to 3,000 words per translator
and charge a surcharge of 50 percent. Send the file and the deadline to the general enquiries address; the
office manager confirms within two hours whether someone is free.</p>
<h2>Holidays and cover</h2>
<p>Translators book holidays at least six weeks in advance through the office manager. Every language pair has
a named deputy, so that no client waits more than one working day for an answer while a colleague is away.</p>
<h2>Confidentiality</h2>
<p>All staff have signed a non-disclosure agreement. Client files are stored on the bureau's own encrypted
server and deleted twelve months after the job ends, unless the client asks us in writing to keep them.</p>
"""]


def minutes(rng: random.Random) -> list[str]:
    return ["""
<h1>Riverside Allotment Association</h1>
<p><b>Minutes of the committee meeting held on Thursday, 14 November 2024, at 19:00 in the pavilion</b></p>
<p>Present: Priya Raghunathan (chair), Tomasz Wróblewski (treasurer), Éloïse Marchand (secretary), Olusegun
Adeyemi, Greta Halvorsen, Declan O'Sullivan, Marisol Etxeberria. Apologies: Kwame Mensah-Bonsu.</p>
<h2>1. Annual fees</h2>
<p>The treasurer reported that the water bill rose by 28 percent this year. The committee agreed to raise the
annual plot fee from £35 to £42 from 1 January 2025. Half plots will pay £24. Members over 70 keep their
reduced rate. The vote was 7 in favour and 2 against.</p>
<h2>2. Water supply</h2>
<p>Two standpipes near plots 11 and 17 leak. Olusegun Adeyemi will fit new washers and drain the pipes before
the first frost; the mains tap stays closed from 1 December to 1 March.</p>
<h2>3. Wildlife</h2>
<p>Greta Halvorsen proposed leaving 13 cm gaps at the bottom of boundary fences so that hedgehogs can pass
between the plots and the railway embankment. Agreed without objection. Slug pellets containing metaldehyde
remain banned on the site.</p>
""", """
<h2>4. Waiting list</h2>
<p>Nineteen people are on the waiting list. Plot 17 falls vacant at the end of the year because its tenant is
moving away; it will be offered to the first person on the list. Plots that are not cultivated for a whole
season will receive a warning letter, and the tenancy ends if nothing changes within six weeks.</p>
<h2>5. Any other business</h2>
<p>The shed roof lets in rain. Tomasz Wróblewski will obtain three quotes for a new roof by 2024-12-06.
Declan O'Sullivan offered his trailer for the spring manure delivery, expected in the week of 10 March 2025.</p>
<h2>Actions</h2>
<table><tr><th>Who</th><th>What</th><th>By</th></tr>
<tr><td>Tomasz Wróblewski</td><td>Three quotes for the shed roof</td><td>2024-12-06</td></tr>
<tr><td>Olusegun Adeyemi</td><td>Washers for the standpipes; drain the pipes</td><td>30 November 2024</td></tr>
<tr><td>Éloïse Marchand</td><td>Letter about the new fees to all members</td><td>1 December 2024</td></tr></table>
<p>The next meeting will be held on 2025-01-16. The meeting closed at 20:40.</p>
"""]


def travel_report(rng: random.Random) -> list[str]:
    return ["""
<h1>Expense report &#8212; site visits, May 2024</h1>
<p>Employee: Ingrid Castellanos-Møller, quality engineering &#160;&#160; Cost centre: QE-4410 &#160;&#160;
Report number: ER-2024-0533</p>
<table><tr><th>Date</th><th>Trip</th><th>Cost (EUR)</th></tr>
<tr><td>21.05.2024</td><td>Train Basel &#8211; Besançon, supplier audit at Horlogerie Vaucher</td><td>86.40</td></tr>
<tr><td>22.05.2024</td><td>Hotel Le Régent, Besançon, one night</td><td>118.00</td></tr>
<tr><td>23.05.2024</td><td>Flight Basel &#8211; Kraków, visit to the plant in Wieliczka</td><td>212.75</td></tr>
<tr><td>24.05.2024</td><td>Hotel Wawel Żurawia, Kraków, one night; taxi to Kraków Główny</td><td>131.20</td></tr>
<tr><td>27.05.2024</td><td>Train to Malmö, meeting with Öresund Precision AB</td><td>64.90</td></tr></table>
<p>Per diem claimed for five days at the company rate. Receipt R-88213 (taxi in Kraków) is attached as a photo.</p>
<h2>Lost receipt</h2>
<p>The receipt for the dinner with the Öresund Precision team on 27 May 2024 was lost. Under the travel policy, I
declare that the amount of EUR 74.50 was spent for business purposes, and I attach the card statement showing
the payment instead. A declaration like this is accepted once per quarter and must be countersigned by the
head of department.</p>
<p>Approved: Ruairí Mac Giolla Phádraig, head of quality engineering, 3 June 2024.</p>
"""]


def recall_notice(rng: random.Random) -> list[str]:
    return ["""
<h1>Safety recall: KettleMax KM-220 electric kettle</h1>
<p>Issued 8 January 2025 by Hearthware Appliances Ltd. Batches 2311A to 2402C are affected; the batch number is
printed under the base, next to the power rating.</p>
<p>The hinge of the lid can crack after repeated use. If it does, the lid may open while the kettle is being
poured and boiling water can escape. No injuries have been reported so far. Stop using the kettle at once and
unplug it. Return it to the shop where you bought it, or send it to us free of charge with the prepaid label
from our website, and you will receive a full refund or a replacement of your choice, even without the receipt.</p>
<h2>Ανάκληση προϊόντος (Ελληνικά)</h2>
<p>Ο μεντεσές του καπακιού του βραστήρα KM-220 μπορεί να ραγίσει. Σταματήστε να χρησιμοποιείτε τον βραστήρα και
επιστρέψτε τον στο κατάστημα για πλήρη επιστροφή χρημάτων.</p>
<h2>Отзыв продукции (по-русски)</h2>
<p>Шарнир крышки электрического чайника KM-220 может треснуть. Прекратите пользоваться чайником и верните его в
магазин: вы получите полное возмещение стоимости или замену.</p>
<h2>リコールのお知らせ（日本語）</h2>
<p>電気ケトル KM-220 のふたのちょうつがいが割れるおそれがあります。ただちに使用を中止し、
購入店に返品してください。全額返金または交換いたします。</p>
"""]


DOCUMENTS: dict[str, Callable[[random.Random], list[str]]] = {
    "gen-invoice-walnut.pdf": invoice_walnut,
    "gen-invoice-hosting.pdf": invoice_hosting,
    "gen-invoice-catering.pdf": invoice_catering,
    "gen-invoice-electrician.pdf": invoice_electrician,
    "gen-kuendigung.pdf": kuendigung,
    "gen-staff-directory.pdf": staff_directory,
    "gen-minutes.pdf": minutes,
    "gen-travel-report.pdf": travel_report,
    "gen-recall-notice.pdf": recall_notice,
}


def write_pdf(pages: list[str], path: Path) -> int:
    """Lay out each page's HTML on an A4 page and save the PDF reproducibly; the page count."""
    doc = pymupdf.open()
    for number, html in enumerate(pages, start=1):
        page = doc.new_page(width=595, height=842)
        spare, _ = page.insert_htmlbox(pymupdf.Rect(56, 56, 539, 786), html, css=CSS, scale_low=1)
        if spare < 0:
            raise RuntimeError(f"{path.name}: page {number}'s text does not fit on the page")
    doc.subset_fonts()
    doc.save(path, garbage=3, deflate=True, no_new_id=True)
    count = doc.page_count
    doc.close()
    return count


def build(out: Path, seed: int = SEED) -> dict[str, int]:
    """Write every generated document into ``out``; their page counts by file name."""
    rng = random.Random(seed)
    return {name: write_pdf(make(rng), out / name) for name, make in DOCUMENTS.items()}
