"""One deterministic scenario per incident pattern (ZL01-ZL12): each drives a pipeline through the
fault its pattern shows in a log and reports whether the corrected behaviour was observed:
completion with output equal to the fault-free run, or the expected typed error within its bound.

Every scenario checks that its faults landed inside the run (a fault after the run proves
nothing), reports only observed values, and has a hard deadline: a scenario that hangs ends as a
failure (its contexts are shut down), never as a hang of the caller. The regression suite puts
the upstream defect each scenario guards back into the engine and asserts the scenario fails.

Fault injection goes through the backend (``kill_actor``, ``pause_heartbeats``, ``delay_rpcs``,
``fail_rpcs``, ``history``, ``record_reply_sizes``), so a backend that offers these runs the same
scenarios. On Ray (``run(id, backend="ray")``) the faults are real: SIGKILLed worker and
coordinator processes, actors killed for good, RPC failures injected in the actor's process, a
second raylet lost (ZL07). There the scenarios use fewer workers and wider timings (an actor
process takes seconds to start on a small machine), arm their faults once the attempt's workers
have registered, count what happens inside actors in files rather than in driver memory, and
take the fault-free reference on the local backend (the answer must not depend on the backend).

>>> run("ZL11").ok
True
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import pickle
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from zephyr_engine import logs as zl
from zephyr_engine.backends.base import current_actor
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
from zephyr_engine.worker import TMP_MARK, get_shared

ALL = tuple(f"ZL{i:02d}" for i in range(1, 13))
TITLES = {
    "ZL01": "all-workers-dead-hang", "ZL02": "name-collision-on-retry", "ZL03": "restarted-coordinator",
    "ZL04": "heartbeat-storm", "ZL05": "lost-shard", "ZL06": "zombie-worker", "ZL07": "preemption-wave",
    "ZL08": "poison-shard", "ZL09": "constructor-args-in-object-store", "ZL10": "silent-status-loop",
    "ZL11": "no-workers-ever", "ZL12": "retries-exhausted",
}  # fmt: skip
FAST = {"heartbeat_interval": 0.1, "heartbeat_timeout": 1.0, "no_workers_timeout": 2.0,
        "registration_timeout": 2.0, "retry_backoff": 0.05, "rpc_timeout": 2.0, "status_interval": 0.5,
        "liveness_timeout": 5.0, "stall_timeout": 5.0, "max_execution_retries": 1}  # fmt: skip
# On Ray a restarted worker needs a new process (seconds on two busy cores, and an actor can wait
# over 30 s to start when the machine is overloaded): wider timings.
RAY_FAST = {**FAST, "heartbeat_interval": 0.25, "heartbeat_timeout": 3.0, "no_workers_timeout": 30.0,
            "registration_timeout": 120.0, "rpc_timeout": 5.0, "liveness_timeout": 120.0,
            "stall_timeout": 180.0}  # fmt: skip
# The patterns whose fault can be made real on Ray on one machine (ZL04 needs hundreds of
# worker processes), and their deadline there.
RAY = ("ZL01", "ZL02", "ZL03", "ZL05", "ZL06", "ZL07", "ZL08", "ZL09", "ZL10", "ZL11", "ZL12")
RAY_DEADLINE = 240
# From a node's loss to the driver's retry of the attempt whose coordinator ran there: the
# driver's call breaks with the node's connection (seconds); the GCS declares the node dead
# within ~15 s (the test cluster's health checks, ~30 s by Ray's defaults). Far below the
# liveness timeout, which must not be what notices.
RAY_NODE_LOSS_BOUND = 30.0
# Hard deadline of each scenario (seconds): several times its normal run time on a busy machine.
DEADLINES = {
    "ZL01": 40, "ZL02": 30, "ZL03": 30, "ZL04": 45, "ZL05": 45, "ZL06": 40,
    "ZL07": 40, "ZL08": 30, "ZL09": 20, "ZL10": 30, "ZL11": 20, "ZL12": 30,
}  # fmt: skip


@dataclass
class Outcome:
    pattern: str
    ok: bool
    detail: str
    seconds: float


class _Run:
    """The scenario being run: its backend, and the contexts it opened (shut down on timeout)."""

    def __init__(self, backend: str, address: str | None = None):
        self.backend = backend
        self.contexts: list[ZephyrContext] = []
        self.lock = threading.Lock()
        self.ray = None
        if backend == "ray":  # one connection for the scenario's contexts
            from zephyr_engine.backends.ray import RayBackend

            self.ray = RayBackend(address=address, worker_cpus=0.05)


_active: _Run | None = None
_one_at_a_time = threading.Lock()


def run(pattern_id: str, backend: str = "local", deadline: float | None = None,
        address: str | None = None) -> Outcome:  # fmt: skip
    """Run one scenario on ``backend`` (``"local"`` or ``"ray"``). A scenario still running after
    ``deadline`` seconds (default ``DEADLINES``, ``RAY_DEADLINE`` on Ray) is a failure. On Ray it
    uses this process's connection, else joins ``address``, else starts a private instance."""
    global _active
    if pattern_id not in ALL:
        raise ValueError(f"unknown pattern {pattern_id!r}; known: {', '.join(ALL)}")
    if not isinstance(backend, str) or backend not in ("local", "ray"):
        raise ValueError(f"unknown backend {backend!r} (use 'local' or 'ray')")
    if backend == "ray" and pattern_id not in RAY:
        raise ValueError(
            f"{pattern_id} does not run on Ray on one machine; Ray runs {', '.join(RAY)}"
        )
    default = RAY_DEADLINE if backend == "ray" else DEADLINES[pattern_id]
    limit = default if deadline is None else deadline
    with _one_at_a_time:
        _active = current = _Run(backend, address)
        box: dict = {}

        def body():
            try:
                box["result"] = SCENARIOS[pattern_id]()
            except Exception as e:  # a scenario that crashes has failed, with the reason
                box["result"] = (False, f"the scenario raised {type(e).__name__}: {e}")

        started = time.monotonic()
        thread = threading.Thread(target=body, name=f"scenario-{pattern_id}", daemon=True)
        thread.start()
        thread.join(limit)
        took = time.monotonic() - started
        try:
            if thread.is_alive():
                _shut_down(current)
                thread.join(10)
                return Outcome(pattern_id, False, f"timed out after {limit:.0f}s (a hang)", took)
            ok, detail = box["result"]
            return Outcome(pattern_id, ok, detail, took)
        finally:
            _active = None
            if current.ray is not None:
                current.ray.shutdown()  # kills what the scenario left; disconnects if it connected


