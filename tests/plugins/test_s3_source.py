"""The S3 source against moto's S3 emulator, served on a loopback port by the tests (docmill.testing.s3).

moto checks SigV4 signatures once ``authenticate`` made a user; the tests
count GetObject requests on the server's side.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from docmill.core import document_steps
from docmill.core.discover_step import discover
from docmill.core.errors import ConfigurationError, DocumentTooLarge, PermanentError, SourceUnavailable
from docmill.core.runtime import Runtime
from docmill.core.values import DocumentRef, Task
from docmill.plugins.s3_client import S3Client, S3Credentials
from docmill.plugins.s3_source import S3Source
from docmill.settings import Settings
from docmill.testing import contracts
from docmill.testing.s3 import S3Server

from ..conftest import Cli
from .fake_s3 import FakeS3, Page

CANARY = "canary-s3-secret-4f2a9c71e0"


@pytest.fixture(autouse=True)
def no_aws_of_the_developer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AWS variable or ~/.aws file of the machine reaches a test; the files named here do not exist."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    aws = tmp_path / "aws"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws / "config"))
    return aws


@pytest.fixture
def server() -> Iterator[S3Server]:
    with S3Server() as running:
        yield running


@pytest.fixture
def s3(server: S3Server) -> Any:
    """A client of the emulator for the test's own changes (made before the signatures are checked)."""
    return server.client()


def _toml(work: Path, url: str, access_id: str | None = None, **options: Any) -> None:
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())
    who = f'access_id = "{access_id}"\n' if access_id else ""
    (work / "docmill.toml").write_text(f'[[sources]]\nname = "bucket"\ntype = "s3"\nendpoint = "{url}"\n'
                                       f'bucket = "docs"\n{who}{extra}')


def _put(s3: Any, files: dict[str, str], bucket: str = "docs") -> None:
    for key, text in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode())


def _multipart(s3: Any, key: str, parts: list[str], monkeypatch: pytest.MonkeyPatch) -> str:
    """Upload ``parts`` as a multipart upload (moto's 5 MiB minimum part size lowered); its ETag."""
    import moto.s3.models

    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 16)
    upload = s3.create_multipart_upload(Bucket="docs", Key=key)["UploadId"]
    done = [{"PartNumber": n, "ETag": s3.upload_part(Bucket="docs", Key=key, UploadId=upload, PartNumber=n,
                                                     Body=text.encode())["ETag"]}
            for n, text in enumerate(parts, 1)]
    return str(s3.complete_multipart_upload(Bucket="docs", Key=key, UploadId=upload,
                                            MultipartUpload={"Parts": done})["ETag"])


def _no_canary_in(home: Path, *texts: str) -> None:
    for text in texts:
        assert CANARY not in text
    for path in home.rglob("*"):  # the ledger, the vector store, everything docmill wrote
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


FILES = {
    "team/handbook.txt": "The handbook says holidays are booked in the portal.",
    "team/minutes.md": "# Minutes\n\nThe board approved the new bakery oven.",
    "team/contracts/lease.txt": "The lease of the warehouse ends in March.",
    "team/old.txt": "An old note about the printer on the second floor.",
    "other/elsewhere.txt": "Outside the prefix: never indexed.",
    "team/folder/": "",
}


