"""Records what Debian's Apache 2.4 (mod_dav_fs) answers to docmill's requests, into apache-2.4/.

    .venv/bin/python tests/data/webdav/record_apache.py

Starts ``docmill.testing.webdav.ApacheDav`` with a small tree and keeps each
answer as the server sent it: status line, headers (Date removed) and body.
The port in hrefs is replaced by PORT; ETags stay as Apache made them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from docmill.plugins.webdav_client import PROPFIND_BODY
from docmill.testing.webdav import APACHE, ApacheDav

OUT = Path(__file__).parent / "apache-2.4"


def _keep(name: str, response: httpx.Response, port: int) -> None:
    headers = "".join(f"{k}: {v}\n" for k, v in response.headers.items() if k.lower() not in ("date", "keep-alive"))
    text = f"HTTP/1.1 {response.status_code} {response.reason_phrase}\n{headers}\n{response.text}"
    (OUT / name).write_text(text.replace(str(port), "PORT"))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with ApacheDav("alice", "recording-password") as dav:
        dav.write("handbook.txt", "Handbook: onboarding, laptops and the VPN.\n")
        dav.write("Reports 2026/q1 résumé.md", "# Q1\nRevenue grew.\n")
        auth = ("alice", "recording-password")
        headers = {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}
        with httpx.Client(auth=auth, timeout=10) as client:
            _keep("propfind-depth-1.txt", client.request("PROPFIND", dav.url, headers=headers,
                                                         content=PROPFIND_BODY), dav.port)
            _keep("propfind-depth-0.txt", client.request("PROPFIND", dav.url, headers={**headers, "Depth": "0"},
                                                         content=PROPFIND_BODY), dav.port)
            _keep("propfind-depth-infinity.txt", client.request(
                "PROPFIND", dav.url, headers={**headers, "Depth": "infinity"}, content=PROPFIND_BODY), dav.port)
            _keep("get.txt", client.get(dav.url + "handbook.txt"), dav.port)
            _keep("unauthorized.txt", httpx.get(dav.url, timeout=10), dav.port)
    version = subprocess.run([str(APACHE), "-v"], capture_output=True, text=True).stdout
    (OUT / "server-version.txt").write_text(version)


if __name__ == "__main__":
    main()
