#!/usr/bin/env python3
"""Makes samples/scanned-invoice.pdf: a typed letter, 'scanned' at 200 DPI (grey, noisy, image only).

Run once; the PDF is committed so `make demo` has a page only OCR can read.
    .venv/bin/python scripts/make-sample-scan.py
"""

from pathlib import Path

import numpy as np
import pymupdf

LETTER = """Lindqvist Joinery AB
Storgatan 14, 411 38 Gothenburg

INVOICE No. 2023-117                                    Date: 14 March 2023

To: Harbour Lane Bakery, 22 Harbour Lane, Bristol BS1 5TT

Description                                      Qty        Amount
Oak shelving, custom fitted                        6      EUR 840.00
Walnut counter top, oiled                          1      EUR 325.00
Delivery and installation                          1      EUR 119.50

Total amount due                                          EUR 1,284.50

Payment within 30 days to IBAN SE45 5000 0000 0583 9825 7466.
Thank you for your order. Questions about this invoice: accounts@lindqvist.example
"""


def main() -> None:
    out = Path(__file__).resolve().parent.parent / "samples" / "scanned-invoice.pdf"
    page_doc = pymupdf.open()
    page = page_doc.new_page(width=595, height=842)
    page.insert_text((60, 90), LETTER, fontname="cour", fontsize=10.5, lineheight=1.5)
    pix = page.get_pixmap(dpi=200, colorspace=pymupdf.csGRAY)
    img = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width).astype(np.int16)
    noise = np.random.default_rng(7).normal(0, 9, img.shape)
    img = np.clip(img + noise - 10, 0, 255).astype(np.uint8)
    scan = pymupdf.Pixmap(pymupdf.csGRAY, img.shape[1], img.shape[0], img.tobytes(), False)
    doc = pymupdf.open()
    target = doc.new_page(width=595, height=842)
    target.insert_image(target.rect, stream=scan.tobytes("jpg", jpg_quality=60))
    doc.save(out, deflate=True)
    print(f"{out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
