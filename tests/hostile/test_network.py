"""Hostile networks: the SSRF guard checks the address it connects to, and secrets stay out of every log line."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from docmill.core.errors import PermanentError
from docmill.core.values import DocumentRef
from docmill.plugins import net_guard
from docmill.plugins.url_source import HttpSource
from docmill.testing.paperless import PaperlessServer

from ..conftest import Cli


@pytest.mark.parametrize(("address", "why"), [
    ("100.100.100.200", "non-public"),     # shared address space: a cloud's metadata service lives here
    ("100.64.0.1", "non-public"),
    ("192.0.0.8", "non-public|private"),   # IETF protocol assignments (private to Python before 3.11.10)
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 carrying 169.254.169.254
    ("10.1.2.3", "private"),
    ("169.254.169.254", "link-local"),
    ("::ffff:127.0.0.1", "loopback"),       # IPv4-mapped
    ("2002:0a00:0001::1", "private"),      # 6to4 carrying 10.0.0.1
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private"),  # Teredo whose client is 192.0.2.45
    ("fd00:ec2::254", "private"),
    ("0.0.0.0", "private"),
])
def test_only_public_internet_addresses_pass_the_guard(address: str, why: str) -> None:
    reason = net_guard.forbidden(address)
    assert reason is not None and any(word in reason for word in why.split("|")), reason


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert net_guard.forbidden(address) is None


class _Internal(BaseHTTPRequestHandler):
    """A service on the machine's own network that an SSRF would reach; it records every request."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Host")))
        body = b"internal secret"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def internal() -> Iterator[ThreadingHTTPServer]:
    _Internal.seen = []
    server = ThreadingHTTPServer(("127.0.0.2", 0), _Internal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _ref(url: str) -> DocumentRef:
    return DocumentRef(key=f"source:web/{url}", name=url, locator=url)


def test_a_name_that_resolves_elsewhere_the_second_time_reaches_nothing(internal: ThreadingHTTPServer) -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.2"], ["127.0.0.2"]])  # public when checked, then internal
    source = HttpSource("web", [], max_bytes=10**6, resolve=lambda host: next(answers))
    url = f"http://rebinding.example:{internal.server_address[1]}/admin"
    with pytest.raises(PermanentError, match="loopback") as refused:
        source.fetch(_ref(url))
    assert refused.value.kind == "refused address"
    assert _Internal.seen == []  # the internal server received nothing
    source.close()


def test_the_connection_goes_to_the_checked_address_with_the_hosts_name_and_no_proxy(
        internal: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Let 127.0.0.2 count as public here, and give the name only the test's resolver knows: the request can
    # only arrive if the connection uses the address the guard resolved and checked, never a new lookup.
    real = net_guard.forbidden
    monkeypatch.setattr(net_guard, "forbidden", lambda address: None if address == "127.0.0.2" else real(address))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a proxy from the environment is ignored
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    calls: list[str] = []

    def resolve(host: str) -> list[str]:
        calls.append(host)
        return ["127.0.0.2"]

    source = HttpSource("web", [], max_bytes=10**6, resolve=resolve)
    port = internal.server_address[1]
    blob = source.fetch(_ref(f"http://only-our-resolver.example:{port}/page.txt"))
    assert blob.data == b"internal secret"
    assert _Internal.seen == [("/page.txt", f"only-our-resolver.example:{port}")]  # the original Host header
    assert calls and set(calls) == {"only-our-resolver.example"}
    source.close()


CANARY = "canary-hostile-secret-8c1f22"


def test_a_url_with_credentials_is_refused_and_its_password_shown_nowhere(cli: Cli, isolated: Path) -> None:
    (isolated / "docmill.toml").write_text(
        f'[[sources]]\nname = "archive"\ntype = "paperless"\nurl = "https://admin:{CANARY}@paperless.lan"\n')
    done = cli("sync", "archive", check=False)
    assert done.returncode == 3 and "put the credential in 'token'" in done.stderr
    assert CANARY not in done.stderr + done.stdout
    (isolated / "docmill.toml").write_text(
        '[[sources]]\nname = "archive"\ntype = "paperless"\nurl = "https://paperless.lan"\n'
        f'api_token = "{CANARY}"\n')
    done = cli("sync", "archive", check=False)
    assert done.returncode == 3 and "looks like a secret" in done.stderr and CANARY not in done.stderr


@pytest.mark.parametrize("token", [CANARY, CANARY + "\n"], ids=["token", "token with a newline"])
def test_no_secret_reaches_a_log_line_even_at_debug_level(cli: Cli, isolated: Path, token: str) -> None:
    with PaperlessServer(3, token.strip()) as server:
        (isolated / "docmill.toml").write_text(
            f'[[sources]]\nname = "archive"\ntype = "paperless"\nurl = "{server.url}"\nbackoff_seconds = 0.01\n')
        done = cli("-vv", "sync", "archive", check=False, env={"DOCMILL_SOURCES__0__TOKEN": token})
    output = done.stderr + done.stdout
    assert "send_request_headers" in output or "HTTP Request" in output  # httpx and httpcore did log at -vv
    assert CANARY not in output, [line for line in output.splitlines() if CANARY in line]


def test_the_log_filter_redacts_every_form_a_secret_takes_in_a_line() -> None:
    import logging

    from docmill.logs import Redactor

    redactor = Redactor()
    redactor.add([CANARY + "\n"])
    record = logging.LogRecord("httpcore.http11", logging.DEBUG, __file__, 1, "send_request_headers.failed "
                               "exception=LocalProtocolError(\"Illegal header value b'Token %s'\")", (CANARY + "\\n",),
                               None)
    assert redactor.filter(record) and CANARY not in record.getMessage() and "[redacted]" in record.getMessage()
    redactor.add(["s3cret/with+signs"])  # as a URL shows it: s3cret%2Fwith%2Bsigns
    quoted = logging.LogRecord("x", logging.INFO, __file__, 1, "GET /?t=%s", ("s3cret%2Fwith%2Bsigns",), None)
    redactor.filter(quoted)
    assert quoted.getMessage() == "GET /?t=[redacted]"


def test_an_oversized_paperless_answer_is_refused_not_read_whole() -> None:
    from docmill.plugins.paperless_client import MAX_JSON, PaperlessClient

    class Huge(PaperlessServer):
        def answer(self, method: str, target: str, authorization: str,
                   accept: str = "application/json") -> tuple[int, Any, dict[str, str]]:
            if target.startswith("/api/documents/"):
                return 200, b'{"results": ["' + b"x" * (MAX_JSON + 10) + b'"]}', {"Content-Type": "application/json"}
            return super().answer(method, target, authorization, accept)

    with Huge(1, CANARY) as server:
        client = PaperlessClient(server.url, CANARY, per_second=0)
        try:
            with pytest.raises(PermanentError) as refused:
                client.get_json("/api/documents/")
        finally:
            client.close()
    assert refused.value.kind == "answer too large"
