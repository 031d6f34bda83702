"""The closed loop on Ray: run one scenario in its own driver process against a private cluster,
keep the driver's output and this run's part of the Ray session folders, then read them back
with ``logscan ingest`` and ``logscan diagnose``.

Used by the Ray tests and by ``tests/data/ray-scenarios/capture.py`` (which refreshes the kept
captures).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Session files worth keeping: what logscan reads. The core-worker glog files, dashboard and
# monitor logs are large and say nothing about the engine.
KEEP = ("raylet.out", "raylet.err", "gcs_server.out", "gcs_server.err")
KEEP_PREFIX = ("worker-",)
# The finding each scenario's own fault leaves in the logs of the corrected engine. The other
# scenarios leave none of their pattern: the engine raised or recovered instead of hanging,
# colliding, restarting the coordinator, losing a shard or keeping a zombie.
OWN = {"ZL08": "ZL08", "ZL11": "ZL11", "ZL12": "ZL12"}
# Scenarios that inject their pattern's very fault, whose signature may show whatever the engine
# does about it: ZL06's coordinator outage makes workers' pull_task fail before they miss
# heartbeats (the corrected worker then fails its actor and comes back, instead of idling).
# ZL07 loses one node: the detector's wave needs three node deaths, so it may or may not show.
MAY_SHOW_OWN = {"ZL06", "ZL07"}
# Warnings a scenario's own faults may cause: the workers it kills miss their heartbeats together.
CAUSED_WARNINGS = {"ZL04"}

# A lost node is declared dead after ~10 s instead of Ray's default ~15-30 s: the node-loss
# scenario waits for Ray to restart the node's actors elsewhere. Not lower: on an overloaded
# machine (load 50 on 2 cores) a 1 s x 3 health check declared the head node itself dead, and
# every job's actors with it.
SYSTEM_CONFIG = {"health_check_period_ms": 1000, "health_check_timeout_ms": 3000,
                 "health_check_failure_threshold": 10}  # fmt: skip


def log_dirs(cluster) -> list[tuple[str, Path]]:
    """Every raylet's session log folder, labelled (the head's, then each added node's)."""
    dirs = [("head", cluster.session_dir / "logs")]
    for node_dir in sorted(Path(cluster.temp_dir).glob("*/session_latest/logs")):
        dirs.append((node_dir.parents[1].name.split("-")[0], node_dir))
    return dirs


def _sizes(cluster) -> dict[Path, int]:
    sizes = {}
    for _, folder in log_dirs(cluster):
        if folder.is_dir():
            for path in folder.iterdir():
                if path.is_file():
                    sizes[path] = path.stat().st_size
    return sizes


def _wanted(path: Path) -> bool:
    return path.name in KEEP or path.name.startswith(KEEP_PREFIX)


def driver_env() -> dict:
    """The environment of a driver process for the private cluster: no RAY_ADDRESS, and token
    authentication off as on the cluster (a ray.init(address="local") earlier in this process
    leaves RAY_AUTH_MODE=token behind, and a driver with it has its actors cancelled)."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_AUTH_MODE"] = "disabled"
    return env


def run_captured(cluster, pattern: str, out: Path, timeout: float = 240.0) -> dict:
    """Run ``pattern`` on Ray in a fresh driver process; keep ``driver.log`` (its stderr: Ray's
    forwarded worker lines and the engine's driver log), ``driver.out`` (stdout, ending with
    the outcome) and ``session/<node>/logs`` (what this run appended to each file). Returns the
    scenario's outcome."""
    out.mkdir(parents=True, exist_ok=True)
    before = _sizes(cluster)
    env = driver_env()
    env["PYTHONUNBUFFERED"] = "1"
    cmd = [sys.executable, "-m", "zephyr_engine.scenarios", pattern, "--backend", "ray",
           "--address", cluster.address]  # fmt: skip
    with open(out / "driver.log", "w") as err, open(out / "driver.out", "w") as std:
        proc = subprocess.run(cmd, stdout=std, stderr=err, env=env, timeout=timeout)
    for label, folder in log_dirs(cluster):
        if not folder.is_dir():
            continue
        target = out / "session" / label / "logs"
        for path in sorted(folder.iterdir()):
            if not (path.is_file() and _wanted(path)):
                continue
            start = before.get(path, 0)
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read()
            if data.strip():
                target.mkdir(parents=True, exist_ok=True)
                (target / path.name).write_bytes(data)
    lines = (out / "driver.out").read_text().strip().splitlines()
    outcome = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    if outcome is None:
        raise AssertionError(f"{pattern}: the driver exited {proc.returncode} without an outcome")
    return outcome