def _shut_down(current: _Run) -> None:
    with current.lock:
        contexts = list(current.contexts)
    for ctx in contexts:
        with contextlib.suppress(Exception):
            ctx.shutdown()


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


def on_ray() -> bool:
    return _active is not None and _active.backend == "ray"


def scaled(local, ray):
    """The scenario's size or timing on the backend being run."""
    return ray if on_ray() else local


def context(**overrides) -> ZephyrContext:
    """A context with the scenario timings on the scenario's backend; shut down on timeout."""
    if on_ray():
        ctx = ZephyrContext(**{"backend": _active.ray, **RAY_FAST, **overrides})
        ctx.hooks = _RegisteredFirst()
    else:
        ctx = ZephyrContext(**{"backend": "local", **FAST, **overrides})
    if _active is not None:
        with _active.lock:
            _active.contexts.append(ctx)
    return ctx


def later(seconds: float, action: Callable[[], None]) -> None:
    def guarded():
        with contextlib.suppress(ValueError):  # the actor is already gone: nothing to do
            action()

    timer = threading.Timer(seconds, guarded)
    timer.daemon = True
    timer.start()


class _RegisteredFirst(dict):
    """Hooks whose ``on_attempt`` starts once every worker of the attempt has registered: on Ray
    a fault armed earlier would hit processes still starting, not running workers."""

    def __setitem__(self, key, hook):
        if key == "on_attempt":
            inner = hook

            def hook(c, pipeline, attempt):
                wait_registered(c, len(c.actors[1]))
                inner(c, pipeline, attempt)

        super().__setitem__(key, hook)


def wait_registered(c: ZephyrContext, n: int, counter: str | None = None, timeout: float = 90.0):
    """Until the attempt's coordinator counts ``n`` registered workers (or, with ``counter``,
    that many of its counter, e.g. ``reregistrations``)."""
    coordinator = c.backend.get_actor(c.actors[0])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if counter is None and coordinator.call("worker_count").result(timeout=5) >= n:
                return
            if counter and coordinator.call("get_counters").result(5).get(counter, 0) >= n:
                return
        time.sleep(0.05)


