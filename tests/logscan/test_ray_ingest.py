"""``logscan ingest --ray``: the parts as Ray tasks on a private local Ray instance give the
same tables as the local run."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zephyr_logscan import parallel
from zephyr_logscan.ingest import ingest

from .safety import ROOT
from .test_parallel import SESSION, assert_same_tables, straddling_log

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def private_ray():
    """Our own instance: never attach to a cluster someone else runs on this machine."""
    saved = os.environ.pop("RAY_ADDRESS", None)
    ray.init(
        address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR",
        log_to_driver=False,
    )  # fmt: skip
    try:
        yield
    finally:
        ray.shutdown()
        if saved is not None:
            os.environ["RAY_ADDRESS"] = saved


def test_ray_ingest_equals_the_local_run(private_ray, small_log, shared_dir, tmp_path, monkeypatch):
    path, _ = small_log
    straddle = tmp_path / "straddle.log"
    straddle.write_bytes(straddling_log(300))
    inputs = [str(path), str(straddle), str(shared_dir / SESSION)]
    monkeypatch.setattr(parallel, "RANGE_BYTES", 200_000)  # ranges of the big files, too
    local = ingest(inputs, tmp_path / "local").out_dir
    on_ray = ingest(inputs, tmp_path / "ray", ray_address="auto").out_dir  # the session above
    assert_same_tables(local, on_ray)
    assert ray.is_initialized()  # the run used the session it found and left it running


def test_a_ray_task_that_keeps_dying_fails_the_run_in_one_error(private_ray, small_log, tmp_path):
    """Every process that runs the task is SIGKILLed (as the out-of-memory killer would): once
    Ray's retries are spent the run fails as a whole, with a one-line reason, nothing written."""
    out = tmp_path / "tables"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        run = pool.submit(ingest, [str(small_log[0])], out, ray_address="auto")
        kills, deadline = 0, time.monotonic() + 180
        while not run.done() and time.monotonic() < deadline:
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                with contextlib.suppress(OSError, ValueError):
                    if cmdline.read_bytes().startswith(b"ray::parse_parts"):
                        os.kill(int(cmdline.parent.name), signal.SIGKILL)
                        kills += 1
            time.sleep(0.005)
        with pytest.raises(parallel.WorkerLost) as lost:
            run.result(timeout=60)
    assert kills >= 3  # the first run and Ray's two retries
    assert "a Ray task died" in str(lost.value) and "\n" not in str(lost.value)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            return False
    return False


def test_sigterm_during_a_ray_run_is_logscans_one_line(private_ray, small_log, tmp_path):
    """Ray's driver catches SIGTERM among the crash signals (absl's failure handler) and printed
    a six-line dump before logscan's "interrupted"; now only logscan's line, exit 143."""
    address = ray.get_runtime_context().gcs_address  # the private instance above
    out = tmp_path / "tables"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zephyr_logscan", "ingest", str(small_log[0]), "-o", str(out)]
        + ["-q", "--ray", address],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline, running = time.monotonic() + 120, False
        while not running and proc.poll() is None and time.monotonic() < deadline:
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):  # a task of this run runs
                with contextlib.suppress(OSError, ValueError):
                    if cmdline.read_bytes().startswith(b"ray::parse_parts"):
                        running = running or descends_from(int(cmdline.parent.name), os.getpid())
            time.sleep(0.01)
        assert running, "no task of the run seen"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=10)
    assert (proc.returncode, err) == (143, "logscan: interrupted\n")
    assert not out.exists() and list(tmp_path.iterdir()) == []