@pytest.mark.usefixtures("stub_embedder")
def test_a_sync_sees_each_edit_addition_and_deletion_and_downloads_nothing_else(
        cli: Cli, isolated: Path, home: Path, server: S3Server, s3: Any, exported: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    s3.create_bucket(Bucket="docs")
    _put(s3, FILES)
    etag = _multipart(s3, "team/parts.txt", ["The first part of a long report. " * 2, "Its second part, "
                                             "about the harbour cranes."], monkeypatch)
    assert etag.strip('"').endswith("-2")  # a multipart ETag: no MD5 of the bytes
    access_id = server.authenticate(CANARY)
    s3 = server.client()
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}
    _toml(isolated, server.url, access_id, prefix="team/", page_size=2)
    server.requests.clear()

    first = cli("-v", "sync", "bucket", "--json", env=env)
    found = json.loads(first.stdout)
    assert (found["new"], found["failed"], found["error"]) == (5, 0, None), found
    assert server.count("GetObject") == 5 and server.count("ListObjectsV2") == 3  # 6 keys under team/, 2 a page
    chunks = {c["metadata"]["object_key"]: c for c in exported()}
    assert set(chunks) == {"team/handbook.txt", "team/minutes.md", "team/contracts/lease.txt", "team/old.txt",
                           "team/parts.txt"}
    assert "harbour cranes" in chunks["team/parts.txt"]["text"]
    meta = chunks["team/handbook.txt"]["metadata"]
    assert (meta["bucket"], meta["url"]) == ("docs", "s3://docs/team/handbook.txt")

    server.requests.clear()
    s3.put_object(Bucket="docs", Key="team/handbook.txt", Body=b"The handbook now says holidays are booked by mail.")
    s3.put_object(Bucket="docs", Key="team/new.txt", Body=b"A new note: the canteen opens at noon.")
    s3.delete_object(Bucket="docs", Key="team/old.txt")
    s3.copy_object(Bucket="docs", Key="team/minutes.md", CopySource={"Bucket": "docs", "Key": "team/minutes.md"},
                   Metadata={"reviewed": "yes"}, MetadataDirective="REPLACE")  # same bytes, same ETag
    again = cli.json("sync", "bucket", env=env)
    assert (again["new"], again["changed"], again["deleted"], again["unchanged"]) == (1, 1, 1, 3), again
    gets = [r.path for r in server.requests if r.operation == "GetObject"]
    assert sorted(gets) == ["/docs/team/handbook.txt", "/docs/team/new.txt"]
    texts = {c["metadata"]["object_key"]: c["text"] for c in exported()}
    assert "booked by mail" in texts["team/handbook.txt"] and "team/old.txt" not in texts

    # The multipart object uploaded again, the same bytes cut in other parts: its ETag moved, so it counts as
    # changed and is downloaded once (an ETag is a version stamp, not a content hash).
    whole = s3.get_object(Bucket="docs", Key="team/parts.txt")["Body"].read().decode()
    assert _multipart(s3, "team/parts.txt", [whole[:40], whole[40:]], monkeypatch) != etag
    server.requests.clear()
    recut = cli.json("sync", "bucket", env=env)
    assert (recut["changed"], recut["unchanged"]) == (1, 4)
    assert [r.path for r in server.requests if r.operation == "GetObject"] == ["/docs/team/parts.txt"]

    server.requests.clear()
    nothing = cli.json("sync", "bucket", env=env)
    assert (nothing["new"], nothing["changed"], nothing["deleted"], nothing["unchanged"]) == (0, 0, 0, 5)
    assert server.count("GetObject") == 0

    full = cli.json("sync", "bucket", "--full", env=env)
    assert (full["unchanged"], full["changed"], full["deleted"]) == (5, 0, 0)
    _no_canary_in(home, first.stdout, first.stderr)


