"""`make container-test`: docker/compose.yaml's whole distributed stack, for real, under podman.

    .venv/bin/python scripts/container-test.py [--keep]

Where no image registry is reachable, it builds everything FROM a Debian
bookworm image made from Debian's archive (scripts/base-image.sh): docmill's
image from docker/Dockerfile, and stand-ins for RabbitMQ (with the management
plugin) and PostgreSQL from Debian's packages (docker/standins/). It brings
the stack up with podman-compose from docker/compose.yaml, plus
docker/compose.podman.yaml, which leaves Qdrant out (no package to build it
from): Chroma's server, from docmill's own image, is the store. Then:

1. every service's health check passes (run by hand: podman runs them on
   timers only under systemd);
2. born-digital and scanned PDFs are submitted from inside the CPU worker's
   container, and the CPU worker's metrics move while the job runs;
3. the CPU worker's container is killed mid-job (``podman kill``) and
   started again: the job still ends with every document done, and the
   store holds each chunk once, as many as the ledger counts;
4. the management API (15672) shows the docmill queues, declared with
   ``x-max-priority``, with consumers attached;
5. each worker and the scheduler serve /metrics, and the documented
   metrics moved;
6. a search from inside a container finds a scan and a born-digital PDF;
7. a file uploaded to the API service (``COMPOSE_PROFILES=chroma,api``) is
   processed by the CPU worker from the shared uploads volume;
8. everything is torn down (containers, network, volumes), and the
   timings are printed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
COMPOSE = [str(REPO / "docker" / "compose.yaml"), str(REPO / "docker" / "compose.podman.yaml")]
STAGE_QUEUES = ("docmill.extract", "docmill.ocr", "docmill.embed", "docmill.store")
timings: dict[str, float] = {}


def say(message: str) -> None:
    print(f"container-test: {message}", flush=True)


@contextmanager
def timed(step: str) -> Iterator[None]:
    started = time.monotonic()
    say(f"{step}...")
    yield
    timings[step] = time.monotonic() - started


def run(*command: str, check: bool = True, capture: bool = True, env: dict[str, str] | None = None,
        timeout: float = 1200) -> str:
    done = subprocess.run(command, capture_output=capture, text=True, env={**os.environ, **(env or {})},
                          timeout=timeout)
    if check and done.returncode != 0:
        raise SystemExit(f"container-test: {' '.join(command)} exited {done.returncode}:\n"
                         f"{(done.stdout or '')[-3000:]}\n{(done.stderr or '')[-3000:]}")
    return done.stdout or ""


def wait_for(what: str, ready: Callable[[], bool], timeout: float, every: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"container-test: {what} did not happen within {timeout:.0f} s")
        time.sleep(every)


def build_images(base: str, tag: str) -> dict[str, str]:
    """docmill's image and the two stand-ins, FROM the Debian base; their names by the compose variable."""
    images = {"DOCMILL_IMAGE": f"localhost/docmill:{tag}", "RABBITMQ_IMAGE": f"localhost/docmill-rabbitmq:{tag}",
              "POSTGRES_IMAGE": f"localhost/docmill-postgres:{tag}"}
    ca = "/etc/ssl/certs/ca-certificates.crt"  # lent for a TLS-inspecting proxy between here and PyPI
    lend = ["-v", f"{ca}:/proxy-ca.crt:ro", "--build-arg", "PIP_CERT=/proxy-ca.crt"] if Path(ca).is_file() else []
    run("podman", "build", "--format", "docker", "-q", "-f", str(REPO / "docker" / "Dockerfile"),
        "--build-arg", f"BASE_IMAGE={base}", *lend, "-t", images["DOCMILL_IMAGE"], str(REPO))
    for name, variable in (("rabbitmq", "RABBITMQ_IMAGE"), ("postgres", "POSTGRES_IMAGE")):
        run("podman", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", images[variable],
            str(REPO / "docker" / "standins" / name))
    return images


def dangling() -> list[str]:
    """Untagged images: build stages and the images a rebuild replaced."""
    return run("podman", "images", "-q", "--filter", "dangling=true", check=False).split()


def make_documents(folder: Path) -> tuple[int, dict[str, str]]:
    """Born-digital PDFs and scans from docmill's corpus generator: how many, and each scan's true text."""
    from docmill.testing.corpus import build

    corpus = folder.parent / "corpus"
    build(corpus, text=6, scanned=4)
    folder.mkdir()
    pdfs = [*sorted((corpus / "text").glob("*.pdf")), *sorted((corpus / "scanned").glob("*.pdf"))]
    truths = {}
    for pdf in pdfs:
        shutil.copy(pdf, folder / pdf.name)
        truth = pdf.with_name(pdf.name + ".truth.txt")
        if truth.is_file():
            truths[pdf.name] = truth.read_text()
    for path in (folder.parent, folder, *folder.iterdir()):  # readable by the image's unprivileged user
        path.chmod(0o755 if path.is_dir() else 0o644)
    return len(pdfs), truths


