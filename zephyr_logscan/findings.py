"""``logscan diagnose``: detectors over the ingest tables, one per pattern id of shared/DESIGN.md.

Each finding names its pattern, the pipeline, the window (first to last evidence record), the
evidence as ``file:line``, an explanation and the ``zephyr_engine.scenarios`` scenario that proves
the corrected engine's behaviour. Detectors read only the tables, never the raw log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

SEVERITY = {"critical": 2, "warning": 1}
STALL = timedelta(minutes=10)  # how long "0 alive with work left" must last (no-workers timeout)
CLUSTER_GAP = timedelta(seconds=60)
WAVE_GAP = timedelta(minutes=5)
AFTER_WAVE = timedelta(minutes=2)


@dataclass
class Finding:
    pattern: str
    title: str
    severity: str
    pipeline: str | None
    start: str
    end: str
    events: int
    evidence: list[str]
    explanation: str
    scenario: str
    verified: dict | None = field(default=None)


def diagnose(folder: str | Path) -> list[Finding]:
    """Findings of one ingest output folder, ordered by start time.

    >>> [f.pattern for f in diagnose("full_log.txt.logscan")][:3]
    ['ZL09', 'ZL04', 'ZL09']
    """
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    t = {name: pl.read_parquet(folder / f"{name}.parquet") for name in manifest["tables"]}
    found: list[Finding] = []
    for detector in DETECTORS:
        found.extend(detector(t))
    return sorted(found, key=lambda f: (f.start, f.pattern))


# --- helpers -------------------------------------------------------------------------------------


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _finding(pattern: str, rows: pl.DataFrame, pipeline: str | None, explanation: str) -> Finding:
    title, severity = PATTERNS[pattern]
    rows = rows.sort("ts")
    evidence = [f"{f}:{n}" for f, n in rows.select("file", "line").head(20).iter_rows()]
    return Finding(pattern, title, severity, pipeline, _iso(rows["ts"][0]), _iso(rows["ts"][-1]),
                   int(rows["repeat"].sum()), evidence, explanation, pattern)  # fmt: skip


def _clusters(df: pl.DataFrame, gap: timedelta) -> list[pl.DataFrame]:
    """Split rows (sorted by ts) where consecutive records are more than ``gap`` apart."""
    df = df.filter(pl.col("ts").is_not_null()).sort("ts")
    if df.height == 0:
        return []
    ids = (df["ts"].diff() > gap).fill_null(False).cast(pl.Int32).cum_sum()
    return [
        part for _, part in df.with_columns(cluster=ids).group_by("cluster", maintain_order=True)
    ]


def _active_pipeline(t: dict, ts: datetime) -> str | None:
    """The pipeline the driver started last before ``ts`` (for cluster-wide records)."""
    starts = t["pipeline_attempts"].filter(
        (pl.col("rule") == "zephyr.pipeline_start")
        & (pl.col("ts") <= ts)
        & pl.col("pipeline").is_not_null()
    )
    return starts.sort("ts")["pipeline"][-1] if starts.height else None


def _common(df: pl.DataFrame) -> pl.DataFrame:
    return df.select("file", "line", "ts", "repeat")


# --- detectors -----------------------------------------------------------------------------------


def all_workers_dead(t) -> list[Finding]:
    out = []
    status = t["worker_status"].filter(pl.col("ts").is_not_null()).sort("ts")
    terminal = t["events"].filter(
        pl.col("message").str.contains("No alive workers for|NoAliveWorkersError")
    )
    for (pipeline,), rows in status.group_by("pipeline", maintain_order=True):
        stuck = ((pl.col("alive") == 0) & (pl.col("completed") < pl.col("total"))).fill_null(False)
        runs = rows.with_columns(
            stuck=stuck, run=(stuck != stuck.shift(1)).fill_null(True).cast(pl.Int32).cum_sum()
        )
        for _, run in runs.filter(pl.col("stuck")).group_by("run", maintain_order=True):
            start, end = run["ts"][0], run["ts"][-1]
            raised = terminal.filter(
                (pl.col("pipeline") == pipeline) & (pl.col("ts") >= start)
            ).height
            if end - start >= STALL and not raised:
                out.append(_finding("ZL01", _common(run), pipeline,
                    f"The coordinator reported 0 alive workers with {run['total'][-1] - run['completed'][-1]} "
                    f"tasks left for {(end - start).total_seconds() / 60:.0f} minutes and never raised: it "
                    "waits for registered workers, not alive ones (upstream defect 1)."))  # fmt: skip
    return out


def name_collision_on_retry(t) -> list[Finding]:
    out = []
    taken = t["actor_already_exists"].filter(pl.col("actor_name").str.starts_with("zephyr-"))
    failed = t["pipeline_attempts"].filter(pl.col("rule") == "zephyr.attempt_failed")
    for (pipeline,), rows in taken.group_by("pipeline", maintain_order=True):
        first_failure = failed.filter(pl.col("pipeline") == pipeline)["ts"].min()
        rows = (
            rows.filter(pl.col("ts") >= first_failure)
            if first_failure is not None
            else rows.head(0)
        )
        if rows.height:
            out.append(_finding("ZL02", _common(rows), pipeline,
                f"A retry re-created {rows['actor_name'][0]} while the previous attempt's actor still held "
                "the name: retries reused actor names (upstream defect 2)."))  # fmt: skip
    return out


def restarted_coordinator(t) -> list[Finding]:
    out = []
    inits = t["events"].filter(pl.col("rule") == "lifecycle.coordinator_initialized").sort("ts")
    starts = t["pipeline_attempts"].filter(pl.col("rule") == "zephyr.pipeline_start").sort("ts")
    failed = t["pipeline_attempts"].filter(pl.col("rule") == "zephyr.attempt_failed")
    bounds = starts["ts"].to_list() + [None]
    for k, (start, pipeline) in enumerate(starts.select("ts", "pipeline").iter_rows()):
        end = bounds[k + 1]
        within = inits.filter(
            (pl.col("ts") >= start) & ((pl.col("ts") < end) if end is not None else True)
        )
        if within.height < 2:
            continue
        again = within.slice(1)
        after = failed.filter((pl.col("pipeline") == pipeline) & (pl.col("ts") >= again["ts"][0]))
        if end is not None:
            after = after.filter(pl.col("ts") < end)
        rows = pl.concat([_common(again), _common(after.head(1))])
        out.append(_finding("ZL03", rows, pipeline,
            "The coordinator initialised again during one attempt: it was restarted (it was preemptible "
            "with max_restarts=-1) and a restarted coordinator runs only __init__ (upstream defect 3)."))  # fmt: skip
    return out


def heartbeat_storm(t) -> list[Finding]:
    out = []
    deaths = t["node_deaths"].filter(pl.col("ts").is_not_null())
    workers = t["registrations"].group_by("pipeline").agg(pl.col("worker_id").n_unique().alias("n"))
    size = dict(workers.iter_rows())
    for (pipeline,), rows in t["heartbeat_failures"].group_by("pipeline", maintain_order=True):
        need = max(4, size.get(pipeline, 0) // 4)
        for cluster in _clusters(rows, CLUSTER_GAP):
            a, b = cluster["ts"][0], cluster["ts"][-1]
            nodes_died = deaths.filter(
                (pl.col("ts") >= a - AFTER_WAVE) & (pl.col("ts") <= b)
            ).height
            if cluster["repeat"].sum() >= need and not nodes_died:
                out.append(_finding("ZL04", _common(cluster), pipeline,
                    f"{cluster['repeat'].sum()} workers were marked dead within {(b - a).total_seconds():.0f}s "
                    "while no node died: the coordinator was too busy to hear their heartbeats (upstream defects 4, 14)."))  # fmt: skip
    return out


def preemption_wave(t) -> list[Finding]:
    out = []
    failures = t["heartbeat_failures"].filter(pl.col("ts").is_not_null())
    for wave in _clusters(t["node_deaths"], WAVE_GAP):
        if wave["repeat"].sum() < 3:
            continue
        a, b = wave["ts"][0], wave["ts"][-1]
        after = failures.filter((pl.col("ts") >= a) & (pl.col("ts") <= b + AFTER_WAVE))
        if after["repeat"].sum() < 3:
            continue
        pipeline = after["pipeline"].drop_nulls().mode().sort().to_list()
        out.append(_finding("ZL07", pl.concat([_common(wave), _common(after)]), pipeline[0] if pipeline else None,
            f"{wave['repeat'].sum()} node deaths in {(b - a).total_seconds() / 60:.1f} minutes, then "
            f"{after['repeat'].sum()} heartbeat failures: a preemption wave took the worker pool."))  # fmt: skip
    return out


def poison_shard(t) -> list[Finding]:
    out = []
    ooms = t["oom_kills"].filter(pl.col("node_ip").is_not_null())
    for (node,), rows in ooms.group_by("node_ip", maintain_order=True):
        for cluster in _clusters(rows, timedelta(minutes=10)):
            if cluster.height >= 3:
                out.append(_finding("ZL08", _common(cluster), _active_pipeline(t, cluster["ts"][0]),
                    f"{cluster.height} OOM kills on {node} within {(cluster['ts'][-1] - cluster['ts'][0]).total_seconds() / 60:.0f} "
                    "minutes: the same work keeps getting killed; without a per-shard budget it loops forever."))  # fmt: skip
    repeated = t["events"].filter(
        pl.col("message").str.contains(r"Shard \d+ has (failed \d+ times|been in flight during)")
    )
    for row in repeated.iter_rows(named=True):
        out.append(_finding("ZL08", _common(repeated.filter(pl.col("line") == row["line"])), row["pipeline"],
                            "A shard exhausted its failure budget."))  # fmt: skip
    return out


def constructor_args(t) -> list[Finding]:
    warn = t["warnings"].filter(pl.col("code") == "object_store_args")
    return [
        _finding("ZL09", _common(rows), pipeline,
                 "Worker actors were created with arguments in the object store and max_restarts > 0 "
                 "(ray#53727): their restarts fail when the arguments are evicted (upstream defect 9).")
        for (pipeline,), rows in warn.group_by("pipeline", maintain_order=True)
    ]  # fmt: skip


def no_workers_ever(t) -> list[Finding]:
    out = []
    regs = t["registrations"].filter(pl.col("ts").is_not_null())
    starts = t["pipeline_attempts"].filter(pl.col("rule") == "zephyr.pipeline_start")
    for cluster in _clusters(
        t["warnings"].filter(pl.col("code") == "infeasible_request"), timedelta(minutes=2)
    ):
        a = cluster["ts"][0]
        pipeline = _active_pipeline(t, a)
        since = starts.filter((pl.col("pipeline") == pipeline) & (pl.col("ts") <= a))["ts"].max()
        if since is None or regs.filter((pl.col("ts") >= since) & (pl.col("ts") <= a)).height == 0:
            out.append(_finding("ZL11", _common(cluster), pipeline,
                "Resource requests could not be scheduled while no worker had registered: without a "
                "readiness bound the pipeline waits for workers that never come (upstream defect 11)."))  # fmt: skip
    return out


def retries_exhausted(t) -> list[Finding]:
    out = []
    attempts = t["pipeline_attempts"]
    last = attempts.filter(
        (
            (pl.col("rule") == "zephyr.attempt_failed")
            & (pl.col("attempt") == pl.col("max_attempts"))
        )
        | (pl.col("rule") == "zephyr.pipeline_failed")
    )
    for (pipeline,), rows in last.group_by("pipeline", maintain_order=True):
        end = rows["ts"].max()
        failures = attempts.filter(
            (pl.col("pipeline") == pipeline)
            & (pl.col("rule") == "zephyr.attempt_failed")
            & (pl.col("ts") <= end)
        )
        out.append(_finding("ZL12", _common(pl.concat([failures, rows]).unique(["file", "line"])), pipeline,
            f"Every retry failed ({failures.height} attempt failures); upstream retried without backoff and "
            "kept only the last cause (upstream defect 12)."))  # fmt: skip
    return out


def lost_shard(t) -> list[Finding]:
    """Re-registrations followed by a stall: nothing queued, work left, no progress for long."""
    out = []
    status = t["worker_status"].filter(pl.col("ts").is_not_null()).sort("ts")
    for (pipeline,), rows in status.group_by("pipeline", maintain_order=True):
        rereg = t["reregistrations"].filter(pl.col("pipeline") == pipeline)
        if rereg.height == 0:
            continue
        stalled = rows.filter(
            (pl.col("queued") == 0)
            & (pl.col("completed") < pl.col("total"))
            & (pl.col("ts") > rereg["ts"].min())
        )
        for (_done,), run in stalled.group_by("completed", maintain_order=True):
            if run["ts"][-1] - run["ts"][0] >= STALL:
                out.append(_finding("ZL05", _common(run), pipeline,
                    "After workers re-registered, nothing was queued and progress stopped with work left: "
                    "a re-registering worker's shard was lost (upstream defects 5, 6, 13)."))  # fmt: skip
    return out


def zombie_worker(t) -> list[Finding]:
    """A worker's pull_task failed shortly before the coordinator declared it dead."""
    out = []
    pulls = (
        t["events"]
        .filter(pl.col("rule") == "lifecycle.pull_task_failed")
        .with_columns(worker=pl.col("message").str.extract(r"\[([^\]]+)\] pull_task failed", 1))
    )
    if pulls.height == 0:
        return out
    for row in (
        t["heartbeat_failures"]
        .filter(pl.col("worker_id").is_in(pulls["worker"].implode()))
        .iter_rows(named=True)
    ):
        before = pulls.filter((pl.col("worker") == row["worker_id"]) & (pl.col("ts") <= row["ts"])
                              & (pl.col("ts") >= row["ts"] - timedelta(seconds=60)))  # fmt: skip
        if before.height >= 1:
            rows = pl.concat(
                [
                    _common(before),
                    _common(t["heartbeat_failures"].filter(pl.col("line") == row["line"])),
                ]
            )
            out.append(_finding("ZL06", rows, row["pipeline"],
                f"{row['worker_id']} stopped polling after pull_task errors and then missed its heartbeats "
                "while the coordinator lived: a zombie that the backend never restarts (upstream defect 7)."))  # fmt: skip
    return out


