"""Private instances of the services docmill needs, for tests that stop, kill and restart them.

The machine's own RabbitMQ and PostgreSQL serve other test runs at the same
moment, so a fault is never injected into them: each class here runs its own
server on free loopback ports, with a throw-away data directory, and can stop,
kill and start it again with its data. ``close()`` stops it for good and
removes the directory; it is safe to call whatever state the server is in.

PostgreSQL refuses to run as root: as root, its commands run as the ``postgres``
system user (which the Debian package creates). RabbitMQ runs as whoever runs
the tests, with its Erlang cookie in its own directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["PrivatePostgres", "PrivateRabbitmq", "Tmpfs", "port_open", "server_port"]


def server_port() -> int:
    """A free loopback port below the kernel's ephemeral range. A server stopped mid-test must find its port free
    again when it restarts, and a port from the ephemeral range (what ``free_port`` gives) can meanwhile become
    the local end of any process's outgoing connection: on a busy machine a restart failed that way."""
    low = 10000
    with contextlib.suppress(OSError, ValueError):
        low = min(low, int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]) - 10000)
    while True:
        port = random.randrange(low, low + 10000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(what: str, ready: Callable[[], bool], timeout: float, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not alive():
            raise RuntimeError(f"{what} exited while starting")
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {timeout:g} s")


class PrivatePostgres:
    """A PostgreSQL server of its own: ``initdb`` in a temporary directory, ``pg_ctl`` to stop and start it."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
        if not found:
            raise RuntimeError("no PostgreSQL server in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
        self.bin = found[-1].parent
        self.user = "postgres" if os.geteuid() == 0 else None
        self.dir = Path(tempfile.mkdtemp(prefix="docmill-fault-pg-"))
        self.data = self.dir / "data"
        self.port = server_port()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.started = False

    @property
    def url(self) -> str:
        """The server's SQLAlchemy URL, without a database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def _run(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / tool), *args], user=self.user, cwd=self.dir, check=True,
                              capture_output=True, text=True, timeout=timeout)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c max_connections=200", "start")
        _wait("PostgreSQL", lambda: port_open(self.port), 60)
        self.started = True

    def stop(self) -> None:
        """A fast shutdown: clients are disconnected, the server is down until ``start``."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
        self.started = False

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        """A new database; its URL."""
        import sqlalchemy

        admin = sqlalchemy.create_engine(f"{self.url}/postgres", isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
        finally:
            admin.dispose()
        return f"{self.url}/{name}"

    def close(self) -> None:
        """Stop the server (killing it if it will not stop) and remove its directory."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")
        if pid_file.exists():
            with contextlib.suppress(Exception):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRabbitmq:
    """A RabbitMQ node of its own name, ports and data directory, started in the foreground of its own session.

    Not ``rabbitmq-server`` from /usr/sbin: as root, Debian's wrapper switches to the rabbitmq user and
    drops the environment that makes this node a private one. The system's ``rabbitmq.conf`` (which
    names the machine's node's port) and ``rabbitmq-env.conf`` are replaced by files of this node's.
    """

    def __init__(self) -> None:
        lib = Path("/usr/lib/rabbitmq/bin")
        self.server = lib / "rabbitmq-server" if (lib / "rabbitmq-server").exists() else None
        self.ctl = lib / "rabbitmqctl" if (lib / "rabbitmqctl").exists() else None
        if self.server is None or self.ctl is None:
            raise RuntimeError("no RabbitMQ server in /usr/lib/rabbitmq/bin (apt-get install rabbitmq-server)")
        self.dir = Path(tempfile.mkdtemp(prefix="docmill-fault-mq-"))
        self.port, self.dist_port = server_port(), server_port()
        self.node = f"docmill-fault-{self.port}@localhost"
        (self.dir / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self.dir / "enabled_plugins").write_text("[].\n")  # no management UI: its port belongs to the machine's
        (self.dir / "rabbitmq-env.conf").write_text("")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin:/usr/sbin:/sbin"),
            "HOME": str(self.dir),  # the Erlang cookie of this node and of rabbitmqctl
            "LANG": "C.UTF-8",
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(self.dir / "node.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, vhost: str = "/") -> str:
        """The AMQP URL of a vhost on this node."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{'%2F' if vhost == '/' else vhost}"

    def ctl_run(self, *args: str, timeout: float = 120) -> str:
        """``rabbitmqctl -n NODE ARGS``; its output."""
        done = subprocess.run([str(self.ctl), "-q", "-n", self.node, *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr or done.stdout}")
        return done.stdout

    def start(self) -> None:
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken: cannot start the private RabbitMQ node there")
        log = open(self.dir / "console.log", "ab")  # noqa: SIM115 - the node's, closed when it exits
        self.process = subprocess.Popen([str(self.server)], env=self.env, cwd=self.dir, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        process = self.process
        try:
            _wait("the private RabbitMQ node", self._answers, 120, alive=lambda: process.poll() is None)
        except RuntimeError as exc:
            said = (self.dir / "console.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{exc}; it said:\n{said}") from None

    def _answers(self) -> bool:
        import pika

        if not port_open(self.port):
            return False
        try:
            pika.BlockingConnection(pika.URLParameters(self.url() + "?connection_attempts=1")).close()
        except Exception:
            return False
        return True

    def stop(self) -> None:
        """``rabbitmqctl stop``: the node shuts down cleanly and exits."""
        self.ctl_run("stop")
        self._reap(60)

    def kill(self) -> None:
        """SIGKILL to the node and every process of its session."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self._reap(30)

    def _reap(self, timeout: float) -> None:
        if self.process is not None:
            self.process.wait(timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # what the node started (erl_child_setup...)
            self.process = None
        _wait("the stopped RabbitMQ node's port to close", lambda: not port_open(self.port), 30)

    def add_vhost(self, name: str) -> str:
        """A new vhost that guest may use; its AMQP URL."""
        self.ctl_run("add_vhost", name)
        self.ctl_run("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return self.url(name)

    def close(self) -> None:
        """Stop the node (killing what does not stop) and remove its directory."""
        if self.process is not None:
            try:
                self.stop()
            except Exception:
                self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Tmpfs:
    """A small tmpfs mounted on a directory (root only): a disk that fills up, and frees up, on demand."""

    def __init__(self, path: Path, size: str) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)], check=True,
                       capture_output=True, timeout=30)

    def fill(self) -> int:
        """Write a file until the disk is full; the bytes written."""
        target = self.path / ".ballast"
        written = 0
        chunk = b"\0" * (1 << 20)
        with open(target, "wb", buffering=0) as out:
            while True:
                try:
                    written += out.write(chunk)
                except OSError:
                    break
            with contextlib.suppress(OSError):  # fill the last partial block too
                while out.write(b"\0" * 4096):
                    written += 4096
        return written

    def free(self) -> None:
        (self.path / ".ballast").unlink(missing_ok=True)

    def close(self) -> None:
        result = subprocess.run(["umount", str(self.path)], capture_output=True, timeout=60)
        if result.returncode != 0:  # a process still holds a file there: detach it now, it goes when they close
            subprocess.run(["umount", "-l", str(self.path)], check=True, capture_output=True, timeout=60)
