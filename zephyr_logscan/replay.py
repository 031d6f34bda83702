"""``logscan replay``: play a pipeline's fault schedule, scaled down, against the corrected engine.

``plan`` scales the schedule: at most 64 workers (replay worker ``j`` stands for the log's worker
``j * W // N``, so it lives and dies with it), a proportional number of shards, and the log's
time compressed so the last fault lands ``TARGET`` seconds into the run. ``run`` drives a real
``zephyr_engine`` pipeline through it with the backend's fault injection (``kill_actor`` with or
without restart, a name held as upstream's retry would find it, status-line failures) and checks
the README's guarantees: no hang, a typed error within its bound or output equal to the fault-free
answer, and fresh actor names on every attempt.

How each fault of the log is played:
- a coordinator restart, or an attempt that failed with the coordinator lost or OOM-killed: the
  engine's current coordinator is killed (the engine never restarts it; the driver retries);
- an attempt that failed on a name collision: the upstream name is held from the start;
- a death wave: its workers are killed; those the log shows coming back restart after the same
  (scaled) delay, the others stay dead; false deaths (the status line still counted them alive)
  pause the workers' heartbeats instead, as a worker busy or stalled would be silent;
- an OOM kill attributed to the pipeline: one worker is killed and restarted;
- a status stall: the status line fails for the stall's (scaled) duration.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from zephyr_engine import Dataset, ZephyrContext, ZephyrError
from zephyr_engine import logs as zl
from zephyr_engine.errors import NoAliveWorkersError
from zephyr_logscan.schedule import CLUSTER, Schedule

MAX_WORKERS = 64
MAX_RAY_WORKERS = 8  # on Ray each worker is a process: the default stays small
TARGET = 20.0  # replay seconds at which the last fault lands by default
RAY_TARGET = 45.0  # on Ray: actors start and die in seconds, the faults need room between them
MIN_RUN = 4.0  # replay seconds: the fault-free run lasts at least this
ENGINE = {  # the engine's settings for a replay: every timeout in seconds, as the scenarios use
    "heartbeat_interval": 0.1, "heartbeat_timeout": 1.0, "no_workers_timeout": 2.0,
    "registration_timeout": 5.0, "retry_backoff": 0.05, "rpc_timeout": 2.0, "status_interval": 0.5,
    "max_execution_retries": 3,
}  # fmt: skip
# On Ray every actor is a process and every call crosses one: slower to start and to answer.
RAY_ENGINE = {**ENGINE, "heartbeat_interval": 0.3, "heartbeat_timeout": 3.0, "no_workers_timeout": 5.0,
              "registration_timeout": 60.0, "rpc_timeout": 10.0, "status_interval": 1.0}  # fmt: skip
BACKENDS = ("local", "ray")


class ReplayError(ValueError):
    """The replay cannot be set up (bad option, nothing to replay, backend missing)."""


class BackendStartError(RuntimeError):
    """The backend was there but did not start (a Ray instance that timed out, say)."""


@dataclass
class Fault:
    at: float  # replay seconds after the pipeline started
    kind: str  # kill_coordinator | kill_workers | silence | oom_kill | status_stall | hold_name
    label: str  # what the log shows
    kill: list[int] = field(default_factory=list)  # replay workers killed for good
    restart: list[int] = field(default_factory=list)  # replay workers killed, then restarted
    restart_after: float = 0.0
    seconds: float = 0.0  # a stall's length
    name: str | None = None  # the held name


@dataclass
class Plan:
    pipeline: str
    log_workers: int
    workers: int
    log_shards: int
    shards: int
    work: float  # seconds per shard
    time_scale: float
    faults: list[Fault]
    expect: str  # what the guarantees call for: "exact output" or "NoAliveWorkersError"
    survivors: int = 0  # workers the log leaves alive at the end (0: the run must end in an error)


def plan(
    s: Schedule,
    workers: int | None = None,
    time_scale: float | None = None,
    max_workers: int = MAX_WORKERS,
    target: float = TARGET,
) -> Plan:
    """Scale ``s`` for a replay of ``workers`` workers (default: the log's, at most
    ``max_workers``) and ``time_scale`` replay seconds per log second (default: the last fault
    at ``TARGET`` seconds)."""
    log_workers = max(s.workers, 1)
    if workers is not None and workers < 1:
        raise ReplayError("--workers must be at least 1")
    n = workers or min(log_workers, max_workers)
    if time_scale is not None and not time_scale > 0:
        raise ReplayError("--time-scale must be a positive number")
    last = max(_fault_times(s), default=0.0)
    f = time_scale or (min(1.0, target / last) if last > 0 else 1.0)
    rep = [j * log_workers // n for j in range(n)]  # the log's worker each replay worker follows
    faults: list[Fault] = []

    # The name an upstream retry reuses is held before the run: the engine must not need it.
    held = [a.collided for a in s.attempts if a.cause == "name_collision" and a.collided]
    held += [c.name for c in s.collisions]
    for name in dict.fromkeys(held):
        faults.append(Fault(0.0, "hold_name", f"name collision on {name}", name=name))
    # Coordinator losses: the first restart within the failed attempt, else the failure itself.
    ends = [a.at for a in s.attempts[1:]]
    for k, a in enumerate(s.attempts):
        if a.cause not in ("coordinator_lost", "oom") or k >= len(ends):
            continue
        restarts = [r for r in s.coordinator_restarts if a.at <= r <= ends[k]]
        at = restarts[0] if restarts else ends[k]
        what = "coordinator restarted" if restarts else f"attempt {k} failed ({a.cause})"
        faults.append(Fault(at * f, "kill_coordinator", what))
    for r in s.coordinator_restarts:  # restarts in an attempt that did not fail (or the last one)
        if not any(a.at <= r <= e for a, e in zip(s.attempts, ends, strict=False)
                   if a.cause in ("coordinator_lost", "oom")):  # fmt: skip
            faults.append(Fault(r * f, "kill_coordinator", "coordinator restarted"))
    for t in s.coordinator_losses:
        faults.append(Fault(t * f, "kill_coordinator", "coordinator lost"))
    state = [True] * n  # alive, as the log has it, per replay worker
    for w in s.waves:
        named = set(w.workers)
        back = set(w.returned_workers)
        if named:
            hit = [j for j in range(n) if rep[j] in named]
            ret = [j for j in hit if rep[j] in back]
        else:  # the log counts deaths without naming them: the first alive ones, in proportion
            alive = [j for j in range(n) if state[j]]
            hit = alive[: min(len(alive), round(w.killed * n / log_workers))]
            ret = hit[: round(len(hit) * w.returned / max(1, w.killed))]
        if w.kind == "false_death":  # declared dead while working: silence, not a kill
            faults.append(Fault(w.at * f, "silence", f"false deaths ({w.killed} workers)",
                                restart=hit, seconds=2.0))  # fmt: skip
            continue
        for j in hit:
            state[j] = j in ret
        died = _died(w)
        delay = max(0.05, ((w.returned_at or died) - died) * f)
        what = f"{w.kind.replace('_', ' ')} ({_n(w.nodes, 'node') + ', ' if w.nodes else ''}{_n(w.killed, 'worker')}, {w.returned} back)"
        faults.append(Fault(died * f, "kill_workers", what, kill=[j for j in hit if j not in ret],
                            restart=ret, restart_after=delay))  # fmt: skip
    for k, o in enumerate(s.oom_kills):
        faults.append(Fault(o.at * f, "oom_kill", f"OOM kill on {o.node_ip or 'a node'}",
                            restart=[k % n], restart_after=0.05))  # fmt: skip
    for st in s.status_stalls:
        faults.append(Fault(st.at * f, "status_stall", f"status line stalled {st.seconds:.0f}s",
                            seconds=max(0.1, st.seconds * f)))  # fmt: skip
    faults.sort(key=lambda x: x.at)
    last_scaled = max((x.at + x.seconds for x in faults), default=0.0)
    shards = max(n, min(s.shards or 4 * n, 4 * n))
    run_for = max(MIN_RUN, 1.25 * last_scaled)
    # What the guarantees call for: a new attempt (after a coordinator loss) has a fresh pool.
    pool = [True] * n
    for x in faults:
        if x.kind == "kill_coordinator":
            pool = [True] * n
        for j in x.kill if x.kind == "kill_workers" else ():
            pool[j] = False
    expect = "exact output" if any(pool) else "NoAliveWorkersError"
    survivors = sum(pool)
    return Plan(s.pipeline, log_workers, n, s.shards, shards, run_for * n / shards, f, faults, expect,
                survivors)  # fmt: skip


def _died(w) -> float:
    """When a wave's workers died: their nodes' deaths when the log shows them, else the first
    heartbeat failure (the engine then detects the deaths after its own, scaled, timeout)."""
    return w.nodes_at if w.kind == "node_loss" and w.nodes_at is not None else w.at


def _fault_times(s: Schedule) -> list[float]:
    return [
        *(a.at for a in s.attempts[1:]),
        *s.coordinator_restarts,
        *s.coordinator_losses,
        *(_died(w) for w in s.waves),
        *(o.at for o in s.oom_kills),
        *(x.at + x.seconds for x in s.status_stalls),
    ]


def _n(k: int, what: str) -> str:
    return f"{k} {what}{'' if k == 1 else 's'}"


# --- running ----------------------------------------------------------------------------------


@dataclass
class Step:
    at: float  # replay seconds
    label: str
    did: str  # what the engine did


@dataclass
class Outcome:
    ok: bool
    result: str  # "exact output", "wrong output", the error's type, or "hang"
    detail: str
    seconds: float
    attempts: int
    names_fresh: bool
    steps: list[Step]
    violations: list[str]
    engine_log: dict  # counts of the engine's own log messages


def dataset(shards: int, work: float) -> tuple[Dataset, list]:
    """``shards`` shards of 10 numbers, each shard taking ``work`` seconds; and its answer."""

    def slow(items, info):
        time.sleep(work)
        return list(items)

    ds = (
        Dataset.from_list(range(shards * 10), num_shards=shards)
        .map_shard(slow)
        .map(lambda x: x * x)
    )
    return ds, [x * x for x in range(shards * 10)]


def run(p: Plan, backend: str = "local", deadline: float | None = None) -> Outcome:
    """Drive the engine through the plan; never blocks past ``deadline`` seconds."""
    if backend not in BACKENDS:
        raise ReplayError(f"unknown backend {backend!r} (use local or ray)")
    engine_backend = _backend(backend)
    ds, want = dataset(p.shards, p.work)
    name = p.pipeline if p.pipeline[0].isalnum() else "cluster"
    # The deadline: all the work done by the workers the log leaves alive (by all of them when it
    # leaves none: then the run must end early, in an error), after the last fault, with slack.
    bound = deadline or (p.work * p.shards / (p.survivors or p.workers) + max((f.at for f in p.faults), default=0)
                         + sum(f.restart_after + f.seconds for f in p.faults) + 30.0
                         + (90.0 if backend == "ray" else 0.0))  # fmt: skip
    counts = _LogCounter()
    engine = RAY_ENGINE if backend == "ray" else ENGINE
    ctx = ZephyrContext(backend=engine_backend, max_workers=p.workers, name=name, **engine)
    player = _Player(ctx, p)
    ctx.hooks["on_attempt"] = player.on_attempt
    ctx.hooks["status_fault"] = player.stalls
    box: dict = {}

    def execute():
        try:
            box["result"] = ctx.execute(ds).results
        except BaseException as e:  # reported below; a replay never raises the engine's error
            box["error"] = e
        box["t"] = time.monotonic()

    counts.attach()
    started = time.monotonic()
    player.start(started)
    thread = threading.Thread(target=execute, name="replay-execute", daemon=True)
    try:
        thread.start()
        thread.join(bound)
    finally:
        player.stop()
        counts.detach()
    seconds = (box.get("t") or time.monotonic()) - started
    hung = thread.is_alive()
    for cleanup in (ctx.shutdown, engine_backend.shutdown):
        with contextlib.suppress(Exception):  # a failed cleanup must not hide the outcome
            cleanup()
    return _judge(p, player, box, want, seconds, hung, bound, counts.counts, engine)


HOOKS = ("create_actor", "kill_actor", "state", "names", "pause_heartbeats", "shutdown")


def _backend(kind: str):
    from zephyr_engine.backends.local import LocalBackend

    if kind == "local":
        return LocalBackend()
    try:
        from zephyr_engine.backends import ray as ray_backend  # built beside this command
    except ImportError:
        raise ReplayError(
            "the Ray backend is not part of this build (zephyr_engine.backends.ray); use --backend local"
        ) from None
    cls = getattr(ray_backend, "RayBackend", None)
    missing = [h for h in HOOKS if cls is None or not hasattr(cls, h)]
    if missing:
        raise ReplayError(
            f"the Ray backend lacks the fault hooks a replay needs: {', '.join(missing)}"
        )
    # A private local instance unless RAY_ADDRESS names a cluster; small CPU requests, so a
    # replay's workers fit on a small machine.
    accepted = inspect.signature(cls).parameters
    wanted = {
        "worker_cpus": 0.1,
        "init_options": {"log_to_driver": False},
    }  # the replay prints its own
    options = {k: v for k, v in wanted.items() if k in accepted}
    try:
        return cls(**options)
    except Exception as e:  # noqa: BLE001 - Ray raises plain Exceptions on a failed start
        text = str(e).strip().splitlines()
        raise BackendStartError(
            f"the Ray backend did not start: {text[0] if text else type(e).__name__}"
        ) from None


def _judge(p, player, box, want, seconds, hung, bound, counts, engine=ENGINE) -> Outcome:
    violations = []
    names = player.names_by_attempt
    seen: dict[str, int] = {}
    fresh = True
    for attempt, group in names.items():
        for n in group:
            if seen.setdefault(n, attempt) != attempt:
                fresh = False
    held = {f.name for f in p.faults if f.kind == "hold_name"} - getattr(
        player, "held_skipped", set()
    )
    if any(n in held for g in names.values() for n in g):
        fresh = False
    if not fresh:
        violations.append("an actor name was used by two attempts (or the held upstream name)")
    if hung:
        result, detail = "hang", f"no result after {bound:.0f}s"
        violations.append(f"hang: the pipeline neither finished nor failed within {bound:.0f}s")
    elif "error" in box:
        e = box["error"]
        result, detail = type(e).__name__, str(e).split("\n")[0][:300]
        if not isinstance(e, ZephyrError):
            violations.append(f"untyped error {type(e).__name__}")
        if isinstance(e, NoAliveWorkersError):
            after = box["t"] - player.all_dead_at if player.all_dead_at else None
            limit = engine["heartbeat_timeout"] + engine["no_workers_timeout"] + 5.0
            if after is None:
                violations.append("NoAliveWorkersError although workers were left alive")
            elif after > limit:
                violations.append(
                    f"NoAliveWorkersError {after:.1f}s after the last death (bound {limit:.0f}s)"
                )
            detail = (
                f"{after:.1f}s after the last worker died (no_workers_timeout {engine['no_workers_timeout']}s)"
                if after is not None
                else detail
            )
    elif box.get("result") == want:
        result, detail = "exact output", f"{len(want)} rows equal the fault-free answer"
    else:
        result, detail = "wrong output", "the output differs from the fault-free answer"
        violations.append("output differs from the fault-free answer")
    return Outcome(not violations, result, detail, seconds, len(names), fresh, player.steps,
                   violations, counts)  # fmt: skip


class _Player:
    """Applies the plan's faults at their times to whatever attempt the engine is running."""

    def __init__(self, ctx: ZephyrContext, p: Plan):
        self.ctx, self.p = ctx, p
        self.backend = ctx.backend
        self.lock = threading.Lock()
        self.attempt: tuple[int, int] | None = None
        self.attempt_started = threading.Event()
        self.names_by_attempt: dict[int, list[str]] = {}
        self.steps: list[Step] = []
        self.stop_event = threading.Event()
        self.stalls = _Stalls()
        self.held_skipped: set[str] = set()
        self.all_dead_at: float | None = None
        self.t0 = 0.0
        self.thread: threading.Thread | None = None

    def on_attempt(self, ctx, pipeline, attempt):
        names = [zl.coordinator_name(ctx.name, pipeline, attempt)] + [
            zl.worker_name(ctx.name, j, pipeline, attempt) for j in range(self.p.workers)
        ]
        with self.lock:
            self.attempt = (pipeline, attempt)
            self.names_by_attempt[attempt] = names
            if attempt > 0:
                self.steps.append(
                    Step(self.now(), "", f"attempt {attempt} under fresh names ({names[0]})")
                )
        self.attempt_started.set()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def start(self, t0: float) -> None:
        self.t0 = t0
        self.stalls.t0 = time.time()
        for f in self.p.faults:
            if f.kind == "hold_name" and f.name.startswith(f"zephyr-{self.ctx.name}-p"):
                # A log of this engine: the name is one of its own per-attempt names, which a
                # retry never reuses; holding it would only test the first attempt's collision.
                self.steps.append(
                    Step(0.0, f.label, f"{f.name} is a per-attempt name of this engine: not held")
                )
                self.held_skipped.add(f.name)
            elif f.kind == "hold_name":
                self.backend.create_actor(_Held, f.name, max_restarts=-1)
                self.steps.append(
                    Step(0.0, f.label, f"{f.name} held; the engine never asks for it")
                )
            elif f.kind == "status_stall":
                self.stalls.windows.append((f.at, f.at + f.seconds))
        self.thread = threading.Thread(target=self._play, name="replay-faults", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread:
            self.thread.join(5)

    def _play(self) -> None:
        # The log's clock starts when the first attempt's workers are up (on Ray that takes
        # seconds: actors are processes); the faults keep their spacing from there.
        if not self.attempt_started.wait(60) or not self._workers_up(60):
            return
        self.t0 = time.monotonic()
        self.stalls.t0 = time.time()
        for f in self.p.faults:
            if f.kind == "hold_name":
                continue
            if self.stop_event.wait(max(0.0, f.at - self.now())):
                return
            if f.kind == "kill_coordinator":
                self._kill_coordinator(f)
            elif f.kind in ("kill_workers", "oom_kill"):
                self._kill_workers(f)
            elif f.kind == "silence":
                self._silence(f)
            elif f.kind == "status_stall":
                self.steps.append(
                    Step(
                        self.now(),
                        f.label,
                        f"status line fails for {f.seconds:.1f}s; the loop goes on",
                    )
                )

    def _workers_up(self, seconds: float) -> bool:
        with self.lock:
            pipeline, attempt = self.attempt
        names = [zl.worker_name(self.ctx.name, j, pipeline, attempt) for j in range(self.p.workers)]
        give_up = time.monotonic() + seconds
        while not self.stop_event.is_set() and time.monotonic() < give_up:
            if all(self.backend.state(n) == "alive" for n in names):
                return True
            time.sleep(0.05)
        return not self.stop_event.is_set()

    def _kill_coordinator(self, f: Fault) -> None:
        # Between attempts the coordinator is already gone: the loss hits the next attempt's.
        give_up = time.monotonic() + 5
        while time.monotonic() < give_up and not self.stop_event.is_set():
            with self.lock:
                pipeline, attempt = self.attempt
            name = zl.coordinator_name(self.ctx.name, pipeline, attempt)
            if self.backend.state(name) == "alive":
                self.backend.kill_actor(name, restart=True)  # as a preemption; it has no restarts
                self.steps.append(
                    Step(
                        self.now(),
                        f.label,
                        f"coordinator of attempt {attempt} lost: the attempt fails",
                    )
                )
                return
            time.sleep(0.02)
        self.steps.append(Step(self.now(), f.label, "no coordinator alive to lose"))

    def _silence(self, f: Fault) -> None:
        with self.lock:
            pipeline, attempt = self.attempt
        for j in f.restart:
            name = zl.worker_name(self.ctx.name, j, pipeline, attempt)
            with contextlib.suppress(ValueError):  # not created (yet)
                self.backend.pause_heartbeats(name, f.seconds)
        self.steps.append(
            Step(
                self.now(),
                f.label,
                f"heartbeats of {len(f.restart)} workers paused {f.seconds:.1f}s; they keep working",
            )
        )

    def _kill_workers(self, f: Fault) -> None:
        with self.lock:
            pipeline, attempt = self.attempt
        if f.kind == "oom_kill":  # the memory monitor kills a running worker: pick one alive
            alive = [j for j in range(self.p.workers)
                     if self.backend.state(zl.worker_name(self.ctx.name, j, pipeline, attempt)) == "alive"]  # fmt: skip
            f = Fault(f.at, f.kind, f.label, restart=alive[:1], restart_after=f.restart_after)
        killed = 0
        for j in f.kill + f.restart:
            name = zl.worker_name(self.ctx.name, j, pipeline, attempt)
            state = self.backend.state(name)
            if j in f.kill and state in ("alive", "pending", "restarting"):
                killed += 1  # a worker still coming back from an earlier wave dies too
                self.backend.kill_actor(name, restart=False)
            elif state in ("alive", "pending"):
                killed += 1
                self.backend.kill_actor(name, restart=True, delay=f.restart_after)
        prefix = zl.worker_name(self.ctx.name, 0, pipeline, attempt)[:-1]
        alive = len([n for n in self.backend.names(prefix) if self.backend.state(n) == "alive"])
        restarting = len(
            [n for n in self.backend.names(prefix) if self.backend.state(n) == "restarting"]
        )
        if alive == 0 and restarting == 0:
            self.all_dead_at = time.monotonic()
        did = f"{killed} of {self.p.workers} workers killed"
        if f.restart:
            did += f", {len(f.restart)} restart after {f.restart_after:.2f}s"
        did += f" → {alive} alive"
        self.steps.append(Step(self.now(), f.label, did))


@dataclass
class _Stalls:
    """The coordinator's status step fails inside these windows (replay seconds). Plain data and
    wall-clock time, so it travels to a coordinator in another process (the Ray backend)."""

    t0: float = 0.0
    windows: list[tuple[float, float]] = field(default_factory=list)

    def __call__(self, coordinator) -> None:
        now = time.time() - self.t0
        if any(a <= now <= b for a, b in self.windows):
            raise RuntimeError("status line stalled (replayed from the log)")


class _Held:
    """Stands for the actor that holds the name upstream's retry would reuse."""


class _LogCounter(logging.Handler):
    """Counts the engine's own log messages during the replay (re-queues, heartbeat timeouts)."""

    KEYS = {
        "re-queued": ("re-queuing", "re-queueing"),
        "heartbeat timeouts": ("failed to heartbeat",),
        "registrations": ("registered, total",),
        "re-registrations": ("re-registering",),
        "status failures": ("status line failed",),
    }

    def __init__(self):
        super().__init__(logging.INFO)
        self.counts = dict.fromkeys(self.KEYS, 0)
        self.logger = logging.getLogger("zephyr")
        self.level_before = self.logger.level

    def emit(self, record):
        msg = record.getMessage()
        for key, needles in self.KEYS.items():
            if any(n in msg for n in needles):
                self.counts[key] += 1

    def attach(self):
        self.logger.addHandler(self)
        if self.logger.getEffectiveLevel() > logging.INFO:
            self.logger.setLevel(logging.INFO)

    def detach(self):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level_before)