@pytest.mark.usefixtures("stub_embedder")
def test_a_versioned_bucket_gives_the_current_version_and_a_delete_marker_removes_the_object(
        cli: Cli, isolated: Path, server: S3Server, s3: Any, exported: Any) -> None:
    s3.create_bucket(Bucket="docs")
    s3.put_bucket_versioning(Bucket="docs", VersioningConfiguration={"Status": "Enabled"})
    _put(s3, {"policy.txt": "Version one of the travel policy: trains only."})
    _put(s3, {"policy.txt": "Version two of the travel policy: trains and bicycles.",
              "memo.txt": "A memo about the summer party."})
    _toml(isolated, server.url, server.authenticate(CANARY))
    s3 = server.client()
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}
    assert cli.json("sync", "bucket", env=env)["new"] == 2
    texts = {c["metadata"]["object_key"]: c["text"] for c in exported()}
    assert "Version two" in texts["policy.txt"] and "Version one" not in texts["policy.txt"]

    s3.delete_object(Bucket="docs", Key="memo.txt")  # a delete marker; the old version stays in the bucket
    assert [v["Key"] for v in s3.list_object_versions(Bucket="docs")["Versions"]].count("memo.txt") == 1
    _put(s3, {"policy.txt": "Version three of the travel policy: walking too."})
    again = cli.json("sync", "bucket", env=env)
    assert (again["changed"], again["deleted"], again["new"]) == (1, 1, 0)
    texts = {c["metadata"]["object_key"]: c["text"] for c in exported()}
    assert set(texts) == {"policy.txt"} and "Version three" in texts["policy.txt"]


@pytest.mark.usefixtures("stub_embedder")
def test_a_down_endpoint_fails_the_sync_with_exit_6_and_deletes_nothing(
        cli: Cli, isolated: Path, server: S3Server, s3: Any) -> None:
    s3.create_bucket(Bucket="docs")
    _put(s3, {"a.txt": "Alpha report on the river survey.", "b.txt": "Beta report on the lake survey."})
    _toml(isolated, server.url, server.authenticate(CANARY), attempts=2, timeout=2)
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}
    assert cli.json("sync", "bucket", env=env)["new"] == 2
    server.stop()

    down = cli("sync", "bucket", "--json", check=False, env=env)
    assert down.returncode == 6, down.stderr
    assert "did not answer ListObjectsV2" in json.loads(down.stdout)["error"]
    status = cli.json("status")
    assert status["documents"]["done"] == 2  # nothing deleted
    assert CANARY not in down.stdout + down.stderr


def test_refused_or_missing_credentials_are_reported_without_the_secret(
        cli: Cli, isolated: Path, server: S3Server, s3: Any) -> None:
    s3.create_bucket(Bucket="docs")
    _toml(isolated, server.url, server.authenticate("the-real-secret-0000"), attempts=1)
    refused = cli("sync", "bucket", "--json", check=False, env={"DOCMILL_SOURCES__0__TOKEN": CANARY})
    assert refused.returncode == 6, refused.stderr
    error = json.loads(refused.stdout)["error"]
    assert "SignatureDoesNotMatch" in error and "Check the credentials" in error
    assert CANARY not in refused.stdout + refused.stderr

    missing = cli("sync", "bucket", check=False)  # access_id but no secret
    assert missing.returncode == 3 and "no secret" in missing.stderr
    _toml(isolated, server.url)
    nothing = cli("sync", "bucket", check=False)  # no key anywhere: said so, and no metadata service is asked
    assert nothing.returncode == 3 and "never asks the instance metadata service" in nothing.stderr


@pytest.mark.usefixtures("stub_embedder")
def test_credentials_come_from_the_aws_variables_or_a_profile_when_the_source_has_none(
        cli: Cli, isolated: Path, server: S3Server, s3: Any, no_aws_of_the_developer: Path) -> None:
    s3.create_bucket(Bucket="docs")
    _put(s3, {"a.txt": "Signed with the variables."})
    access_id = server.authenticate(CANARY)
    _toml(isolated, server.url)
    variables = {"AWS_ACCESS_KEY_ID": access_id, "AWS_SECRET_ACCESS_KEY": CANARY}
    assert cli.json("sync", "bucket", env=variables)["new"] == 1
    doctor = cli("doctor", "--json", check=False, env=variables).stdout
    assert "the key of the AWS variables accepted" in doctor and CANARY not in doctor

    no_aws_of_the_developer.mkdir()
    (no_aws_of_the_developer / "credentials").write_text(
        f"[archive]\naws_access_key_id = {access_id}\naws_secret_access_key = {CANARY}\n")
    _put(server.client(), {"b.txt": "Signed with a profile."})
    _toml(isolated, server.url, profile="archive")
    assert cli.json("sync", "bucket")["new"] == 1
    _toml(isolated, server.url, profile="nobody")
    assert cli("sync", "bucket", check=False).returncode == 3


