"""The HTTP API for real: a `docmill api` process in embedded mode, driven over HTTP as a client would."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..api_server import ApiServer

SAMPLES = Path(__file__).parents[2] / "samples"
LIMIT = 600_000  # DOCMILL_MAX_FILE_SIZE of this server (the sample scan is 348 kB)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    root = tmp_path_factory.mktemp("api")
    handbook = root / "handbook"
    (handbook / "sub").mkdir(parents=True)
    (handbook / "ferries.txt").write_text("The ferry to the island leaves at nine from pier four. " * 10)
    (handbook / "sub" / "trains.txt").write_text("The night train to the north has sleeper cars. " * 10)
    (root / "outside.txt").write_text("Kept outside the handbook's folder.")
    (handbook / "escape.txt").symlink_to(root / "outside.txt")
    toml = f'[[sources]]\nname = "handbook"\ntype = "folder"\npath = "{handbook}"\n'
    running = ApiServer(root, toml=toml, env={"DOCMILL_MAX_FILE_SIZE": str(LIMIT)}).start()
    yield running
    assert running.stop() == 0


def blobs(server: ApiServer) -> list[Path]:
    return sorted((server.home / "uploads" / "blobs").glob("*/*"))


def test_an_upload_is_answered_at_once_and_its_progress_is_pushed_until_done(server: ApiServer) -> None:
    with server.client() as alice:
        # When alice uploads a scan and a note
        started = time.monotonic()
        answer = alice.post("/v1/documents", files=[
            ("file", ("invoice.pdf", (SAMPLES / "scanned-invoice.pdf").read_bytes(), "application/pdf")),
            ("file", ("note.txt", b"The lighthouse keeper logs every ship that passes the cape. " * 8, "text/plain"))])
        # Then the job id comes back before any of it is processed
        assert answer.status_code == 202, answer.text
        assert time.monotonic() - started < 5
        job_id = answer.json()["job_id"]
        # And its progress arrives as server-sent events until the end, no polling needed
        events = []
        with alice.stream("GET", f"/v1/jobs/{job_id}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            name = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])))
        assert events[-1][0] == "end" and events[-1][1]["finished"] and events[-1][1]["counts"] == {"done": 2}
        assert [n for n, _ in events[:-1]] == ["progress"] * (len(events) - 1)
        # And the job lists each document with its key, and a search finds the scan's words
        job = alice.get(f"/v1/jobs/{job_id}").json()
        assert job["owner"] == "alice" and job["kind"] == "upload"
        assert sorted(i["doc"] for i in job["items"]) == ["invoice.pdf", "note.txt"]
        assert all(i["key"].startswith("upload:alice/") and i["state"] == "done" for i in job["items"])
        hits = alice.get("/v1/search", params={"q": "oak shelving walnut counter", "k": 1}).json()
        assert hits[0]["doc"] == "invoice.pdf" and hits[0]["page"] == 1
        assert hits[0]["metadata"]["owner"] == "alice" and hits[0]["metadata"]["source"] == "upload"
        # And the bytes were stored once, by their SHA-256
        stored = {p.name for p in blobs(server)}
        import hashlib
        assert hashlib.sha256((SAMPLES / "scanned-invoice.pdf").read_bytes()).hexdigest() in stored


def test_each_token_sees_only_its_own_jobs_and_uploads(server: ApiServer) -> None:
    with server.client("alice") as alice, server.client("bob") as bob:
        secret = b"The vault code of the harbour office is written on the back of the tide table. " * 4
        job_id = alice.post("/v1/documents", files=[("file", ("vault.txt", secret, "text/plain"))]).json()["job_id"]
        server.wait(alice, job_id)
        key = alice.get(f"/v1/jobs/{job_id}").json()["items"][0]["key"]
        # Bob cannot see, follow, retry or delete alice's job and document: they do not exist for him
        assert bob.get(f"/v1/jobs/{job_id}").status_code == 404
        assert bob.get(f"/v1/jobs/{job_id}/events").status_code == 404
        assert bob.post(f"/v1/jobs/{job_id}/retry").status_code == 404
        assert bob.delete(f"/v1/documents/{key}").status_code == 404
        for sneaky in (key.replace("/", "%2F"), "upload:bob/../alice/vault.txt", "upload:bob%2F..%2Falice%2Fvault.txt",
                       "upload:bob/%2E%2E/alice/vault.txt"):
            assert bob.delete(f"/v1/documents/{sneaky}").status_code == 404, sneaky
        for sneaky in (f"..%2F{job_id}", f"%2E%2E/{job_id}"):
            assert bob.get(f"/v1/jobs/{sneaky}").status_code == 404, sneaky
        assert job_id not in {j["job"] for j in bob.get("/v1/jobs").json()}
        assert job_id in {j["job"] for j in alice.get("/v1/jobs").json()}
        # and a search of his never returns her upload, while hers does
        assert all(h["doc"] != "vault.txt" for h in bob.get("/v1/search", params={"q": "vault code tide table",
                                                                                   "k": 20}).json())
        assert alice.get("/v1/search", params={"q": "vault code tide table", "k": 1}).json()[0]["doc"] == "vault.txt"
        # and the 404 says nothing of alice's data
        assert "vault" not in bob.get(f"/v1/jobs/{job_id}").text


def test_no_token_or_an_unknown_one_is_401_and_only_health_and_the_page_are_open(server: ApiServer) -> None:
    with server.client(None) as anyone:
        assert anyone.get("/v1/health").json()["status"] == "ok"
        assert "docmill" in anyone.get("/").text
        for method, path in (("GET", "/v1/jobs"), ("GET", "/v1/search?q=x"), ("POST", "/v1/documents"),
                             ("GET", "/v1/jobs/abc"), ("DELETE", "/v1/documents/upload:alice/x")):
            answer = anyone.request(method, path)
            assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer", (path, answer)
            assert "bearer token" in answer.json()["error"]["message"]
        wrong = anyone.get("/v1/jobs", headers={"Authorization": "Bearer dm_not-a-token"})
        assert wrong.status_code == 401


def test_what_answers_without_a_token_is_what_the_docs_say(server: ApiServer) -> None:
    # docs/api.md names what is open; every other operation of the schema is 401 without a token (the schema was
    # open while the docs said only /v1/health and / were)
    import re

    docs = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    sentence = docs[docs.index("Open without a token:"):].split("\n\n")[0]
    documented = set(re.findall(r"`GET (/[^`]*)`", sentence))
    with server.client(None) as anyone:
        schema = anyone.get("/v1/openapi.json").json()
        opened = {path for path in ("/", "/page.js", "/page.css", "/v1/openapi.json")
                  if anyone.get(path).status_code == 200}
        for path, operations in schema["paths"].items():
            if path.endswith("/webhook"):  # its source's webhook secret instead of a token (tested below)
                continue
            for method in operations:
                concrete = path.replace("{job_id}", "abc").replace("{key}", "upload:x/y").replace("{source}", "s")
                answer = anyone.request(method.upper(), concrete)
                if answer.status_code != 401:
                    opened.add(path)
    assert opened == documented


def test_every_answer_carries_the_security_headers_and_authenticated_ones_are_not_stored(server: ApiServer) -> None:
    with server.client() as alice, server.client(None) as anyone:
        answers = {"page": anyone.get("/"), "script": anyone.get("/page.js"), "jobs": alice.get("/v1/jobs"),
                   "refused": anyone.get("/v1/jobs"), "missing": alice.get("/v1/jobs/nosuchjob")}
    for what, answer in answers.items():
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy, what
        assert "unsafe-inline" not in policy, what
        assert answer.headers["x-content-type-options"] == "nosniff", what
        assert answer.headers["referrer-policy"] == "no-referrer", what
        assert answer.headers["x-frame-options"] == "DENY", what
    for what in ("jobs", "refused", "missing"):
        assert answers[what].headers["cache-control"] == "no-store", what
    assert "<script>" not in answers["page"].text and '<script src="/page.js"' in answers["page"].text


def multipart(name: bytes, data: bytes, kind: bytes = b"text/plain") -> tuple[bytes, dict[str, str]]:
    """A one-file multipart body with the file name exactly as given (a client library would escape it)."""
    body = (b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name + b"\"\r\n"
            b"Content-Type: " + kind + b"\r\n\r\n" + data + b"\r\n--b0undary--\r\n")
    return body, {"Content-Type": "multipart/form-data; boundary=b0undary"}


@pytest.mark.parametrize("name", [b"../../etc/passwd", b"/etc/passwd", b"a\\..\\b.txt", b"..", b"bell\x07.txt",
                                  b"line\nbreak.txt", b""])
def test_a_file_name_with_a_path_or_control_characters_is_refused(server: ApiServer, name: bytes) -> None:
    before = blobs(server)
    body, headers = multipart(name, b"some text")
    with server.client() as alice:
        answer = alice.post("/v1/documents", content=body, headers=headers)
    assert answer.status_code == 400, answer.text
    assert "name" in answer.json()["error"]["message"]
    assert blobs(server) == before


def test_a_declared_type_the_content_contradicts_is_refused(server: ApiServer) -> None:
    with server.client() as alice:
        answer = alice.post("/v1/documents",
                            files=[("file", ("report.pdf", b"plain words, no PDF", "application/pdf"))])
    assert answer.status_code == 415
    assert "declared application/pdf, but the content is text" in answer.json()["error"]["message"]


@pytest.mark.parametrize(("name", "kind"), [("report.pdf", "application/x-pdf"), ("report.pdf", "application/acrobat"),
                                          ("table.csv", "application/vnd.ms-excel"),
                                          ("table.csv", "application/csv"), ("data.json", "application/json")])
def test_the_common_names_of_a_files_true_type_are_taken(server: ApiServer, name: str, kind: str) -> None:
    import pymupdf

    document = pymupdf.open()
    document.new_page().insert_text((72, 72), "A one-page report on harbour dues.")
    data = document.tobytes() if name.endswith(".pdf") else b'"quay","dues"\n"north",12\n'
    with server.client() as alice:
        answer = alice.post("/v1/documents", files=[("file", (name, data, kind))])
    assert answer.status_code == 202, answer.text


def test_a_body_over_the_limit_is_refused_whether_its_length_is_declared_or_not(server: ApiServer) -> None:
    before = blobs(server)
    big = b"x" * (LIMIT + 2 * (1 << 20))
    with server.client() as alice:
        declared = alice.post("/v1/documents", files=[("file", ("big.txt", big, "text/plain"))])
        assert declared.status_code == 413 and "over the limit" in declared.json()["error"]["message"]

        def chunked() -> Iterator[bytes]:  # no Content-Length: counted while it streams
            boundary = b"--docmill-test-boundary"
            yield boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
            yield b"Content-Type: text/plain\r\n\r\n"
            for _ in range(len(big) // 65536):
                yield b"y" * 65536
            yield b"\r\n" + boundary + b"--\r\n"

        streamed = alice.post("/v1/documents", content=chunked(),
                              headers={"Content-Type": "multipart/form-data; boundary=docmill-test-boundary"})
        assert streamed.status_code == 413, streamed.text
        # one file over the limit inside a body under it
        one = alice.post("/v1/documents", files=[("file", ("big.txt", b"z" * (LIMIT + 10), "text/plain"))])
        assert one.status_code == 413
    assert blobs(server) == before


def test_refusals_say_what_is_wrong_in_the_users_terms(server: ApiServer) -> None:
    with server.client() as alice:
        # a body over the limit quotes the setting as it is set (it quoted 1,648,576 bytes for 600000)
        big = alice.post("/v1/documents", files=[("file", ("big.txt", b"x" * (LIMIT + (2 << 20)), "text/plain"))])
        assert big.status_code == 413
        assert "DOCMILL_MAX_FILE_SIZE is 600,000 bytes" in big.json()["error"]["message"], big.text
        # a 422 names the field and the problem, without pydantic's link to its own documentation
        bad = alice.post("/v1/documents", json={"source": "handbook", "items": [], "priority": 12})
        assert bad.status_code == 422 and "priority" in bad.json()["error"]["message"]
        assert "pydantic" not in bad.text and "http" not in bad.json()["error"]["message"], bad.text
        # a multipart body cut short is said to be, not to hold no file
        body, headers = multipart(b"cut.txt", b"some text")
        cut = alice.post("/v1/documents", content=body[:-len(b"\r\n--b0undary--\r\n")], headers=headers)
        assert cut.status_code == 400 and "cut short" in cut.json()["error"]["message"], cut.text
        garbage = alice.post("/v1/documents", content=b"no multipart at all", headers=headers)
        assert garbage.status_code == 400 and "multipart body" in garbage.json()["error"]["message"], garbage.text
        empty = alice.post("/v1/documents", content=b"", headers=headers)
        assert empty.status_code == 400 and "empty" in empty.json()["error"]["message"], empty.text


def test_a_chunked_body_over_the_limit_is_cut_off_not_drained(server: ApiServer) -> None:
    import select
    import socket

    # Given a client streaming a 256 MiB body without a Content-Length, reading whatever comes back as it sends
    head = (f"POST /v1/documents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.tokens['alice']}\r\n"
            "Content-Type: multipart/form-data; boundary=cut\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    part = b'--cut\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'
    block = b"x" * 65536
    chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n"
    sent, answer = 0, b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(head + f"{len(part):x}\r\n".encode() + part + b"\r\n")
        try:
            while sent < 256 << 20:
                conn.sendall(chunk)
                sent += len(block)
                while select.select([conn], [], [], 0)[0]:
                    data = conn.recv(65536)
                    if not data:
                        raise ConnectionResetError("closed")
                    answer += data
        except OSError:  # the server closed the connection: what it had not read is refused, not read
            pass
        with contextlib.suppress(OSError):
            while data := conn.recv(65536):
                answer += data
    # Then it answers 413 and stops reading: the client could send little beyond the limit and the socket buffers
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < LIMIT + (16 << 20), f"the server read {sent >> 20} MiB of a body over a {LIMIT >> 20} MiB limit"


def test_a_failed_document_says_why_and_is_retried_from_the_api(server: ApiServer) -> None:
    with server.client("carol") as carol:
        broken = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF and nothing that holds together"
        job_id = carol.post("/v1/documents", files=[("file", ("broken.pdf", broken, "application/pdf"))]).json()[
            "job_id"]
        job = server.wait(carol, job_id)
        item = job["items"][0]
        assert (item["state"], item["error"]) == ("failed", "corrupt") and item["reason"]
        again = carol.post(f"/v1/jobs/{job_id}/retry")
        assert again.status_code == 202 and again.json()["job_id"] not in (None, job_id)
        retried = server.wait(carol, again.json()["job_id"])
        assert retried["owner"] == "carol" and retried["counts"] == {"failed": 1}
        done_job = carol.post("/v1/documents", files=[("file", ("ok.txt", b"fine words " * 20, "text/plain"))])
        finished = server.wait(carol, done_job.json()["job_id"])
        assert carol.post(f"/v1/jobs/{finished['job']}/retry").json() == {"job_id": None}


def test_deleting_an_uploaded_document_removes_its_chunks(server: ApiServer) -> None:
    with server.client("bob") as bob:
        job_id = bob.post("/v1/documents", files=[("file", ("gone.txt", b"A glacier calves into the fjord. " * 9,
                                                                "text/plain"))]).json()["job_id"]
        key = server.wait(bob, job_id)["items"][0]["key"]
        assert bob.get("/v1/search", params={"q": "glacier calves fjord", "k": 1}).json()[0]["doc"] == "gone.txt"
        removal = bob.delete(f"/v1/documents/{key}")
        assert removal.status_code == 202
        assert server.wait(bob, removal.json()["job_id"])["counts"] == {"deleted": 1}
        # the delete job lists what it removed, though the document itself is forgotten (it listed nothing)
        items = bob.get(f"/v1/jobs/{removal.json()['job_id']}").json()["items"]
        assert [(i["doc"], i["key"], i["state"]) for i in items] == [("gone.txt", key, "deleted")]
        assert all(h["doc"] != "gone.txt" for h in bob.get("/v1/search", params={"q": "glacier", "k": 20}).json())
        assert bob.delete(f"/v1/documents/{key}").status_code == 404


def test_named_source_items_are_ingested_and_nothing_else_of_it(server: ApiServer) -> None:
    with server.client() as alice:
        answer = alice.post("/v1/documents", json={"source": "handbook", "items": ["sub/trains.txt"]})
        assert answer.status_code == 202, answer.text
        job = server.wait(alice, answer.json()["job_id"])
        assert [i["doc"] for i in job["items"]] == ["sub/trains.txt"] and job["counts"] == {"done": 1}
        hits = alice.get("/v1/search", params={"q": "night train sleeper", "k": 1, "where": "source=handbook"}).json()
        assert hits[0]["doc"] == "sub/trains.txt"
        others = alice.get("/v1/search", params={"q": "ferry island pier", "where": "source=handbook"}).json()
        assert {h["doc"] for h in others} == {"sub/trains.txt"}  # the ferry note was not ingested
        # An item that is not there, and one that leads out of the folder, are listed skipped with why, and the
        # source's other files are not listed at all
        for item, why in (("nothere.txt", "no such file"), ("escape.txt", "leaves the ingested folder")):
            answer = alice.post("/v1/documents", json={"source": "handbook", "items": [item]})
            job = server.wait(alice, answer.json()["job_id"])
            assert [(i["doc"], i["state"], i["error"]) for i in job["items"]] == [(item, "skipped", "refused")], (
                job["error"], job["counts"], job)
            assert why in job["items"][0]["reason"]
        unknown = alice.post("/v1/documents", json={"source": "nope", "items": ["a"]})
        assert unknown.status_code == 404 and "handbook" not in unknown.text  # no list of the sources there are
        assert alice.post("/v1/documents", json={"source": "handbook", "items": ["../x"]}).status_code == 400


def test_search_filters_and_bad_filters(server: ApiServer) -> None:
    with server.client() as alice:
        job_id = alice.post("/v1/documents", files=[
            ("file", ("filters-a.txt", b"Apples ripen in the orchard by late September. " * 8, "text/plain"))]).json()[
            "job_id"]
        server.wait(alice, job_id)
        found = alice.get("/v1/search", params=[("q", "apples orchard"), ("k", "5"), ("where", "doc=filters-a.txt"),
                                                ("where", "source=upload")]).json()
        assert found and {h["doc"] for h in found} == {"filters-a.txt"}
        assert alice.get("/v1/search", params={"q": "apples", "where": "doc=nothing.txt"}).json() == []
        bad = alice.get("/v1/search", params={"q": "apples", "where": "tags>=3"})
        assert bad.status_code == 400 and "tags takes" in bad.json()["error"]["message"]
        # the longest search the API takes, in characters of 12 bytes percent-encoded, is answered; longer is 422
        where = [("where", "doc=" + "\U00041fc5" * 196)] * 10
        longest = alice.get("/v1/search", params=[("q", "\U00041fc5" * 2000), *where])
        assert longest.status_code == 200 and longest.json() == []
        too_long = alice.get("/v1/search", params={"q": "\U00041fc5" * 2001})
        assert too_long.status_code == 422 and "q" in too_long.json()["error"]["message"]


def test_a_caller_over_the_rate_limit_gets_429_with_retry_after(server: ApiServer) -> None:
    with server.client("carol") as carol:
        statuses = [carol.get("/v1/jobs", params={"limit": 1}) for _ in range(80)]
    limited = [a for a in statuses if a.status_code == 429]
    assert limited and int(limited[0].headers["retry-after"]) >= 1
    assert "rate limit" in limited[0].json()["error"]["message"]
    # the message says the wait Retry-After says (it said "try again in 0.0 s" beside Retry-After: 1)
    for answer in limited:
        assert f"try again in {answer.headers['retry-after']} s" in answer.json()["error"]["message"], answer.text
    time.sleep(2.5)  # the bucket refills for the tests after this one


def test_sigterm_stops_the_api_and_its_pipeline(tmp_path: Path) -> None:
    running = ApiServer(tmp_path / "api").start()
    with running.client() as alice:
        alice.post("/v1/documents", files=[("file", ("a.txt", b"words " * 50, "text/plain"))])
    assert running.stop() == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{running.url}/v1/health", timeout=2)


def test_sigterm_stops_the_api_promptly_while_a_webhook_sync_waits_on_an_unreachable_source(tmp_path: Path) -> None:
    from docmill.testing import free_port

    # Given an API whose Paperless-ngx source does not answer, and two webhook calls: one sync running (retrying
    # the unreachable server), one more queued behind it
    toml = (f'[[sources]]\nname = "archive"\ntype = "paperless"\nurl = "http://127.0.0.1:{free_port()}"\n'
            'schedule = "0 3 1 1 *"\n')
    api = ApiServer(tmp_path / "api", toml=toml, env={"DOCMILL_SOURCES__0__TOKEN": "t",
                                                      "DOCMILL_SOURCES__0__WEBHOOK_SECRET": "hook-secret"}).start()
    try:
        with api.client(None) as hook:
            answers = [hook.post("/v1/sources/archive/webhook", headers={"X-Docmill-Webhook-Secret": "hook-secret"})
                       for _ in range(2)]
        assert [a.json()["sync"] for a in answers] == ["started", "coalesced"]
        time.sleep(1)  # the sync is under way
    finally:
        # When it is told to stop
        stopped = time.monotonic()
        assert api.stop() == 0
    # Then it stops within seconds, says what it waited for, and starts no sync after the signal
    assert time.monotonic() - stopped < 20
    events = [json.loads(line) for line in api.log.read_text().splitlines() if line.startswith("{")]
    assert any(e.get("event") == "api.stopping" and "sync of archive" in e["message"] for e in events), events
    from docmill.core.ledger import Ledger

    with Ledger(f"sqlite:///{api.home / 'ledger.db'}") as ledger:
        syncs = [h for h in ledger.leases.history("source:archive")]
    assert len(syncs) == 1, syncs  # the queued sync never started


def test_webhook_secret_guesses_are_slowed_to_one_a_second(tmp_path: Path) -> None:
    from docmill.testing import free_port

    toml = (f'[[sources]]\nname = "archive"\ntype = "paperless"\nurl = "http://127.0.0.1:{free_port()}"\n'
            'schedule = "0 3 1 1 *"\n')
    api = ApiServer(tmp_path / "api", toml=toml, env={"DOCMILL_SOURCES__0__TOKEN": "t",
                                                      "DOCMILL_SOURCES__0__WEBHOOK_SECRET": "the-right-secret"}).start()
    try:
        with api.client(None) as hook:
            def call(secret: str) -> httpx.Response:
                return hook.post("/v1/sources/archive/webhook", headers={"X-Docmill-Webhook-Secret": secret})

            # Given a client guessing secrets as fast as it can
            answers = [call(f"guess-{i}") for i in range(20)]
            statuses = [a.status_code for a in answers]
            # Then the first few are told they are wrong, and the rest to slow down, with Retry-After
            assert statuses[:5] == [401] * 5 and statuses.count(429) >= 14, statuses
            limited = next(a for a in answers if a.status_code == 429)
            assert int(limited.headers["retry-after"]) >= 1 and "wrong webhook secrets" in limited.text
            # and a right guess while it is held back is held back too: it tells the guesser nothing
            assert call("the-right-secret").status_code == 429
            time.sleep(int(limited.headers["retry-after"]) + 0.1)
            assert call("the-right-secret").status_code == 202
    finally:
        assert api.stop() == 0


def test_a_second_api_on_the_same_home_says_why_it_waits_and_serves_once_the_first_stops(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from docmill.testing import free_port

    first = ApiServer(tmp_path / "api").start()
    port = free_port()
    log = tmp_path / "second.log"
    with log.open("wb") as out:
        second = subprocess.Popen([sys.executable, "-m", "docmill", "api", "--port", str(port)], cwd=first.cwd,
                                  env=first.env, stdout=out, stderr=subprocess.STDOUT)
    try:
        # The second says at once that it waits, and for what, with no port open meanwhile
        deadline = time.monotonic() + 30
        while "waits for it" not in log.read_text():
            assert time.monotonic() < deadline and second.poll() is None, log.read_text()
            time.sleep(0.2)
        assert f"pid {first.process.pid}" in log.read_text() if first.process else False
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2)
        # and serves once the first has stopped
        assert first.stop() == 0
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        if first.process is not None and first.process.poll() is None:  # an assertion failed before it stopped
            first.stop()
        assert second.wait(60) == 0


def test_a_paperless_webhook_makes_a_new_document_searchable_at_once_and_bursts_coalesce(tmp_path: Path) -> None:
    from docmill.testing.paperless import PaperlessServer

    with PaperlessServer(4, "paperless-api-token-1") as paperless:
        toml = f'[[sources]]\nname = "archive"\ntype = "paperless"\nurl = "{paperless.url}"\n' \
               f'schedule = "0 3 1 1 *"\n[[sources]]\nname = "quiet"\ntype = "paperless"\nurl = "{paperless.url}"\n'
        secret = "hook-secret-of-archive-42"
        api = ApiServer(tmp_path / "api", toml=toml, env={
            "DOCMILL_SOURCES__0__TOKEN": "paperless-api-token-1", "DOCMILL_SOURCES__0__WEBHOOK_SECRET": secret,
            "DOCMILL_SOURCES__1__TOKEN": "paperless-api-token-1"}).start()
        try:
            with api.client(None) as hook, api.client() as alice:
                def call(given: str = secret, source: str = "archive") -> httpx.Response:
                    return hook.post(f"/v1/sources/{source}/webhook", headers={"X-Docmill-Webhook-Secret": given})

                def found(code: str) -> bool:
                    hits = alice.get("/v1/search", params={"q": f"reference code {code}", "k": 10}).json()
                    return any(code in hit["text"] for hit in hits)

                def eventually(code: str) -> None:
                    deadline = time.monotonic() + 60
                    while not found(code):
                        assert time.monotonic() < deadline, f"{code} never became searchable"
                        time.sleep(0.3)

                assert call("wrong").status_code == 401 and call("").status_code == 401
                assert call(source="quiet").status_code == 404  # no webhook_secret: takes no webhooks
                assert call(source="nope").status_code == 404
                # The first call syncs the archive
                assert call().json() == {"source": "archive", "sync": "started"}
                eventually("PX-00004")
                # A document added in Paperless is searchable after one call, with no schedule to wait for
                new = paperless.add(1)[0]
                started = time.monotonic()
                assert call().status_code == 202
                eventually(f"PX-{new:05d}")
                assert time.monotonic() - started < 30
                # A burst of calls while a sync runs is one more sync, not one each
                paperless.add(1)
                answers = [call().json()["sync"] for _ in range(6)]
                assert answers.count("coalesced") >= 5, answers  # at most one of them starts a sync
                eventually(f"PX-{new + 1:05d}")
        finally:
            assert api.stop() == 0
        from docmill.core.ledger import Ledger

        with Ledger(f"sqlite:///{api.home / 'ledger.db'}") as ledger:
            held = [h for h in ledger.leases.history("source:archive") if h[3] == "released"]
        assert 3 <= len(held) <= 5, held  # two syncs, then the burst of six: one or two more


def test_the_api_serves_metrics_that_count_its_requests_by_route(tmp_path: Path) -> None:
    from docmill.testing import free_port
    from docmill.testing.prometheus import scraped, total

    port = free_port()
    api = ApiServer(tmp_path / "api", env={"DOCMILL_METRICS_PORT": str(port)}).start()
    try:
        with api.client() as alice:
            job_id = alice.post("/v1/documents", files=[("file", ("m.txt", b"metrics words " * 30, "text/plain"))]
                                ).json()["job_id"]
            api.wait(alice, job_id)
            alice.get("/v1/jobs/nosuchjob")
        samples = scraped(f"http://127.0.0.1:{port}/metrics")
        assert total(samples, "docmill_api_requests_total", route="/v1/documents", status="202") == 1
        assert total(samples, "docmill_api_requests_total", route="/v1/jobs/{job_id}", status="404") == 1
        assert total(samples, "docmill_documents_total", state="done") == 1  # the pipeline runs in the API
        assert not any("m.txt" in value or "nosuchjob" in value for _, labels in samples for _, value in labels)
    finally:
        assert api.stop() == 0
