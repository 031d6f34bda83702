"""A stateful test: random schedules of faults land inside running multi-stage pipelines.

Hypothesis drives a pipeline on the local backend while it runs: worker kills with and without
restart, coordinator kills, RPC delays beyond ``rpc_timeout``, duplicated (and so reordered)
reports, failed pulls, silenced heartbeats, and user code that raises ``SystemExit`` or a
``KeyboardInterrupt``-like error. Whatever the schedule, the run ends within a bound with the
exact output or a typed ``ZephyrError``: never a hang, a duplicate or a missing row, and no
temporary file left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from zephyr_engine import Dataset, ZephyrContext, ZephyrError

RPC_TIMEOUT = 0.3
BOUND = 45.0  # seconds from start to a result or a typed error, whatever the schedule
STATS = Counter()


class UserInterrupt(KeyboardInterrupt):
    """What user code may raise besides Exception."""


def pipeline(shards: int, work: float, folder: str | None, raises=None) -> Dataset:
    """Three stages (map, reshard + map, group_by) or two and a writer: long enough for faults.
    ``raises(stage, shard)`` runs in user code after the work, and may raise."""

    def first(items, info):
        time.sleep(work)
        if raises is not None:
            raises(0, info.shard)
        return [x * 3 for x in items]

    def second(items, info):
        time.sleep(work)
        if raises is not None:
            raises(1, info.shard)
        return [x + 1 for x in items]

    ds = Dataset.from_list(range(shards * 4), num_shards=shards).map_shard(first).reshard(shards)
    ds = ds.map_shard(second)
    if folder is not None:
        return ds.write_jsonl(os.path.join(folder, "part-{shard:02d}.jsonl"))
    return ds.group_by(lambda x: x % 5, lambda k, v: (k, sorted(v)), num_output_shards=3)


def expected(shards: int, writer: bool) -> list:
    values = [x * 3 + 1 for x in range(shards * 4)]
    if writer:
        return sorted(values)
    groups: dict = {}
    for v in values:
        groups.setdefault(v % 5, []).append(v)
    return sorted((k, sorted(v)) for k, v in groups.items())


class FaultSchedule(RuleBasedStateMachine):
    @initialize(
        shards=st.integers(4, 8),
        writer=st.booleans(),
        user_errors=st.lists(
            st.tuples(
                st.integers(0, 1),
                st.integers(0, 7),
                st.sampled_from(["exit", "interrupt"]),
                st.booleans(),
            ),  # fmt: skip
            max_size=2,
        ),
        first_fault=st.sampled_from(
            ["kill_worker", "kill_coordinator", "delay", "duplicate", "fail_pulls", "silence"]
        ),  # fmt: skip
    )
    def start(self, shards, writer, user_errors, first_fault):
        self.shards, self.writer = shards, writer
        self.folder = tempfile.mkdtemp(prefix="zephyr-schedule-") if writer else None
        self.ctx = ZephyrContext(
            max_workers=3, heartbeat_interval=0.1, heartbeat_timeout=0.6, no_workers_timeout=2.0,
            registration_timeout=3.0, retry_backoff=0.05, rpc_timeout=RPC_TIMEOUT,
            max_consecutive_failures=4, liveness_timeout=4.0, stall_timeout=8.0,
        )  # fmt: skip
        self.always_failing = any(always for *_, always in user_errors)
        runs: Counter = Counter()
        lock = threading.Lock()

        def raises(stage, shard):
            for stage_index, which, kind, always in user_errors:
                if (stage, shard) == (stage_index, which % shards):
                    with lock:
                        runs[stage, shard] += 1
                        first_run = runs[stage, shard] == 1
                    if always or first_run:
                        STATS["user errors raised"] += 1
                        raise SystemExit(2) if kind == "exit" else UserInterrupt("stop")

        self.outcome: dict = {}
        self.faults: list[tuple[str, float]] = []  # (kind, when) of those that landed in the run
        self.started = time.monotonic()
        ds = pipeline(shards, 0.25, self.folder, raises)

        def go():
            try:
                self.outcome["result"] = self.ctx.execute(ds)
            except ZephyrError as e:
                self.outcome["error"] = e
            except BaseException as e:  # noqa: BLE001 - anything else is the failure we look for
                self.outcome["untyped"] = e
            self.outcome["ended"] = time.monotonic()

        self.runner = threading.Thread(target=go, daemon=True)
        self.runner.start()
        time.sleep(0.3)  # the first attempt's actors exist; every run lasts longer than this
        first = {
            "kill_worker": lambda: self.kill_worker(0, True),
            "kill_coordinator": self.kill_coordinator,
            "delay": lambda: self.delay_rpcs(RPC_TIMEOUT * 2, 0.5, True),
            "duplicate": lambda: self.duplicate_reports(0.3, 0.5),
            "fail_pulls": lambda: self.fail_pulls(0.5),
            "silence": lambda: self.silence_heartbeats(0, 1.0),
        }[first_fault]
        first()
        self.first_fault_landed = bool(self.faults)

    # --- faults, each applied to the attempt running now -----------------------------------------

    def running(self) -> bool:
        return self.runner.is_alive()

    def _apply(self, kind: str, action) -> None:
        coordinator, workers = self.ctx.actors
        try:
            action(self.ctx.backend, coordinator, workers)
        except ValueError:  # the actor is gone already (attempt ending): nothing landed
            return
        if self.running():
            self.faults.append((kind, time.monotonic()))

    @rule(which=st.integers(0, 2), restart=st.booleans())
    def kill_worker(self, which, restart):
        self._apply(f"kill worker (restart={restart})",
                    lambda b, c, w: b.kill_actor(w[which % len(w)], restart=restart))  # fmt: skip

    @rule()
    def kill_coordinator(self):
        self._apply("kill coordinator", lambda b, c, w: b.kill_actor(c, restart=False))

    @rule(delay=st.floats(RPC_TIMEOUT * 1.2, RPC_TIMEOUT * 3), duration=st.floats(0.2, 1.0),
          only_reports=st.booleans())  # fmt: skip
    def delay_rpcs(self, delay, duration, only_reports):
        methods = ("report_result", "report_error") if only_reports else None
        self._apply("delay RPCs beyond the timeout",
                    lambda b, c, w: b.delay_rpcs(c, delay, duration, methods=methods))  # fmt: skip

    @rule(after=st.floats(0.0, 0.8), duration=st.floats(0.2, 1.0))
    def duplicate_reports(self, after, duration):
        self._apply("duplicate and reorder reports", lambda b, c, w: b.duplicate_rpcs(
            c, after, duration, methods=("report_result", "report_error")))  # fmt: skip

    @rule(duration=st.floats(0.1, 1.5))
    def fail_pulls(self, duration):
        self._apply("fail pulls",
                    lambda b, c, w: b.fail_rpcs(c, duration, methods=("pull_task",)))  # fmt: skip

    @rule(which=st.integers(0, 2), seconds=st.floats(0.5, 2.0))
    def silence_heartbeats(self, which, seconds):
        self._apply("silence heartbeats",
                    lambda b, c, w: b.pause_heartbeats(w[which % len(w)], seconds))  # fmt: skip

    @rule(seconds=st.floats(0.05, 0.6))
    def let_time_pass(self, seconds):
        if self.running():
            time.sleep(seconds)

    @invariant()
    def bounded(self):
        if hasattr(self, "started"):
            assert time.monotonic() - self.started < BOUND or not self.running(), "a hang"

    # --- the verdict -----------------------------------------------------------------------------

    def teardown(self):
        if not hasattr(self, "runner"):
            return
        try:
            self.runner.join(max(0.0, BOUND - (time.monotonic() - self.started)))
            assert not self.runner.is_alive(), f"no result and no error within {BOUND:.0f}s"
            ended = self.outcome["ended"]
            assert "untyped" not in self.outcome, f"untyped error: {self.outcome.get('untyped')!r}"
            landed = [k for k, t in self.faults if t < ended]
            assert len(landed) == len(self.faults), "a fault counted as landed after the run"
            assert self.first_fault_landed, "the first fault (0.3 s in) missed the run"
            STATS["examples"] += 1
            STATS["faults landed"] += len(landed)
            STATS["seconds in runs"] += round(ended - self.started, 1)
            if "result" in self.outcome:
                rows = self.outcome["result"].results
                if self.writer:
                    rows = [json.loads(line) for p in rows for line in _lines(p)]
                got, want = (
                    Counter(map(repr, sorted(rows))),
                    Counter(map(repr, expected(self.shards, self.writer))),
                )
                assert got == want, f"missing {want - got}, duplicated or unexpected {got - want}"
                assert not self.always_failing, "a shard failing every time did not end the run"
                STATS["exact outputs"] += 1
            else:
                error = self.outcome["error"]
                STATS[f"typed error: {type(error).__name__}: {str(error)[:60]}"] += 1
        finally:
            self.ctx.shutdown()
            _wait_for_threads_of(self.ctx.name)
            if self.folder is not None:
                left = [f for f in os.listdir(self.folder) if ".tmp-" in f]
                shutil.rmtree(self.folder, ignore_errors=True)
                assert not left, f"temporary files left: {left}"


def _wait_for_threads_of(name: str, seconds: float = 10.0) -> None:
    """A killed worker's thread ends after its current task (a thread cannot be killed)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not [t for t in threading.enumerate() if name in t.name and "poll" in t.name]:
            return
        time.sleep(0.05)
    raise AssertionError(f"threads of {name} still running {seconds:.0f}s after shutdown")


def _lines(path: str) -> list[str]:
    with open(path) as f:
        return f.readlines()


TestFaultSchedules = FaultSchedule.TestCase
TestFaultSchedules.settings = settings(
    max_examples=int(os.environ.get("ZEPHYR_SCHEDULE_EXAMPLES", "12")),
    stateful_step_count=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def teardown_module():
    print(f"\nfault schedules: {dict(STATS)}")
