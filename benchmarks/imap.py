"""Syncing an IMAP mailbox: first sync, incremental sync after changes, with nothing changed, and ``--full``.

Starts a Dovecot of its own (``docmill.testing.dovecot``: unprivileged, on
127.0.0.1) whose mailbox holds ``--messages`` generated mails, written
straight into its Maildir and spread over three folders (60% INBOX, 30%
Archive, 10% Projects), and runs ``docmill sync`` in embedded mode with the
stub embedder, as a user would:

* the first sync (every message listed, read, extracted, embedded, stored);
* an incremental sync after ``--changes`` changes, a quarter each of
  additions, deletions (expunged), edits (a new message and the old one's
  expunge) and moves to another folder;
* an incremental sync with nothing changed;
* ``sync --full`` with nothing changed (every folder searched, nothing read).

For each: wall time, what the sync reported, and the IMAP commands Dovecot
received by kind (from its rawlog: listing commands LIST, STATUS, EXAMINE
and SEARCH; the size checks and body reads of messages). The incremental
sync is checked to read exactly the new and moved messages and to remove
exactly the deleted, edited and moved ones. Results go to
``benchmarks/results/imap.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from scale import STUB_EMBEDDER  # benchmarks/scale.py, beside this file

from docmill.testing import plugin_dir
from docmill.testing.dovecot import Dovecot

PASSWORD = "benchmark-password"
RESULTS = Path(__file__).parent / "results"
FOLDERS = (("INBOX", 0.6), ("Archive", 0.3), ("Projects", 0.1))
LISTING = ("LIST", "STATUS", "EXAMINE", "SELECT", "UID SEARCH")


def message(n: int, topic: str = "the quarterly figures") -> bytes:
    return (f"From: sender{n % 37}@example.com\r\nTo: team@example.com\r\nSubject: Message {n} on {topic}\r\n"
            f"Message-ID: <bench-{n}-{topic.replace(' ', '-')}@example.com>\r\n"
            "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Message {n}: notes on {topic}, item {n * 7 % 1000}, for the team meeting on day {n % 28 + 1}.\r\n"
            ).encode()


def _kinds(commands: list[str]) -> dict[str, int]:
    kinds: Counter[str] = Counter()
    for command in commands:
        upper = command.upper()
        if upper.startswith("UID FETCH") and "(BODY" in upper:
            kinds["body_reads"] += 1
        elif upper.startswith("UID FETCH"):
            kinds["size_checks"] += 1
        elif upper.startswith(LISTING):
            kinds["listing"] += 1
        else:
            kinds["other"] += 1
    return dict(kinds)


def _sync(work: Path, env: dict[str, str], server: Dovecot, *args: str) -> dict[str, Any]:
    since = len(server.commands())
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "docmill", "sync", "mail", "--json", *args], cwd=work, env=env,
                          capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"docmill sync failed ({done.returncode}):\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout)
    return {"seconds": round(seconds, 2), "commands": _kinds(server.commands()[since:]),
            **{k: found[k] for k in ("new", "changed", "deleted", "unchanged", "failed", "chunks")}}


def _change(server: Dovecot, count: int, total: int) -> dict[str, Any]:
    """``count`` changes in INBOX, a quarter of each kind; the UIDs each should read."""
    rng = random.Random(7)
    quarter = count // 4
    inbox = server.client()
    inbox.select("INBOX")
    _typ, data = inbox.uid("SEARCH", "ALL")
    uids = [int(u) for u in data[0].split()]
    deleted, edited, moved = (rng.sample(uids, 3 * quarter)[i * quarter:(i + 1) * quarter] for i in range(3))
    additions = count - 3 * quarter
    for n in range(additions):
        inbox.append("INBOX", None, None, message(total + n, "a new topic"))
    for n in edited:
        inbox.append("INBOX", None, None, message(n, "the corrected figures"))
    _typ, status = inbox.status("Archive", "(UIDNEXT)")
    archive_next = int(status[0].split(b"UIDNEXT ")[1].rstrip(b")"))
    inbox.uid("MOVE", ",".join(map(str, moved)), "Archive")
    inbox.uid("STORE", ",".join(map(str, deleted + edited)), "+FLAGS", "(\\Deleted)")
    inbox.uid("EXPUNGE", ",".join(map(str, deleted + edited)))
    inbox.logout()
    first_new = max(uids) + 1
    return {"additions": additions, "deletions": quarter, "edits": quarter, "moves": quarter,
            "expected_reads": sorted([*range(first_new, first_new + additions + quarter),
                                      *range(archive_next, archive_next + quarter)]),
            "expected_removals": 3 * quarter}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="docmill-bench-imap-") as tmp, Dovecot(PASSWORD) as server:
        work = Path(tmp)
        number = 0
        for folder, share in FOLDERS:
            size = round(args.messages * share)
            server.write_maildir(folder, (message(n) for n in range(number, number + size)))
            number += size
        (work / "docmill.toml").write_text(
            f'[[sources]]\nname = "mail"\ntype = "imap"\nhost = "127.0.0.1"\nport = {server.port}\ntls = "none"\n'
            f'user = "alice"\nfolders = ["*"]\n')
        plugins = plugin_dir(work / "stub", "docmill_imap_bench_stub", STUB_EMBEDDER)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCMILL_")}
        env.update(DOCMILL_HOME=str(work / "home"), DOCMILL_SOURCES__0__TOKEN=PASSWORD, DOCMILL_EMBEDDER="stub",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH")])))
        results: dict[str, Any] = {"messages": number, "folders": [f for f, _ in FOLDERS]}
        print(f"first sync of {number} messages...", file=sys.stderr)
        results["first"] = _sync(work, env, server)
        reads_before = len(server.body_fetches())
        changes = _change(server, args.changes, number)
        results["changes"] = {k: v for k, v in changes.items() if not k.startswith("expected")}
        results["incremental_after_changes"] = _sync(work, env, server)
        read = sorted(server.body_fetches()[reads_before:])
        after = results["incremental_after_changes"]
        results["touched_exactly_the_changes"] = (
            read == changes["expected_reads"] and after["deleted"] == changes["expected_removals"]
            and after["new"] == len(changes["expected_reads"]) and after["changed"] == 0)
        results["incremental_unchanged"] = _sync(work, env, server)
        results["full_unchanged"] = _sync(work, env, server, "--full")

    first = results["first"]
    results["first_messages_per_s"] = round(number / first["seconds"], 1)
    for name in ("incremental_after_changes", "incremental_unchanged", "full_unchanged"):
        results[f"{name}_vs_first"] = round(results[name]["seconds"] / first["seconds"], 4)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "imap.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    if not results["touched_exactly_the_changes"]:
        raise SystemExit("the incremental sync did not touch exactly the changed messages")


if __name__ == "__main__":
    main()
