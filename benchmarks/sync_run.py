"""What the source benchmarks share: ``docmill sync NAME --json`` run as a user runs it, timed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["timed_sync"]


def timed_sync(work: Path, env: dict[str, str], name: str, *args: str) -> tuple[float, dict[str, Any]]:
    """Seconds the sync took and what it reported; exits with its stderr when it fails."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "docmill", "sync", name, "--json", *args], cwd=work, env=env,
                          capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"docmill sync failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)
