"""The driver never waits without a bound: a coordinator that stops answering is lost and the
attempt retried; with ``stall_timeout``, a run without progress raises."""

from __future__ import annotations

import threading
import time

from tests.engine.bounded import outcome_within
from zephyr_engine import Dataset, ZephyrContext
from zephyr_engine.errors import PipelineStalledError


def test_a_partitioned_coordinator_is_lost_within_the_liveness_bound_and_the_retry_completes():
    partitioned = []

    def partition_first(c, pipeline, attempt):
        if attempt == 0:
            c.backend.partition(c.actors[0])  # alive, but nothing it answers arrives
            partitioned.append(time.monotonic())

    ds = Dataset.from_list(range(20), num_shards=4).map(lambda x: x + 1)
    with ZephyrContext(max_workers=2, heartbeat_interval=0.1, liveness_timeout=1.5,
                       retry_backoff=0.05, rpc_timeout=0.5) as ctx:  # fmt: skip
        ctx.hooks["on_attempt"] = partition_first
        outcome = outcome_within(ctx, ds, 30)
    took = time.monotonic() - partitioned[0]
    assert not isinstance(outcome, BaseException), outcome
    assert outcome.results == [x + 1 for x in range(20)]
    assert took < 1.5 + 5, f"the lost coordinator was noticed after {took:.1f}s"


def test_no_progress_for_the_stall_timeout_raises():
    def stuck(x):
        time.sleep(4)
        return x

    with ZephyrContext(max_workers=1, heartbeat_interval=0.1, stall_timeout=1.0) as ctx:
        started = time.monotonic()
        outcome = outcome_within(ctx, Dataset.from_list([1]).map(stuck), 20)
    assert isinstance(outcome, PipelineStalledError), outcome
    assert "0/1 complete, 1 in-flight" in str(outcome)
    assert time.monotonic() - started < 4


def test_workers_finishing_after_the_attempt_ended_leave_no_chunks_behind(tmp_path):
    """A poison shard ends the run while the other shards' tasks still run: those workers write
    their chunks after the driver removed the attempt's folder, and must not recreate it (with
    ``chunk_storage`` on shared storage, every failed run left its intermediate data there)."""

    def slow_but_for_the_poison(x):
        if x == 0:
            raise ValueError("poison")
        time.sleep(0.5)
        return x

    storage = tmp_path / "chunks"
    storage.mkdir()
    ds = Dataset.from_list(range(4)).map(slow_but_for_the_poison)
    with ZephyrContext(max_workers=4, chunk_storage=str(storage), max_shard_failures=1) as ctx:
        outcome = outcome_within(ctx, ds, 30)
    assert "poison" in str(outcome), outcome
    for thread in threading.enumerate():  # the workers' poll threads end after their tasks
        if thread.name.startswith(f"zephyr-poll-zephyr-{ctx.name}-"):
            thread.join(10)
    left = sorted(str(p.relative_to(storage)) for p in storage.rglob("*"))
    assert left == [], left


def test_pipelines_run_from_several_threads_of_one_context_do_not_end_each_other():
    """Each attempt releases only its own actors: a pipeline that finishes first must not kill
    the actors of one still running in another thread (which then retried, and with enough
    pipelines at once ran out of attempts)."""

    def slow(x):
        time.sleep(0.3)
        return x

    quick = Dataset.from_list(range(4)).count()
    long = Dataset.from_list(range(8)).map(slow).count()
    with ZephyrContext(max_workers=2, max_execution_retries=1, retry_backoff=0.05) as ctx:
        outcomes = {}
        threads = [
            threading.Thread(
                target=lambda k=k, ds=ds: outcomes.update({k: outcome_within(ctx, ds, 30)})
            )
            for k, ds in (("long", long), ("quick", quick))
        ]
        for t in threads:
            t.start()
            time.sleep(0.1)  # the long one's actors are up when the quick one ends
        for t in threads:
            t.join(40)
        retried = [name for name, _, _ in ctx.backend.created if "-a0-" not in name]
    assert [getattr(outcomes.get(k), "results", outcomes.get(k)) for k in ("long", "quick")] == [
        [8],
        [4],
    ]
    assert retried == [], retried


def test_a_shared_value_that_cannot_be_pickled_is_named_and_leaves_nothing_behind(tmp_path):
    storage = tmp_path / "chunks"
    storage.mkdir()
    with ZephyrContext(max_workers=1, chunk_storage=str(storage)) as ctx:
        ctx.put("vocab", {"a": 1})
        ctx.put("lock", threading.Lock())
        outcome = outcome_within(ctx, Dataset.from_list(range(3)).count(), 30)
    assert isinstance(outcome, TypeError), outcome
    assert str(outcome).startswith("shared value 'lock' (ZephyrContext.put) cannot be pickled")
    assert sorted(p.name for p in storage.rglob("*")) == []


def test_settings_that_cannot_run_are_refused_when_the_context_is_made():
    """A negative ``max_workers`` started no worker and waited out ``registration_timeout`` for
    an error blaming the cluster; ``max_execution_retries=-1`` failed "after 0 attempts"."""
    bad = {"max_workers": -2, "max_execution_retries": -1, "heartbeat_timeout": 0,
           "no_workers_timeout": -1.0, "max_shard_failures": 0, "stall_timeout": "60"}  # fmt: skip
    for name, value in bad.items():
        started = time.monotonic()
        try:
            ZephyrContext(registration_timeout=2.0, **{name: value}).shutdown()
        except ValueError as e:
            assert str(e).startswith(f"{name} must be "), e
        else:
            raise AssertionError(f"{name}={value!r} was accepted")
        assert time.monotonic() - started < 1
    with ZephyrContext(max_workers=0, stall_timeout=None, max_execution_retries=0) as ctx:
        assert ctx.execute(Dataset.from_list(range(3)).count()).results == [3]
