"""The WebDAV source's options and what it shows of its server: no credential in a URL, no option misread or
ignored; redirects that leave the folder and bodies that do not decode are refused in words, on a stand-in server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from docmill.core.errors import ConfigurationError, PermanentError, SourceUnavailable
from docmill.core.values import DocumentRef
from docmill.plugins.webdav import WebdavSource
from docmill.plugins.webdav_client import WebdavClient

from .test_webdav import CANARY, _client, _multistatus

BASE = {"name": "share", "type": "webdav", "url": "https://files.example.com/dav/", "user": "alice"}


def _build(**options: Any) -> WebdavSource:
    from docmill.settings import Settings

    settings = Settings(sources=[{**BASE, "token": CANARY}])
    source = settings.plugin_registry().source("webdav", {**BASE, **options}, settings)
    assert isinstance(source, WebdavSource)
    return source


@pytest.mark.parametrize(("options", "message"), [
    ({"url": f"https://alice:{CANARY}@files.example.com/dav/"}, "url has a user name or password in it"),
    ({"url": "https://alice@files.example.com/dav/"}, "url has a user name or password in it"),
    ({"proxy": f"http://bob:{CANARY}@proxy.lan:3128"}, "proxy has a user name or password in it"),
    ({"proxy": 3128}, "proxy must be a string"),
    ({"proxy": "proxy.lan:3128"}, "proxy must be a URL such as"),
    ({"url": "ftp://files.example.com/dav/"}, "url must be a URL such as"),
    ({"url": None}, "needs url ="),
    ({"include": "*.pdf"}, r"include must be a list of globs, such as \[\"\*\.pdf\"\], not '\*\.pdf'"),
    ({"exclude": ["Archive", 7]}, "exclude must be a list of globs"),
    ({"allow_hosts": "files.example.com"}, "allow_hosts must be a list of host names"),
    ({"follow_renames": "false"}, "follow_renames must be true or false, not 'false'"),
    ({"follow_renames": 0}, "follow_renames must be true or false"),
    ({"exlude": ["Archive"]}, "the webdav source has no option 'exlude'; it takes allow_hosts, attempts"),
    ({"timeout": 0}, "timeout must be a number from 1 to 600"),
])
def test_bad_options_are_configuration_errors_that_never_repeat_a_password(options: dict[str, Any],
                                                                          message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as refused:
        _build(**{k: v for k, v in options.items() if v is not None}, **(
            {"url": ""} if options.get("url", "") is None else {}))
    assert CANARY not in str(refused.value)


def test_good_options_are_taken_as_given() -> None:
    source = _build(follow_renames=False, include=["*.md"], exclude=["Archive"], proxy="http://proxy.lan:3128",
                    attempts=2, schedule="*/30 * * * *")
    assert source.follow_renames is False
    assert source.filter.takes("notes/a.md") and not source.filter.takes("Archive/a.md")
    assert not source.filter.takes("notes/a.pdf")
    source.close()


def test_the_server_is_shown_as_host_and_port_never_with_a_user_or_password() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403)

    client = WebdavClient(f"https://alice:{CANARY}@files.example.com:8443/dav/", "alice", CANARY,
                          transport=httpx.MockTransport(handler), resolve=lambda host: ["93.184.216.34"], attempts=1)
    assert client.host == "files.example.com:8443"
    assert client.base == "https://files.example.com:8443/dav/"
    assert client.url("a b.txt") == "https://files.example.com:8443/dav/a%20b.txt"
    with pytest.raises(PermanentError, match=r"the WebDAV server at files\.example\.com:8443 forbids") as refused:
        client.propfind("sub/")
    assert CANARY not in str(refused.value) and "alice" not in str(refused.value)


def test_a_redirect_out_of_the_folder_or_to_another_port_is_refused_not_followed() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.path == "/dav/report.pdf":  # a same-host login page: its HTML is not the file
            return httpx.Response(302, headers={"Location": "/login?redirect_url=/dav/report.pdf"})
        if request.url.path == "/dav/old/":
            return httpx.Response(301, headers={"Location": "/dav/new/"})
        if request.url.path == "/dav/elsewhere/":
            return httpx.Response(301, headers={"Location": "https://files.example.com:8443/dav/elsewhere/"})
        return _multistatus("new/", "new/a.txt")

    source = WebdavSource("share", _client(handler), max_bytes=1000)
    with pytest.raises(PermanentError, match=r"redirected GET to /login, outside /dav/") as refused:
        source.fetch(DocumentRef(key="source:share/path/report.pdf", name="report.pdf", locator="report.pdf"))
    assert refused.value.kind == "refused redirect"
    assert not [url for url in asked if "/login" in url]
    assert [e.path for e in source.client.propfind("old/")] == ["new/", "new/a.txt"]  # inside the folder: followed
    http = WebdavClient("http://files.example.com/dav/", "alice", CANARY, transport=httpx.MockTransport(handler),
                        resolve=lambda host: ["93.184.216.34"], attempts=1)
    with pytest.raises(PermanentError, match=r"redirected to files\.example\.com:8443") as moved:
        http.propfind("elsewhere/")  # http to https is an upgrade only on https's own port
    assert moved.value.kind == "refused address"


def test_a_body_that_does_not_decode_is_a_transient_failure_in_words() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(207 if request.method == "PROPFIND" else 200, headers={"Content-Encoding": "gzip"},
                              stream=httpx.ByteStream(b"\x1f\x8b not gzip at all"))

    source = WebdavSource("share", _client(handler), max_bytes=1000)
    with pytest.raises(SourceUnavailable, match=r"/a\.txt from files\.example\.com in an encoding that does not "
                                                r"decode \(DecodingError"):
        source.fetch(DocumentRef(key="source:share/path/a.txt", name="a.txt", locator="a.txt"))
    with pytest.raises(SourceUnavailable, match="the listing of /sub/ in an encoding that does not decode"):
        source.client.propfind("sub/")
