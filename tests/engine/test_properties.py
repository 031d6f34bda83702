"""Random fault schedules over small pipelines: the output equals the fault-free run or the run
ends in a typed error; never a hang, a duplicate or a missing row."""

from __future__ import annotations

import threading
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zephyr_engine import Dataset, ZephyrContext, ZephyrError
from zephyr_engine import logs as zl

FAULTS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "kill_restart",
                "kill",
                "pause_heartbeats",
                "delay_rpcs",
                "fail_rpcs",
                "lose_coordinator",
            ]
        ),
        st.floats(0.0, 0.6),  # when
        st.integers(0, 5),  # which worker
    ),
    max_size=5,
)


def pipeline(shards: int):
    def slow(items, info):
        time.sleep(0.05)
        return [x * 3 for x in items]

    return Dataset.from_list(range(shards * 5), num_shards=shards).map_shard(slow)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shards=st.integers(1, 12), faults=FAULTS)
def test_faults_never_lose_or_duplicate_rows(shards, faults):
    want = [x * 3 for x in range(shards * 5)]
    ctx = ZephyrContext(max_workers=4, heartbeat_interval=0.05, heartbeat_timeout=0.5, no_workers_timeout=1.5,
                        registration_timeout=2.0, retry_backoff=0.02, rpc_timeout=1.0, max_consecutive_failures=4)  # fmt: skip

    def inject(c, pipeline_id, attempt):
        if attempt > 0:
            return
        workers = [zl.worker_name(c.name, i, pipeline_id, attempt) for i in range(4)]
        coord = zl.coordinator_name(c.name, pipeline_id, attempt)

        def fault(kind, which):
            name = workers[which % len(workers)]
            try:
                if kind == "kill_restart":
                    c.backend.kill_actor(name, restart=True)
                elif kind == "kill":
                    c.backend.kill_actor(name, restart=False)
                elif kind == "pause_heartbeats":
                    c.backend.pause_heartbeats(name, 0.8)
                elif kind == "delay_rpcs":
                    c.backend.delay_rpcs(coord, 0.05, 0.3)
                elif kind == "fail_rpcs":
                    c.backend.fail_rpcs(coord, 0.2)
                else:
                    c.backend.kill_actor(coord)
            except ValueError:  # the actor is already gone
                pass

        for kind, when, which in faults:
            t = threading.Timer(when, fault, args=(kind, which))
            t.daemon = True
            t.start()

    ctx.hooks["on_attempt"] = inject
    outcome: dict = {}

    def run():
        try:
            outcome["rows"] = ctx.execute(pipeline(shards)).results
        except ZephyrError as e:
            outcome["error"] = e

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(30)
    ctx.shutdown()
    assert not runner.is_alive(), "the pipeline hung"
    if "rows" in outcome:
        assert outcome["rows"] == want
    else:
        assert isinstance(outcome["error"], ZephyrError)