@pytest.mark.usefixtures("stub_embedder")
def test_filters_leave_objects_out_without_deleting_them_until_pruned(
        cli: Cli, isolated: Path, server: S3Server, s3: Any) -> None:
    s3.create_bucket(Bucket="docs")
    _put(s3, {"notes/a.txt": "Notes about apples.", "notes/b.md": "Notes about bees.",
              "drafts/c.txt": "A draft about cherries."})
    _toml(isolated, server.url, server.authenticate(CANARY), exclude=["drafts"])
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}
    assert cli.json("sync", "bucket", env=env)["new"] == 2
    _toml(isolated, server.url, server.access_id, exclude=["drafts"], include=["*.txt"])
    server.requests.clear()
    kept = cli.json("sync", "bucket", env=env)
    assert (kept["deleted"], kept["left_out"], kept["unchanged"]) == (0, 1, 1)
    assert server.count("GetObject") == 0
    pruned = cli.json("sync", "bucket", "--prune", env=env)
    assert pruned["deleted"] == 1


def test_doctor_checks_the_endpoint_the_credentials_and_the_bucket_without_printing_the_secret(
        cli: Cli, isolated: Path, server: S3Server, s3: Any) -> None:
    s3.create_bucket(Bucket="docs")
    access_id = server.authenticate(CANARY)
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}

    def finding() -> dict[str, Any]:
        done = cli("doctor", "--json", check=False, env=env)
        assert CANARY not in done.stdout + done.stderr
        [check] = [c for c in json.loads(done.stdout)["checks"] if c["check"] == "source bucket"]
        return dict(check)

    _toml(isolated, server.url, access_id, attempts=1, timeout=2)
    server.requests.clear()
    good = finding()
    assert good["ok"] and "reachable, the key of the source's settings accepted, bucket listed" in good["detail"]
    assert [r.operation for r in server.requests] == ["ListObjectsV2"]  # one key of it
    quick = json.loads(cli("doctor", "--quick", "--json", check=False, env=env).stdout)
    assert [c["skipped"] for c in quick["checks"] if c["check"] == "source bucket"] == [True]

    _toml(isolated, server.url, "AKIANOSUCHUSER000000", attempts=1, timeout=2)
    refused = finding()
    assert not refused["ok"] and "InvalidAccessKeyId" in refused["detail"]
    (isolated / "docmill.toml").write_text((isolated / "docmill.toml").read_text().replace(
        'bucket = "docs"', 'bucket = "nope"').replace("AKIANOSUCHUSER000000", access_id))
    missing = finding()
    assert not missing["ok"] and "no such bucket" in missing["detail"]
    server.stop()
    _toml(isolated, server.url, access_id, attempts=1, timeout=2)
    down = finding()
    assert not down["ok"] and "did not answer ListObjectsV2" in down["detail"]


