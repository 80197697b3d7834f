"""An S3 emulator for tests and benchmarks: moto's server on a free loopback port, counting what it is asked.

moto (``moto[server]``) answers the S3 REST API as AWS documents it,
signature checks included once ``authenticate`` has created a user; it is
served here by werkzeug in a thread of the test process, so the test can
count the requests by operation from the server's side:

    with S3Server() as server:
        s3 = server.client()
        s3.create_bucket(Bucket="docs")
        ...
        assert server.count("GetObject") == 3

Requests are path-style (``/BUCKET/KEY``), as docmill sends them to a
custom endpoint by default. State is moto's, per process: ``reset()``
empties it.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

__all__ = ["S3Request", "S3Server"]

ACCESS_ID = "AKIADOCMILLTEST0001"


@dataclass(frozen=True)
class S3Request:
    """One request the emulator answered: the S3 operation it was, its path and status."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int

    @property
    def operation(self) -> str:
        """The S3 operation, told from the method, path and query, as far as docmill's requests go."""
        bucket_only = self.path.strip("/").count("/") == 0
        if self.method == "HEAD":
            return "HeadBucket" if bucket_only else "HeadObject"
        if self.method == "GET" and bucket_only:
            if "list-type" in self.query:
                return "ListObjectsV2"
            return "ListObjectVersions" if "versions" in self.query else "GetBucket"
        if self.method == "GET":
            return "GetObject"
        return self.method


class S3Server:
    """moto's S3 served on 127.0.0.1 (a free port), with a log of the requests it answered."""

    def __init__(self) -> None:
        self.requests: list[S3Request] = []
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.url = ""
        #: The credentials ``client()`` signs with by default (``authenticate`` sets them).
        self.access_id, self.secret = ACCESS_ID, "test-secret"

    def _counting(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            def start(status: str, headers: Any, *args: Any) -> Any:
                request = S3Request(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                                    parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
                                    int(status.split()[0]))
                if not request.path.startswith("/moto-api"):
                    with self._lock:
                        self.requests.append(request)
                return start_response(status, headers, *args)
            return app(environ, start)
        return wsgi

    def start(self) -> S3Server:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        class Quiet(MotoRequestHandler):
            def log_request(self, *args: Any) -> None:
                pass  # the log is self.requests

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", 0, self._counting(app), threaded=True, request_handler=Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-s3", daemon=True)
        self._thread.start()
        self.reset()
        return self

    def stop(self) -> None:
        """Stop answering (a down endpoint: connections are refused), and checking signatures in this process."""
        from moto import settings

        settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=10)
            self._server = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def _post(self, path: str, body: bytes = b"") -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self._server.server_address[1], timeout=10)
        try:
            connection.request("POST", path, body)
            connection.getresponse().read()
        finally:
            connection.close()

    def reset(self) -> None:
        """Empty every bucket (and user) moto holds in this process, stop checking signatures, clear the log."""
        self._post("/moto-api/reset-auth", b"inf")
        self._post("/moto-api/reset")
        self.access_id, self.secret = ACCESS_ID, "test-secret"
        self.requests.clear()

    def authenticate(self, secret: str) -> str:
        """Check every later request's signature: only a user whose secret access key is ``secret`` (and who
        may do anything in S3) is let in. Returns the user's access key id."""
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.iam.models import iam_backends

        iam = self.client(service="iam")
        iam.create_user(UserName="docmill")
        iam.put_user_policy(UserName="docmill", PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        access_id = str(iam.create_access_key(UserName="docmill")["AccessKey"]["AccessKeyId"])
        iam_backends[DEFAULT_ACCOUNT_ID]["aws"].get_user("docmill").get_access_key_by_id(access_id).secret_access_key \
            = secret
        self._post("/moto-api/reset-auth", b"0")
        self.access_id, self.secret = access_id, secret
        return access_id
        self.requests.clear()

    def count(self, operation: str) -> int:
        """How many requests of this S3 operation were answered since the log was last cleared."""
        return sum(1 for r in self.requests if r.operation == operation)

    def operations(self) -> Counter[str]:
        return Counter(r.operation for r in self.requests)

    def client(self, service: str = "s3") -> Any:
        """A boto3 client of this server (signing as the user ``authenticate`` made, if it was called), for the
        test to fill and change buckets."""
        import boto3
        from botocore.config import Config

        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=self.access_id,
                            aws_secret_access_key=self.secret, config=Config(s3={"addressing_style": "path"}))
