"""The synth's story: the incident told pipeline by pipeline, as fault schedules and as log text.

The story is the incident of shared/incident.md: several tokenization pipelines run one after the
other on a preemptible Ray cluster; the last one registers its whole worker pool, loses it to two
preemption waves and sits at ``0/N workers alive, N dead`` until the log ends. Around it: startup
heartbeat storms, re-registrations, a coordinator restart and the retry that collides with its
name, a pipeline that exhausts its retries, OOM kills, TPU VFIO errors, ray#53727 warnings,
infeasible requests, ``Delete runtime env failed`` floods and ordinary progress noise.

Each pipeline's story is kept as a ``zephyr_logscan.schedule.Schedule`` (``Told``) while it is
rendered into text with the wordings of ``synth_text`` through the writer of ``synth_writer``.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from zephyr_engine import logs as zl
from zephyr_logscan import synth_text as tx
from zephyr_logscan.schedule import (
    Attempt,
    OomKill,
    Registered,
    Schedule,
    Stage,
    Status,
    Wave,
    kill_kind,
)
from zephyr_logscan.synth_writer import UNMATCHED, LogWriter

START = datetime(2026, 2, 20, 21, 39, 0, tzinfo=UTC).timestamp()
END = datetime(2026, 2, 21, 14, 20, 28, tzinfo=UTC).timestamp()
WAVE1 = datetime(2026, 2, 21, 12, 54, 54, tzinfo=UTC).timestamp()
WAVE2 = datetime(2026, 2, 21, 12, 57, 19, tzinfo=UTC).timestamp()
INCIDENT_START = datetime(2026, 2, 21, 11, 40, 0, tzinfo=UTC).timestamp()
TICK = 5.0  # the coordinator status interval
HEAD_IP = "10.128.0.2"
VFIO_IP = "10.128.0.58"
STEPS = ["hq_actual", "medium_high", "medium", "low_actual", "diverse_qa", "wrap_med", "hq_synth"]
INCIDENT_NAME = "tokenize-train-b160eb54"
# Reference figures of the real log at 1,024 workers; the synth scales them with --workers.
HEARTBEAT_FAILURES_AT_1024 = 12_732
REREGISTRATIONS_AT_1024 = 1_618
VFIO_RECORDS = 187  # 4 lines each: the real log's 748 VFIO lines from one node

# Columns whose distinct non-null values the truth file states, per table.
PIPELINE_NAME = re.compile(r"zephyr-(.+?)(?:-p\d+)?(?:-a\d+)?-(?:coord|workers)-\d+")


@dataclass(frozen=True)
class SynthConfig:
    seed: int = 7
    size: int = 100_000_000
    workers: int = 1024
    pipelines: int = 8
    clean: bool = False

    def __post_init__(self):
        if self.workers < 4:
            raise ValueError("--workers must be at least 4")
        if not 1 <= self.pipelines <= 64:
            raise ValueError("--pipelines must be between 1 and 64")
        if self.size < 200_000:
            raise ValueError("--size must be at least 200KB (the story alone needs that)")


@dataclass
class Node:
    ip: str
    node_id: str


class Pool:
    """The pipeline's workers: which are alive and where they run."""

    def __init__(self, name: str, size: int, nodes: list[Node], next_pid: Callable[[], int]):
        self.name = name
        self.size = size
        self.nodes = nodes
        self.next_pid = next_pid
        self.ids = [zl.worker_name(name, i) for i in range(size)]
        self.node_of = [i * len(nodes) // size for i in range(size)]
        self.pid = [next_pid() for _ in range(size)]
        self.alive = [True] * size

    def proc(self, i: int) -> tuple[int, str]:
        return self.pid[i], self.nodes[self.node_of[i]].ip

    def n_alive(self) -> int:
        return sum(self.alive)


class Told:
    """One pipeline's story as a fault schedule (``zephyr_logscan.schedule``), kept as it is told.

    Times are recorded as the log shows them (absolute, truncated to the millisecond) and made
    relative to the first start record at the end; ``derive`` must find the same schedule.
    """

    def __init__(self, out: LogWriter, name: str, workers: int, shards: int):
        self.out = out
        self.s = Schedule(pipeline=name, start="", workers=workers, shards=shards)
        self.t0: float | None = None
        self.pending = False  # an attempt opened by a retry record, its start line not yet seen
        self.statuses: list[tuple[float, int | None]] = []  # (t, alive) of every status line
        self.wave_ends: list[float] = []  # each wave's last heartbeat failure

    def started(self, t: float) -> None:
        t = self.out.shown(t)
        if self.t0 is None:
            self.t0 = t
        if self.pending:
            self.s.attempts[-1].at, self.pending = t, False
        else:
            self.s.attempts.append(Attempt(t))

    def failed(self, t: float, cause: str, collided: str | None = None) -> None:
        last = self.s.attempts[-1]
        last.cause, last.collided = cause, collided
        self.s.attempts.append(Attempt(self.out.shown(t)))
        self.pending = True

    def final(self, cause: str) -> None:
        self.s.attempts[-1].cause = cause
        self.s.outcome = "failed"

    def registered(self, t: float) -> None:
        t = self.out.shown(t)
        r = self.s.registered
        if r is None:
            self.s.registered = Registered(1, t, t)
        else:
            r.count, r.last = r.count + 1, t

    def wave(self, wave: Wave, end: float) -> None:
        wave.at = self.out.shown(wave.at)
        self.wave_ends.append(self.out.shown(end))
        if wave.returned_at is not None:
            wave.returned_at = self.out.shown(wave.returned_at)
        self.s.waves.append(wave)

    def status(self, t, done, total, alive, dead) -> None:
        t = self.out.shown(t)
        self.statuses.append((t, alive))
        self.s.last_status = Status(t, done, total, alive, dead)
        if alive != 0:
            self.s.all_dead_since = None
        elif self.s.all_dead_since is None:
            self.s.all_dead_since = t

    def schedule(self, oom_kills) -> Schedule:
        """The finished schedule, its times relative to the first start record."""
        s, t0 = self.s, self.t0 or 0.0
        s.start = (
            datetime.fromtimestamp(t0, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        s.stages = [Stage(x.name, x.tasks, x.at - t0) for x in s.stages]
        if s.registered:
            s.registered = Registered(
                s.registered.count, s.registered.first - t0, s.registered.last - t0
            )
        for a in s.attempts:
            a.at -= t0
        s.coordinator_restarts = [x - t0 for x in s.coordinator_restarts]
        for w, end in zip(s.waves, self.wave_ends, strict=True):
            if w.kind != "node_loss":  # as the log shows it: were they still counted alive?
                w.kind = kill_kind(self.statuses, w.at, end, s.workers)
        for w in s.waves:
            w.at -= t0
            w.nodes_at = None if w.nodes_at is None else w.nodes_at - t0
            w.returned_at = None if w.returned_at is None else w.returned_at - t0
        s.waves.sort(key=lambda w: w.at)
        s.oom_kills = [
            OomKill(self.out.shown(t) - t0, ip) for t, name, ip in oom_kills if name == s.pipeline
        ]
        if s.last_status:
            s.last_status.at -= t0
        if s.all_dead_since is not None:
            s.all_dead_since -= t0
        return s


class Story:
    """Writes the whole log in time order: specials from a heap, ordinary noise by budget."""

    def __init__(self, cfg: SynthConfig, out: LogWriter):
        self.cfg = cfg
        self.out = out
        self.rng = random.Random(cfg.seed)
        self.specials: list = []  # heap of (t, seq, fn)
        self.seq = 0
        self._pid = 20_000
        self.colour = True
        self.nodes_used = 0
        self.pools: list[Pool] = []
        self.current: dict | None = None  # the running pipeline's live state
        self.told: list[Told] = []  # every pipeline's story as a fault schedule

    # --- helpers ---------------------------------------------------------------------------------

    def next_pid(self) -> int:
        self._pid += self.rng.randint(1, 40)
        return self._pid

    def at(self, t: float, fn: Callable[[float], None]):
        self.seq += 1
        heapq.heappush(self.specials, (t, self.seq, fn))

    def prefix(self, name: str | None, pid, ip: str | None) -> str:
        inner = f"{name + ' ' if name else ''}pid={pid}{f', ip={ip}' if ip else ''}"
        return f"{tx.CYAN}({inner}){tx.RESET} " if self.colour else f"({inner}) "

    def raylet(self, ip: str | None = None) -> str:
        inner = f"raylet, ip={ip}" if ip else "raylet"
        return f"{tx.YELLOW}({inner}){tx.RESET} " if self.colour else f"({inner}) "

    def actor(self, proc: tuple[int, str]) -> str:
        pid, ip = proc
        return self.prefix("_RayActorHost", pid, None if ip == HEAD_IP else ip)

    def actor_log(self, t, proc, level, lineno, msg, tables=(), **kw):
        """One zephyr logging line forwarded from an actor process (coordinator or worker)."""
        line = self.actor(proc) + tx.zephyr_line(self.out.ts(t), level, lineno, msg)
        self.out.record(t, [line], tables, proc=proc, **kw)

    def heartbeat_failure(self, t, st, i, silence, **kw):
        wid = st["pool"].ids[i]
        msg = zl.HEARTBEAT_TIMEOUT % (wid, silence)
        self.actor_log(t, st["coord"], "WARNING", 402, msg, ("heartbeat_failures",),
                       names=st["name"], values={"worker_id": wid}, **kw)  # fmt: skip

    def new_nodes(self, n: int) -> list[Node]:
        nodes = []
        for _ in range(n):
            k = self.nodes_used
            self.nodes_used += 1
            ip = f"10.128.{k // 200}.{10 + k % 200}"
            if ip in (HEAD_IP, VFIO_IP):
                ip = f"10.129.{k // 200}.{10 + k % 200}"
            nodes.append(Node(ip, tx.hexid(self.rng, 56)))
        return nodes

    # --- the run ---------------------------------------------------------------------------------

    def run(self):
        cfg, rng = self.cfg, self.rng
        names = [
            f"tokenize-{STEPS[i % len(STEPS)]}-{tx.hexid(rng, 8)}" for i in range(cfg.pipelines - 1)
        ]
        names.append(INCIDENT_NAME)
        slots = self.schedule(len(names))
        sizes = [cfg.workers if i == len(names) - 1 else max(4, cfg.workers >> rng.randint(0, 2))
                 for i in range(len(names))]  # fmt: skip
        storms = self.storm_plan(sizes)
        for i, (name, (t0, t1)) in enumerate(zip(names, slots, strict=True)):
            kind = "healthy"
            if not cfg.clean and i == len(names) - 1:
                kind = "incident"
            elif not cfg.clean and len(names) >= 3 and i == len(names) - 2:
                kind = "exhausted"
            self.plan_pipeline(i, name, kind, t0, t1, sizes[i], storms[i])
        self.plan_background()
        self.play()

    def schedule(self, n: int) -> list[tuple[float, float]]:
        """Consecutive slots; the incident pipeline takes the end of the log."""
        if n == 1:
            return [(INCIDENT_START, END)]
        span = (INCIDENT_START - 120 - START) / (n - 1)
        return [(START + 60 + k * span, START + (k + 1) * span - 60) for k in range(n - 1)] + [
            (INCIDENT_START, END)
        ]

    def storm_plan(self, sizes: list[int]) -> list[list[tuple[int, int]]]:
        """Split the scaled heartbeat-failure and re-registration totals over startup storms.

        Returns, per pipeline, a list of (failures, re-registrations) storms, each storm at most
        the pool's size. The incident's two waves account for their own share.
        """
        plan: list[list[tuple[int, int]]] = [[] for _ in sizes]
        if self.cfg.clean:
            return plan
        w = self.cfg.workers
        hb_total = round(HEARTBEAT_FAILURES_AT_1024 * w / 1024)
        rr_total = round(REREGISTRATIONS_AT_1024 * w / 1024)
        wave1, back = self.wave_sizes(sizes[-1])
        wave_hb = wave1 + (sizes[-1] - wave1 + back)
        zombies = 1 if len(sizes) >= 2 else 0  # one planted zombie worker in the first pipeline
        hb_left, rr_left = max(0, hb_total - wave_hb - zombies), max(0, rr_total - back)
        k = 0
        while hb_left > 0:
            i = k % len(sizes)
            k += 1
            fails = min(hb_left, max(1, int(sizes[i] * self.rng.uniform(0.45, 0.9))))
            hb_left -= fails
            plan[i].append([fails, 0])
        storms = [s for p in plan for s in p]
        total_fails = sum(s[0] for s in storms)
        for s in storms:  # re-registrations in proportion to each storm's failures
            s[1] = min(s[0], rr_left * s[0] // max(1, total_fails))
        short = rr_left - sum(s[1] for s in storms)
        for s in storms:
            if short <= 0:
                break
            extra = min(short, s[0] - s[1])
            s[1] += extra
            short -= extra
        return [[tuple(s) for s in p] for p in plan]

    def wave_sizes(self, pool: int) -> tuple[int, int]:
        """Workers killed by the first wave (about 62%) and how many of them come back."""
        killed = round(pool * 638 / 1024)
        return killed, round(killed * 55 / 638)

    # --- one pipeline ----------------------------------------------------------------------------

    def plan_pipeline(self, index, name, kind, t0, t1, size, storms):
        rng = self.rng
        nodes = self.new_nodes(max(1, math.ceil(size / 16)))
        pool = Pool(name, size, nodes, self.next_pid)
        total = size * rng.choice((4, 6, 8))
        wording = "old" if index < 2 else ("exec" if index % 3 == 2 else "new")
        state = {
            "name": name, "pool": pool, "total": total, "completed": 0, "t0": t0, "t1": t1,
            "stage": "stage0-Map \u2192 Write", "exec_id": tx.hexid(rng, 12), "wording": wording,
            "coord": (self.next_pid(), HEAD_IP), "running": False, "frozen": False,
            "kind": kind, "index": index, "told": Told(self.out, name, size, total),
        }  # fmt: skip
        self.told.append(state["told"])
        self.at(t0, lambda t: self.begin(t, state))
        attempt = 0
        if kind == "incident":
            attempt = self.plan_failed_attempts(state, t0)
            state["coord"] = (self.next_pid(), HEAD_IP)
        start = t0 + 5 + 40 * attempt
        self.at(start, lambda t: self.start_attempt(t, state, attempt))
        reg_end = start + 10 + min(60.0, size * 0.05)
        for i in range(size):
            self.at(
                start + 10 + (reg_end - start - 10) * i / size,
                lambda t, i=i: self.register(t, state, i),
            )
        self.at(reg_end + 1, lambda t: self.start_stage(t, state))
        horizon = (WAVE1 - 120 if kind == "incident" else t1) - reg_end
        for k, (fails, back) in enumerate(storms):
            ts = reg_end + 2 + k * horizon / max(1, len(storms)) * 0.8
            self.at(ts, lambda t, f=fails, b=back, k=k: self.storm(t, state, f, b, k))
        if kind == "incident":
            self.at(WAVE1, lambda t: self.wave(t, state, first=True))
            self.at(WAVE2, lambda t: self.wave(t, state, first=False))
        elif kind == "exhausted":
            self.at(start + 2, lambda t: self.infeasible(t, state))  # before any worker registers
            self.at(start + (t1 - start) * 0.6, lambda t: self.exhaust(t, state))
        else:
            if index == 0 and not self.cfg.clean:
                self.at(reg_end + (t1 - reg_end) * 0.5, lambda t: self.zombie(t, state))
            self.at(t1 - 30, lambda t: self.finish(t, state))
        self.pools.append(pool)

    def zombie(self, t, st):
        """One worker's poll loop dies on a pull_task error; 30 s later it misses its heartbeats."""
        pool = st["pool"]
        i = next((k for k in range(pool.size) if pool.alive[k]), 0)
        wid, proc = pool.ids[i], pool.proc(i)
        about = (st["name"], "zombie")
        msg = zl.PULL_TASK_FAILED % (wid, "RpcError: RPC error: Deadline Exceeded rpc_code: 4")
        self.actor_log(
            t, proc, "INFO", 571, msg, (), names=st["name"], patterns=("ZL06",), about=about
        )
        self.at(
            t + 30.4,
            lambda tt: self.heartbeat_failure(tt, st, i, 30.4, patterns=("ZL06",), about=about),
        )
        st["told"].wave(Wave(t + 30.4, "process_kill", 1, [i]), t + 30.4)

    def begin(self, t, st):
        self.current = st
        self.colour = st["index"] % 4 != 3  # one pipeline in four ran with RAY_COLOR_PREFIX=0

    def plan_failed_attempts(self, st, t0) -> int:
        """The incident's first attempts: a restarted coordinator, then the name collision."""
        name = st["name"]
        coord = zl.coordinator_name(name)
        old = st["coord"]
        actor_id = tx.hexid(self.rng, 24) + "01000000"

        def restarted(t):
            out = self.out
            out.record(
                t,
                [py_line_start(out.ts(t), name, 0, st["index"])],
                ("pipeline_attempts",),
                names=name,
            )
            st["told"].started(t)
            self.actor_log(t + 1, old, "INFO", 233, zl.COORDINATOR_INITIALIZED)
            new = (self.next_pid(), HEAD_IP)
            out.record(
                t + 20,
                [
                    self.raylet()
                    + tx.worker_died(
                        self.rng, self.pools[-1].nodes[0].node_id, HEAD_IP, old[0], lease=False
                    )
                ],
                ("actor_deaths",),
            )
            self.actor_log(t + 22, new, "INFO", 233, zl.COORDINATOR_INITIALIZED,
                           patterns=("ZL03",), about=(name, 0))  # fmt: skip
            st["told"].s.coordinator_restarts.append(out.shown(t + 22))
            msg = zl.PIPELINE_RETRY % (1, 3, tx.actor_unavailable(actor_id))
            out.record(
                t + 25,
                [tx.py_line(out.ts(t + 25), "WARNING", "execution.py:1143", msg)],
                ("pipeline_attempts", "actor_deaths"),
                patterns=("ZL03",),
            )
            st["told"].failed(t + 25, "coordinator_lost")

        def collided(t):
            out = self.out
            out.record(
                t,
                [tx.py_line(out.ts(t), "INFO", "execution.py:1121", zl.PIPELINE_START % (name, 1))],
                ("pipeline_attempts",),
                names=name,
            )
            st["told"].started(t)
            msg = zl.PIPELINE_RETRY % (2, 3, tx.name_taken(coord))
            out.record(t + 1, [tx.py_line(out.ts(t + 1), "WARNING", "execution.py:1143", msg)], ("pipeline_attempts", "actor_already_exists"),
                       names=name, values={"actor_name": coord}, patterns=("ZL02",))  # fmt: skip
            st["told"].failed(t + 1, "name_collision", coord)

        self.at(t0 + 1, restarted)
        self.at(t0 + 40, collided)
        return 2

    def start_attempt(self, t, st, attempt):
        out, name, coord = self.out, st["name"], st["coord"]
        if st["kind"] != "incident" and st["kind"] != "exhausted" or attempt == 0:
            out.record(
                t,
                [py_line_start(out.ts(t), name, attempt, st["index"])],
                ("pipeline_attempts",),
                names=name,
            )
        else:
            out.record(
                t,
                [
                    tx.py_line(
                        out.ts(t), "INFO", "execution.py:1121", zl.PIPELINE_START % (name, attempt)
                    )
                ],
                ("pipeline_attempts",),
                names=name,
            )
        st["told"].started(t)
        self.actor_log(t + 1, coord, "INFO", 233, zl.COORDINATOR_INITIALIZED)
        st["running"] = True
        if self.cfg.clean:  # a healthy engine passes small inline constructor arguments
            return
        w0 = st["pool"].ids[0]
        line = self.actor(coord) + tx.cpp_line(
            out.ts(t + 2),
            "E",
            coord[0],
            None,
            "core_worker.cc:2146",
            tx.object_store_args(w0, tx.hexid(self.rng, 32)),
        )
        out.record(
            t + 2,
            [line],
            ("warnings",),
            proc=coord,
            names=name,
            values={"code": "object_store_args"},
            patterns=("ZL09",),
        )

    def register(self, t, st, i):
        wid = st["pool"].ids[i]
        self.actor_log(t, st["coord"], "INFO", 287, zl.REGISTERED % (wid, i + 1), ("registrations",),
                       names=st["name"], values={"worker_id": wid})  # fmt: skip
        st["told"].registered(t)

    def start_stage(self, t, st):
        coord = st["coord"]
        fmt = zl.STARTING_STAGE_WITH_EXECUTION if st["wording"] == "exec" else zl.STARTING_STAGE
        args = (
            (st["exec_id"], st["stage"], st["total"])
            if st["wording"] == "exec"
            else (st["stage"], st["total"])
        )
        self.actor_log(
            t, coord, "INFO", 610, fmt % args, ("stage_progress",), values={"stage": st["stage"]}
        )
        st["stage_start"] = t
        st["told"].s.stages.append(Stage(st["stage"], st["total"], self.out.shown(t)))

    def storm(self, t, st, fails, back, episode):
        """Workers marked failed by the 30 s check right after registering; some re-register."""
        pool = st["pool"]
        chosen = self.rng.sample(range(pool.size), fails)
        patterns = ("ZL04",) if fails >= max(4, pool.size // 4) else ()
        for k, i in enumerate(chosen):
            silence = 30.0 + self.rng.random() * 2
            self.heartbeat_failure(
                t + k * 0.004, st, i, silence, patterns=patterns, about=(st["name"], episode)
            )
        self.at(t + 8, lambda t0: self.reregister(t0, st, chosen[:back], 0.01))
        st["told"].wave(Wave(t, "process_kill", fails, sorted(chosen), returned=back,
                             returned_workers=sorted(chosen[:back]), returned_at=t + 8 if back else None),
                         t + (fails - 1) * 0.004)  # fmt: skip

    def reregister(self, t, st, indices, step):
        pool = st["pool"]
        for k, i in enumerate(indices):
            fmt = zl.REREGISTERING if k % 5 else zl.REREGISTERING_SHORT
            self.actor_log(t + k * step, st["coord"], "INFO", 281, fmt % pool.ids[i], ("reregistrations",),
                           names=st["name"], values={"worker_id": pool.ids[i]})  # fmt: skip

    def wave(self, t, st, first):
        """A preemption wave: node-death banners (deduplicated by Ray), then heartbeat failures."""
        pool, coord, rng = st["pool"], st["coord"], self.rng
        killed_n, back_n = self.wave_sizes(pool.size)
        alive = [i for i in range(pool.size) if pool.alive[i]]
        victims = alive[:killed_n] if first else alive
        dead_nodes = sorted({pool.node_of[i] for i in victims})
        # Ray prints the first banner of each 5 s window and folds the rest into one repeated one.
        window: list[int] = []
        for k, n in enumerate(dead_nodes):
            window.append(n)
            if len(window) == 1:
                self.node_banner(t + k * 0.4, pool.nodes[n], 1)
            if len(window) == 8 or k == len(dead_nodes) - 1:
                if len(window) > 1:
                    self.node_banner(t + k * 0.4 + 0.1, pool.nodes[window[-1]], len(window) - 1)
                window = []
        span = len(dead_nodes) * 0.4

        def missed(t0):
            for i in victims:
                pool.alive[i] = False
            for k, i in enumerate(victims):
                self.heartbeat_failure(
                    t0 + k * 0.01, st, i, 30.0 + rng.random() * 3, patterns=("ZL07",)
                )

        self.at(t + span + 30, missed)
        back = victims[:back_n] if first else []
        st["told"].wave(Wave(t + span + 30, "node_loss", len(victims), sorted(victims), nodes=len(dead_nodes),
                             nodes_at=t, returned=len(back), returned_workers=sorted(back),
                             returned_at=t + span + 45 if back else None),
                         t + span + 30 + (len(victims) - 1) * 0.01)  # fmt: skip
        if first:
            back = victims[:back_n]

            def restarted(t0):
                for i in back:
                    pool.alive[i] = True
                    pool.pid[i] = self.next_pid()
                self.reregister(t0, st, back, 0.2)

            self.at(t + span + 45, restarted)
        else:
            st["frozen"] = True
            self.at(
                t + 20, lambda tt: self.actor_log(tt, coord, "WARNING", 655, zl.ALL_WORKERS_DEAD)
            )

    def node_banner(self, t, node: Node, repeat: int):
        lines = tx.node_dead_banner(node.node_id, node.ip)
        about = (self.current["name"], 0) if self.current else None
        lines[0] = self.raylet() + lines[0]
        if repeat > 1:
            lines[1] += self.out.dedup(repeat, self.colour)
        self.out.record(t, lines, ("node_deaths",), repeat=repeat,
                        values={"node_id": node.node_id, "node_ip": node.ip}, patterns=("ZL07",), about=about)  # fmt: skip

    def infeasible(self, t, st):
        for k, req in enumerate(
            ("{'TPU': 4.0, 'CPU': 8.0}", "{'TPU': 8.0}", "{'CPU': 240.0, 'TPU': 4.0}")
        ):
            text = tx.pending_request(req) if k < 2 else tx.infeasible_request(req)
            tt = t + k * 1.0
            line = f"({'autoscaler'} +{relative(tt)}) {text}"
            self.out.record(
                tt,
                [line],
                ("warnings",),
                values={"code": "infeasible_request"},
            )  # transient: the pipeline's workers register seconds later, so not ZL11

    def exhaust(self, t, st):
        """hq_synth: the coordinator is OOM-killed on the head node, attempt after attempt."""
        st["frozen"] = True
        head = Node(HEAD_IP, tx.hexid(self.rng, 56))
        for attempt in range(1, 5):
            self.at(
                t + (attempt - 1) * 90, lambda tt, a=attempt: self.failed_attempt(tt, st, head, a)
            )

    def failed_attempt(self, t, st, head: Node, attempt: int):
        out, name, rng = self.out, st["name"], self.rng
        coord = zl.coordinator_name(name)
        summary = self.raylet() + tx.cpp_line(
            out.ts(t),
            "E",
            1187,
            "raylet",
            "node_manager.cc:3041",
            tx.oom_summary(head.node_id, HEAD_IP, 1),
        )
        out.record(
            t,
            [summary],
            ("oom_kills",),
            values={"node_ip": HEAD_IP},
            patterns=("ZL08",),
            about=(name, 0),
        )
        out.record(t, [self.raylet()], UNMATCHED)
        out.record(t, [self.raylet() + tx.OOM_ADVICE], UNMATCHED)
        if attempt < 4:
            if attempt == 2:
                cause, tables, values = (
                    tx.name_taken(coord),
                    ("pipeline_attempts", "actor_already_exists"),
                    {"actor_name": coord},
                )
            else:
                cause = "ray.exceptions.OutOfMemoryError: Task was killed due to the node running low on memory."
                tables, values = ("pipeline_attempts", "oom_kills"), None
            msg = zl.PIPELINE_RETRY % (attempt, 3, cause)
            st["told"].failed(t + 5, "name_collision" if attempt == 2 else "oom",
                              coord if attempt == 2 else None)  # fmt: skip
            pats = ("ZL12", "ZL02") if attempt == 2 else ("ZL12",)
            out.record(
                t + 5,
                [tx.py_line(out.ts(t + 5), "WARNING", "execution.py:1143", msg)],
                tables,
                values=values,
                patterns=pats,
            )
            if attempt != 2:
                start = zl.PIPELINE_START % (name, attempt)
                out.record(
                    t + 40,
                    [tx.py_line(out.ts(t + 40), "INFO", "execution.py:1121", start)],
                    ("pipeline_attempts",),
                    names=name,
                )
                st["told"].started(t + 40)
            return
        pid = st["coord"][0]
        actor_id = tx.hexid(rng, 24) + "01000000"
        lines = traceback_record(
            tx.py_line(out.ts(t + 5), "ERROR", "executor.py:412", f"Step tokenize/{name} failed after 4 attempts"),
            [f"ray.exceptions.RayTaskError(ActorDiedError): ray::_RayActorHost._proxy_call() (pid={pid}, ip={HEAD_IP})",
             *tx.actor_died_block(actor_id, pid, coord, HEAD_IP, None)],
        )  # fmt: skip
        out.record(
            t + 5,
            lines,
            ("actor_deaths",),
            names=name,
            values={"actor_id": actor_id},
        )
        st["told"].final("coordinator_lost")
        st["running"] = False

    def finish(self, t, st):
        st["completed"] = st["total"]
        st["running"] = False
        out, pool = self.out, st["pool"]
        i = self.rng.randrange(pool.size)
        line = self.actor(pool.proc(i)) + tx.zephyr_line(
            out.ts(t), "INFO", 521, zl.RECEIVED_SHUTDOWN % pool.ids[i]
        )
        line += out.dedup(pool.size, self.colour)
        out.record(t, [line], (), repeat=pool.size, proc=pool.proc(i), names=st["name"])

    # --- things that are not tied to one pipeline -----------------------------------------------

    def plan_background(self):
        """OOM kills, VFIO errors, rare wordings: spread over the healthy part of the log."""
        rng = self.rng
        span = INCIDENT_START - START
        if self.cfg.clean:
            return
        vfio_t0 = START + span * 0.35
        for k in range(VFIO_RECORDS):
            self.at(vfio_t0 + k * 37.0, self.vfio)
        for k in range(6):
            self.at(START + span * (0.1 + 0.12 * k) + 13, self.oom)
        for k, fn in enumerate(self.rare_wordings()):
            self.at(START + span * (0.05 + 0.85 * k / 30) + rng.random() * 60, fn)

    def vfio(self, t):
        out, rng = self.out, self.rng
        proc = (self.next_pid(), VFIO_IP)
        st = self.current
        wid = (
            zl.worker_name(st["name"], rng.randrange(st["pool"].size))
            if st
            else "zephyr-unknown-workers-0"
        )
        pfx = self.actor(proc)
        body = tx.vfio_busy(0) if rng.random() < 0.9 else tx.tpu_in_use(rng.randint(1000, 9000))
        lines = [
            pfx
            + tx.zephyr_line(
                out.ts(t), "ERROR", 198, f"[{wid}] TPU initialization failed on this host"
            ),
            pfx + "Traceback (most recent call last):",
            pfx
            + '  File "/app/.venv/lib/python3.11/site-packages/jax/_src/xla_bridge.py", line 1012, in backends',
            pfx + body,
        ]
        out.record(
            t,
            lines,
            ("warnings",),
            proc=proc,
            names=st["name"] if st else None,
            values={"code": "tpu_device_busy"},
        )

    def oom(self, t):
        out, rng = self.out, self.rng
        node = Node(HEAD_IP, tx.hexid(rng, 56))
        line = self.raylet() + tx.cpp_line(
            out.ts(t),
            "E",
            1187,
            "raylet",
            "node_manager.cc:3041",
            tx.oom_summary(node.node_id, HEAD_IP, rng.randint(1, 3)),
        )
        out.record(t, [line], ("oom_kills",), values={"node_ip": HEAD_IP})
        out.record(t, [self.raylet() + ""], UNMATCHED)
        out.record(t, [self.raylet() + tx.OOM_ADVICE], UNMATCHED)

    def rare_wordings(self) -> list[Callable[[float], None]]:
        """One record of every other wording the parser must read, so small logs have them too."""
        rng, out = self.rng, self.out

        def node():
            return self.new_nodes(1)[0]

        def gcs(line):
            return self.prefix(None, "gcs_server", None) + line

        fns = []
        for variant in range(5):
            n = node()

            def f(t, n=n, variant=variant):
                ts = out.ts(t)
                if variant == 0:
                    lines = tx.node_dead_banner_old(ts, n.node_id, n.ip)
                elif variant == 1:
                    lines = [gcs(tx.gcs_health_dead(ts, n.node_id))]
                elif variant == 2:
                    lines = [
                        gcs(tx.gcs_death_reason(ts, n.node_id, n.ip, "UNEXPECTED_TERMINATION"))
                    ]
                elif variant == 3:
                    lines = [
                        gcs(tx.gcs_death_reason(ts, n.node_id, n.ip, "AUTOSCALER_DRAIN_PREEMPTED"))
                    ]
                else:
                    lines = [
                        self.raylet() + tx.node_dead_banner(n.node_id, n.ip)[0],
                        tx.NODE_DEAD_SECOND,
                    ]
                values = {"node_id": n.node_id, "node_ip": None if variant == 1 else n.ip}
                out.record(t, lines, ("node_deaths",), values=values)

            fns.append(f)
        n = node()
        fns.append(
            lambda t, n=n: out.record(
                t,
                [gcs(tx.gcs_death_reason(out.ts(t), n.node_id, n.ip, "EXPECTED_TERMINATION"))],
                (),
            )
        )
        fns.append(
            lambda t, n=n: out.record(
                t,
                [gcs(tx.health_check_failed(out.ts(t), n.node_id, n.ip, 3))],
                ("warnings",),
                values={"code": "health_check_failed"},
            )
        )
        fns.append(
            lambda t: out.record(
                t,
                [self.raylet("10.128.0.77") + tx.raylet_marked_dead(out.ts(t))],
                ("warnings",),
                values={"code": "raylet_marked_dead"},
            )
        )

        def terminated(t):
            lines = tx.raylet_terminated(out.ts(t), 1187)
            out.record(
                t,
                [self.raylet() + lines[0], *lines[1:]],
                ("warnings",),
                values={"code": "raylet_terminated"},
            )

        fns.append(terminated)
        fns.append(
            lambda t: out.record(
                t,
                [
                    self.raylet()
                    + tx.worker_died(rng, node().node_id, "10.128.0.91", 4242, lease=True)
                ],
                ("actor_deaths",),
            )
        )

        def gcs_failed(t):
            aid = tx.hexid(rng, 24) + "01000000"
            out.record(
                t,
                [gcs(tx.gcs_actor_failed(out.ts(t), tx.hexid(rng, 56), node().node_id, aid, -1))],
                ("actor_deaths",),
                values={"actor_id": aid},
            )

        fns.append(gcs_failed)

        def node_died_actor(t):
            aid = tx.hexid(rng, 24) + "01000000"
            name = zl.worker_name(f"tokenize-scratch-{tx.hexid(rng, 8)}", 3)
            lines = traceback_record(tx.py_line(out.ts(t), "ERROR", "worker.py:1012", "Unhandled error (suppress with 'RAY_IGNORE_UNHANDLED_ERRORS=1'): shard task failed"),
                                     tx.actor_died_block(aid, 4321, name, "10.128.0.93", node().node_id))  # fmt: skip
            out.record(
                t,
                lines,
                ("actor_deaths",),
                values={"actor_id": aid},
                names=PIPELINE_NAME.search(name).group(1),
            )

        fns.append(node_died_actor)

        oom_variants_seen = itertools.count()

        def oom_variants(t):
            k = next(oom_variants_seen)
            n = Node(f"10.128.0.{60 + k}", tx.hexid(rng, 56))
            ts = out.ts(t)
            if k == 0:
                lines = [self.raylet() + tx.oom_retry_notice(n.node_id, n.ip, 29.1, 30.0)]
            elif k == 1:
                lines = traceback_record(tx.py_line(ts, "ERROR", "worker.py:1012", "Unhandled error (suppress with 'RAY_IGNORE_UNHANDLED_ERRORS=1'): task failed"),
                                         tx.oom_error_block(rng, n.node_id, n.ip, 27.71, 28.80))  # fmt: skip
            else:
                lines = traceback_record(tx.py_line(ts, "ERROR", "worker.py:1012", "Unhandled error (suppress with 'RAY_IGNORE_UNHANDLED_ERRORS=1'): task failed"),
                                         tx.oom_block_260(n.node_id, n.ip, 30.12, 31.00))  # fmt: skip
            out.record(t, lines, ("oom_kills",), values={"node_ip": n.ip})

        fns += [oom_variants] * 3

        collision_variants_seen = itertools.count()

        def collision_variants(t):
            k = next(collision_variants_seen)
            name = f"zephyr-tokenize-scratch-{tx.hexid(rng, 8)}-p0-a0-coord-0"
            if k == 0:
                lines = [tx.py_line(out.ts(t), "ERROR", "executor.py:388", "Failed to create coordinator"),
                         "Traceback (most recent call last):",
                         '  File "/app/lib/fray/src/fray/v2/ray_backend/backend.py", line 301, in create_actor_group',
                         "    actor = host.options(name=actor_name, **options).remote(cls, actor_name, i, name, args, kwargs)",
                         tx.name_taken(name, "ValueError")]  # fmt: skip
            else:
                lines = [gcs(tx.gcs_name_exists(out.ts(t), name, tx.hexid(rng, 32)))]
            out.record(
                t,
                lines,
                ("actor_already_exists",),
                values={"actor_name": name},
                names=PIPELINE_NAME.search(name).group(1),
            )

        fns += [collision_variants] * 2

        lifecycle_seen = itertools.count()

        def lifecycle(t):
            k = next(lifecycle_seen)
            st = self.current
            coord, pool = st["coord"], st["pool"]
            w = pool.ids[0]
            msgs = [
                zl.NO_WORKERS_YET % 5.2,
                zl.COORDINATOR_ABORTED % "Coordinator loop crashed unexpectedly",
                zl.REQUEUE_REMOVED
                % (
                    f"(ShardTask(shard_idx=17, total_shards={st['total']}, chunk_size=100000, stage_name='{st['stage']}'), 0)",
                    w,
                ),
                zl.REQUEUE_IN_FLIGHT % w,
                zl.STALE_RESULT % (w, 17, 0, 1),
            ]
            msg = msgs[k % len(msgs)]
            level = "INFO" if k > 2 else "WARNING"
            self.actor_log(t, coord, level, 377, msg)

        fns += [lifecycle] * 5

        worker_lifecycle_seen = itertools.count()

        def worker_lifecycle(t):
            k = next(worker_lifecycle_seen)
            st = self.current
            pool = st["pool"]
            i = rng.randrange(pool.size)
            w, proc = pool.ids[i], pool.proc(i)
            msgs = [zl.HEARTBEAT_FAILED_COUNTED % (w, 2, 5, "RpcError: RPC error: Socket closed rpc_code: 14"),
                    zl.HEARTBEAT_GIVE_UP % (w, 5)]  # fmt: skip
            msg = msgs[k % 2]
            self.actor_log(t, proc, "ERROR", 612, msg, names=st["name"])

        fns += [worker_lifecycle] * 2
        fns += [self.bad_bytes] * 3
        fns.append(
            lambda t: out.record(
                t,
                [
                    self.prefix(None, "gcs_server", None)
                    + tx.cpp_line(
                        out.ts(t),
                        "I",
                        411,
                        "gcs_server",
                        "gcs_job_manager.cc:89",
                        "Node is dead, marking all jobs with drivers on this node as finished.",
                    )
                ],
                (),
            )
        )
        return fns

    def bad_bytes(self, t):
        out = self.out
        # Undecodable bytes (a worker printed binary): written as-is via surrogateescape.
        line = tx.py_line(
            out.ts(t),
            "INFO",
            "executor.py:777",
            "decoded preview: caf\udce9 \udcff\udcfe\udc80 r\udcc3sum\udce9",
        )
        out.record(t, [line], UNMATCHED)

    # --- playback --------------------------------------------------------------------------------

    def play(self):
        """Advance tick by tick; each tick: due specials, the status line, ordinary noise."""
        out, cfg = self.out, self.cfg
        target_chars = cfg.size * 0.985  # a few multi-byte characters make bytes > chars
        noise = Noise(self)
        t = START
        out.record(
            t,
            [
                tx.py_line(
                    out.ts(t),
                    "INFO",
                    "worker.py:1660",
                    "Connecting to existing Ray cluster at address: 10.128.0.2:6379...",
                )
            ],
            UNMATCHED,
        )
        out.record(
            t,
            [
                tx.py_line(
                    out.ts(t + 0.4),
                    "INFO",
                    "worker.py:1841",
                    "Connected to Ray cluster. View the dashboard at http://10.128.0.2:8265 ",
                )
            ],
            UNMATCHED,
        )
        while t < END:
            t_next = min(t + TICK, END)
            while self.specials and self.specials[0][0] < t_next:
                ts, _, fn = heapq.heappop(self.specials)
                fn(ts)
            st = self.current
            if st is not None and st["running"] and t >= st.get("stage_start", END):
                self.status(t_next - 0.05, st)
            budget = target_chars * (t_next - START) / (END - START)
            # Spread the tick's noise evenly so timestamps rise as in a real log.
            expected = max(1.0, (budget - out.chars) / 150)
            k = 0
            while out.chars < budget:
                k += 1
                noise.emit(min(t + (t_next - t) * k / (expected + 1), t_next - 0.001))
            out.flush()
            t = t_next
        while self.specials:  # anything planned at the very end
            ts, _, fn = heapq.heappop(self.specials)
            fn(ts)
        out.flush()

    def status(self, t, st):
        pool = st["pool"]
        if not st["frozen"] and st["completed"] < st["total"]:
            frac = (t - st["stage_start"]) / max(1.0, st["t1"] - 60 - st["stage_start"])
            st["completed"] = min(st["total"] - 1, int(st["total"] * frac))
        total, done = st["total"], st["completed"]
        alive = pool.n_alive()
        in_flight = 0 if st["frozen"] else min(alive, total - done)
        queued = total - done - in_flight
        split = (alive, pool.size, pool.size - alive)  # alive/workers, dead (the newer wordings)
        if st["wording"] == "old":
            msg = zl.STATUS_OLD % (st["stage"], done, total, in_flight, queued, pool.size)
        elif st["wording"] == "exec":
            msg = zl.STATUS_WITH_EXECUTION % (
                st["exec_id"],
                st["stage"],
                done,
                total,
                in_flight,
                queued,
                *split,
            )
            msg += zl.STATUS_THROUGHPUT % (f"{done * 1000}", "1.2k", f"{done * 3}MB", "4.1MB")
        else:
            msg = zl.STATUS % (st["stage"], done, total, in_flight, queued, *split)
        old = st["wording"] == "old"  # the old wording shows no alive/dead split
        st["told"].status(
            t, done, total, None if old else alive, None if old else pool.size - alive
        )
        stuck = st["wording"] != "old" and alive == 0 and done < total
        self.actor_log(t, st["coord"], "INFO", 341, msg, ("worker_status",),
                       values={"stage": st["stage"]}, patterns=("ZL01",) if stuck else ())  # fmt: skip


def py_line_start(ts: str, name: str, attempt: int, index: int) -> str:
    """The driver's pipeline-start line, in the wording of the upstream version in use."""
    if index == 0:
        msg = zl.PIPELINE_START_OLD % name
    elif index % 2:
        msg = zl.PIPELINE_START % (name, attempt)
    else:
        msg = zl.PIPELINE_START_WITH_ID % (name, 0, attempt)
    return tx.py_line(ts, "INFO", "execution.py:1121", msg)


def traceback_record(head: str, exception_lines: list[str]) -> list[str]:
    """A ``logger.exception``-style record: the head, a traceback, then the exception text."""
    return [
        head,
        "Traceback (most recent call last):",
        '  File "/app/lib/zephyr/src/zephyr/execution.py", line 1138, in execute',
        "    return self._coordinator.run_pipeline.remote(plan, shared, execution_id, hints).result()",
        *exception_lines,
    ]


def relative(t: float) -> str:
    """The autoscaler's time since driver start: ``1h2m3s``."""
    s = int(t - START)
    h, m = divmod(s // 60, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{s % 60}s"


class Noise:
    """The ordinary volume: progress and chatter of the running pipeline, by weighted kind."""

    def __init__(self, story: Story):
        self.story = story
        self.rng = story.rng
        kinds = [
            (30, self.executing), (22, self.tokenized), (14, self.wrote_chunks),
            (9, self.tasks_completed), (6, self.driver_chatter), (5, self.runtime_env),
            (4, self.disk_full), (3, self.autoscaler), (2, self.heartbeat_traceback),
            (0.02, story.bad_bytes),
        ]  # fmt: skip
        if story.cfg.clean:
            kinds = [k for k in kinds if k[1] not in (self.runtime_env, self.heartbeat_traceback)]
        self.fns = [fn for _, fn in kinds]
        acc, self.cum = 0.0, []
        for w, _ in kinds:
            acc += w
            self.cum.append(acc)
        self.total = acc
        self.chunk = 0

    def emit(self, t: float):
        r = self.rng.random() * self.total
        for c, fn in zip(self.cum, self.fns, strict=True):
            if r < c:
                fn(t)
                return

    def worker(self):
        st = self.story.current
        if st is None or not st["running"]:
            return None, None, None
        pool = st["pool"]
        i = self.rng.randrange(pool.size)
        if not pool.alive[i]:
            return None, None, None
        return st, pool.ids[i], pool.proc(i)

    def repeat(self) -> int:
        r = self.rng.random()
        return 1 if r < 0.75 else self.rng.randint(2, 60)

    def worker_record(self, t, msg, level, lineno, tables):
        st, wid, proc = self.worker()
        story, out = self.story, self.story.out
        if st is None:
            return self.driver_chatter(t)
        n = self.repeat()
        line = story.actor(proc) + tx.zephyr_line(out.ts(t), level, lineno, msg(wid))
        if n > 1:
            line += out.dedup(n, story.colour)
        out.record(t, [line], tables, repeat=n, proc=proc, names=st["name"])

    def executing(self, t):
        shard = self.rng.randrange(100_000)
        self.worker_record(t, lambda w: zl.EXECUTING_SHARD % (w, shard, 0), "INFO", 498, ())

    def tokenized(self, t):
        n, s = self.rng.randint(500, 5000), self.rng.uniform(0.5, 9.0)
        st, wid, proc = self.worker()
        if st is None:
            return self.driver_chatter(t)
        story, out = self.story, self.story.out
        line = (
            story.actor(proc)
            + f"{out.ts(t)} INFO levanter.data.text:301 Tokenized {n} documents in {s:.2f}s ({n / s:.0f} docs/s), {n * 512} tokens"
        )
        out.record(t, [line], UNMATCHED, proc=proc)

    def wrote_chunks(self, t):
        st, wid, proc = self.worker()
        if st is None:
            return self.driver_chatter(t)
        story, out = self.story, self.story.out
        self.chunk += 10
        line = story.actor(proc) + tx.zephyr_line(
            out.ts(t),
            "INFO",
            755,
            f"[shard {self.rng.randrange(50_000)}] Wrote {self.chunk % 400 + 10} chunks so far (latest: {self.rng.randint(100, 100000)} items)",
        )
        out.record(t, [line], UNMATCHED, proc=proc)

    def tasks_completed(self, t):
        st = self.story.current
        if st is None or not st["running"] or "stage_start" not in st or st["frozen"]:
            return self.driver_chatter(t)
        msg = zl.TASKS_COMPLETED % (st["stage"], st["completed"], st["total"])
        self.story.actor_log(
            t, st["coord"], "INFO", 630, msg, ("stage_progress",), values={"stage": st["stage"]}
        )

    def driver_chatter(self, t):
        out = self.story.out
        k = self.rng.randrange(4)
        msg = (
            f"Step status: {self.rng.randint(0, 40)} steps succeeded, 1 running, {self.rng.randint(0, 9)} waiting",
            f"Output path gs://marin-us-central2/tokenized/nemotron_cc/{tx.hexid(self.rng, 6)} exists, skipping",
            f"Memory usage of the driver: {self.rng.uniform(2, 9):.2f} GiB",
            "Checking for finished steps...",
        )[k]
        out.record(
            t, [tx.py_line(out.ts(t), "INFO", "executor.py:" + str(600 + k), msg)], UNMATCHED
        )

    def runtime_env(self, t):
        story, out = self.story, self.story.out
        st = story.current
        ip = st["pool"].nodes[self.rng.randrange(len(st["pool"].nodes))].ip if st else "10.128.0.20"
        n = self.repeat()
        line = story.raylet(ip) + tx.cpp_line(
            out.ts(t),
            "E",
            self.rng.randint(1000, 9000),
            "raylet",
            "worker_pool.cc:1624",
            "Delete runtime env failed",
        )
        if n > 1:
            line += out.dedup(n, story.colour)
        out.record(t, [line], ("warnings",), repeat=n, values={"code": "runtime_env_delete_failed"})

    def disk_full(self, t):
        story, out = self.story, self.story.out
        ip = f"10.128.0.{self.rng.randint(10, 200)}"
        msg = f"/tmp/ray/session_2026-02-20_21-38-11_467295_1 is over 95% full, available space: {self.rng.randint(1, 9)}.{self.rng.randint(0, 99)} GB; capacity: 100 GB. Object creation will fail if spilling is required."
        out.record(
            t,
            [
                story.raylet(ip)
                + tx.cpp_line(
                    out.ts(t),
                    "E",
                    self.rng.randint(1000, 9000),
                    "raylet",
                    "file_system_monitor.cc:111",
                    msg,
                )
            ],
            UNMATCHED,
        )

    def autoscaler(self, t):
        out = self.story.out
        k = self.rng.randrange(3)
        msg = (
            "Adding 1 node(s) of type ray_tpu.",
            "Resized to 3968 CPUs, 1024 TPUs.",
            "Removing 1 nodes of type ray_tpu (idle).",
        )[k]
        out.record(t, [f"(autoscaler +{relative(t)}) {msg}"], UNMATCHED)

    def heartbeat_traceback(self, t):
        st, wid, proc = self.worker()
        if st is None:
            return self.driver_chatter(t)
        story, out = self.story, self.story.out
        pfx = story.actor(proc)
        lines = [
            pfx
            + tx.zephyr_line(
                out.ts(t),
                "WARNING",
                612,
                zl.HEARTBEAT_FAILED % (wid, "heartbeat timed out after 10.0s"),
            ),
            pfx + "Traceback (most recent call last):",
            pfx + '  File "/app/lib/zephyr/src/zephyr/execution.py", line 606, in _heartbeat_loop',
            pfx + "    self._coordinator.heartbeat.remote(self._worker_id).result(timeout=10.0)",
            pfx + "TimeoutError: heartbeat timed out after 10.0s",
        ]
        out.record(t, lines, (), proc=proc, names=st["name"])