class Tally:
    """Names recorded in files: counts what hooks see inside actors, in whatever process."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="zephyr-tally-")

    def add(self, name: str) -> None:
        with open(os.path.join(self.folder, f"{name}.{uuid.uuid4().hex[:8]}"), "w"):
            pass

    def claim(self, name: str) -> bool:
        """True for the first caller only, in whatever process (an exclusive create); the claim
        counts as one ``name``."""
        try:
            os.close(os.open(os.path.join(self.folder, f"{name}.claimed"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return False
        return True

    def count(self, name: str) -> int:
        return sum(1 for f in os.listdir(self.folder) if f.rsplit(".", 1)[0] == name)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def quiet():
    """The engine's log off: a reference run must not mix into the scenario's own log."""
    logger = logging.getLogger(zl.LOGGER_NAME)
    before, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = before


def fault_free(ctx: ZephyrContext, ds: Dataset) -> list:
    """The same pipeline on a fresh local context with no faults: the reference output."""
    with quiet(), ZephyrContext(max_workers=ctx.max_workers, **FAST) as clean:
        for name, value in ctx._shared.items():
            clean.put(name, value)
        return clean.execute(ds).results


# Fault-free outputs already computed in this process, by pipeline key; only a baseline that
# matched the known answer is kept, so a run under a broken engine cannot poison it.
_baselines: dict[tuple[str, str], list] = {}


def run_expecting(
    ctx: ZephyrContext, ds: Dataset, want: list, key: str | None = None
) -> tuple[bool, str, object]:
    """Run ``ds`` with the faults armed on ``ctx``; ok when it equals the fault-free run (whose
    rows, in any order, must be ``want``, the pipeline's known answer). ``key`` names the
    pipeline when its fault-free output may be reused (same key, same rows in the same order)."""
    cached = (_active.backend if _active else "local", key) if key is not None else None
    baseline = _baselines.get(cached) if cached is not None else None
    if baseline is None:
        try:
            baseline = fault_free(ctx, ds)
        except ZephyrError as e:
            return False, f"the fault-free run failed: {type(e).__name__}: {e}", None
        if sorted(baseline, key=repr) != sorted(want, key=repr):
            return False, "the fault-free run itself gave a wrong answer", None
        if cached is not None:
            _baselines[cached] = baseline
    try:
        result = ctx.execute(ds)
    except ZephyrError as e:
        return False, f"failed: {type(e).__name__}: {e}", None
    same = result.results == baseline
    if same:
        return True, "output equals the fault-free run", result
    return False, _difference(result.results, baseline), result


def _difference(got: list, want: list) -> str:
    extra, missing = (
        Counter(map(repr, got)) - Counter(map(repr, want)),
        Counter(map(repr, want)) - Counter(map(repr, got)),
    )
    return (
        f"output differs from the fault-free run: {len(got)} rows for {len(want)}, "
        f"{sum(extra.values())} unexpected, {sum(missing.values())} missing"
    )


class LogCount(logging.Handler):
    """Counts the engine's log records by message template while a scenario runs."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.counts: Counter = Counter()
        self.times: dict[str, list[float]] = {}  # when each was logged (time.monotonic)
        self.logger = logging.getLogger(zl.LOGGER_NAME)

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.msg] += 1
        self.times.setdefault(record.msg, []).append(time.monotonic())

    def __enter__(self) -> LogCount:
        self.previous = self.logger.level
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.previous)


def _tmp_files(folder: str) -> list[str]:
    return [f for f in os.listdir(folder) if TMP_MARK in f]


# --- the scenarios -------------------------------------------------------------------------------


def zl01() -> tuple[bool, str]:
    """(1) Nothing comes back: NoAliveWorkersError within its bound, no hang. (2) Every worker
    dies twice and comes back each time, each dead spell shorter than ``no_workers_timeout`` but
    both together longer: the all-dead timer restarts, and the output is exact."""
    timeout = FAST["no_workers_timeout"]
    heartbeat = scaled(FAST, RAY_FAST)["heartbeat_timeout"]
    with context(max_workers=scaled(16, 4), no_workers_timeout=timeout) as ctx:
        deaths: list[float] = []

        def waves(c, pipeline, attempt):
            names = c.actors[1]
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
            ctx.execute(squares(scaled(64, 16), 1.0))
            return (
                False,
                f"completed after {time.monotonic() - started:.1f}s though every worker died",
            )
        except NoAliveWorkersError:
            took = time.monotonic() - deaths[-1]
            bound = heartbeat + timeout + 5
            first = (took <= bound, f"NoAliveWorkersError {took:.1f}s after the last death "
                                    f"(bound {bound:.0f}s)")  # fmt: skip
            if not first[0]:
                return first
        except ZephyrError as e:
            return False, f"nothing comes back: wrong error: {type(e).__name__}: {e}"
    # Two dead spells of ~1 s each with a 1.5 s timeout: together 2 s, more than the timeout.
    # On Ray a restart takes its own time (seconds): each spell lasts that long.
    spell_timeout, back_after = scaled(1.5, 10.0), 1.5
    workers, shards = scaled(8, 4), scaled(48, 24)
    with context(max_workers=workers, heartbeat_timeout=scaled(0.5, 1.0),
                 no_workers_timeout=spell_timeout) as ctx:  # fmt: skip

        def two_spells(c, pipeline, attempt):
            def everyone_dies():
                for n in c.actors[1]:
                    c.backend.kill_actor(n, restart=True, delay=back_after)

            later(0.3, everyone_dies)
            if on_ray():  # the second spell once everyone is back from the first
                later(
                    0.5, lambda: (wait_registered(c, workers, "reregistrations"), everyone_dies())
                )
            else:
                later(2.6, everyone_dies)

        ctx.hooks["on_attempt"] = two_spells
        ds = squares(shards, scaled(0.3, 1.0))
        ok, detail, result = run_expecting(ctx, ds, expected(shards), key=f"squares-{shards}")
        spells = result.counters.get("all_dead_spells", 0) if result else "?"
        # On a busy machine a restarted Ray worker can miss a heartbeat on its way back: an extra
        # spell is Ray's timing, not the engine's; the timer must still restart each time.
        want = (spells == 2) if not on_ray() else (isinstance(spells, int) and spells >= 2)
        second = (ok and want, f"two all-dead spells: {detail}; {spells} spells observed")
    return first[0] and second[0], f"{first[1]}; {second[1]}"


