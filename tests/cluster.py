"""A real high-availability PostgreSQL on this machine: Patroni with a synchronous standby.

Two Patroni nodes and Patroni's Raft controller (a third vote, so that one node's death
leaves a majority) on loopback ports, each data directory under one temporary directory,
with WAL archived for point-in-time restores. The same settings as the deployment the
README describes, with the timings shortened for a test (``loop_wait`` 1 s).

Patroni and PostgreSQL refuse to run as root: as root, the cluster runs as ``postgres``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.processes import free_port

INSTALL = (
    "apt-get install -y postgresql patroni python3-pysyncobj (scripts/test.sh does it when "
    "run as root), or leave the drills out: scripts/test.sh -m 'not drill'"
)
#: Seconds a cluster may take to elect a leader and stream to a synchronous standby.
SETTLE = 90.0


@dataclass(frozen=True)
class Tools:
    patroni: str
    raft_controller: str
    bin_dir: Path


def tools() -> Tools:
    """Patroni (with Raft) and PostgreSQL's server programs, or a failure saying what to install."""
    patroni = shutil.which("patroni")
    controller = shutil.which("patroni_raft_controller")
    servers = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if patroni is None or controller is None or not servers:
        pytest.fail(f"The drills need Patroni and the PostgreSQL server: {INSTALL}")
    shebang = Path(patroni).read_text(errors="replace").splitlines()[0]
    python = shebang[2:].strip().split()[0] if shebang.startswith("#!") else "python3"
    found = subprocess.run([python, "-c", "import pysyncobj"], capture_output=True, check=False)
    if found.returncode != 0:
        pytest.fail(f"Patroni's Raft needs pysyncobj: {INSTALL}")
    return Tools(patroni, controller, servers[-1].parent)