def test_a_download_is_refused_by_its_size_before_its_body_is_read_and_archived_objects_say_restore_them(
        server: S3Server, s3: Any) -> None:
    s3.create_bucket(Bucket="docs")
    _put(s3, {"big.txt": "x" * 3000, "small.txt": "fits"})
    s3.put_object(Bucket="docs", Key="cold.txt", Body=b"archived", StorageClass="DEEP_ARCHIVE")
    client = S3Client("docs", endpoint=server.url, region="us-east-1", credentials=S3Credentials("AKIA1", "s"))
    source = S3Source("bucket", client, max_bytes=1000)
    refs = {r.name: r for r in source.discover()}
    assert refs["cold.txt"].skip_reason is None  # listed like any other object: the download decides
    with pytest.raises(PermanentError, match=r"InvalidObjectState.*cannot be read until it is restored: restore it, "
                                              r"then sync with --retry-failed") as archived:
        source.fetch(refs["cold.txt"])
    assert archived.value.kind == "archived"
    with pytest.raises(DocumentTooLarge, match=r"big\.txt is 3,000 bytes, over the limit of 1,000"):
        source.fetch(refs["big.txt"])
    assert source.fetch(refs["small.txt"]).data == b"fits"
    with pytest.raises(PermanentError, match="the object is gone") as gone:
        source.fetch(DocumentRef(key="source:bucket/nope", name="nope", locator="nope"))
    assert gone.value.kind == "gone"
    source.close()
    server.stop()
    with pytest.raises(SourceUnavailable):
        S3Source("bucket", S3Client("docs", endpoint=server.url, region="us-east-1", attempts=1,
                                    credentials=None), max_bytes=10).check()


@pytest.mark.parametrize(("options", "message"), [
    ({"endpoint": "http://127.0.0.1:9/docs"}, "no bucket or path"),
    ({"bucket": ""}, "needs bucket"),
    ({"addressing": "sideways"}, "addressing must be"),
    ({"colour": "blue"}, "no option 'colour'"),
    ({"access_id": "AKIA1", "anonymous": True}, "anonymous = true but has credentials"),
    ({"page_size": 5000}, "page_size must be a number from 1 to 1000"),
    ({"include": "*.pdf"}, "include must be a list of globs"),
    ({"endpoint": "https://alice:s3cret@minio.lan:9000/"}, "endpoint must not hold a user name or password: give "
                                                          "it as https://minio.lan:9000 "),
    ({"endpoint": "https://alice:s3cret@minio.lan:9000/docs"}, "endpoint must not hold a user name or password"),
    ({"proxy": "http://bob:s3cret@proxy.lan:3128"}, "proxy must not hold a user name or password"),
    ({"proxy": "proxy.lan:3128"}, "proxy must be a URL such as"),
])
def test_bad_options_are_configuration_errors(options: dict[str, Any], message: str) -> None:
    # The options straight to the source type, as the ledger's stored ones reach it: the settings refuse a URL
    # with a password in any source's option already, the source type checks its own options all the same.
    settings = Settings(sources=[{"name": "bucket", "type": "s3", "bucket": "docs", "anonymous": True}])
    with pytest.raises(ConfigurationError, match=message) as refused:
        settings.plugin_registry().source("s3", {"name": "bucket", "bucket": "docs", "endpoint": "http://x:9",
                                                 "anonymous": True, **options}, settings)
    assert "s3cret" not in str(refused.value)


def test_messages_name_the_endpoint_by_its_host_and_port_alone() -> None:
    client = S3Client("docs", endpoint="http://alice:s3cret@127.0.0.1:9", region="us-east-1", credentials=None)
    assert client.where == "bucket 'docs' at 127.0.0.1:9"
    client.close()


class TestS3SourceContract(contracts.SourceContract):
    @pytest.fixture
    def source(self, server: S3Server, s3: Any) -> Iterator[S3Source]:
        s3.create_bucket(Bucket="docs")
        _put(s3, {"a.txt": "alpha", "sub/b é+ (2).md": "beta"})  # a key that URLs must encode
        client = S3Client("docs", endpoint=server.url, region="us-east-1", credentials=S3Credentials("AKIA1", "s"))
        source = S3Source("bucket", client, max_bytes=1000)
        yield source
        source.close()

    @pytest.fixture
    def change(self, s3: Any) -> Callable[[DocumentRef], None]:
        return lambda ref: _put(s3, {ref.locator: "changed"})


