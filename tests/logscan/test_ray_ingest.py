"""``logscan ingest --ray``: the parts as Ray tasks on a private local Ray instance give the
same tables as the local run."""

from __future__ import annotations

import os

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
