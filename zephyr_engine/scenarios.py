"""One deterministic scenario per incident pattern (ZL01-ZL12): each drives a pipeline through the
fault its pattern shows in a log and reports whether the corrected behaviour was observed:
completion with output equal to the fault-free run, or the expected typed error within its bound.

>>> run("ZL11").ok
True
"""

from __future__ import annotations

import glob
import json
import os
import pickle
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from zephyr_engine import logs as zl
from zephyr_engine.backends.local import LocalBackend
from zephyr_engine.context import ZephyrContext
from zephyr_engine.dataset import Dataset
from zephyr_engine.errors import (
    CoordinatorLostError,
    NoAliveWorkersError,
    NoWorkersRegisteredError,
    PipelineFailedError,
    ShardFailedError,
    ZephyrError,
)
from zephyr_engine.worker import get_shared

ALL = tuple(f"ZL{i:02d}" for i in range(1, 13))
TITLES = {
    "ZL01": "all-workers-dead-hang", "ZL02": "name-collision-on-retry", "ZL03": "restarted-coordinator",
    "ZL04": "heartbeat-storm", "ZL05": "lost-shard", "ZL06": "zombie-worker", "ZL07": "preemption-wave",
    "ZL08": "poison-shard", "ZL09": "constructor-args-in-object-store", "ZL10": "silent-status-loop",
    "ZL11": "no-workers-ever", "ZL12": "retries-exhausted",
}  # fmt: skip
FAST = {"heartbeat_interval": 0.1, "heartbeat_timeout": 1.0, "no_workers_timeout": 2.0,
        "registration_timeout": 2.0, "retry_backoff": 0.05, "rpc_timeout": 2.0, "status_interval": 0.5}  # fmt: skip


@dataclass
class Outcome:
    pattern: str
    ok: bool
    detail: str
    seconds: float


def run(pattern_id: str, backend: str = "local") -> Outcome:
    """Run one scenario; ``backend`` is ``"local"`` (the Ray backend is not in this build)."""
    if pattern_id not in ALL:
        raise ValueError(f"unknown pattern {pattern_id!r}; known: {', '.join(ALL)}")
    if backend != "local":
        raise ValueError("scenarios run on the local backend in this build")
    started = time.monotonic()
    ok, detail = SCENARIOS[pattern_id]()
    return Outcome(pattern_id, ok, detail, time.monotonic() - started)


# --- pipelines and helpers -----------------------------------------------------------------------


def squares(shards: int, work: float) -> Dataset:
    """``shards`` shards of 10 items; each shard takes ``work`` seconds (a sleep stands for work)."""

    def slow(items, info):
        time.sleep(work)
        return list(items)

    return (
        Dataset.from_list(range(shards * 10), num_shards=shards)
        .map_shard(slow)
        .map(lambda x: x * x)
    )


def expected(shards: int) -> list:
    return [x * x for x in range(shards * 10)]


def context(**overrides) -> ZephyrContext:
    return ZephyrContext(**{**FAST, **overrides})


def later(seconds: float, action: Callable[[], None]) -> None:
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()


def workers_of(ctx: ZephyrContext, pipeline: int, attempt: int) -> list[str]:
    return ctx.backend.names(zl.worker_name(ctx.name, 0, pipeline, attempt).rsplit("-", 1)[0] + "-")


def fault_free(ctx: ZephyrContext, ds: Dataset) -> list:
    """The same pipeline on a fresh context with no faults: the reference output."""
    with context(max_workers=ctx.max_workers) as clean:
        for name, value in ctx._shared.items():
            clean.put(name, value)
        return clean.execute(ds).results


def run_expecting(ctx: ZephyrContext, ds: Dataset, want: list) -> tuple[bool, str, object]:
    """Run ``ds`` with the faults armed on ``ctx``; ok when it equals the fault-free run (which
    itself must equal ``want``, the pipeline's known answer)."""
    baseline = fault_free(ctx, ds)
    if baseline != want:
        return False, "the fault-free run itself gave a wrong answer", None
    try:
        result = ctx.execute(ds)
    except ZephyrError as e:
        return False, f"failed: {type(e).__name__}: {e}", None
    same = result.results == baseline
    return (
        same,
        ("output equals the fault-free run" if same else "output differs from the fault-free run"),
        result,
    )


