"""A private Ray cluster of one or more raylets on this machine, for fault injection.

Every raylet is a ``ray start --block`` process with its own free ports under one private
``--temp-dir``, so it never meets another Ray instance on the machine. ``add_node`` starts a second
raylet with its own resources (``market_type="spot"`` labels it preemptible, as cloud providers'
spot nodes are); ``kill_node`` SIGKILLs that node's processes at once: a node loss, as Ray sees a
preempted VM.
``stop`` ends only the processes this cluster started.

>>> # with LocalRayCluster(num_cpus=8) as cluster:
>>> #     ZephyrContext(backend="ray", address=cluster.address)
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc: no extra dependency)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (workers run in process groups of their own, so a group
    signal would miss them)."""
    found, todo = [], [pid]
    while todo:
        children = _children(todo.pop())
        found += children
        todo += children
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


@dataclass
class RayNode:
    process: subprocess.Popen
    name: str
    head: bool
    port: int  # its node manager port: how ray.nodes() tells it apart

    def node_id(self) -> str | None:
        """Its Ray node id (in a driver connected to the cluster)."""
        import ray

        for node in ray.nodes():
            if node["Alive"] and node.get("NodeManagerPort") == self.port:
                return node["NodeID"]
        return None

    def raylet_pid(self) -> int | None:
        """The raylet among the ``ray start --block`` process's children."""
        for pid in _children(self.process.pid):
            if "/raylet" in _cmdline(pid).split(" ", 1)[0] or "raylet/raylet" in _cmdline(pid):
                return pid
        return None


class LocalRayCluster:
    def __init__(self, num_cpus: float = 4, temp_dir: str | None = None, resources: dict | None = None,
                 system_config: dict | None = None, timeout: float = 90.0,
                 address: str | None = None):  # fmt: skip
        """A new cluster (a head with ``num_cpus``), or with ``address`` a handle on a running
        one that ``add_node`` extends and ``stop`` shrinks back (its head is left alone)."""
        # Ray's socket paths must stay under 107 bytes: a short private root.
        self.temp_dir = temp_dir or tempfile.mkdtemp(prefix="ray-zl-", dir="/tmp")
        self.nodes: list[RayNode] = []
        self.timeout = timeout
        self._env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        # A private cluster on loopback: no token authentication (Ray enables it for `ray start`).
        self._env["RAY_AUTH_MODE"] = "disabled"
        if address is not None:
            self.address, self.port = address, int(address.rsplit(":", 1)[1])
            return
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        head = ["--head", f"--port={self.port}", "--include-dashboard=false"]
        if system_config:  # e.g. faster node-death detection for tests
            head.append(f"--system-config={json.dumps(system_config)}")
        self._start(head, num_cpus, resources, "head", None)

    @property
    def session_dir(self) -> Path:
        return Path(self.temp_dir) / "session_latest"

    def add_node(self, num_cpus: float = 2, resources: dict | None = None,
                 market_type: str | None = None, name: str = "node") -> RayNode:  # fmt: skip
        # Its own temp dir, as on a separate machine: one log monitor per log folder (two monitors
        # tailing one folder would send every worker line to the driver twice).
        temp_dir = tempfile.mkdtemp(prefix=f"{name}-", dir=self.temp_dir)
        return self._start([f"--address={self.address}"], num_cpus, resources, name, market_type,
                           temp_dir)  # fmt: skip

    def kill_node(self, node: RayNode) -> int:
        """A node loss: SIGKILL every process of the node at once, as a lost machine takes
        them (its raylet, its agents, and the worker processes of its actors: left alive, a
        worker notices its raylet's death only when it next needs it, and an actor could
        finish its work on a node that is already gone). Returns the raylet's pid."""
        pid = node.raylet_pid()
        if pid is None:
            raise RuntimeError(f"raylet of {node.name} not found")
        for victim in [node.process.pid, *_descendants(node.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)  # ray start --block ends its processes
        for node in reversed(self.nodes):
            try:
                node.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for pid in _children(node.process.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                node.process.kill()
                node.process.wait(timeout=10)
        self.nodes.clear()

    def __enter__(self) -> LocalRayCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- internals -------------------------------------------------------------------------------

    def _start(self, first: list[str], num_cpus, resources, name, market_type,
               temp_dir: str | None = None) -> RayNode:  # fmt: skip
        low = random.randrange(20000, 32000, 500)  # below the ephemeral range _free_port draws from
        port = _free_port()
        cmd = [
            str(Path(sys.executable).with_name("ray")), "start", *first, "--block",
            f"--temp-dir={temp_dir or self.temp_dir}", f"--num-cpus={num_cpus}",
            f"--node-manager-port={port}", f"--object-manager-port={_free_port()}",
            f"--min-worker-port={low}", f"--max-worker-port={low + 499}",
            f"--dashboard-agent-listen-port={_free_port()}", f"--dashboard-agent-grpc-port={_free_port()}",
            f"--runtime-env-agent-port={_free_port()}", f"--metrics-export-port={_free_port()}",
            "--disable-usage-stats",
        ]  # fmt: skip
        if resources:
            cmd.append(f"--resources={json.dumps(resources)}")
        env = dict(self._env)
        if market_type:
            env["RAY_NODE_MARKET_TYPE"] = market_type  # becomes the node label ray.io/market-type
        log = open(Path(self.temp_dir) / f"ray-start-{name}-{len(self.nodes)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)  # fmt: skip
        node = RayNode(process, name, head=first[0] == "--head", port=port)
        self.nodes.append(node)
        self._wait_up(node)
        return node

    def _wait_up(self, node: RayNode) -> None:
        """Until the raylet runs and, for the head, the GCS accepts connections. A driver that
        needs an added node schedulable calls ``wait_for_nodes``."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if node.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"ray start for {node.name} exited; see {self.temp_dir}")
            if node.raylet_pid() is not None and (not node.head or self._gcs_up()):
                return
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"ray node {node.name} not up within {self.timeout:.0f}s")

    def _gcs_up(self) -> bool:
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def wait_for_node(self, node: RayNode, timeout: float = 60.0) -> str:
        """In a driver connected to this cluster: until ``node`` is alive; returns its node id.
        (Not a count of alive nodes: a node lost just before stays listed until declared dead.)"""
        deadline = time.monotonic() + timeout
        while (node_id := node.node_id()) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"ray node {node.name} not alive within {timeout:.0f}s")
            time.sleep(0.2)
        return node_id

    def wait_for_nodes(self, count: int | None = None, timeout: float = 60.0) -> None:
        """In a driver connected to this cluster: until ``count`` nodes (default: all) are alive."""
        import ray

        count = len(self.nodes) if count is None else count
        deadline = time.monotonic() + timeout
        while sum(1 for n in ray.nodes() if n["Alive"]) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} Ray nodes not alive within {timeout:.0f}s")
            time.sleep(0.2)
