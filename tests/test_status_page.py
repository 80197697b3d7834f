"""The status page in a real headless browser (Debian's Chromium, driven by Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .api_server import ApiServer

SAMPLES = Path(__file__).parent.parent / "samples"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# A browser that stays off the network: no component updates, sync, or first-run calls.
QUIET = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps"]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs it)")
def test_the_page_shows_a_job_reach_100_percent_a_failure_with_its_reason_and_search_results(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    server = ApiServer(tmp_path / "api").start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=QUIET)
            page = browser.new_page()
            # Given the page, with alice's token entered
            page.goto(f"{server.url}/")
            page.fill("#token", server.tokens["alice"])
            page.click("#save")
            # When alice uploads a scan, a note and a broken PDF
            with server.client() as alice:
                job_id = alice.post("/v1/documents", files=[
                    ("file", ("invoice.pdf", (SAMPLES / "scanned-invoice.pdf").read_bytes(), "application/pdf")),
                    ("file", ("broken.pdf", b"%PDF-1.7\n%%EOF not a document", "application/pdf")),
                    ("file", ("harbour.txt", b"The harbour master keeps a log of every tide. " * 10, "text/plain")),
                ]).json()["job_id"]
            # Then its bar reaches 100% and the broken file shows why it failed
            bar = page.locator(f"#job-{job_id} .fill")
            expect(bar).to_have_attribute("data-percent", "100", timeout=90_000)
            failure = page.locator(f"#job-{job_id} .failure")
            expect(failure).to_contain_text("broken.pdf: corrupt", timeout=30_000)
            expect(page.locator(f"#job-{job_id} button.retry")).to_be_visible()
            # And a search shows results
            page.fill("#query", "oak shelving walnut counter top")
            page.click("#search-form button")
            expect(page.locator(".hit").first).to_contain_text("invoice.pdf", timeout=30_000)
            browser.close()
    finally:
        assert server.stop() == 0


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs it)")
def test_a_wrong_token_on_the_page_says_so(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    server = ApiServer(tmp_path / "api").start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=QUIET)
            page = browser.new_page()
            page.goto(f"{server.url}/")
            page.fill("#token", "dm_wrong")
            page.click("#save")
            expect(page.locator("#message")).to_contain_text("bearer token", timeout=15_000)
            browser.close()
    finally:
        assert server.stop() == 0