@pytest.mark.slow
def test_a_bucket_of_10000_objects_is_listed_in_10_pages_and_50_changes_touch_exactly_50(
        home: Path, server: S3Server) -> None:
    # Discovery on the real ledger and source; the tasks it would send are kept in a list instead.
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    server.client().create_bucket(Bucket="docs")
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]  # 10,000 PUTs through HTTP would only time the emulator
    keys = [f"logs/{n:05}.txt" for n in range(10_000)]
    for n, key in enumerate(keys):
        backend.put_object("docs", key, f"log {n}".encode())
    options = {"name": "bucket", "endpoint": server.url, "bucket": "docs", "access_id": server.authenticate(CANARY)}
    settings = Settings(home=home, sources=[{"type": "s3", "token": CANARY, **options}])
    tasks: list[Task] = []
    runtime = Runtime(settings, send=tasks.append)
    runtime.ledger.sources.put("source:bucket", "s3", options)

    def sync() -> Counter[str]:
        tasks.clear()
        server.requests.clear()
        discover(runtime, runtime.ledger.jobs.create("sync", discoveries=1), "source:bucket")
        return Counter(t.stage for t in tasks)

    try:
        started = time.monotonic()
        assert sync() == {"extract": 10_000}
        first = time.monotonic() - started
        assert server.operations() == {"ListObjectsV2": 10}  # 1,000 a page; discovery downloads nothing
        assert CANARY not in json.dumps([t.args for t in tasks])

        s3 = server.client()
        edited, deleted = keys[10:30], keys[5000:5015]
        for key in edited:
            s3.put_object(Bucket="docs", Key=key, Body=b"edited")
        for n in range(15):
            s3.put_object(Bucket="docs", Key=f"logs/new-{n}.txt", Body=b"added")
        for key in deleted:
            s3.delete_object(Bucket="docs", Key=key)
        assert sync() == {"extract": 35, "remove": 15}
        assert {t.args["key"] for t in tasks if t.stage == "extract"} == {
            f"source:bucket/{k}" for k in [*edited, *(f"logs/new-{n}.txt" for n in range(15))]}
        assert {t.args["key"] for t in tasks if t.stage == "remove"} == {f"source:bucket/{k}" for k in deleted}
        assert server.operations() == {"ListObjectsV2": 10}  # still 10,000 objects: 10 pages, no download
        for task in tasks:
            if task.stage == "remove":  # the removals run, as a worker would run them
                document_steps.remove(runtime, **task.args)
        assert sync() == {}
        assert first < 120, first
    finally:
        runtime.close()


@pytest.mark.usefixtures("stub_embedder")
def test_the_scheduler_syncs_a_bucket_on_its_schedule_and_lives_through_the_endpoint_going_down(
        cli: Cli, isolated: Path, tmp_path: Path, server: S3Server, s3: Any) -> None:
    import os
    import signal
    import subprocess
    import sys

    s3.create_bucket(Bucket="docs")
    _put(s3, {"a.txt": "The first report of the dredging works.", "b.txt": "The second report."})
    _toml(isolated, server.url, server.authenticate(CANARY), attempts=1, timeout=2)
    with (isolated / "docmill.toml").open("a") as toml:
        toml.write("schedule = { seconds = 3 }\n")
    log = tmp_path / "scheduler.log"

    def wait_for(text: str, count: int = 1) -> None:
        deadline = time.monotonic() + 120
        while log.read_text().count(text) < count:
            assert time.monotonic() < deadline and scheduler.poll() is None, log.read_text()[-3000:]
            time.sleep(0.3)

    with log.open("w") as sink:
        scheduler = subprocess.Popen([sys.executable, "-m", "docmill", "scheduler"], cwd=isolated, stdout=sink,
                                     stderr=subprocess.STDOUT,
                                     env={**os.environ, "DOCMILL_SOURCES__0__TOKEN": CANARY})
    try:
        wait_for("synced bucket: 2 new")
        _put(server.client(), {"c.txt": "The third report, added between two syncs."})
        wait_for("synced bucket: 1 new")
        server.stop()
        wait_for("sync of bucket could not list the source", 2)  # every sync fails, the scheduler goes on
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(timeout=120)
    assert "0 deleted" in log.read_text().rsplit("could not list the source", 1)[1]
    assert cli.json("status")["documents"]["done"] == 3  # nothing deleted while the endpoint was down
    assert CANARY not in log.read_text()