def zl02() -> tuple[bool, str]:
    """A retry after the coordinator is lost uses fresh names: no collision, exact output."""
    with context(max_workers=scaled(4, 2)) as ctx:
        # The name an upstream retry would reuse is still held (the old coordinator restarting).
        held = f"zephyr-{ctx.name}-coord-0"
        ctx.backend.create_actor(_Idle, held, max_restarts=-1)
        used: list[tuple[int, str]] = []

        def lose_first(c, pipeline, attempt):
            used.append((attempt, c.actors[0]))
            if attempt == 0:
                later(0.3, lambda: c.backend.kill_actor(c.actors[0], restart=True))

        ctx.hooks["on_attempt"] = lose_first
        shards = scaled(16, 8)
        ds = squares(shards, scaled(0.2, 0.5))
        ok, detail, _ = run_expecting(ctx, ds, expected(shards), key=f"squares-{shards}")
    names = [name for _, name in used]
    tags = [m.group(0) if (m := re.search(r"-p\d+-a\d+", n)) else n for n in names]
    fresh = len(set(names)) == len(names) and held not in names
    scoped = all(f"-a{attempt}-" in name for attempt, name in used)
    attempts = [a for a, _ in used]
    return ok and attempts == [0, 1] and fresh and scoped, (
        f"{detail}; attempts {attempts} under names {', '.join(tags) or 'none'}"
    )


def zl03() -> tuple[bool, str]:
    """A coordinator is never auto-restarted; its loss fails the attempt and the driver retries.
    Its actor is killed as a preemption would (on Ray: its process is SIGKILLed, and Ray would
    restart a coordinator created with max_restarts != 0). On Ray the next attempt's
    coordinator then loses its whole node: it runs on a second raylet (on-demand capacity,
    which fails too), and that raylet is SIGKILLed; the driver must notice within a bound far
    below its liveness timeout, and retry again."""
    node = _SpareNode(market_type=None, name="standby") if on_ray() else None
    lost: list[str] = []
    placed: dict = {}
    try:
        with LogCount() as seen, context(max_workers=scaled(4, 2),
                                         max_execution_retries=scaled(1, 2)) as ctx:  # fmt: skip
            if node is not None:
                ctx.backend.prefer_node([zl.coordinator_name(ctx.name, 0, 1)], node.node_id)

            def kill_coordinator(c, pipeline, attempt):
                name = c.actors[0]
                if attempt == 0:
                    lost.append(name)
                    later(0.3, lambda: c.backend.kill_actor(name, restart=True))
                elif attempt == 1 and node is not None:
                    lost.append(name)
                    placed["on_node"] = c.backend.node_of(name) == node.node_id
                    later(
                        0.3, lambda: (placed.setdefault("lost_at", time.monotonic()), node.lose())
                    )

            ctx.hooks["on_attempt"] = kill_coordinator
            shards = scaled(16, 8)
            ds = squares(shards, scaled(0.2, 0.5))
            ok, detail, _ = run_expecting(ctx, ds, expected(shards), key=f"squares-{shards}")
            histories = {name: ctx.backend.history(name) for name in lost}
    finally:
        if node is not None:
            node.stop()
    restarted = [n for n, h in histories.items() if "restarting" in h or h.count("alive") > 1]
    states = [" -> ".join(h) for h in histories.values()]
    if node is not None:
        retries = seen.times.get(zl.PIPELINE_RETRY_BACKOFF, [])
        noticed = [t - placed["lost_at"] for t in retries if t >= placed.get("lost_at", 1e18)]
        took = noticed[0] if noticed else None
        bound = RAY_NODE_LOSS_BOUND
        ok = ok and placed.get("on_node") is True and took is not None and took <= bound
        detail += (f"; the second coordinator's node lost: {placed.get('on_node') is True}, "
                   f"the attempt retried {'never' if took is None else f'{took:.1f}s'} after "
                   f"(bound {bound:.0f}s)")  # fmt: skip
    return ok and len(lost) == scaled(1, 2) and not restarted, (
        f"{detail}; the lost coordinators went {states or 'unobserved'}"
    )


