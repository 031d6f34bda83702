"""The fault schedule of each pipeline, taken out of an ingest output (``derive(DIR)``).

Works only from what any log of a zephyr pipeline on Ray shows, through the ingest tables:

- a pipeline is a name that started (a ``Starting zephyr pipeline`` record) or registered
  workers; its clock starts at its first start record;
- attempts follow the driver's start, retry and final-failure records; an attempt the log does
  not show starting began when the previous one was retried;
- a coordinator restart is a second ``Coordinator initialized`` within one attempt (lines that
  name no pipeline count for the attempt in progress when exactly one is; copies of one line in
  several files, such as the driver's and the coordinator's ``worker-*.err``, are one init);
- a process's lines from before it first named its pipeline are that pipeline's;
- a death wave is a burst of heartbeat failures, each within ``BURST_GAP`` of the previous; it is
  a node loss when node deaths precede it by at most ``NODE_LEAD``; a false death when the status
  line counts as many workers alive after it as before (declared dead, still working); a process
  kill otherwise; the workers that re-register after it (before the next wave) came back;
- OOM kills, node deaths and process deaths that no pipeline owns go to the ``(cluster)``
  schedule, with name collisions of pipelines that never started and coordinator losses Ray
  reports for actors named like a coordinator.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from zephyr_logscan.findings import happenings, node_deaths
from zephyr_logscan.load import LoadError, read_manifest
from zephyr_logscan.schedule import (
    CLUSTER,
    Attempt,
    Collision,
    OomKill,
    Registered,
    Schedule,
    Stage,
    Stall,
    Status,
    Wave,
    kill_kind,
)

BURST_GAP = 30.0  # seconds: failures closer than the heartbeat timeout are one episode
NODE_LEAD = 60.0  # seconds: a node death this long before a burst explains it (timeout + spread)
STALL_MIN = 60.0  # seconds: a status gap counts as a stall above this and 10x the usual interval
DEATH_GAP = 5.0  # seconds: Ray's own death records are the deaths, not timeouts after them
SAME_KILL = 10.0  # seconds: records of one OOM kill / one collision within this are one event
SAME_INIT = 120.0  # seconds: copies of one coordinator's init line (as diagnose's witness_gap_s)
FINAL = re.compile(r"failed after (\d+) attempts")
# The coordinator giving up for good: the engine raises these to the driver without a retry
# (NoAliveWorkersError, a loop crash), so no "failed after N attempts" line follows.
GAVE_UP = ("lifecycle.coordinator_aborted", "lifecycle.no_alive_workers")
TAKEN = re.compile(r"The name (\S+) .*?(?:is already taken|already exists)")
WORKER_NUMBER = re.compile(r"-(\d+)$")
TABLES = ("registrations", "reregistrations", "heartbeat_failures", "worker_status", "stage_progress",
          "node_deaths", "oom_kills", "actor_deaths")  # read without their text columns  # fmt: skip


class DeriveError(ValueError):
    """The folder is not an ingest output."""


def derive(folder: str | Path) -> dict[str, Schedule]:
    """Schedules by pipeline (and ``(cluster)`` when faults belong to no pipeline).

    >>> derive("full_log.txt.logscan")["tokenize-train-b160eb54"].waves[0].kind
    'node_loss'
    """
    t = _tables(folder)
    if "events" in t and "node_deaths" in t:  # a cluster being stopped loses no node
        t["node_deaths"] = node_deaths(t)
    names = _pipelines(t)
    t.update(own_pipelines(t, names))
    ev = t.get("events")
    if ev is not None:  # the two kinds of events derive reads, picked out once
        # One init, however many files hold its line (the driver's copy, the worker-*.err).
        inits = ev.filter(pl.col("rule") == "lifecycle.coordinator_initialized")
        t["_inits"] = happenings(inits, SAME_INIT).select("ts", "pipeline")
        t["_finals"] = ev.filter(
            pl.col("level").is_in(["ERROR", "CRITICAL"])
            & (pl.col("message").str.contains(FINAL.pattern) | pl.col("rule").is_in(GAVE_UP))
        ).select("ts", "line", "pipeline", "level", "rule", "message")
        t["_spans"] = _spans(t, names)
    out: dict[str, Schedule] = {}
    used_nodes: set[int] = set()
    for name in names:
        out[name] = _pipeline(t, name, names, used_nodes)
    cluster = _cluster(t, set(names), used_nodes)
    if cluster is not None:
        out[CLUSTER] = cluster
    return out


# --- loading ----------------------------------------------------------------------------------


def _tables(folder: str | Path) -> dict[str, pl.DataFrame]:
    folder = Path(folder)
    try:
        manifest = read_manifest(folder)
    except LoadError as e:
        raise DeriveError(str(e)) from None
    out = {}
    for name in manifest["tables"]:
        path = folder / f"{name}.parquet"
        if path.exists():
            df = pl.read_parquet(path)
            if "ts" in df.columns:
                df = df.filter(pl.col("ts").is_not_null()).sort("ts", "line", maintain_order=True)
            out[name] = df
    return out


def _t(ts: datetime) -> float:
    return ts.timestamp()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rows(t: dict, table: str, pipeline: str | None = None, *, null: bool = False) -> list[dict]:
    df = t.get(table)
    if df is None or df.height == 0:
        return []
    df = df.drop(
        [c for c in ("fields", "message", "source", "file") if c in df.columns and table in TABLES]
    )
    if null:
        df = df.filter(pl.col("pipeline").is_null())
    elif pipeline is not None:
        df = df.filter(pl.col("pipeline") == pipeline)
    return df.to_dicts()


def _pipelines(t: dict) -> list[str]:
    """Names that started or registered workers, in order of their first start."""
    first: dict[str, float] = {}
    for table in ("pipeline_attempts", "registrations"):
        for r in _rows(t, table):
            if r["pipeline"] and (table == "registrations" or r["rule"] == "zephyr.pipeline_start"):
                first.setdefault(r["pipeline"], _t(r["ts"]))
    return sorted(first, key=lambda n: first[n])


def own_pipelines(t: dict, names: list[str] | None = None) -> dict[str, pl.DataFrame]:
    """The tables whose records from a process's lines before it first named its pipeline (a
    coordinator's init, first stage and status lines, printed before any worker registered)
    carry the one pipeline (of ``names``, default any) its later records name: an actor's
    process serves one actor. A process is a pid in a file, or a file of one process (a
    session's ``worker-*.err``); the driver's own lines, which name their pipeline first, are
    left as they are. Returns only the tables it changed."""
    ev = t.get("events")
    if ev is None or ev.height == 0 or names == []:
        return {}
    one_process = pl.col("file").str.contains(r"(?:^|/)(?:python-core-)?worker-[^/]*$")
    named = (
        pl.col("pipeline").is_in(names) if names is not None else pl.col("pipeline").is_not_null()
    )
    owners = (
        ev.filter((pl.col("pid").is_not_null() | one_process) & named)
        .group_by("file", "pid")
        .agg(pl.col("pipeline").unique())
        .filter(pl.col("pipeline").list.len() == 1)
        .select("file", "pid", owner=pl.col("pipeline").list.first())
    )
    out = {}
    for name, df in t.items():
        if {"file", "pid", "pipeline"} <= set(df.columns) and df.height:
            df = df.join(owners, on=["file", "pid"], how="left", nulls_equal=True)
            out[name] = df.with_columns(pl.coalesce("pipeline", "owner").alias("pipeline")).drop(
                "owner"
            )
    return out


# --- one pipeline -------------------------------------------------------------------------------


def _pipeline(t: dict, name: str, names: list[str], used_nodes: set[int]) -> Schedule:
    attempts_rows = _rows(t, "pipeline_attempts", name)
    starts = [r for r in attempts_rows if r["rule"] == "zephyr.pipeline_start"]
    regs = _rows(t, "registrations", name)
    t0 = _t(starts[0]["ts"]) if starts else _t(regs[0]["ts"])
    s = Schedule(pipeline=name, start=_iso(t0))
    rel = lambda ts: _t(ts) - t0  # noqa: E731

    number = _numbering(
        regs, _rows(t, "heartbeat_failures", name), _rows(t, "reregistrations", name)
    )
    status = _rows(t, "worker_status", name)
    stages = [r for r in _rows(t, "stage_progress", name) if r["rule"] == "zephyr.starting_stage"]
    stages = list({(r["stage"], r["ts"]): r for r in stages}.values())  # a line copied in 2 files
    s.stages = [Stage(r["stage"], int(r["total"]), rel(r["ts"])) for r in stages]
    if not s.stages and status:
        seen = {}
        for r in status:
            seen.setdefault(r["stage"], r)
        s.stages = [Stage(k, int(r["total"] or 0), rel(r["ts"])) for k, r in seen.items()]
    s.shards = s.stages[0].tasks if s.stages else 0
    if regs:
        s.registered = Registered(
            len({r["worker_id"] for r in regs}), rel(regs[0]["ts"]), rel(regs[-1]["ts"])
        )
    s.workers = max(
        [len(number), *(r["total"] or 0 for r in regs), *(r["workers"] or 0 for r in status)]
    )

    s.attempts, s.outcome = _attempts(t, name, attempts_rows, rel)
    s.coordinator_restarts = _restarts(t, name, names, s, t0)
    s.waves = _waves(t, name, number, rel, used_nodes, s.workers)
    s.oom_kills = [
        OomKill(rel(_kill_time(t, r)), r.get("node_ip"))
        for r in _dedup(_rows(t, "oom_kills", name))
    ]
    s.status_stalls = _stalls(status, rel)
    if status:
        last = status[-1]
        s.last_status = Status(
            rel(last["ts"]), int(last["completed"]), int(last["total"]), last["alive"], last["dead"]
        )
        if last["alive"] == 0:
            k = len(status) - 1
            while k > 0 and status[k - 1]["alive"] == 0:
                k -= 1
            s.all_dead_since = rel(status[k]["ts"])
        if s.outcome == "open" and last["completed"] == last["total"] and last["total"]:
            s.outcome = "completed"
    # The status line is periodic: a pipeline often finishes between two. Its last stage's
    # final ``N/N tasks completed`` line is the end then.
    done = [r for r in _rows(t, "stage_progress", name) if r["rule"] == "zephyr.tasks_completed"]
    last_done = done[-1] if done else None
    if (s.outcome == "open" and last_done and s.stages and last_done["stage"] == s.stages[-1].name
            and last_done["total"] and last_done["completed"] == last_done["total"]):  # fmt: skip
        s.outcome = "completed"
    return s


def _kill_time(t: dict, row: dict) -> datetime:
    """An OOM kill's time: the earliest own timestamp among every report of it (the pipeline's
    own report may be a driver line whose time is borrowed from the line before it)."""
    if not row.get("subject"):
        return row["ts"]
    own = t["oom_kills"].filter(
        (pl.col("subject") == row["subject"]) & ~pl.col("ts_inferred").fill_null(False)
    )["ts"]
    if not own.len():
        return row["ts"]
    return own.min() if row["ts_inferred"] else min(row["ts"], own.min())


def _numbering(regs, fails, reregs) -> dict[str, int]:
    """Worker id -> number: the id's trailing ``-N`` when every id has one, else first appearance."""
    ids: dict[str, None] = {}
    for r in (*regs, *fails, *reregs):
        ids.setdefault(r["worker_id"], None)
    numbers = {w: WORKER_NUMBER.search(w) for w in ids}
    if all(numbers.values()) and len({int(m.group(1)) for m in numbers.values()}) == len(ids):
        return {w: int(m.group(1)) for w, m in numbers.items()}
    return {w: i for i, w in enumerate(ids)}


