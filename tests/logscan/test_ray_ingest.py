"""``logscan ingest --ray``: the parts as Ray tasks on a private local Ray instance give the
same tables as the local run."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from zephyr_logscan import parallel
from zephyr_logscan.ingest import ingest

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
