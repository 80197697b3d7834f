"""A real `docmill api` process for the HTTP API's tests: its own home, docmill.toml and callers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from docmill.api.auth import new_token
from docmill.testing import free_port, plugin_dir

from .conftest import STUB_EMBEDDER

CALLERS = ("alice", "bob", "carol")


class ApiServer:
    """``docmill api`` on a free loopback port, embedding with the stub embedder unless told otherwise."""

    def __init__(self, root: Path, *, toml: str = "", env: Mapping[str, str] | None = None,
                 stub_embedder: bool = True) -> None:
        self.root = root
        self.cwd = root / "cwd"
        self.cwd.mkdir(parents=True)
        self.home = root / "home"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.toml = toml
        self.tokens: dict[str, str] = {}
        self.digests: dict[str, str] = {}
        for name in CALLERS:
            self.tokens[name], self.digests[name] = new_token()
        self.configure(CALLERS)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DOCMILL_")}
        self.env.update({"DOCMILL_HOME": str(self.home), "DOCMILL_RETRY_MIN_BACKOFF": "0.1",
                         "DOCMILL_RETRY_MAX_BACKOFF": "0.5", "DOCMILL_LOG_FORMAT": "json"})
        if stub_embedder:
            plugins = plugin_dir(root / "stub-plugins", "docmill_stub_embedder", STUB_EMBEDDER)
            self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugins), self.env.get("PYTHONPATH")]))
            self.env["DOCMILL_EMBEDDER"] = "stub"
        self.env.update(env or {})
        self.log = root / "api.log"
        self.process: subprocess.Popen[bytes] | None = None

    def configure(self, callers: tuple[str, ...]) -> None:
        """docmill.toml with these callers' tokens (the next start reads it)."""
        tables = [f'[[api_tokens]]\nname = "{name}"\nsha256 = "{self.digests[name]}"\n' for name in callers]
        (self.cwd / "docmill.toml").write_text(self.toml + "\n" + "\n".join(tables))

    def start(self) -> ApiServer:
        self.process = subprocess.Popen([sys.executable, "-m", "docmill", "api", "--port", str(self.port)],
                                        cwd=self.cwd, env=self.env, stdout=self.log.open("wb"),
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                if self.process.poll() is None:  # too slow to start: stopped, not left serving after the test
                    self.process.kill()
                    self.process.wait()
                raise AssertionError(f"docmill api did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def client(self, caller: str | None = "alice", **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[caller]}"} if caller else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def wait(self, client: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
        """The job once it finished (polled with a deadline)."""
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", params={"limit": 0}).json()
            if job["finished"]:
                return job
            assert time.monotonic() < deadline, f"job {job_id} did not finish: {job}"
            time.sleep(0.2)
