#!/usr/bin/env python
"""Make the real Ray captures of this folder: run Ray on this machine with real faults.

    .venv/bin/python tests/data/ray/make_captures.py            # every capture
    .venv/bin/python tests/data/ray/make_captures.py oom-kills  # one

Each capture runs in its own private Ray instance (``ray.init(address="local", _temp_dir=...)``
or a private two-raylet ``ray.cluster_utils.Cluster`` on a free port), as a child process whose
stdout and stderr together are the capture's ``driver.log``. Then the instance's
``session_*/logs`` folder is copied into ``<capture>/session/``, without the files that say
nothing about the faults (dashboard, runtime-env agent, debug state, empty files). A file larger
than ``MAX_FILE`` bytes keeps its lines verbatim but loses Ray's periodic ``[state-dump]`` blocks
and then, if still large, its INFO lines that name no fault (see ``trim``), so the corpus stays
small. Lines that start with ``[capture]`` are this
script's own markers (ISO times), everything else is Ray's or the actors' output.

What each capture holds is written in ``README.md`` next to this script; the tests read the
expected findings from there (``tests/logscan/test_real_captures.py``).
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TMP = Path(os.environ.get("CAPTURE_TMP", "/tmp/ray-i9"))
MAX_FILE = 96 << 10
DROP = (
    "dashboard",
    "runtime_env",
    "debug_state",
    "ray_client_server",
    "log_monitor",
    "monitor.log",
)


def cap(msg: str) -> None:
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
    print(f"[capture] {now} {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the captures (each runs in a child process) -------------------------------------------------


def oom_kills(temp: Path) -> None:
    """Ray's memory monitor kills a task once (max_retries=0), then one task three times
    (max_retries=2: the same task id, a new worker process each time)."""
    import ray

    with open("/proc/meminfo") as f:
        info = {k: int(v.split()[0]) << 10 for k, v in (line.split(":") for line in f)}
    total, used = info["MemTotal"], info["MemTotal"] - info["MemAvailable"]
    threshold = round((used + (1 << 30)) / total, 3)  # about 1 GiB above what is used now
    os.environ["RAY_memory_usage_threshold"] = str(threshold)  # noqa: SIM112 (Ray spells it so)
    os.environ["RAY_memory_monitor_refresh_ms"] = "250"  # noqa: SIM112
    os.environ["RAY_task_oom_retries"] = "2"  # noqa: SIM112 (three kills, then the task fails)
    cap(f"memory threshold {threshold} of {total / 2**30:.1f} GiB")
    ray.init(address="local", num_cpus=1, include_dashboard=False, _temp_dir=str(temp))

    def hog():
        import time as t

        blocks = []
        for _ in range(60):  # up to 6 GiB in 100 MiB steps; killed long before
            blocks.append(bytearray(100 << 20))
            t.sleep(0.1)
        return len(blocks)

    once = ray.remote(max_retries=0)(hog).options(name="hog_once")
    thrice = ray.remote(max_retries=2, retry_exceptions=False)(hog).options(name="hog_thrice")
    for label, fn in (("hog_once", once), ("hog_thrice", thrice)):
        cap(f"{label}: start")
        try:
            ray.get(fn.remote(), timeout=180)
            cap(f"{label}: NOT killed")
        except Exception as e:  # the driver shows what Ray raised
            cap(f"{label}: raised {type(e).__name__}")
            print(str(e)[:4000], flush=True)
    time.sleep(3)
    ray.shutdown()


def actor_faults(temp: Path) -> None:
    """SIGKILLed restartable and non-restartable actors, a task whose worker is SIGKILLed, a named
    actor's name taken twice, and an infeasible resource request left pending."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, _temp_dir=str(temp))

    @ray.remote(max_restarts=-1, max_task_retries=0, num_cpus=0.1)
    class Restartable:
        def pid(self):
            return os.getpid()

    @ray.remote(max_restarts=0, num_cpus=0.1)
    class Fragile:
        def pid(self):
            return os.getpid()

    @ray.remote(max_retries=0)
    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def pids_of(actors):
        """Their pids, once they answer (a restarting actor refuses calls for a moment)."""
        for _ in range(60):
            try:
                return ray.get([a.pid.remote() for a in actors], timeout=30)
            except ray.exceptions.RayActorError:
                time.sleep(1)
        raise RuntimeError("actors did not come back")

    workers = [Restartable.options(name=f"restartable-{i}").remote() for i in range(3)]
    for round_ in range(2):
        pids = pids_of(workers)
        cap(f"SIGKILL round {round_}: pids {pids}")
        for pid in pids[:2]:
            os.kill(pid, signal.SIGKILL)
        time.sleep(4)
    fragile = Fragile.options(name="fragile").remote()
    pid = ray.get(fragile.pid.remote())
    cap(f"SIGKILL fragile actor pid {pid}")
    os.kill(pid, signal.SIGKILL)
    time.sleep(2)
    try:
        ray.get(fragile.pid.remote(), timeout=60)
    except Exception as e:
        cap(f"fragile: raised {type(e).__name__}")
        print(str(e)[:2000], flush=True)
    cap("task whose worker is SIGKILLed (max_retries=0)")
    try:
        ray.get(die.remote(), timeout=60)
    except Exception as e:
        cap(f"die: raised {type(e).__name__}")
        print(str(e)[:2000], flush=True)
    cap("name collision: a second actor named restartable-0")
    try:
        Restartable.options(name="restartable-0").remote()
    except Exception as e:
        cap(f"collision: raised {type(e).__name__}")
        print(str(e)[:2000], flush=True)
    cap("infeasible request: an actor that needs {'TPU': 4}")
    pending = Restartable.options(resources={"TPU": 4}).remote()
    time.sleep(20)
    ray.kill(pending)
    cap("shutdown")
    ray.shutdown()