def zl04(workers: int = 96) -> tuple[bool, str]:
    """A registration storm, heartbeats that cannot get through, a shared value: every worker
    registers at once, and each registration gets through the first time; half of the workers
    send no heartbeat for the whole run while they keep pulling and reporting (any RPC proves a
    worker alive); every task loads a 200 kB shared value, which no task reply carries. No false
    heartbeat deaths."""
    timeout = 2.0
    with context(max_workers=workers, heartbeat_timeout=timeout, heartbeat_interval=0.25) as ctx:
        ctx.put("tokenizer", bytes(200_000))
        ctx.backend.record_reply_sizes()
        silenced: list[str] = []

        def silence(c, pipeline, attempt):
            for name in c.actors[1][::2]:
                c.backend.pause_heartbeats(name, 60.0)
                silenced.append(name)

        ctx.hooks["on_attempt"] = silence
        shards = workers * 3
        ds = squares(shards, 1.0).map(lambda x: x + 0 * len(get_shared("tokenizer")))
        ok, detail, result = run_expecting(ctx, ds, expected(shards), key=f"zl04-{shards}")
        false = result.counters.get("heartbeat_failures", 0) if result else None
        again = result.counters.get("reregistrations", 0) if result else None
        reply = (ctx.backend.reply_sizes or {}).get("pull_task", 0)
    return ok and false == 0 and again == 0 and reply < 20_000, (
        f"{detail}; {workers} workers, {len(silenced)} without heartbeats for the whole run "
        f"(heartbeat timeout {timeout:.0f}s), {false} heartbeat failures, {again} registered "
        f"twice; largest task reply {reply} bytes (shared value 200000 bytes)"
    )


def zl05() -> tuple[bool, str]:
    """Shards must not be lost or taken twice: (1) workers restarted mid-shard re-register and
    their shards are re-queued, reports are delayed (never overtaken by the next pull), and in
    the last stage, once the queue is drained, a straggler's worker dies for good while the idle
    workers must still be there to take its shard over; every output file once, no temporary
    file left. (2) Reports delayed beyond the RPC timeout are retried, and their late duplicates
    land in the next stage, where the same worker runs the same shard number and attempt: they
    must be dropped."""
    out = tempfile.mkdtemp(prefix="zl05-")
    reference = tempfile.mkdtemp(prefix="zl05-fault-free-")
    try:
        first = _zl05_restarts_and_straggler(out, reference)
        if not first[0]:  # failed already: the second part would only take time
            return first
        second = _zl05_late_duplicates()
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(reference, ignore_errors=True)
    return first[0] and second[0], f"{first[1]}; {second[1]}"


def _writer_pipeline(folder: str, work: float, straggler: Callable | None = None) -> Dataset:
    def last_stage(items, info):
        if straggler is not None:
            straggler(info)
        time.sleep(work)
        return [x + 1 for x in items]

    return (
        squares(24, work)
        .reshard(12)
        .map_shard(last_stage)
        .write_jsonl(os.path.join(folder, "part-{shard:03d}-of-{total}.jsonl"))
    )


def _zl05_restarts_and_straggler(out: str, reference: str) -> tuple[bool, str]:
    lost_for_good = Tally()  # written by the straggler's worker, in its own process on Ray
    with context(max_workers=scaled(6, 3)) as ctx:
        kills = 0

        def faults(c, pipeline, attempt):
            coord, names = c.actors

            def wave():
                nonlocal kills
                for n in names[:2]:
                    c.backend.kill_actor(n, restart=True)
                    kills += 1

            later(0.3, wave)
            later(0.8, wave)
            c.backend.delay_rpcs(coord, 0.1, 3.0, methods=("report_result",))

        def straggler(info):
            # Once in the whole run: on Ray each worker process has its own copy of this hook,
            # so only a claim all processes see keeps a retried last shard from killing the
            # worker that took it over too (and then the next, until none is left).
            if info.shard == info.total - 1 and lost_for_good.claim("straggler"):
                me = current_actor()
                later(0.4, lambda: me.backend.kill_actor(me.name, restart=False))
                time.sleep(1.0)

        ctx.hooks["on_attempt"] = faults
        try:
            result = ctx.execute(_writer_pipeline(out, 0.2, straggler))
        except ZephyrError as e:
            return False, f"restarts and a straggler: failed: {type(e).__name__}: {e}"
        leftovers = _tmp_files(out)
    straggler_lost = lost_for_good.count("straggler")
    lost_for_good.remove()
    with quiet(), ZephyrContext(max_workers=6, **FAST) as clean:
        clean.execute(_writer_pipeline(reference, 0.0))
    files = sorted(os.listdir(out))
    same_files = files == sorted(os.listdir(reference)) and all(
        _lines(os.path.join(out, f)) == _lines(os.path.join(reference, f)) for f in files
    )
    rows = sorted(
        json.loads(line)
        for p in sorted(glob.glob(os.path.join(out, "part-*")))
        for line in _lines(p)
    )
    exact = same_files and rows == sorted(x + 1 for x in expected(24)) and len(files) == 12
    c = result.counters
    rereg, lost = c.get("reregistrations", 0), c.get("lost_replies", 0)
    ok = exact and rereg >= 1 and bool(straggler_lost) and lost == 0 and not leftovers
    return ok, (
        f"{len(files)} files, rows exact: {exact}; {kills} kills, {rereg} re-registrations, "
        f"straggler's worker lost for good: {bool(straggler_lost)}, {lost} reports overtaken by "
        f"the next pull, {len(leftovers)} temporary files left"
    )


