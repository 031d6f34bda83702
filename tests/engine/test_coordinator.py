"""The coordinator's acceptance of reports: stage-scoped, and a failed commit is a task error."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.engine.bounded import outcome_within, result_within
from zephyr_engine import Dataset, ShardFailedError, ZephyrContext


def fast(**kw) -> ZephyrContext:
    return ZephyrContext(**{"heartbeat_interval": 0.1, "heartbeat_timeout": 2.0,
                            "retry_backoff": 0.05, **kw})  # fmt: skip


def test_a_late_duplicate_report_of_an_earlier_stage_is_dropped():
    """Attempts restart at 0 every stage: a stage-0 report delayed past the RPC timeout, and
    retried, lands while the same worker runs the same shard number with the same attempt in
    stage 1. It must not be taken as stage 1's result."""

    def slow(items, info):
        time.sleep(0.3)
        return [x * 10 for x in items]

    ds = Dataset.from_list(range(8), num_shards=2).map(lambda x: x + 1).reshard(2).map_shard(slow)
    with fast(max_workers=1) as clean:
        want = result_within(clean, ds, 30).results
    with fast(max_workers=1, rpc_timeout=0.2) as ctx:
        ctx.hooks["on_attempt"] = lambda c, p, a: c.backend.delay_rpcs(
            c.actors[0], 0.6, 1.0, methods=("report_result",)
        )
        result = result_within(ctx, ds, 30)
    assert result.results == want, "an earlier stage's rows were taken as this stage's output"
    assert result.counters.get("stale_other_stage", 0) >= 1, "no duplicate crossed a stage"


def test_a_failed_commit_is_a_task_error_of_that_shard_and_leaves_no_temporary_file(tmp_path):
    os.mkdir(tmp_path / "part-2.jsonl")  # a directory where shard 2's file must go
    ds = Dataset.from_list(range(8), num_shards=4).write_jsonl(str(tmp_path / "part-{shard}.jsonl"))
    with fast(max_workers=2, max_shard_failures=2) as ctx:
        outcome = outcome_within(ctx, ds, 30)
    assert isinstance(outcome, ShardFailedError), outcome
    assert outcome.shard == 2 and "commit failed" in str(outcome)
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_a_shard_outliving_the_heartbeat_timeout_in_silence_completes_once(tmp_path):
    """A task that keeps its worker silent for longer than the heartbeat timeout (one long call
    holding the GIL starves the heartbeat thread; here the heartbeats are paused): the worker is
    declared dead and the shard re-queued, but the run's result, when it comes, is the shard's
    first and is taken. Dropping it ran the shard again and again, each run as silent, until
    its infra budget failed the pipeline."""

    def silent_for_a_while(x):
        if x == 0:
            time.sleep(1.2)  # > heartbeat_timeout, with no call to the coordinator
        return {"x": x}

    ds = Dataset.from_list(range(6), num_shards=3).map(silent_for_a_while)
    ds = ds.write_jsonl(str(tmp_path / "part-{shard}.jsonl"))
    with fast(max_workers=2, heartbeat_timeout=0.4, max_shard_infra_failures=4) as ctx:
        ctx.hooks["on_attempt"] = lambda c, p, a: [
            c.backend.pause_heartbeats(w, 60) for w in c.actors[1]
        ]
        outcome = outcome_within(ctx, ds, 30)
    assert not isinstance(outcome, BaseException), outcome
    rows = sorted(line for p in outcome.results for line in Path(p).read_text().splitlines(True))
    assert rows == sorted(f'{{"x": {x}}}\n' for x in range(6))
    assert outcome.counters.get("heartbeat_failures", 0) >= 1, "no worker was declared dead"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"part-{i}.jsonl" for i in range(3)]


def test_a_coordinator_that_was_itself_paused_declares_no_worker_dead():
    """The coordinator's process stopped for longer than the heartbeat timeout (SIGSTOP, a
    paused VM): every worker's calls waited behind the pause. On resuming it must not judge that
    silence, which was its own: it declared every worker dead and re-ran their shards."""
    paused: list[float] = []

    def pause_once(coord):  # the whole coordinator stands still: every call waits on its lock
        if not paused and coord.in_flight:
            paused.append(time.monotonic())
            with coord.lock:
                time.sleep(1.5)

    def slow(x):
        time.sleep(0.2)
        return x

    with fast(max_workers=3, heartbeat_timeout=0.5) as ctx:
        ctx.hooks["loop_fault"] = pause_once
        result = result_within(ctx, Dataset.from_list(range(12)).map(slow).count(), 30)
    assert paused, "the coordinator was never paused"
    assert result.results == [12]
    assert result.counters.get("heartbeat_failures", 0) == 0, result.counters
