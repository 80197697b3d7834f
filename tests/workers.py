"""`docmill worker` supervisors that a test starts, watches and stops: what the service tests share."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


class Workers:
    """`docmill worker` supervisors started by a test, stopped (drained) at its end."""

    def __init__(self, cwd: Path, logs: Path) -> None:
        self.cwd, self.logs = cwd, logs
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"worker-{len(self.running)}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen([sys.executable, "-m", "docmill", "worker", *args], cwd=self.cwd,
                                   env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
        self.running.append(process)
        return process

    def children(self, supervisor: subprocess.Popen[bytes], *, isolation: bool = True) -> list[int]:
        """PIDs of the supervisor's live worker processes (and its isolation process, unless told not to)."""
        found = subprocess.run(["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True).stdout
        pids = [int(pid) for pid in found.split()]
        if isolation:
            return pids

        def is_isolation(pid: int) -> bool:
            try:
                return b"--isolation" in Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                return False

        return [pid for pid in pids if not is_isolation(pid)]

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 120) -> int:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("worker-*.log")))

    def close(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                for pid in self.children(process):
                    os.kill(pid, signal.SIGKILL)