def _zl05_late_duplicates() -> tuple[bool, str]:
    with context(max_workers=1, rpc_timeout=0.2) as ctx:

        def delay_reports(c, pipeline, attempt):
            c.backend.delay_rpcs(c.actors[0], 0.6, 1.0, methods=("report_result",))

        ctx.hooks["on_attempt"] = delay_reports

        def slow(items, info):
            time.sleep(0.3)
            return [x * 10 for x in items]

        ds = (
            Dataset.from_list(range(8), num_shards=2)
            .map(lambda x: x + 1)
            .reshard(2)
            .map_shard(slow)
        )
        ok, detail, result = run_expecting(ctx, ds, [x * 10 for x in range(1, 9)], key="zl05")
        crossed = result.counters.get("stale_other_stage", 0) if result else 0
    return ok and crossed >= 1, (
        f"late duplicate reports: {detail}; {crossed} duplicates from an earlier stage dropped"
    )


def zl06() -> tuple[bool, str]:
    """Transient pull_task failures: workers retry; a long outage makes them fail their actor
    (restarted by the backend) instead of idling as zombies; the pipeline completes."""
    with LogCount() as seen, context(max_workers=scaled(6, 3), max_consecutive_failures=4,
                                     heartbeat_timeout=3.0) as ctx:  # fmt: skip

        def outage(c, pipeline, attempt):
            name = c.actors[0]
            later(0.1, lambda: c.backend.fail_rpcs(name, 0.4, methods=("pull_task",)))  # retried
            later(1.0, lambda: c.backend.fail_rpcs(name, 2.0, methods=("pull_task",)))  # restarts

        ctx.hooks["on_attempt"] = outage
        shards = scaled(24, 12)
        ds = squares(shards, scaled(0.3, 1.0))
        ok, detail, result = run_expecting(ctx, ds, expected(shards), key=f"squares-{shards}")
        rereg = result.counters.get("reregistrations", 0) if result else 0
        failed_pulls = seen.counts[zl.PULL_TASK_FAILED]
    if on_ray():  # logged in the workers' processes: the Ray tests find them in the Ray logs
        failed_pulls = "(in the workers' logs)"
    return ok and rereg >= 1 and (on_ray() or failed_pulls >= 1), (
        f"{detail}; {failed_pulls} failed pulls retried, {rereg} workers came back after "
        f"failing their actor"
    )


def zl07(workers: int | None = None) -> tuple[bool, str]:
    """The incident at small scale: a 60% wave then a 100% wave; restarts come back; exact output.
    On Ray the first wave is a node loss: 60% of the workers run on a second raylet (a "spot"
    node) that is SIGKILLed; Ray restarts them elsewhere once the GCS declares the node dead."""
    workers = workers or scaled(48, 5)
    cut = int(workers * 0.6)
    spot = _SpareNode() if on_ray() else None
    placed: dict = {}
    result = None
    try:
        with context(max_workers=workers) as ctx:
            if spot is not None:
                first = [zl.worker_name(ctx.name, i, 0, 0) for i in range(cut)]
                ctx.backend.prefer_node(first, spot.node_id)

            def waves(c, pipeline, attempt):
                names = c.actors[1]

                def second():
                    [c.backend.kill_actor(n, restart=True) for n in names]

                if spot is None:
                    later(0.4, lambda: [c.backend.kill_actor(n, restart=True) for n in names[:cut]])
                    later(1.0, second)
                    return
                placed["spot"] = sum(c.backend.node_of(n) == spot.node_id for n in names)
                placed["coordinator_on_spot"] = c.backend.node_of(c.actors[0]) == spot.node_id
                later(0.4, spot.lose)
                # the second wave hits the restarted workers, as in the incident
                later(1.0, lambda: (wait_registered(c, cut, "reregistrations"), second()))

            ctx.hooks["on_attempt"] = waves
            shards = workers * scaled(3, 6)
            ds = squares(shards, scaled(0.3, 1.5))
            ok, detail, result = run_expecting(ctx, ds, expected(shards), key=f"squares-{shards}")
    finally:
        if spot is not None:
            spot.stop()
    rereg = result.counters.get("reregistrations", 0) if result else 0
    if spot is not None:
        ok = ok and placed.get("spot") == cut and placed.get("coordinator_on_spot") is False
        detail += (f"; first wave: node loss of {placed.get('spot')} workers, coordinator kept off the "
                   f"spot node: {placed.get('coordinator_on_spot') is False}")  # fmt: skip
    return ok and rereg >= workers, (
        f"{detail}; {rereg} re-registrations after two waves of {workers} workers"
    )