def logscan(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("logscan")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout)


def capture_sources(capture: Path) -> dict[str, list[Path]]:
    """What to ingest: the driver log alone, the session folders alone, and both together.

    Each alone, because a user may have only one of them; together, because some patterns need
    both halves (ZL11 pairs the driver's pipeline attempt with the raylet's unschedulable lease)
    and because the driver log repeats every forwarded worker line that the session's
    ``worker-*.err`` holds: read together, each copy must still count once (Ray's dedup may have
    folded the driver's copy into a ``[repeated Nx across cluster]`` line)."""
    driver = [capture / "driver.log"]
    session = sorted((capture / "session").glob("*/logs"))
    return {"driver": driver, "session": session, "combined": driver + session}


def diagnose_capture(capture: Path, tables: Path) -> list[dict]:
    """``logscan ingest`` then ``logscan diagnose --json`` per source of ``capture_sources`` (the
    sources side by side: separate processes and folders); the findings of all, each tagged
    with its ``source``."""

    def one(source: str, inputs: list[Path]) -> list[dict]:
        out = tables / source
        if out.exists():
            shutil.rmtree(out)
        ingest = logscan("ingest", *map(str, inputs), "-o", str(out), "-q")
        assert ingest.returncode == 0, ingest.stderr
        found = logscan("diagnose", str(out), "--json")
        assert found.returncode == 0, found.stderr
        data = json.loads(found.stdout)
        data = data["findings"] if isinstance(data, dict) else data
        return [{**f, "source": source} for f in data]

    sources = {k: v for k, v in capture_sources(capture).items() if v}
    with concurrent.futures.ThreadPoolExecutor(len(sources)) as pool:
        runs = [pool.submit(one, source, inputs) for source, inputs in sources.items()]
        return [f for run in runs for f in run.result()]


def within(seconds: float, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, failing the test when it takes longer than ``seconds`` (the call
    runs on a daemon thread, so a hang ends the test instead of the suite)."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(fn, *args, **kwargs).result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        raise AssertionError(
            f"{getattr(fn, '__name__', fn)} did not finish within {seconds:.0f}s"
        ) from None
    finally:
        pool.shutdown(wait=False)


def alive_actors(prefix: str) -> list[str]:
    """Names of the cluster's actors starting with ``prefix`` that are not dead (from the GCS)."""
    from ray._private import state

    return sorted(
        a["Name"] for a in state.actors().values()
        if a.get("Name", "").startswith(prefix) and a.get("State") != "DEAD"
    )  # fmt: skip


def finding_problems(pattern: str, findings: list[dict]) -> list[str]:
    """What is wrong with a scenario's findings: its own pattern missing (where its logs show it),
    its pattern present where the corrected engine must leave none, or a finding it did not cause."""
    found = {f["pattern"] for f in findings}
    problems = []
    if pattern in OWN and OWN[pattern] not in found:
        problems.append(f"{pattern} not diagnosed (found {sorted(found)})")
    if pattern not in OWN and pattern not in MAY_SHOW_OWN and pattern in found:
        problems.append(f"{pattern} diagnosed although the corrected engine handled it")
    for f in findings:
        if f["pattern"] == OWN.get(pattern) or (f["pattern"] == pattern in MAY_SHOW_OWN):
            continue
        if f["severity"] == "critical" or f["pattern"] not in CAUSED_WARNINGS:
            problems.append(
                f"uncaused {f['pattern']} ({f['severity']}, {f.get('source')}): {f['explanation']}"
            )
    return problems