# --- what to print ----------------------------------------------------------------------------


def log_story(s: Schedule) -> list[str]:
    """What the log shows happened, one phrase per event, in time order."""
    t0 = datetime.fromisoformat(s.start.replace("Z", "+00:00"))

    def clock(at: float) -> str:
        return (t0 + timedelta(seconds=at)).astimezone(UTC).strftime("%H:%M:%S")

    events: list[tuple[float, str]] = []
    for k, a in enumerate(s.attempts):
        if a.cause:
            why = (
                f"name collision on {a.collided}"
                if a.cause == "name_collision"
                else a.cause.replace("_", " ")
            )
            # The last attempt ends after its last status line, not at its start.
            last = max(a.at, s.last_status.at) if s.last_status else a.at
            end = s.attempts[k + 1].at if k + 1 < len(s.attempts) else last
            events.append((end, f"attempt {k} failed: {why}"))
    events += [(r, "coordinator restarted") for r in s.coordinator_restarts]
    events += [(r, "coordinator lost") for r in s.coordinator_losses]
    for i, w in enumerate(s.waves):
        nodes = f"{_n(w.nodes, 'node')}, " if w.nodes else ""
        back = f", {w.returned} back" if w.returned else ", nobody came back"
        events.append(
            (
                _died(w),
                f"{w.kind.replace('_', ' ')} {i + 1} ({nodes}{_n(w.killed, 'worker')}{back})",
            )
        )
    events += [(o.at, f"OOM kill on {o.node_ip or 'a node'}") for o in s.oom_kills]
    events += [(x.at, f"status stalled {x.seconds:.0f}s") for x in s.status_stalls]
    events += [(c.at, f"name collision on {c.name}") for c in s.collisions]
    lines = [f"{clock(at)} {what}" for at, what in sorted(events, key=lambda e: e[0])]
    tail = []
    ls = s.last_status
    if s.all_dead_since is not None and ls is not None:
        waited = ls.at - s.all_dead_since
        span = f"{waited:.0f} s" if waited < 60 else f"{waited / 60:.0f} min"
        tail.append(
            f"coordinator waited {span} at 0/{ls.alive + ls.dead if ls.dead is not None else s.workers} alive"
        )
    if s.outcome == "failed":
        tail.append(f"failed after {_n(len(s.attempts), 'attempt')}")
    elif s.outcome == "completed":
        tail.append("completed")
    else:
        tail.append("no end in the log")
    return lines + ["→ " + " → ".join(tail)]