def classify(error: str | None) -> str:
    """The cause of a failed attempt from its error text."""
    text = error or ""
    if "AlreadyExists" in text or "already taken" in text or "already exists" in text:
        return "name_collision"
    if (
        "OutOfMemory" in text
        or "running low on memory" in text
        or "ShardFailedError" in text
        and "memory" in text
    ):
        return "oom"
    if any(k in text for k in ("ActorDiedError", "ActorUnavailableError", "CoordinatorLost",
                               "coordinator", "Coordinator", "actor died", "Socket closed")):  # fmt: skip
        return "coordinator_lost"
    return "error"


def _attempts(t: dict, name: str, rows: list[dict], rel) -> tuple[list[Attempt], str]:
    attempts: list[Attempt] = []
    pending = False  # the last attempt was opened by a retry record, its start line not yet seen
    outcome = "open"
    for r in rows:
        if r["rule"] == "zephyr.pipeline_start":
            if pending:
                attempts[-1].at = rel(r["ts"])
                pending = False
            else:
                attempts.append(Attempt(rel(r["ts"])))
        elif r["rule"] == "zephyr.attempt_failed":
            if not attempts:
                attempts.append(Attempt(rel(r["ts"])))
            _close(attempts[-1], r["error"])
            attempts.append(Attempt(rel(r["ts"])))
            pending = True
        elif r["rule"] == "zephyr.pipeline_failed":
            if attempts:
                _close(attempts[-1], r["error"].split("; ")[-1] if r["error"] else None)
            outcome = "failed"
    if outcome == "open":  # a final failure reported as an error record of the pipeline
        last_start = attempts[-1].at if attempts else None
        for r in _rows(t, "_finals", name):
            gave_up = r["rule"] in GAVE_UP and (last_start is None or rel(r["ts"]) >= last_start)
            if FINAL.search(r["message"] or "") or gave_up:
                if attempts and attempts[-1].cause is None:
                    # A coordinator that gave up was not lost: its own error ended the attempt.
                    _close(attempts[-1], None if gave_up else r["message"])
                outcome = "failed"
                break
    return attempts, outcome