# --- the scenarios -------------------------------------------------------------------------------


def zl01() -> tuple[bool, str]:
    """The incident with nothing coming back: NoAliveWorkersError within its bound, no hang."""
    timeout = FAST["no_workers_timeout"]
    with context(max_workers=64) as ctx:
        deaths: list[float] = []

        def waves(c, pipeline, attempt):
            names = workers_of(c, pipeline, attempt)
            cut = int(len(names) * 0.6)

            def wave(group):
                for n in group:
                    c.backend.kill_actor(n, restart=False)
                deaths.append(time.monotonic())

            later(0.5, lambda: wave(names[:cut]))
            later(1.0, lambda: wave(names[cut:]))

        ctx.hooks["on_attempt"] = waves
        started = time.monotonic()
        try:
            ctx.execute(squares(256, 1.0))
        except NoAliveWorkersError as e:
            took = time.monotonic() - deaths[-1]
            bound = FAST["heartbeat_timeout"] + timeout + 5
            return (
                took <= bound,
                f"NoAliveWorkersError {took:.1f}s after the last death (bound {bound:.0f}s): {e}",
            )
        except ZephyrError as e:
            return False, f"wrong error: {type(e).__name__}: {e}"
        return (
            False,
            f"completed after {time.monotonic() - started:.1f}s although every worker died",
        )


def zl02() -> tuple[bool, str]:
    """A retry after the coordinator is lost uses fresh names: no collision, exact output."""
    with context(max_workers=4) as ctx:
        # The name an upstream retry would reuse is still held (the old coordinator restarting).
        ctx.backend.create_actor(_Idle, f"zephyr-{ctx.name}-coord-0", max_restarts=-1)
        attempts: list[int] = []

        def lose_first(c, pipeline, attempt):
            attempts.append(attempt)
            if attempt == 0:
                later(
                    0.3,
                    lambda: c.backend.kill_actor(
                        zl.coordinator_name(c.name, pipeline, 0), restart=True
                    ),
                )

        ctx.hooks["on_attempt"] = lose_first
        ok, detail, _ = run_expecting(ctx, squares(16, 0.2), expected(16))
        return ok and attempts == [
            0,
            1,
        ], f"{detail}; attempts {attempts} under names -p0-a0, -p0-a1"


def zl03() -> tuple[bool, str]:
    """A coordinator is never auto-restarted; its loss fails the attempt and the driver retries."""
    with context(max_workers=4) as ctx:
        states: list[str | None] = []

        def kill_coordinator(c, pipeline, attempt):
            if attempt == 0:
                name = zl.coordinator_name(c.name, pipeline, 0)

                def kill():
                    c.backend.kill_actor(name, restart=True)  # a preemption: Ray would restart it
                    time.sleep(0.2)
                    states.append(c.backend.state(name))

                later(0.3, kill)

        ctx.hooks["on_attempt"] = kill_coordinator
        ok, detail, _ = run_expecting(ctx, squares(16, 0.2), expected(16))
        return ok and states == ["dead"], f"{detail}; the lost coordinator's state: {states}"


def zl04(workers: int = 256) -> tuple[bool, str]:
    """A registration storm: every worker registers at once, all load a shared value; no false
    heartbeat deaths."""
    with context(max_workers=workers, heartbeat_timeout=2.0, heartbeat_interval=0.25) as ctx:
        # A tokenizer-sized shared value: stored once, loaded lazily, never in a task reply.
        ctx.put("tokenizer", bytes(200_000))
        ds = squares(workers * 2, 0.05).map(lambda x: x + 0 * len(get_shared("tokenizer")))
        ok, detail, result = run_expecting(ctx, ds, expected(workers * 2))
        false = result.counters.get("heartbeat_failures", 0) if result else None
        return ok and false == 0, f"{detail}; {workers} workers, {false} heartbeat failures"


