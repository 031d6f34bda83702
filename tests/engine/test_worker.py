"""The worker: anything user code raises is a task error; a task carries only its own shard."""

from __future__ import annotations

import pickle
import sys

import pytest

from tests.engine.bounded import outcome_within, result_within
from zephyr_engine import Dataset, ShardFailedError, ZephyrContext


class Interrupted(KeyboardInterrupt):
    """A KeyboardInterrupt-like BaseException raised by user code."""


def ctx_for(**kw) -> ZephyrContext:
    return ZephyrContext(**{"heartbeat_interval": 0.1, "heartbeat_timeout": 2.0, **kw})


@pytest.mark.parametrize("error", [SystemExit(3), Interrupted("stop"), GeneratorExit()])
def test_base_exceptions_from_user_code_are_retried_task_errors_and_the_worker_survives(error):
    raised = []

    def once(x):
        if x == 5 and not raised:
            raised.append(x)
            raise error
        return x * 2

    with ctx_for(max_workers=2) as ctx:
        result = result_within(ctx, Dataset.from_list(range(10), num_shards=5).map(once), 20)
    assert result.results == [x * 2 for x in range(10)]
    assert result.counters.get("reregistrations", 0) == 0, "the worker died of it"
    assert result.counters.get("task_errors") == 1, "not reported as a task error"


def test_a_base_exception_every_time_spends_the_budget_with_its_traceback():
    def always(x):
        sys.exit(f"user code gave up on {x}")

    with ctx_for(max_workers=2, max_shard_failures=2) as ctx:
        outcome = outcome_within(ctx, Dataset.from_list([1]).map(always), 20)
    assert isinstance(outcome, ShardFailedError), outcome
    assert "SystemExit: user code gave up on 1" in str(outcome)


def test_a_task_reply_carries_its_own_shard_not_the_whole_input():
    shards, per_shard = 200, 5000  # 1M items
    one_shard = len(pickle.dumps(tuple(range((shards - 1) * per_shard, shards * per_shard))))
    with ctx_for(max_workers=4) as ctx:
        ctx.backend.record_reply_sizes()
        ds = Dataset.from_list(range(shards * per_shard), num_shards=shards).filter(lambda x: x < 0)
        assert result_within(ctx, ds, 60).results == []
        largest = ctx.backend.reply_sizes["pull_task"]
    assert largest < one_shard + 4096, (
        f"a task reply of {largest} bytes for a {one_shard}-byte shard"
    )