class Stack:
    """One compose project, driven by podman-compose and podman."""

    def __init__(self, project: str, env_file: Path) -> None:
        self.project, self.env_file = project, env_file
        self.compose = [str(Path(sys.executable).parent / "podman-compose"), "--env-file", str(env_file),
                        "-p", project, *(arg for path in COMPOSE for arg in ("-f", path))]

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def up(self) -> None:
        run(*self.compose, "up", "-d", "--no-build")

    def docmill(self, service: str, *args: str, check: bool = True) -> str:
        return run("podman", "exec", self.container(service), "docmill", *args, check=check)

    def healthy(self, service: str) -> bool:
        return subprocess.run(["podman", "healthcheck", "run", self.container(service)],
                              capture_output=True).returncode == 0

    def running(self, service: str) -> bool:
        state = run("podman", "inspect", "--format", "{{.State.Running}}", self.container(service), check=False)
        return state.strip() == "true"

    def metrics(self, service: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        from prometheus_client.parser import text_string_to_metric_families

        text = run("podman", "exec", self.container(service), "python3", "-c",
                   "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9464/metrics').read()"
                   ".decode())")
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    def logs(self, service: str) -> str:
        return run("podman", "logs", "--tail", "60", self.container(service), check=False)

    def down(self) -> None:
        containers = run("podman", "ps", "-a", "-q", "--filter", f"label=io.podman.compose.project={self.project}",
                         check=False).split()
        volumes = run("podman", "inspect", "--format", "{{range .Mounts}}{{.Name}} {{end}}", *containers,
                      check=False).split() if containers else []
        anonymous = [v for v in volumes if re.fullmatch(r"[0-9a-f]{64}", v)]  # the image's VOLUME /data
        run(*self.compose, "down", "-v", check=False)
        if anonymous:
            run("podman", "volume", "rm", "-f", *anonymous, check=False)


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(v for (n, have), v in samples.items() if n == name and set(labels.items()) <= set(have))


def management_queues(port: int, user: str, password: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/queues/%2F")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as answer:
        found: list[dict[str, Any]] = json.loads(answer.read())
    return found


def free_port() -> int:
    from docmill.testing import free_port as port

    return port()


def check_api(port: int, token: str) -> None:
    """An upload to the API service, processed by the workers: answered at once, done soon after."""
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as client:
        wait_for("the API answering", lambda: _answers(client), 120, 1)
        upload = client.post("/v1/documents", files=[("file", ("memo.txt", b"The crane on quay two is serviced "
                                                                           b"every March. " * 20, "text/plain"))])
        assert upload.status_code == 202, upload.text
        job_id = upload.json()["job_id"]

        def finished() -> bool:
            job = client.get(f"/v1/jobs/{job_id}").json()
            return bool(job["finished"])

        wait_for("the uploaded file processed", finished, 300, 1)
        assert client.get(f"/v1/jobs/{job_id}").json()["counts"] == {"done": 1}
        hits = client.get("/v1/search", params={"q": "crane quay serviced", "k": 1}).json()
        assert hits and hits[0]["doc"] == "memo.txt", hits


def _answers(client: Any) -> bool:
    try:
        return bool(client.get("/v1/health").status_code == 200)
    except Exception:
        return False


def check(stack: Stack, documents: int, truths: dict[str, str], ui_port: int, user: str,
          password: str) -> None:
    with timed("health checks"):
        for service in ("rabbitmq", "postgres", "chroma"):
            wait_for(f"{service}'s health check passing", lambda s=service: stack.healthy(s), 180, 2)  # type: ignore[misc]
        # docmill doctor --quick, the image's own health check, once the workers have set up the ledger
        for service in ("cpu-worker", "embed-worker", "scheduler"):
            wait_for(f"{service}'s health check (docmill doctor --quick) passing",
                     lambda s=service: stack.healthy(s), 240, 3)  # type: ignore[misc]

    with timed("job with a worker killed mid-run"):
        job = stack.docmill("cpu-worker", "submit", "/docs").strip()
        say(f"submitted {documents} documents as job {job}")

        def some_done() -> bool:
            counts = json.loads(stack.docmill("embed-worker", "status", job, "--json"))["counts"]
            return counts.get("done", 0) >= 2

        wait_for("two documents done", some_done, 600, 0.5)
        moved = stack.metrics("cpu-worker")
        assert total(moved, "docmill_messages_total", queue="docmill.extract", outcome="ok") > 0, moved
        status = json.loads(stack.docmill("embed-worker", "status", job, "--json"))
        pending = status["counts"].get("pending", 0)
        assert pending > 0, f"the job ended before the kill could land: {status['counts']}"
        run("podman", "kill", stack.container("cpu-worker"))
        say(f"killed the CPU worker with {pending} document(s) pending")
        time.sleep(3)
        if not stack.running("cpu-worker"):  # podman restarts on its own only under systemd
            run("podman", "start", stack.container("cpu-worker"))
        summary = json.loads(stack.docmill("embed-worker", "wait", job, "--timeout", "900", "--json"))
        counts = summary["counts"]
        assert counts.get("done", 0) == documents and not counts.get("failed"), counts

    with timed("exactly once, queues, metrics, search"):
        chunks = [json.loads(line) for line in stack.docmill("embed-worker", "export").splitlines()]
        ids = [c["id"] for c in chunks]
        index = json.loads(stack.docmill("embed-worker", "status", "--json"))
        assert len(ids) == len(set(ids)), "a chunk is stored twice"
        assert len(ids) == index["chunks"], (len(ids), index["chunks"])
        assert index["documents"]["done"] == documents, index["documents"]

        queues = {q["name"]: q for q in management_queues(ui_port, user, password)}
        for name in STAGE_QUEUES:
            assert queues[name]["arguments"].get("x-max-priority") == 9, queues[name]
            assert queues[name]["consumers"] >= 1, (name, queues[name]["consumers"])
        assert any(name.endswith(".XQ") for name in queues), sorted(queues)

        embed = stack.metrics("embed-worker")
        assert total(embed, "docmill_documents_total", state="done") > 0, embed
        assert total(embed, "docmill_chunks_embedded_total") > 0
        assert total(embed, "docmill_stage_seconds_count", stage="store") > 0
        cpu = stack.metrics("cpu-worker")  # the restarted supervisor serves again, counting from its start
        assert total(moved, "docmill_ocr_pages_total") + total(cpu, "docmill_ocr_pages_total") > 0
        assert any(name.startswith("docmill_") for name, _ in stack.metrics("scheduler"))

        # A sentence read by OCR finds its scan first; a born-digital chunk's words find their PDF first.
        scan, truth = next(iter(truths.items()))
        same = {name for name, text in truths.items() if text == truth}
        line = max(truth.splitlines(), key=len)
        hits = json.loads(stack.docmill("embed-worker", "search", line, "-k", "3", "--json"))
        assert hits and hits[0]["doc"] in same, (scan, line, hits)
        chunk = next(c for c in chunks if c["doc"] not in truths)
        hits = json.loads(stack.docmill("embed-worker", "search", chunk["text"][:300], "-k", "3", "--json"))
        assert hits and hits[0]["doc"] == chunk["doc"], (chunk["doc"], hits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave the stack running (for a look around)")
    args = parser.parse_args()
    started = time.monotonic()
    with timed("base image"):
        base = run(str(REPO / "scripts" / "base-image.sh")).strip().splitlines()[-1]
    tag = "ct"
    dangling_before = set(dangling())
    with timed("images"):
        images = build_images(base, tag)
    work = Path(tempfile.mkdtemp(prefix="docmill-ct-"))
    project = f"docmillct{secrets.token_hex(3)}"
    user, password, ui_port, api_port = "docmill", secrets.token_hex(12), free_port(), free_port()
    documents, truths = make_documents(work / "docs")
    from docmill.api.auth import new_token

    token, digest = new_token()
    config = work / "docmill.toml"
    config.write_text(f'[[api_tokens]]\nname = "ci"\nsha256 = "{digest}"\n')
    config.chmod(0o644)
    env_file = work / "stack.env"
    env_file.write_text("\n".join(f"{k}={v}" for k, v in {
        **images, "RABBITMQ_USER": user, "RABBITMQ_PASSWORD": password,
        "POSTGRES_PASSWORD": secrets.token_hex(12), "DOCMILL_STORE": "chroma", "COMPOSE_PROFILES": "chroma,api",
        "RABBITMQ_PORT": str(free_port()), "RABBITMQ_UI_PORT": str(ui_port), "DOCS_DIR": str(work / "docs"),
        "CPU_WORKER_PROCESSES": "2", "API_PORT": str(api_port), "DOCMILL_CONFIG_FILE": str(config)}.items()) + "\n")
    stack = Stack(project, env_file)
    try:
        with timed("stack up"):
            stack.up()
        check(stack, documents, truths, ui_port, user, password)
        with timed("an upload through the API service"):
            check_api(api_port, token)
    except BaseException:
        for service in ("cpu-worker", "embed-worker", "scheduler", "chroma"):
            print(f"--- {service} ---\n{stack.logs(service)[-4000:]}", file=sys.stderr)
        raise
    finally:
        if not args.keep:
            with timed("teardown"):
                stack.down()
                shutil.rmtree(work, ignore_errors=True)
                left = [image for image in dangling() if image not in dangling_before]  # this run's old builds
                if left:
                    run("podman", "rmi", "-f", *left, check=False)
    timings["total"] = time.monotonic() - started
    say("passed: " + ", ".join(f"{step} {seconds:.0f} s" for step, seconds in timings.items()))


if __name__ == "__main__":
    main()