def _close(attempt: Attempt, error: str | None) -> None:
    attempt.cause = classify(error)
    if attempt.cause == "name_collision":
        m = TAKEN.search(error or "")
        attempt.collided = m.group(1) if m else None


def _restarts(t: dict, name: str, names: list[str], s: Schedule, t0: float) -> list[float]:
    inits = [
        r
        for r in _rows(t, "_inits")
        if r["pipeline"] == name or r["pipeline"] is None or r["pipeline"] not in names
    ]
    if not inits or not s.attempts:
        return []
    spans = t["_spans"]
    bounds = [t0 + a.at for a in s.attempts] + [spans[name][1] + 1e-3]
    restarts = []
    for k in range(len(s.attempts)):
        lo, hi = bounds[k], bounds[k + 1]
        mine = []
        for r in inits:
            ts = _t(r["ts"])
            if not lo <= ts < hi:
                continue
            if r["pipeline"] == name or sum(a <= ts <= b for a, b in spans.values()) == 1:
                mine.append(ts - t0)
        restarts += mine[1:]
    return restarts


def _spans(t: dict, names: list[str]) -> dict[str, tuple[float, float]]:
    ev = t["events"].filter(pl.col("pipeline").is_in(names))
    agg = ev.group_by("pipeline").agg(pl.col("ts").min().alias("a"), pl.col("ts").max().alias("b"))
    return {r["pipeline"]: (_t(r["a"]), _t(r["b"])) for r in agg.to_dicts()}


