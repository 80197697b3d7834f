"""The status page in a real headless browser (Debian's Chromium, driven by Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ..api_server import ApiServer

SAMPLES = Path(__file__).parents[2] / "samples"
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


class _Framer:
    """A page on another port of 127.0.0.1 (another origin, the same site) that frames the status page."""

    def __init__(self, target: str) -> None:
        import http.server
        import threading

        body = f'<!doctype html><title>framer</title><iframe id="victim" src="{target}/"></iframe>'.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs it)")
def test_the_page_cannot_be_framed_and_stored_markup_stays_text_with_inline_script_refused(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    server = ApiServer(tmp_path / "api").start()
    framer = _Framer(server.url)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=QUIET)
            # Given a page of another origin on the same host that frames the status page
            page = browser.new_page()
            page.goto(framer.url, wait_until="load")
            # Then the browser refuses to show it there: no token field, no buttons to press through the frame
            victim = next(frame for frame in page.frames if frame is not page.main_frame)
            assert victim.locator("#token").count() == 0, "the status page rendered inside another site's frame"
            # nor read the API with a token it got hold of: the browser refuses the cross-origin request
            read = page.evaluate("""async ([url, token]) => {
                try { await fetch(url + "/v1/jobs", {headers: {Authorization: "Bearer " + token}}); return "read"; }
                catch (e) { return "refused"; } }""", [server.url, server.tokens["alice"]])
            assert read == "refused"
            # Given a failed upload whose name is markup that would run a script if it were rendered as HTML
            name = "<img src=x onerror=window.pwned=1>.pdf"
            with server.client() as alice:
                job_id = alice.post("/v1/documents", files=[
                    ("file", (name, b"%PDF-1.7\n%%EOF not a document", "application/pdf"))]).json()["job_id"]
            own = browser.new_page()
            own.goto(f"{server.url}/")
            own.fill("#token", server.tokens["alice"])
            own.click("#save")
            # Then its name and reason show as text, and nothing ran
            failure = own.locator(f"#job-{job_id} .failure")
            expect(failure).to_contain_text(name + ": corrupt", timeout=60_000)
            assert own.evaluate("window.pwned") is None
            # And markup with an inline handler put into the page (a future mistake of the page's own) is not run:
            # the Content-Security-Policy allows the page's own script file and nothing inline
            own.evaluate("() => { const d = document.createElement('div');"
                         " d.innerHTML = '<img src=/nothing onerror=\"window.inline=1\">'; document.body.append(d); }")
            own.wait_for_timeout(500)
            assert own.evaluate("window.inline") is None
            browser.close()
    finally:
        framer.close()
        assert server.stop() == 0


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs it)")
def test_the_page_forgets_its_token_and_remembers_it_only_when_asked(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    server = ApiServer(tmp_path / "api").start()
    try:
        with server.client() as alice:
            job_id = alice.post("/v1/documents", files=[
                ("file", ("tide.txt", b"The harbour master keeps a log of every tide. " * 10, "text/plain"))]).json()[
                "job_id"]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=QUIET)
            context = browser.new_context()
            page = context.new_page()
            stored = "() => [sessionStorage.getItem('docmill-token'), localStorage.getItem('docmill-token')]"
            # Given alice's token entered without "remember"
            page.goto(f"{server.url}/")
            page.fill("#token", server.tokens["alice"])
            page.click("#save")
            expect(page.locator(f"#job-{job_id}")).to_be_visible(timeout=30_000)
            # Then it lives in this tab only: another tab of the same browser does not have it
            other = context.new_page()
            other.goto(f"{server.url}/")
            assert other.input_value("#token") == "" and other.evaluate(stored) == [None, None]
            # When she asks to remember it, another tab has it; and when she forgets it
            page.check("#remember")
            page.click("#save")
            other.reload()
            assert other.input_value("#token") == server.tokens["alice"]
            page.click("#forget")
            # Then it is gone from the page, the tab and the device, with what it showed
            assert page.input_value("#token") == "" and page.evaluate(stored) == [None, None]
            expect(page.locator(f"#job-{job_id}")).to_have_count(0)
            expect(page.locator("#message")).to_contain_text("forgotten")
            page.wait_for_timeout(2500)  # a refresh would have come back by now
            expect(page.locator(".job")).to_have_count(0)
            page.reload()
            assert page.input_value("#token") == "" and page.locator(".job").count() == 0
            fresh = context.new_page()
            fresh.goto(f"{server.url}/")
            assert fresh.input_value("#token") == "" and fresh.evaluate(stored) == [None, None]
            browser.close()
    finally:
        assert server.stop() == 0