@dataclass
class Account:
    """Who the cluster's processes run as: this user, or ``postgres`` when this is root."""

    uid: int | None = None
    gid: int | None = None

    @classmethod
    def for_servers(cls) -> Account:
        if os.geteuid() != 0:
            return cls()
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(f"Run as root, the drills need the postgres account: {INSTALL}")
        return cls(entry.pw_uid, entry.pw_gid)

    def own(self, path: Path) -> None:
        if self.uid is not None:
            for found in [path, *path.rglob("*")]:
                os.chown(found, self.uid, self.gid if self.gid is not None else -1)

    def run(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), user=self.uid, group=self.gid, extra_groups=[] if self.uid else None,
            capture_output=True, text=True, check=False, timeout=120, **kwargs,  # type: ignore[call-overload]
        )  # fmt: skip

    def start(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                list(args), user=self.uid, group=self.gid,
                extra_groups=[] if self.uid else None, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip


@dataclass
class Node:
    name: str
    port: int
    api_port: int
    raft_port: int
    root: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / self.name

    @property
    def config(self) -> Path:
        return self.root / f"{self.name}.yml"

    @property
    def log(self) -> Path:
        return self.root / f"{self.name}.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def postmaster_pid(self) -> int | None:
        """The running postmaster of this data directory (never a stale file's pid)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            if str(self.data_dir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        return None


@dataclass
class Cluster:
    """Two Patroni nodes and a Raft controller under ``root``; see the module's docstring."""

    root: Path
    tools: Tools
    account: Account
    nodes: list[Node] = field(default_factory=list)
    controller: subprocess.Popen[bytes] | None = None
    controller_port: int = 0

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    def url(self, database: str = "postgres") -> str:
        """The deployment's URL: every host, and only the read-write one will do."""
        hosts = ",".join(node.address for node in self.nodes)
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write"

    def node_url(self, node: Node, database: str = "postgres") -> str:
        return f"postgresql://postgres@{node.address}/{database}"

    def start(self) -> None:
        self.archive.mkdir()
        self.controller_port = free_port()
        self.nodes = [
            Node(f"n{n}", free_port(), free_port(), free_port(), self.root) for n in (1, 2)
        ]
        for node in self.nodes:
            node.config.write_text(json.dumps(self._config(node), indent=2))
        controller_config = self.root / "raft.yml"
        controller_config.write_text(json.dumps({"raft": self._raft(None)}))
        self.account.own(self.root)
        self.controller = self.account.start(
            self.tools.raft_controller, str(controller_config), log=self.root / "raft.log"
        )
        for node in self.nodes:
            self.start_node(node)
        self.wait_healthy()

    def start_node(self, node: Node) -> None:
        node.process = self.account.start(self.tools.patroni, str(node.config), log=node.log)

    def _raft(self, node: Node | None) -> dict[str, object]:
        addresses = {n.name: f"127.0.0.1:{n.raft_port}" for n in self.nodes}
        addresses["controller"] = f"127.0.0.1:{self.controller_port}"
        me = node.name if node else "controller"
        return {
            "data_dir": str(self.root / f"raft-{me}"),
            "self_addr": addresses.pop(me),
            "partner_addrs": sorted(addresses.values()),
        }

    def _config(self, node: Node) -> dict[str, object]:
        archive = str(self.archive)
        return {
            "scope": "codesvc",
            "name": node.name,
            "log": {"level": "INFO"},
            "restapi": {
                "listen": f"127.0.0.1:{node.api_port}",
                "connect_address": f"127.0.0.1:{node.api_port}",
            },
            "raft": self._raft(node),
            "bootstrap": {
                "dcs": {
                    # A dead postmaster is a failover at once (the standby is synchronous,
                    # so nothing is lost); a silent node loses the leader key after ttl.
                    "ttl": 20,
                    "loop_wait": 1,
                    "retry_timeout": 5,
                    "primary_start_timeout": 0,
                    "synchronous_mode": True,
                    "synchronous_mode_strict": False,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "parameters": {
                            "synchronous_commit": "on",
                            "wal_log_hints": "on",
                            # Standbys archive too, so no segment is missing from the archive
                            # when a primary dies before archiving it.
                            "archive_mode": "always",
                            "archive_command": archive_command(archive),
                        },
                    },
                },
                # A test's cluster is new: its first copy need not wait for the disk.
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, "no-sync"],
            },
            "postgresql": {
                "listen": node.address,
                "connect_address": node.address,
                "data_dir": str(node.data_dir),
                "bin_dir": str(self.tools.bin_dir),
                "pgpass": str(self.root / f"{node.name}.pgpass"),
                "basebackup": [{"checkpoint": "fast"}, "no-sync"],
                "authentication": {
                    "superuser": {"username": "postgres"},
                    "replication": {"username": "postgres"},
                },
                "parameters": {"unix_socket_directories": str(self.root)},
                "pg_hba": [
                    "local all all trust",
                    "host all all 127.0.0.1/32 trust",
                    "host replication all 127.0.0.1/32 trust",
                ],
            },
        }

    def members(self) -> list[dict[str, object]]:
        """Patroni's view of the cluster, from any node that answers."""
        for node in self.nodes:
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                url = f"http://127.0.0.1:{node.api_port}/cluster"
                with urllib.request.urlopen(url, timeout=2) as resp:
                    return list(json.load(resp)["members"])
        return []

    def role(self, role: str) -> Node | None:
        for member in self.members():
            if member.get("role") == role and member.get("state") in ("running", "streaming"):
                return next(n for n in self.nodes if n.name == member["name"])
        return None

    def primary(self) -> Node:
        node = self.role("leader")
        assert node is not None, f"no primary: {self.members()}"
        return node

    def wait_healthy(self, timeout: float = SETTLE) -> tuple[Node, Node]:
        """Wait for a primary that takes writes and a synchronous standby streaming from it
        (asked of PostgreSQL itself: Patroni's view lags by a loop); returns them."""
        deadline = time.monotonic() + timeout
        while True:
            leader, standby = self.role("leader"), self.role("sync_standby")
            if leader is not None and standby is not None and self._streams(leader, standby):
                return leader, standby
            if time.monotonic() > deadline:
                raise AssertionError(f"no primary with a synchronous standby: {self.describe()}")
            time.sleep(0.2)

    def _streams(self, primary: Node, standby: Node) -> bool:
        done = self.account.run(
            str(self.tools.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", "postgres", "-d", "postgres", "-Atc",
            "SELECT NOT pg_is_in_recovery() AND EXISTS (SELECT FROM pg_stat_replication "
            f"WHERE application_name = '{standby.name}' AND sync_state = 'sync')",
        )  # fmt: skip
        return done.stdout.strip() == "t"

    def kill_postmaster(self, node: Node) -> None:
        """``kill -9`` the node's postmaster, as a crash would; Patroni lives on."""
        pid = node.postmaster_pid()
        assert pid is not None, f"{node.name} runs no postmaster"
        os.kill(pid, signal.SIGKILL)

    def kill_node(self, node: Node) -> None:
        """``kill -9`` Patroni and the postmaster: the machine is gone."""
        pid = node.postmaster_pid()
        if node.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.process.pid, signal.SIGKILL)
            node.process.wait()
            node.process = None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()  # Patroni stops its PostgreSQL, then itself
        for node in self.nodes:
            if node.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node.process.wait(timeout=15)
            self.kill_node(node)
        if self.controller is not None:
            self.controller.kill()
            self.controller.wait()

    def describe(self) -> str:
        """Members and the tail of every log: what a failed drill reports."""
        parts = [f"members: {self.members()}"]
        for log in sorted(self.root.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-15:]
            parts.append(f"--- {log.name}\n" + "\n".join(lines))
        return "\n".join(parts)


def archive_command(archive: str) -> str:
    """Copy a finished WAL segment into ``archive`` once: a copy there already is success
    when identical (primary and standby both archive), failure when not."""
    target = f"{archive}/%f"
    return (
        f"if [ -f {target} ]; then cmp -s %p {target}; "
        f"else cp %p {target}.part && mv {target}.part {target}; fi"
    )


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    """A started cluster under a fresh temporary directory, stopped and removed after."""
    found = tools()
    account = Account.for_servers()
    root = Path(tempfile.mkdtemp(prefix="codesvc-drill-"))
    cluster = Cluster(root, found, account)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