def _bursts(times: list[float], gap: float = BURST_GAP) -> list[tuple[int, int]]:
    """Index ranges of bursts: each time within ``gap`` of the previous one."""
    out, lo = [], 0
    for i in range(1, len(times) + 1):
        if i == len(times) or times[i] - times[i - 1] > gap:
            if i > lo:
                out.append((lo, i))
            lo = i
    return out


def _waves(
    t: dict, name: str, number: dict, rel, used_nodes: set[int], workers_total: int
) -> list[Wave]:
    fails = _rows(t, "heartbeat_failures", name)
    reregs = _rows(t, "reregistrations", name)
    deaths = _rows(t, "node_deaths")
    times = [_t(r["ts"]) for r in fails]
    status = [(_t(r["ts"]), r["alive"]) for r in _rows(t, "worker_status", name)]
    waves: list[Wave] = []
    starts = [times[lo] for lo, _ in _bursts(times)]
    for k, (lo, hi) in enumerate(_bursts(times)):
        at = times[lo]
        workers = sorted({number[r["worker_id"]] for r in fails[lo:hi]})
        lead = [
            (i, d)
            for i, d in enumerate(deaths)
            if i not in used_nodes and at - NODE_LEAD <= _t(d["ts"]) <= at
        ]
        used_nodes.update(i for i, _ in lead)
        nodes = _nodes([d for _, d in lead])
        until = starts[k + 1] if k + 1 < len(starts) else float("inf")
        back = [r for r in reregs if at < _t(r["ts"]) < until and number[r["worker_id"]] in workers]
        returned = sorted({number[r["worker_id"]] for r in back})
        kind = "node_loss" if nodes else kill_kind(status, at, times[hi - 1], workers_total)
        waves.append(
            Wave(
                at=rel(fails[lo]["ts"]),
                kind=kind,
                killed=len(workers),
                workers=workers,
                nodes=nodes,
                nodes_at=rel(lead[0][1]["ts"]) if lead else None,
                returned=len(returned),
                returned_workers=returned,
                returned_at=rel(back[0]["ts"]) if back else None,
            )
        )
    return waves


def _nodes(rows: list[dict]) -> int:
    """Nodes lost: distinct node ids (one node is often reported by several sources), plus the
    other nodes a deduplicated banner stands for (``[repeated Nx]`` names one node of N)."""
    return len({r["node_id"] for r in rows}) + sum(r["repeat"] - 1 for r in rows)