def silent_status_loop(t) -> list[Finding]:
    """The status line stopped while work was left and nothing ended the pipeline."""
    out = []
    status = t["worker_status"].filter(pl.col("ts").is_not_null()).sort("ts")
    end_of_log = max(
        (df["ts"].max() for df in t.values() if "ts" in df.columns and df["ts"].max() is not None),
        default=None,
    )
    ended = pl.concat([
        t["events"].filter(pl.col("message").str.contains("Received SHUTDOWN")).select("pipeline", "ts"),
        t["pipeline_attempts"].select("pipeline", "ts"),
        t["actor_deaths"].select("pipeline", "ts"),
    ])  # fmt: skip
    for (pipeline,), rows in status.group_by("pipeline", maintain_order=True):
        last = rows.tail(1)
        when = last["ts"][0]
        if (
            last["completed"][0] >= last["total"][0]
            or end_of_log is None
            or end_of_log - when < STALL
        ):
            continue
        if ended.filter((pl.col("pipeline") == pipeline) & (pl.col("ts") >= when)).height:
            continue
        out.append(_finding("ZL10", _common(last), pipeline,
            "The coordinator's status line stopped with work left and nothing ended the pipeline: its "
            "loop thread died silently (upstream defect 10)."))  # fmt: skip
    return out


PATTERNS = {
    "ZL01": ("all-workers-dead-hang", "critical"), "ZL02": ("name-collision-on-retry", "critical"),
    "ZL03": ("restarted-coordinator", "critical"), "ZL04": ("heartbeat-storm", "warning"),
    "ZL05": ("lost-shard", "critical"), "ZL06": ("zombie-worker", "warning"),
    "ZL07": ("preemption-wave", "warning"), "ZL08": ("poison-shard", "critical"),
    "ZL09": ("constructor-args-in-object-store", "warning"), "ZL10": ("silent-status-loop", "critical"),
    "ZL11": ("no-workers-ever", "critical"), "ZL12": ("retries-exhausted", "critical"),
}  # fmt: skip
DETECTORS: list[Callable] = [
    all_workers_dead, name_collision_on_retry, restarted_coordinator, heartbeat_storm, lost_shard,
    zombie_worker, preemption_wave, poison_shard, constructor_args, silent_status_loop,
    no_workers_ever, retries_exhausted,
]  # fmt: skip


def as_json(findings: list[Finding]) -> str:
    return json.dumps([asdict(f) for f in findings], indent=1)