def zl05() -> tuple[bool, str]:
    """Workers restarted mid-shard re-register; their shards are re-queued; every output file once."""
    out = tempfile.mkdtemp(prefix="zl05-")
    with context(max_workers=8) as ctx:
        kills = 0

        def restart_busy(c, pipeline, attempt):
            def wave():
                nonlocal kills
                for n in workers_of(c, pipeline, attempt)[:3]:
                    c.backend.kill_actor(n, restart=True)
                    kills += 1

            later(0.3, wave)
            later(0.8, wave)

        ctx.hooks["on_attempt"] = restart_busy
        ds = squares(24, 0.4).write_jsonl(os.path.join(out, "part-{shard:03d}-of-{total}.jsonl"))
        try:
            result = ctx.execute(ds)
        except ZephyrError as e:
            return False, f"failed: {type(e).__name__}: {e}"
    reference = tempfile.mkdtemp(prefix="zl05-fault-free-")
    with context(max_workers=8) as clean:
        clean.execute(
            squares(24, 0.01).write_jsonl(
                os.path.join(reference, "part-{shard:03d}-of-{total}.jsonl")
            )
        )
    files = sorted(os.listdir(out))
    same_files = files == sorted(os.listdir(reference)) and all(
        _lines(os.path.join(out, f)) == _lines(os.path.join(reference, f)) for f in files
    )
    rows = sorted(
        json.loads(line)
        for p in sorted(glob.glob(os.path.join(out, "part-*")))
        for line in _lines(p)
    )
    exact = same_files and rows == sorted(expected(24)) and len(files) == 24
    rereg = result.counters.get("reregistrations", 0)
    return (
        exact and rereg >= 1,
        f"{len(files)} files, rows exact: {exact}; {kills} kills, {rereg} re-registrations",
    )


def zl06() -> tuple[bool, str]:
    """Transient coordinator RPC failures: workers retry; a long outage makes them fail their
    actor (restarted by the backend) instead of idling as zombies; the pipeline completes."""
    with context(max_workers=6, max_consecutive_failures=4, heartbeat_timeout=3.0) as ctx:

        def outage(c, pipeline, attempt):
            name = zl.coordinator_name(c.name, pipeline, attempt)
            later(0.2, lambda: c.backend.fail_rpcs(name, 0.3))  # short: retried
            later(0.8, lambda: c.backend.fail_rpcs(name, 2.0))  # long: workers restart

        ctx.hooks["on_attempt"] = outage
        ok, detail, result = run_expecting(ctx, squares(24, 0.4), expected(24))
        rereg = result.counters.get("reregistrations", 0) if result else 0
        return ok and rereg >= 1, f"{detail}; {rereg} workers came back after failing their actor"


def zl07(workers: int = 64) -> tuple[bool, str]:
    """The incident at small scale: a 60% wave then a 100% wave; restarts come back; exact output."""
    with context(max_workers=workers) as ctx:

        def waves(c, pipeline, attempt):
            names = workers_of(c, pipeline, attempt)
            cut = int(len(names) * 0.6)
            later(0.4, lambda: [c.backend.kill_actor(n, restart=True) for n in names[:cut]])
            later(1.0, lambda: [c.backend.kill_actor(n, restart=True) for n in names])

        ctx.hooks["on_attempt"] = waves
        ok, detail, result = run_expecting(ctx, squares(workers * 3, 0.3), expected(workers * 3))
        rereg = result.counters.get("reregistrations", 0) if result else 0
        return (
            ok and rereg >= workers,
            f"{detail}; {rereg} re-registrations after two waves of {workers} workers",
        )


def zl08() -> tuple[bool, str]:
    """A poison shard ends the pipeline with ShardFailedError naming it: for task errors (budget
    3) and for a shard that kills its worker every time (infra budget)."""
    details, oks = [], []
    for shard, hook, budget in ((3, _raise_on(3), {"max_shard_failures": 3}),
                                (5, _oom_on(5), {"max_shard_infra_failures": 3})):  # fmt: skip
        with context(max_workers=4, **budget) as ctx:
            ctx.hooks["fail_hook"] = hook
            try:
                ctx.execute(squares(8, 0.01))
                oks.append(False)
                details.append(f"shard {shard}: completed")
            except ShardFailedError as e:
                oks.append(e.shard == shard)
                details.append(f"shard {shard}: ShardFailedError({e.shard})")
            except ZephyrError as e:
                oks.append(False)
                details.append(f"shard {shard}: {type(e).__name__}: {e}")
    return all(oks), "; ".join(details)


