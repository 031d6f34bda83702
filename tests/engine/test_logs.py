"""The engine logs the upstream formats, so logscan reads a real (faulted) engine run."""

from __future__ import annotations

import logging
import time

import polars as pl
import pytest

from zephyr_engine import Dataset, ZephyrContext
from zephyr_engine import logs as zl
from zephyr_logscan.ingest import ingest


def test_faulted_run_log_ingests_with_counts_that_match_the_faults(tmp_path):
    log_path = tmp_path / "engine.log"
    handler = logging.FileHandler(log_path)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s:%(lineno)d %(message)s")
    )
    engine = logging.getLogger(zl.LOGGER_NAME)
    engine.addHandler(handler)
    engine.setLevel(logging.INFO)
    try:
        with ZephyrContext(
            max_workers=6, heartbeat_interval=0.1, heartbeat_timeout=0.6, status_interval=0.2
        ) as ctx:

            def faults(c, pipeline, attempt):
                names = [zl.worker_name(c.name, i, pipeline, attempt) for i in range(6)]
                time.sleep(0.3)
                for n in names[:2]:
                    c.backend.kill_actor(n, restart=True)  # come back and re-register
                c.backend.kill_actor(names[2], restart=False)  # gone for good: declared failed

            ctx.hooks["on_attempt"] = faults

            def slow(items, info):
                time.sleep(0.5)
                return list(items)

            result = ctx.execute(Dataset.from_list(range(48), num_shards=24).map_shard(slow))
    finally:
        engine.removeHandler(handler)
        handler.close()
    assert result.results == list(range(48))
    out = ingest([str(log_path)], tmp_path / "tables").out_dir
    tables = {
        t: pl.read_parquet(out / f"{t}.parquet")
        for t in (
            "registrations",
            "reregistrations",
            "heartbeat_failures",
            "worker_status",
            "stage_progress",
            "pipeline_attempts",
        )
    }
    assert tables["registrations"].height == 6
    assert tables["reregistrations"].height == result.counters["reregistrations"] == 2
    assert tables["heartbeat_failures"].height == result.counters["heartbeat_failures"] == 1
    assert tables["heartbeat_failures"]["worker_id"].to_list() == [
        zl.worker_name(ctx.name, 2, 0, 0)
    ]
    assert tables["worker_status"].height > 0 and tables["worker_status"]["alive"].null_count() == 0
    assert tables["stage_progress"]["completed"].max() == 24
    assert tables["pipeline_attempts"].height == 1
    assert set(tables["registrations"]["pipeline"]) == {ctx.name}


def test_exhausted_retries_are_logged_as_attempts_and_a_final_failure(tmp_path):
    from zephyr_engine import PipelineFailedError

    log_path = tmp_path / "engine.log"
    handler = logging.FileHandler(log_path)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s:%(lineno)d %(message)s")
    )
    engine = logging.getLogger(zl.LOGGER_NAME)
    engine.addHandler(handler)
    engine.setLevel(logging.INFO)
    try:
        with ZephyrContext(max_workers=2, max_execution_retries=2, retry_backoff=0.01) as ctx:
            ctx.hooks["on_attempt"] = lambda c, p, a: c.backend.kill_actor(
                zl.coordinator_name(c.name, p, a)
            )
            with pytest.raises(PipelineFailedError):
                ctx.execute(Dataset.from_list(range(4)).map(str))
    finally:
        engine.removeHandler(handler)
        handler.close()
    out = ingest([str(log_path)], tmp_path / "tables").out_dir
    attempts = pl.read_parquet(out / "pipeline_attempts.parquet")
    assert attempts["rule"].to_list().count("zephyr.pipeline_start") == 3
    assert attempts["rule"].to_list().count("zephyr.attempt_failed") == 2
    final = attempts.filter(pl.col("rule") == "zephyr.pipeline_failed")
    assert final.height == 1 and final["attempt"][0] == 3