@pytest.mark.usefixtures("stub_embedder")
@pytest.mark.parametrize("cut", [Page(["b.txt"], truncated=True), Page(["b.txt"], truncated=True, next_token="t1")],
                         ids=["truncated without a token", "a token given before"])
def test_a_listing_the_server_cuts_short_fails_the_sync_and_deletes_nothing(
        cli: Cli, isolated: Path, cut: Page) -> None:
    with FakeS3(objects={"a.txt": b"An index card about apples.", "b.txt": b"An index card about bees.",
                         "c.txt": b"An index card about cherries."}) as fake:
        fake.pages = {"": Page(["a.txt"], truncated=True, next_token="t1"), "t1": Page(["b.txt", "c.txt"])}
        _toml(isolated, fake.url, anonymous=True, attempts=1, timeout=5)
        assert cli.json("sync", "bucket")["new"] == 3

        fake.pages["t1"], fake.asked = cut, []  # c.txt never listed: the server says there is more, or loops
        broken = cli("sync", "bucket", "--json", check=False, env={
            "DOCMILL_MAX_RETRIES": "1", "DOCMILL_RETRY_MIN_BACKOFF": "0.1", "DOCMILL_RETRY_MAX_BACKOFF": "0.5"})
        assert broken.returncode == 6, broken.stdout + broken.stderr
        found = json.loads(broken.stdout)
        assert found["deleted"] == 0 and "cut the listing short" in found["error"], found
        assert fake.asked == ["", "t1"] * 2  # each try stopped at the page that cannot be followed; one retry
        assert cli.json("status")["documents"]["done"] == 3


def test_a_skewed_clock_is_a_permanent_error_that_says_so_and_is_not_retried() -> None:
    with FakeS3(error=(403, "RequestTimeTooSkewed", "The difference between the request time and the current "
                                                    "time is too large.")) as fake:
        client = S3Client("docs", endpoint=fake.url, region="us-east-1", credentials=S3Credentials("AKIA1", "s"))
        with pytest.raises(PermanentError, match="more than 15 minutes off the server's: set it right") as skew:
            next(iter(client.pages("")))
        assert skew.value.kind == "clock skew" and fake.requests == 1
        client.close()


@pytest.mark.usefixtures("stub_embedder")
def test_an_indexed_object_moved_to_an_archive_class_stays_indexed_and_a_new_archived_one_fails_saying_restore_it(
        cli: Cli, isolated: Path, server: S3Server, s3: Any, exported: Any) -> None:
    s3.create_bucket(Bucket="docs")
    _put(s3, {"warm.txt": "The boiler room key hangs by the door.", "cool.txt": "Minutes of the garden club."})
    _toml(isolated, server.url, server.authenticate(CANARY))
    env = {"DOCMILL_SOURCES__0__TOKEN": CANARY}
    assert cli.json("sync", "bucket", env=env)["new"] == 2
    s3 = server.client()

    for key, storage in (("warm.txt", "GLACIER"), ("cool.txt", "DEEP_ARCHIVE")):  # a lifecycle rule's transition
        s3.copy_object(Bucket="docs", Key=key, CopySource={"Bucket": "docs", "Key": key}, StorageClass=storage)
    s3.put_object(Bucket="docs", Key="cold.txt", Body=b"Archived before it was ever indexed.",
                  StorageClass="GLACIER")
    server.requests.clear()
    again = cli.json("sync", "bucket", env=env)
    assert (again["unchanged"], again["new"], again["deleted"], again["failed"]) == (2, 0, 0, 1), again
    assert [r.path for r in server.requests if r.operation == "GetObject"] == ["/docs/cold.txt"]
    assert {c["metadata"]["object_key"] for c in exported()} == {"warm.txt", "cool.txt"}
    [failure] = cli.json("status")["failures"]
    assert failure["doc"] == "cold.txt" and "restore it, then sync with --retry-failed" in failure["reason"], failure