def render(s: Schedule, p: Plan, o: Outcome | None) -> str:
    """The side-by-side text: what the log shows, what the engine did, and the verdict."""
    out = [
        f"replay: {s.pipeline} · {s.workers or '?'} workers → {p.workers} · {p.log_shards or '?'} shards → {p.shards}"
        f" · log time ×{p.time_scale:.4g} (last fault at {max((f.at for f in p.faults), default=0):.1f}s)"
    ]
    story = log_story(s)
    out.append("log:    " + (story[0] if story else "no faults"))
    out += ["        " + line for line in story[1:]]
    if o is None:
        return "\n".join(out)
    steps = sorted(o.steps, key=lambda x: x.at)
    first = True
    for st in steps:
        label = f"{st.label} → " if st.label else ""
        out.append(("engine: " if first else "        ") + f"+{st.at:5.2f}s {label}{st.did}")
        first = False
    if first:
        out.append("engine: no faults to play")
    counts = ", ".join(f"{v} {k}" for k, v in o.engine_log.items() if v)
    out.append(
        f"        → {o.result}: {o.detail} ({o.attempts} attempt{'s' if o.attempts != 1 else ''}, {o.seconds:.1f}s total{'; ' + counts if counts else ''})"
    )
    verdict = "ok" if o.ok else "VIOLATED"
    why = (
        "no hang, "
        + ("exact output" if o.result == "exact output" else "typed error")
        + ", fresh names"
    )
    out.append(
        f"result: {verdict} — "
        + (why if o.ok else "; ".join(o.violations))
        + f" (the guarantees call for {p.expect})"
    )
    return "\n".join(out)