def _dedup(rows: list[dict], key: str = "node_id") -> list[dict]:
    """One row per event: records of the same node (or name) within SAME_KILL are one."""
    out: list[dict] = []
    for r in rows:
        k = r.get(key)
        if (
            out
            and k is not None
            and out[-1].get(key) == k
            and _t(r["ts"]) - _t(out[-1]["ts"]) <= SAME_KILL
        ):
            continue
        out.append(r)
    return out


def _stalls(status: list[dict], rel) -> list[Stall]:
    if len(status) < 3:
        return []
    times = [_t(r["ts"]) for r in status]
    gaps = sorted(b - a for a, b in zip(times, times[1:], strict=False))
    usual = gaps[len(gaps) // 2]
    limit = max(STALL_MIN, 10 * usual)
    out = []
    for a, b, r in zip(times, times[1:], status, strict=False):
        if b - a > limit and (r["completed"] or 0) < (r["total"] or 0):
            out.append(Stall(rel(r["ts"]), b - a))
    return out


# --- the cluster ------------------------------------------------------------------------------


def _cluster(t: dict, names: set[str], used_nodes: set[int]) -> Schedule | None:
    """Faults no started pipeline owns: what a plain Ray log (no zephyr lines) shows."""
    deaths = [d for i, d in enumerate(_rows(t, "node_deaths")) if i not in used_nodes]
    # Ray reports one death from several places; count each kind from one source: the GCS (own
    # timestamps, one line per actor death, whether it restarts) when its log is there, else the
    # driver's "A worker died" lines (their dedup count, times inferred, restarts unknown).
    own = [d for d in deaths if not d["ts_inferred"]]
    deaths = own or deaths
    actor = [r for r in _rows(t, "actor_deaths") if r["pipeline"] not in names]
    process = [r for r in actor if r["rule"] == "gcs.actor_failed"] or [
        r for r in actor if r["rule"] in ("ray.worker_died", "ray.actor_died_system")
    ]
    lost = _dedup(
        [
            r
            for r in actor
            if "coord" in f"{r.get('actor_name') or ''} {r.get('class_name') or ''}".lower()
            and r["rule"] != "ray.actor_call_failed"  # a later call on the dead actor: no new loss
        ],
        "actor_id",
    )
    collisions = [r for r in _rows(t, "actor_already_exists") if r["pipeline"] not in names]
    kills = _rows(t, "oom_kills")
    theirs = {r["subject"] for r in kills if r["pipeline"] in names and r.get("subject")}
    # a kill one of whose reports names a pipeline is that pipeline's, not the cluster's
    ooms = _dedup(
        [r for r in kills if r["pipeline"] not in names and r.get("subject") not in theirs]
    )
    events = [*deaths, *process, *lost, *collisions, *ooms]
    if not events:
        return None
    t0 = min(_t(r["ts"]) for r in events)
    rel = lambda ts: _t(ts) - t0  # noqa: E731
    s = Schedule(pipeline=CLUSTER, start=_iso(t0))
    # Process deaths and node deaths in bursts; Ray's dedup count is the number of deaths.
    marks = sorted([(_t(r["ts"]), "p", r) for r in process] + [(_t(r["ts"]), "n", r) for r in deaths],
                   key=lambda m: m[0])  # fmt: skip
    times = [m[0] for m in marks]
    for lo, hi in _bursts(times, DEATH_GAP):
        group = marks[lo:hi]
        killed = sum(m[2]["repeat"] for m in group if m[1] == "p")
        nodes = [m for m in group if m[1] == "n"]
        back = [m for m in group if m[1] == "p" and m[2].get("will_restart")]
        s.waves.append(
            Wave(
                at=group[0][0] - t0,
                kind="node_loss" if nodes else "process_kill",
                killed=killed,
                nodes=_nodes([m[2] for m in nodes]),
                nodes_at=nodes[0][0] - t0 if nodes else None,
                returned=len(back),
                returned_at=back[0][0] - t0 if back else None,
            )
        )
    s.workers = max([w.killed for w in s.waves], default=0)
    s.coordinator_losses = [rel(r["ts"]) for r in lost]
    seen: dict[str, float] = {}
    for r in collisions:
        n = r.get("actor_name")
        if n and n not in seen:
            seen[n] = _t(r["ts"])
    s.collisions = [Collision(at - t0, n) for n, at in seen.items()]
    s.oom_kills = [OomKill(rel(_kill_time(t, r)), r.get("node_ip")) for r in ooms]
    return s