def raylet_sigkill(temp: Path) -> None:
    """A private two-raylet cluster; the second raylet (its own IP 127.0.0.2) is SIGKILLed while
    restartable and non-restartable actors run there; the GCS marks the node dead."""
    import ray
    import ray._private.utils
    from ray.cluster_utils import Cluster

    # Cluster() writes its address to /tmp/ray/ray_current_cluster, where another user's
    # ray.init(address="auto") would find it: this cluster stays private.
    ray._private.utils.write_ray_address = lambda *args, **kwargs: None
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"gcs_server_port": free_port(), "num_cpus": 1, "include_dashboard": False,
                        "temp_dir": str(temp)},
    )  # fmt: skip
    spot = cluster.add_node(
        num_cpus=2, resources={"spot": 4}, node_ip_address="127.0.0.2",
        temp_dir=str(temp) + "-spot", include_log_monitor=True,
    )  # fmt: skip
    ray.init(address=cluster.address, include_dashboard=False)
    cluster.wait_for_nodes()

    @ray.remote(max_restarts=-1, max_task_retries=0, resources={"spot": 1}, num_cpus=0)
    class OnSpot:
        def pid(self):
            return os.getpid()

        def slow(self, s):
            time.sleep(s)

    @ray.remote(max_restarts=0, resources={"spot": 1}, num_cpus=0)
    class FragileOnSpot:
        def slow(self, s):
            time.sleep(s)

    actors = [OnSpot.remote() for _ in range(2)]
    cap(f"actors on the spot node: pids {ray.get([a.pid.remote() for a in actors])}")
    fragile = FragileOnSpot.remote()
    pending = [fragile.slow.remote(120), actors[0].slow.remote(120)]
    time.sleep(2)
    raylet = spot.all_processes["raylet"][0].process.pid
    cap(f"SIGKILL the spot node's raylet pid {raylet} (node {spot.node_id})")
    os.kill(raylet, signal.SIGKILL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if not any(n["Alive"] for n in ray.nodes() if n["NodeID"] == spot.node_id):
            break
        time.sleep(1)
    cap("the GCS reports the spot node dead")
    for ref in pending:
        try:
            ray.get(ref, timeout=60)
        except Exception as e:
            cap(f"pending call: raised {type(e).__name__}")
            print(str(e)[:2000], flush=True)
    time.sleep(3)
    ray.shutdown()
    cluster.shutdown()


CAPTURES = {"oom-kills": oom_kills, "actor-faults": actor_faults, "raylet-sigkill": raylet_sigkill}


# --- the parent: one child per capture, then keep what is needed ---------------------------------


FAULT_WORDS = re.compile(
    r"kill|dead|died|fail|lost|OOM|memory|Removing|terminat|exit|unavailable", re.I
)
GLOG_INFO = re.compile(r"^\[\d{4}-\d\d-\d\d [\d:,]+ I ")


def trim(lines: list[str]) -> list[str]:
    """A large log's lines without the state dumps, then without INFO lines that name no fault
    (a dropped head line takes its continuation lines with it)."""
    lines = [line for line in lines if not line.startswith("[state-dump]")]
    if sum(map(len, lines)) <= MAX_FILE:
        return lines
    kept, keep = [], True
    for line in lines:
        if line.startswith("["):  # a glog head line decides for its continuation lines
            keep = not GLOG_INFO.match(line) or bool(FAULT_WORDS.search(line))
        if keep:
            kept.append(line)
    return kept


def keep_session(temp: Path, dest: Path) -> None:
    logs = temp / "session_latest" / "logs"
    shutil.rmtree(dest, ignore_errors=True)
    for path in sorted(p for p in logs.rglob("*") if p.is_file()):
        rel = path.relative_to(logs)
        if rel.name.startswith(DROP) or path.stat().st_size == 0:
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        if path.stat().st_size <= MAX_FILE:
            shutil.copyfile(path, dest / rel)
        else:
            text = path.read_bytes().decode("utf-8", "surrogateescape")
            kept = trim(text.splitlines(keepends=True))
            (dest / rel).write_bytes("".join(kept).encode("utf-8", "surrogateescape"))


def main(names: list[str]) -> None:
    if len(names) == 2 and names[0] == "--child":
        CAPTURES[names[1]](TMP / names[1])
        return
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_DEDUP_LOGS"] = "1"  # Ray's default, stated
    for name in names or list(CAPTURES):
        out = HERE / name
        out.mkdir(exist_ok=True)
        shutil.rmtree(TMP / name, ignore_errors=True)
        with open(out / "driver.log", "wb") as log:
            subprocess.run(
                [sys.executable, "-u", __file__, "--child", name],
                stdout=log, stderr=subprocess.STDOUT, env=env, timeout=900, check=False,
            )  # fmt: skip
        keep_session(TMP / name, out / "session")
        if (TMP / f"{name}-spot" / "session_latest").exists():
            keep_session(TMP / f"{name}-spot", out / "session-spot-node")


if __name__ == "__main__":
    main(sys.argv[1:])
