"""The engine logs the upstream formats, so logscan reads a real (faulted) engine run."""

from __future__ import annotations

import logging
import time

import polars as pl
import pytest

from zephyr_engine import Dataset, PipelineFailedError, ZephyrContext
from zephyr_engine import logs as zl
from zephyr_logscan.ingest import ingest


@pytest.fixture
def engine_log(tmp_path):
    """The engine's log, written to a file in the format actors print (upstream's basicConfig)."""
    path = tmp_path / "engine.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s:%(lineno)d %(message)s")
    )
    engine = logging.getLogger(zl.LOGGER_NAME)
    engine.addHandler(handler)
    engine.setLevel(logging.INFO)
    yield path
    engine.removeHandler(handler)
    handler.close()


def tables_of(log_path, out, *names):
    folder = ingest([str(log_path)], out).out_dir
    return {t: pl.read_parquet(folder / f"{t}.parquet") for t in names}


def test_faulted_run_log_ingests_with_counts_that_match_the_faults(tmp_path, engine_log):
    with ZephyrContext(
        max_workers=6, heartbeat_interval=0.1, heartbeat_timeout=1.0, status_interval=0.2
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
    assert result.results == list(range(48))
    t = tables_of(engine_log, tmp_path / "tables", "registrations", "reregistrations", "heartbeat_failures",
                  "worker_status", "stage_progress", "pipeline_attempts")  # fmt: skip
    assert t["registrations"].height == 6
    assert t["reregistrations"].height == result.counters["reregistrations"] == 2
    assert t["heartbeat_failures"].height == result.counters["heartbeat_failures"] == 1
    assert t["heartbeat_failures"]["worker_id"].to_list() == [zl.worker_name(ctx.name, 2, 0, 0)]
    assert t["worker_status"].height > 0 and t["worker_status"]["alive"].null_count() == 0
    assert t["stage_progress"]["completed"].max() == 24
    assert t["pipeline_attempts"].height == 1
    assert set(t["registrations"]["pipeline"]) == {ctx.name}


def test_exhausted_retries_are_logged_as_attempts_and_a_final_failure(tmp_path, engine_log):
    with ZephyrContext(max_workers=2, max_execution_retries=2, retry_backoff=0.01) as ctx:
        ctx.hooks["on_attempt"] = lambda c, p, a: c.backend.kill_actor(
            zl.coordinator_name(c.name, p, a)
        )
        with pytest.raises(PipelineFailedError):
            ctx.execute(Dataset.from_list(range(4)).map(str))
    rules = tables_of(engine_log, tmp_path / "tables", "pipeline_attempts")["pipeline_attempts"]
    assert rules["rule"].to_list().count("zephyr.pipeline_start") == 3
    assert rules["rule"].to_list().count("zephyr.attempt_failed") == 2
    final = rules.filter(pl.col("rule") == "zephyr.pipeline_failed")
    assert final.height == 1 and final["attempt"][0] == 3


def test_a_name_held_by_another_run_is_said_so_and_logscan_still_reads_the_collision(
    tmp_path, engine_log
):
    """Two runs under one pipeline name (two drivers, or two contexts on one backend): the
    second's first attempt finds its names taken. That is no reuse by a retry (names carry the
    attempt), and the retry line says who holds it, after the wording logscan reads."""
    from zephyr_engine.backends.local import LocalBackend
    from zephyr_engine.chunks import ChunkStore

    backend = LocalBackend()
    held = zl.coordinator_name("tokenize", 0, 0)
    backend.create_actor(ChunkStore, held, args=("/nonexistent",))  # the other run's coordinator
    with ZephyrContext(backend=backend, name="tokenize", max_workers=2, retry_backoff=0.01) as ctx:
        assert ctx.execute(Dataset.from_list(range(4)).count()).results == [4]
    backend.shutdown()
    text = engine_log.read_text()
    assert "another ZephyrContext or driver runs pipelines named 'tokenize'" in text
    t = tables_of(engine_log, tmp_path / "tables", "actor_already_exists", "pipeline_attempts")
    assert t["actor_already_exists"]["actor_name"].to_list() == [held]
    assert t["pipeline_attempts"]["rule"].to_list().count("zephyr.attempt_failed") == 1