class _SpareNode:
    """A second raylet joined to the running Ray cluster (labelled preemptible with
    ``market_type="spot"``), to be lost."""

    def __init__(self, market_type: str | None = "spot", name: str = "spot"):
        import ray

        from zephyr_engine.backends.ray_cluster import LocalRayCluster

        node = ray._private.worker.global_worker.node  # the local node's temp dir keeps its logs
        self.cluster = LocalRayCluster(address=ray.get_runtime_context().gcs_address,
                                       temp_dir=node.get_temp_dir_path())  # fmt: skip
        self.node = self.cluster.add_node(num_cpus=2, market_type=market_type, name=name)
        self.node_id = self.cluster.wait_for_node(self.node)

    def lose(self) -> None:
        self.cluster.kill_node(self.node)

    def stop(self) -> None:
        self.cluster.stop()


def zl08() -> tuple[bool, str]:
    """Per-shard budgets: a shard failing once is retried and the output is exact; a poison
    shard ends the pipeline with ShardFailedError naming it after exactly ``max_shard_failures``
    runs; a shard that kills its worker every time ends it after ``max_shard_infra_failures``."""
    details, oks = [], []
    runs = Tally()  # the hooks run inside the workers (their own processes on Ray)

    def flaky(stage, task):
        if task.shard == 2 and task.attempt == 0:
            raise ConnectionError("transient: GCS unavailable")

    with context(max_workers=scaled(4, 2)) as ctx:
        ctx.hooks["fail_hook"] = flaky
        ok, detail, _ = run_expecting(ctx, squares(8, 0.01), expected(8), key="squares-8")
        if not ok:
            return False, f"a transient task error: {detail}"
        details.append(f"a transient task error: {detail}")
    for shard, kind, budget in ((3, ValueError, "max_shard_failures"),
                                (5, MemoryError, "max_shard_infra_failures")):  # fmt: skip
        with context(max_workers=scaled(4, 2), **{budget: 3}) as ctx:
            ctx.hooks["fail_hook"] = _poison(shard, kind, runs)
            outcome = execute_within(ctx, squares(8, 0.01), scaled(6.0, 120.0))
        n = runs.count(str(shard))
        if isinstance(outcome, ShardFailedError):
            oks.append(outcome.shard == shard and n == 3)
            details.append(f"shard {shard} ({kind.__name__}): ShardFailedError({outcome.shard}) "
                           f"after {n} runs")  # fmt: skip
        else:
            oks.append(False)
            details.append(f"shard {shard} ({kind.__name__}): {_describe(outcome)} after {n} runs")
    runs.remove()
    return all(oks), "; ".join(details)


def zl09() -> tuple[bool, str]:
    """Actors are created with small inline arguments: the coordinator is passed by name."""
    with context(max_workers=scaled(8, 2)) as ctx:
        ok, detail, _ = run_expecting(ctx, squares(8, 0.01), expected(8), key="squares-8")
        args = [(args, kwargs) for name, args, kwargs in ctx.backend.created if "-workers-" in name]
    plain = all(_plain(a) for a in args)
    kinds = sorted({type(a[0][0]).__name__ for a in args if a[0]})
    sizes = [len(pickle.dumps(a)) for a in args] if plain else []
    small = plain and bool(sizes) and max(sizes) < 4096
    return ok and small, (
        f"{detail}; worker constructor arguments: coordinator passed as {', '.join(kinds)}, "
        f"at most {max(sizes) if sizes else '?'} bytes"
    )


def zl10() -> tuple[bool, str]:
    """The status loop survives failures of the status line (and keeps checking heartbeats: a
    worker lost meanwhile is noticed); any other crash of the loop aborts the pipeline with an
    error instead of hanging."""

    def unstable_status(coordinator):
        raise RuntimeError("dictionary changed size during iteration")  # upstream's #3996

    with context(max_workers=scaled(4, 2), status_interval=0.05) as ctx:
        ctx.hooks["status_fault"] = unstable_status
        ctx.hooks["on_attempt"] = lambda c, p, a: later(
            0.5, lambda: c.backend.kill_actor(c.actors[1][0], restart=False)
        )
        ds = squares(12, scaled(0.3, 1.0))
        ok1, detail1, result = run_expecting(ctx, ds, expected(12), key="squares-12")
        survived = result.counters.get("status_errors", 0) if result else 0
        noticed = result.counters.get("heartbeat_failures", 0) if result else 0
    if not (ok1 and survived > 0 and noticed >= 1):
        return False, (f"status line failing: {detail1} ({survived} failures survived, {noticed} "
                       f"lost worker noticed)")  # fmt: skip
    ticks = {"n": 0}

    def crash(coordinator):
        ticks["n"] += 1
        if ticks["n"] == 3:
            raise RuntimeError("unexpected state in the liveness check")

    with context(max_workers=scaled(4, 2)) as ctx:
        ctx.hooks["loop_fault"] = crash
        started = time.monotonic()
        outcome = execute_within(ctx, squares(16, 1.0), scaled(10.0, 60.0))
        took = time.monotonic() - started
    ok2 = isinstance(outcome, ZephyrError) and "loop crashed" in str(outcome)
    ok2 = ok2 and took < scaled(5, 30)  # on Ray the actors' start-up is in the count
    return ok1 and survived > 0 and noticed >= 1 and ok2, (
        f"status line failing: {detail1} ({survived} failures survived, {noticed} lost worker "
        f"noticed); loop crash: {_describe(outcome)} after {took:.1f}s"
    )