def test_keys_from_the_aws_files_are_read_again_at_each_sync_and_after_a_while_by_downloads(
        server: S3Server, s3: Any, no_aws_of_the_developer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import docmill.plugins.s3_client

    s3.create_bucket(Bucket="docs")
    _put(s3, {"a.txt": "alpha"})
    access_id = server.authenticate(CANARY)
    no_aws_of_the_developer.mkdir()
    credentials = no_aws_of_the_developer / "credentials"

    def key_file(secret: str) -> None:  # as a tool renewing temporary credentials rewrites it
        credentials.write_text(f"[archive]\naws_access_key_id = {access_id}\naws_secret_access_key = {secret}\n")

    key_file("an-expired-secret-0001")
    settings = Settings(sources=[{"name": "bucket", "type": "s3", "bucket": "docs", "endpoint": server.url,
                                  "profile": "archive"}])
    source = settings.plugin_registry().source("s3", {**settings.sources[0].options, "name": "bucket"}, settings)
    try:
        with pytest.raises(PermanentError, match="SignatureDoesNotMatch"):
            list(source.listing({}, full=True).refs)
        key_file(CANARY)  # renewed: the same long-running process's next sync signs with it
        [ref] = list(source.listing({}, full=True).refs)
        key_file("an-expired-secret-0002")
        assert source.fetch(ref).data == b"alpha"  # read less than RENEW_AFTER ago: not read again
        monkeypatch.setattr(docmill.plugins.s3_client, "RENEW_AFTER", 0.0)
        with pytest.raises(PermanentError, match="SignatureDoesNotMatch"):
            source.fetch(ref)
        credentials.write_text("[archive]\nnot a key file\n")  # unreadable: a download keeps the last key
        key_file(CANARY)
        assert source.fetch(ref).data == b"alpha"
    finally:
        source.close()


@pytest.mark.usefixtures("stub_embedder")
def test_at_vv_botocore_prints_no_request_headers_and_the_session_token_is_redacted(
        cli: Cli, isolated: Path, server: S3Server, s3: Any) -> None:
    from docmill.logs import REDACTOR

    s3.create_bucket(Bucket="docs")
    _put(s3, {"a.txt": "A note on the session token."})
    _toml(isolated, server.url)
    token, secret = "canary-session-token-93be1d7a", "canary-secret-key-5b0e77c2"
    variables = {"AWS_ACCESS_KEY_ID": "ASIADOCMILLTEST00001", "AWS_SECRET_ACCESS_KEY": secret,
                 "AWS_SESSION_TOKEN": token}
    done = cli("-vv", "sync", "bucket", env=variables)
    assert done.stdout.startswith("bucket: 1 new") and "DEBUG" in done.stderr  # -vv took effect
    assert "Sending http request" not in done.stderr and "x-amz-security-token" not in done.stderr.lower()
    assert token not in done.stderr + done.stdout and secret not in done.stderr + done.stdout

    with pytest.MonkeyPatch.context() as patch:  # in this process: the resolved secrets reach the redactor
        for name, value in variables.items():
            patch.setenv(name, value)
        settings = Settings(sources=[{"name": "bucket", "type": "s3", "bucket": "docs", "endpoint": server.url}])
        settings.plugin_registry().source("s3", {**settings.sources[0].options, "name": "bucket"}, settings).close()
    assert REDACTOR.scrub(f"token={token} key={secret}") == "token=[redacted] key=[redacted]"