def zl09() -> tuple[bool, str]:
    """Actors are created with small inline arguments: the coordinator is passed by name."""
    with context(max_workers=8) as ctx:
        ok, detail, _ = run_expecting(ctx, squares(8, 0.01), expected(8))
        sizes = [
            len(pickle.dumps((args, kwargs)))
            for name, args, kwargs in ctx.backend.created
            if "-workers-" in name
        ]
        small = max(sizes) < 4096 and all(
            isinstance(a[0], str) for n, a, _ in ctx.backend.created if "-workers-" in n
        )
        return (
            ok and small,
            f"{detail}; worker constructor arguments at most {max(sizes)} bytes, coordinator by name",
        )


def zl10() -> tuple[bool, str]:
    """The status loop survives failures of the status line; any other crash of the loop aborts
    the pipeline with an error instead of hanging."""

    def unstable_status(coordinator):
        raise RuntimeError("dictionary changed size during iteration")  # upstream's #3996

    with context(max_workers=4, status_interval=0.05) as ctx:
        ctx.hooks["status_fault"] = unstable_status
        ok1, detail1, result = run_expecting(ctx, squares(8, 0.1), expected(8))
        survived = result.counters.get("status_errors", 0) if result else 0
    ticks = {"n": 0}

    def crash(coordinator):
        ticks["n"] += 1
        if ticks["n"] == 3:
            raise RuntimeError("unexpected state in the liveness check")

    with context(max_workers=4) as ctx:
        ctx.hooks["loop_fault"] = crash
        started = time.monotonic()
        try:
            ctx.execute(squares(64, 1.0))
            return False, "completed although its loop crashed"
        except ZephyrError as e:
            took = time.monotonic() - started
            ok2 = "loop crashed" in str(e) and took < 5
            return ok1 and survived > 0 and ok2, (
                f"status line failing: {detail1} ({survived} failures survived); "
                f"loop crash: aborted in {took:.1f}s ({e})"
            )


def zl11() -> tuple[bool, str]:
    """No worker can be scheduled: NoWorkersRegisteredError after the registration timeout."""
    with ZephyrContext(backend=LocalBackend(), resources={"TPU": 4}, max_workers=4, **FAST) as ctx:
        started = time.monotonic()
        try:
            ctx.execute(squares(4, 0.01))
            return False, "completed without workers"
        except NoWorkersRegisteredError as e:
            took = time.monotonic() - started
            return took < FAST["registration_timeout"] + 5 and "TPU" in str(
                e
            ), f"after {took:.1f}s: {e}"


def zl12() -> tuple[bool, str]:
    """Bounded retries with backoff; the final error carries every attempt's cause."""
    with context(max_workers=2, max_execution_retries=3) as ctx:

        def lose_every(c, pipeline, attempt):
            later(0.1, lambda: c.backend.kill_actor(zl.coordinator_name(c.name, pipeline, attempt)))

        ctx.hooks["on_attempt"] = lose_every
        started = time.monotonic()
        try:
            ctx.execute(squares(8, 0.5))
            return False, "completed although every coordinator was lost"
        except PipelineFailedError as e:
            took = time.monotonic() - started
            causes = [type(c).__name__ for c in e.causes]
            ok = len(e.causes) == 4 and all(isinstance(c, CoordinatorLostError) for c in e.causes)
            return ok and took < 10, f"PipelineFailedError after {took:.1f}s with causes {causes}"


SCENARIOS = {
    "ZL01": zl01, "ZL02": zl02, "ZL03": zl03, "ZL04": zl04, "ZL05": zl05, "ZL06": zl06,
    "ZL07": zl07, "ZL08": zl08, "ZL09": zl09, "ZL10": zl10, "ZL11": zl11, "ZL12": zl12,
}  # fmt: skip


def _lines(path: str) -> list[str]:
    with open(path) as f:
        return f.readlines()


class _Idle:
    """An actor that only holds its name."""


def _raise_on(shard: int):
    def hook(stage, task):
        if task.shard == shard:
            raise ValueError(f"poison item in shard {shard}")

    return hook


def _oom_on(shard: int):
    def hook(stage, task):
        if task.shard == shard:
            raise MemoryError(f"shard {shard} needs more memory than the node has")

    return hook