def zl11() -> tuple[bool, str]:
    """No worker can be scheduled: NoWorkersRegisteredError after the registration timeout."""
    timeout = scaled(FAST["registration_timeout"], 5.0)
    with context(resources={"TPU": 4}, max_workers=4, registration_timeout=timeout) as ctx:
        started = time.monotonic()
        outcome = execute_within(ctx, squares(4, 0.01), scaled(15.0, 60.0))
        took = time.monotonic() - started
    ok = isinstance(outcome, NoWorkersRegisteredError) and "TPU" in str(outcome)
    return ok and took < timeout + scaled(5, 15), f"{_describe(outcome)} after {took:.1f}s"


def zl12() -> tuple[bool, str]:
    """Bounded retries with exponential backoff; the final error carries every attempt's cause."""
    backoff = 0.2
    with context(max_workers=scaled(2, 1), max_execution_retries=3, retry_backoff=backoff) as ctx:
        starts: list[float] = []

        def lose_every(c, pipeline, attempt):
            starts.append(time.monotonic())
            later(0.1, lambda: c.backend.kill_actor(c.actors[0]))

        ctx.hooks["on_attempt"] = lose_every
        started = time.monotonic()
        outcome = execute_within(ctx, squares(8, 0.5), scaled(20.0, 150.0))
        took = time.monotonic() - started
    # The wait before retry k is at least backoff * 2**k (the attempt itself lasts ~0.1 s).
    waits = [b - a - 0.1 for a, b in zip(starts, starts[1:], strict=False)]
    grows = len(waits) == 3 and all(w >= 0.9 * backoff * 2**k for k, w in enumerate(waits))
    shown = ", ".join(f"{w:.2f}s" for w in waits)
    if not isinstance(outcome, PipelineFailedError):
        return False, f"{_describe(outcome)} after {took:.1f}s; waits between attempts {shown}"
    causes = [type(c).__name__ for c in outcome.causes]
    ok = len(outcome.causes) == 4 and all(
        isinstance(c, CoordinatorLostError) for c in outcome.causes
    )
    return ok and grows and took < scaled(10, 120), (
        f"PipelineFailedError after {took:.1f}s with causes {causes}; waits between attempts {shown}"
    )


SCENARIOS = {
    "ZL01": zl01, "ZL02": zl02, "ZL03": zl03, "ZL04": zl04, "ZL05": zl05, "ZL06": zl06,
    "ZL07": zl07, "ZL08": zl08, "ZL09": zl09, "ZL10": zl10, "ZL11": zl11, "ZL12": zl12,
}  # fmt: skip


def execute_within(ctx: ZephyrContext, ds: Dataset, seconds: float):
    """``ctx.execute(ds)``'s result or error, or ``TimeoutError`` if it neither returned nor
    raised within ``seconds`` (then ``ctx`` is shut down, which ends the run)."""
    box: dict = {}

    def go():
        try:
            box["value"] = ctx.execute(ds)
        except Exception as e:
            box["value"] = e

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        ctx.shutdown()
        thread.join(5)
        return TimeoutError(f"no result and no error within {seconds:.0f}s")
    return box["value"]


def _describe(outcome) -> str:
    if isinstance(outcome, BaseException):
        return f"{type(outcome).__name__}: {outcome}"
    return "completed" if outcome is not None else "nothing"


def _plain(value) -> bool:
    """Built from str, numbers, None and containers of them (what travels inline)."""
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and (_plain(v) or callable(v)) for k, v in value.items())
    return False


def _lines(path: str) -> list[str]:
    with open(path) as f:
        return f.readlines()


class _Idle:
    """An actor that only holds its name."""


def _poison(shard: int, kind: type, runs: Tally):
    def hook(stage, task):
        if task.shard == shard:
            runs.add(str(shard))
            raise kind(f"poison item in shard {shard}")

    return hook


def main(argv: list[str] | None = None) -> int:
    """``python -m zephyr_engine.scenarios ZL05 [--backend ray] [--address ADDR]``: run one
    scenario with the engine's log on stderr (upstream format) and print its outcome as JSON."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m zephyr_engine.scenarios")
    parser.add_argument("pattern", choices=ALL)
    parser.add_argument("--backend", default="local", choices=("local", "ray"))
    parser.add_argument("--address", default=None, help="a running Ray cluster to join")
    opts = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s:%(lineno)d %(message)s",
    )  # fmt: skip
    outcome = run(opts.pattern, backend=opts.backend, address=opts.address)
    print(json.dumps(outcome.__dict__), flush=True)
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