def pick(schedules: dict[str, Schedule], pipeline: str | None) -> Schedule:
    """The named pipeline, or the one the log shows in the worst state (all dead, most faults).
    A zephyr pipeline that shows any fault comes before the ``(cluster)`` schedule, which holds
    Ray's own view of faults (actor restarts, a node drained at shutdown) no pipeline owns."""
    if not schedules:
        raise ReplayError("no pipeline and no fault in these logs: nothing to replay")
    if pipeline is not None:
        if pipeline not in schedules:
            raise ReplayError(f"no pipeline {pipeline!r}; known: {', '.join(schedules)}")
        return schedules[pipeline]
    return max(
        schedules.values(),
        key=lambda s: (
            s.pipeline != CLUSTER
            and bool(s.faults() or s.all_dead_since is not None or s.outcome == "failed"),
            s.all_dead_since is not None,
            s.outcome == "failed",
            len(s.faults()),
        ),
    )


def save_outcome(doc: dict, folder: Path) -> Path:
    """Write ``replay.json`` into the ingest output ``folder`` (the report shows it)."""
    path = folder / "replay.json"
    tmp = folder / ".replay.json.tmp"
    tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def as_dict(s: Schedule, p: Plan, o: Outcome | None) -> dict:
    return {
        "pipeline": s.pipeline,
        "schedule": s.to_dict(),
        "log": log_story(s),
        "plan": asdict(p),
        "engine": None if o is None else asdict(o),
        "ok": None if o is None else o.ok,
    }
