"""``logscan diagnose``: detectors over the ingest tables, one per pattern id of shared/DESIGN.md.

Each finding names its pattern, the pipeline, the window (first to last evidence), the evidence as
``file:line``, an explanation and the ``zephyr_engine.scenarios`` scenario that covers the
corrected engine's behaviour. Detectors read only the tables, never the raw log.

Detectors count happenings, not records: the witnesses of one happening (the raylet, the GCS, the
core-driver log, the driver's stdout and a JSON event file may all report one node death or one
OOM kill) share a ``subject`` and are one happening when they lie within ``witness_gap_s`` of each
other (``happenings``). A happening's time is its earliest witness with a timestamp of its own; a
record whose time was inferred from the line before it counts only when no witness has its own.
Every threshold is a named parameter (``PARAMS``), overridable with ``--param name=value``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from parsers.lines import DEDUP_TAIL
from zephyr_logscan.load import read_manifest

SEVERITY = {"critical": 2, "warning": 1}

# name -> (default, what it means). One place for every threshold of every detector.
PARAMS: dict[str, tuple[float, str]] = {
    "stall_min": (10, "ZL01, ZL05, ZL10: minutes of no progress that make a stall (the no-workers timeout)"),
    "witness_gap_s": (120, "records of one subject this close in time are witnesses of one happening"),
    "storm_gap_s": (60, "ZL04: heartbeat failures this close in time form one burst"),
    "storm_share": (0.25, "ZL04: a burst must mark at least this share of the pool's workers failed"),
    "storm_min": (4, "ZL04: and at least this many workers"),
    "death_before_s": (120, "ZL04, ZL07: a node death this long before a burst explains it (ZL04: a process or actor death, one failure)"),
    "wave_gap_s": (300, "ZL07: node deaths this close in time form one wave"),
    "wave_nodes": (3, "ZL07: distinct nodes that must die in a wave"),
    "wave_failures": (3, "ZL07: distinct workers that must miss heartbeats after the wave"),
    "poison_kills": (3, "ZL08: kills of the same task, or of a pipeline's attempts, that make a poison shard"),
    "kill_ends_attempt_s": (60, "ZL08: an OOM kill this long before an attempt's failure ended it"),
    "zombie_s": (60, "ZL06: a pull_task error this long before the heartbeat failure"),
    "stop_drain_s": (60, "a node drained on SIGTERM this long before the GCS itself stops is the cluster being stopped, no node death"),
}  # fmt: skip


def parameters(overrides: dict[str, str] | None = None) -> dict[str, float]:
    """The defaults with ``overrides`` applied; ValueError names an unknown or bad one."""
    values = {name: float(default) for name, (default, _) in PARAMS.items()}
    for name, text in (overrides or {}).items():
        if name not in PARAMS:
            raise ValueError(f"unknown parameter {name!r}; known: {', '.join(PARAMS)}")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"parameter {name}: not a number: {text!r}") from None
        if not value >= 0:
            raise ValueError(f"parameter {name}: must be >= 0, got {text}")
        values[name] = value
    return values


@dataclass
class Finding:
    pattern: str
    title: str
    severity: str
    pipeline: str | None
    start: str
    end: str
    events: int  # happenings, each counted once whatever the number of its witnesses
    evidence: list[str]
    explanation: str
    scenario: str
    headline: str = ""  # one line for the incident summary
    verified: dict | None = field(default=None)


def diagnose(folder: str | Path, params: dict[str, float] | None = None) -> list[Finding]:
    """Findings of one ingest output folder, ordered by start time.

    >>> [f.pattern for f in diagnose("full_log.txt.logscan")][:3]
    ['ZL09', 'ZL04', 'ZL09']
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    t = {name: pl.read_parquet(folder / f"{name}.parquet") for name in manifest["tables"]}
    return run_detectors(t, params)


def run_detectors(
    t: dict[str, pl.DataFrame], params: dict[str, float] | None = None
) -> list[Finding]:
    p = parameters() if params is None else {**parameters(), **params}
    t = {**t, "node_deaths": node_deaths(t, p["stop_drain_s"])}
    found: list[Finding] = []
    for detector in DETECTORS:
        found.extend(detector(t, p))
    return sorted(found, key=lambda f: (f.start, f.pattern))


# --- happenings ----------------------------------------------------------------------------------


def node_deaths(t, stop_drain_s: float = PARAMS["stop_drain_s"][0]) -> pl.DataFrame:
    """``node_deaths`` without the nodes stopped with the cluster. Ray 2.60 drains a node whose
    ``ray start`` gets SIGTERM (``death reason = AUTOSCALER_DRAIN_PREEMPTED, death message = Node
    received SIGTERM; draining before shutdown.``): a spot VM's shutdown or a pod's deletion, and
    also every stop of a cluster, whose head is drained just before the GCS itself stops (``GCS
    server received SIGTERM``). A drain within ``stop_drain_s`` before that stop is the cluster
    ending, not a node lost under it. (``ray stop`` SIGTERMs the raylet itself: ``death reason =
    EXPECTED_TERMINATION``, never a node death.)"""
    deaths, events = t["node_deaths"], t["events"]
    stops = events.filter(pl.col("rule") == "lifecycle.gcs_stopping")["ts"].drop_nulls()
    if deaths.height == 0 or stops.len() == 0:
        return deaths
    drains = events.filter(
        (pl.col("rule") == "gcs.node_removed")
        & pl.col("message").str.contains("Node received SIGTERM; draining", literal=True)
        & pl.col("subject").is_not_null()
        & pl.col("ts").is_not_null()
    ).select("subject", "ts")
    window = timedelta(seconds=stop_drain_s)
    stopped = [
        subject
        for subject, ts in drains.iter_rows()
        if any(ts <= stop <= ts + window for stop in stops)
    ]
    return deaths.filter(~pl.col("subject").is_in(stopped).fill_null(False))


def happenings(df: pl.DataFrame, gap_s: float) -> pl.DataFrame:
    """One row per happening: the records of one subject within ``gap_s`` of each other (a record
    without a subject is one with every record of the same text and own timestamp: a line copied
    into several files). ``ts`` is the earliest own timestamp (inferred only when no witness has
    one), ``end`` the latest; ``events`` the most repeats one witness printed (Ray's dedup folds
    other happenings into one line); ``evidence`` every witness as ``file:line``; every other
    column its first non-null value in time order."""
    df = _cut_off_tails(df.filter(pl.col("ts").is_not_null()))
    keep = [
        c for c in df.columns if c not in ("ts", "subject", "repeat", "file", "line", "ts_inferred")
    ]
    # A line's text without Ray's dedup tail: the driver's copy of a worker line may carry
    # "[repeated Nx across cluster]" (the count is in ``repeat``); the worker's file never does.
    df = _without_counted_folds(df.with_columns(text=pl.col("message").str.replace(DEDUP_TAIL, "")))
    key = pl.coalesce(
        pl.col("subject"),
        pl.concat_str([pl.lit("text:"), pl.col("text"), pl.col("ts").cast(pl.String)])
        .fill_null(pl.concat_str([pl.col("file"), pl.col("line").cast(pl.String)], separator=":")),
    )  # fmt: skip
    gap = timedelta(seconds=gap_s)
    own = ~pl.col("ts_inferred").fill_null(False)
    # A line copied into several files (a worker's line forwarded to the driver log and kept in
    # the session's worker-*.err) is one witness: copies with the same text and own timestamp
    # share the subject any of them names (only the driver's copy carries the pid).
    copied = pl.col("subject").drop_nulls().first().over("text", "ts", own)
    df = df.with_columns(
        subject=pl.when(own).then(pl.coalesce("subject", copied)).otherwise("subject")
    )
    df = df.with_columns(key=key, own=own).sort("key", "ts")
    new = (pl.col("key") != pl.col("key").shift(1)) | ((pl.col("ts") - pl.col("ts").shift(1)) > gap)
    df = df.with_columns(hid=new.fill_null(True).cum_sum())
    # One witness (a file's process, by one rule) that reports the subject again at another own
    # time reports another happening: a worker that failed its heartbeat, re-registered and
    # failed again within the gap failed twice. The k-th report of each witness is the k-th
    # happening; a borrowed (inferred) time never makes one.
    # A node or a process dies once, the memory monitor's kill on one reading happens once:
    # every report of one is a witness of it (the owner reports it again with each failed call).
    repeats = pl.col("own") & ~pl.col("key").str.contains(r"^(?:node|process|oom):")
    witness = [c for c in ("file", "pid", "ip", "rule") if c in df.columns]
    again = pl.when(repeats).then("ts").rank("dense").over("hid", *witness).fill_null(1) - 1
    df = df.with_columns(hid=pl.struct("hid", again.alias("again")))
    out = df.group_by("hid").agg(
        pl.col("key").first().alias("subject"),
        pl.coalesce(pl.col("ts").filter(pl.col("own")).min(), pl.col("ts").min()).alias("ts"),
        pl.col("ts").max().alias("end"),
        pl.col("repeat").max().cast(pl.Int64).alias("events"),
        pl.concat_str([pl.col("file"), pl.col("line").cast(pl.String)], separator=":").alias("evidence"),
        *[pl.col(c).drop_nulls().first() for c in keep if c not in ("key", "own", "hid", "text")],
    )  # fmt: skip
    return out.drop("hid").sort("ts")


def _cut_off_tails(df: pl.DataFrame) -> pl.DataFrame:
    """A record that names nothing and has no time of its own, right after a record of the same
    table in the same file, is that record's last line, cut off by the folding rule (the
    unindented `The actor died because ...` after an ActorDiedError's tab-indented details): it
    takes that record's subject, so it is no happening of its own."""
    if "lines" not in df.columns or df.height == 0:
        return df
    before = pl.col("line").shift(1).over("file", order_by="line")
    ends = (pl.col("line") + pl.col("lines")).shift(1).over("file", order_by="line")
    tail = (
        pl.col("subject").is_null()
        & pl.col("ts_inferred").fill_null(False)
        & before.is_not_null()
        & (ends == pl.col("line"))
        & (pl.col("ts") == pl.col("ts").shift(1).over("file", order_by="line"))
    )
    head = pl.col("subject").shift(1).over("file", order_by="line")
    return df.with_columns(subject=pl.when(tail).then(head).otherwise(pl.col("subject")))


def _without_counted_folds(df: pl.DataFrame) -> pl.DataFrame:
    """``repeat`` of each line Ray's dedup folded, less the folded lines read from elsewhere.

    A ``[repeated Nx across cluster]`` line stands for itself and the N-1 lines with the same
    dedup key (the text without its tokens that hold digits) that Ray held back since the
    previous line of that key in the same file. Read together with the files those lines were
    written to (``worker-*.err``), each held-back line is a witness of its own, with no copy in
    the folded line's file: it is counted there, and the folded line counts only the rest."""
    folding = df.filter(pl.col("repeat") > 1)["file"].unique().to_list()
    if not folding or df["file"].n_unique() < 2:
        return df
    canon = pl.col("text").str.replace_all(r"\S*\d\S*", "").str.replace_all(r"\s+", " ")
    df = df.with_row_index("_row").with_columns(_canon=canon.str.strip_chars())
    df = df.with_columns(_prev=pl.col("ts").shift(1).over("file", "_canon", order_by="ts"))
    held = pl.concat([_held_back(df, file) for file in folding])
    return (
        df.join(held, on="_row", how="left")
        .with_columns(
            repeat=pl.when(pl.col("_held") > 0)
            .then(pl.max_horizontal(pl.col("repeat") - pl.col("_held"), pl.lit(1)))
            .otherwise(pl.col("repeat"))
            .cast(df.schema["repeat"])
        )
        .sort("_row")
        .drop("_row", "_canon", "_prev", "_held")
    )


def _held_back(df: pl.DataFrame, file: str) -> pl.DataFrame:
    """For each folded line of ``file``: how many lines of its dedup key other files hold between
    the previous line of that key in ``file`` and it, that ``file`` has no copy of (``_held``).
    Counted by as-of lookups in each key's running count, not by pairing every two lines."""
    copies = df.filter(pl.col("file") == file).select("text", "ts").unique()
    seen = (
        df.filter(pl.col("file") != file)
        .join(copies, on=["text", "ts"], how="anti")
        .select("_canon", "text", "ts").unique().sort("ts")  # a line copied into several files once
        .with_columns(_n=pl.int_range(1, pl.len() + 1).over("_canon"))
    )  # fmt: skip
    folded = df.filter((pl.col("file") == file) & (pl.col("repeat") > 1))
    folded = folded.select("_row", "_canon", "ts", "_prev")

    def before(column: str) -> pl.DataFrame:  # lines of the key seen strictly before ``column``
        left = folded.filter(pl.col(column).is_not_null()).sort(column)
        right = seen.rename({"ts": column})
        found = left.join_asof(
            right, on=column, by="_canon", allow_exact_matches=False, check_sortedness=False
        )  # both sorted by ``column``
        return found.select("_row", pl.col("_n").fill_null(0).alias(column))

    upto = folded.select("_row").join(before("ts"), on="_row", how="left")
    upto = upto.join(before("_prev"), on="_row", how="left")
    return upto.select(
        "_row", _held=(pl.col("ts").fill_null(0) - pl.col("_prev").fill_null(0)).cast(pl.Int64)
    )


def _of(pipeline: str | None, column: str = "pipeline") -> pl.Expr:
    """Rows of ``pipeline``; none for an unknown pipeline (a null never equals a null here, and
    comparing with None would only make polars warn)."""
    return pl.col(column) == pipeline if pipeline is not None else pl.lit(False)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _evidence(*frames: pl.DataFrame) -> tuple[datetime, datetime, list[str]]:
    """Window and evidence of happenings (``ts``/``end``/``evidence``) or plain records."""
    times, where = [], []
    for df in frames:
        if df.height == 0:
            continue
        if "evidence" in df.columns:
            times += [df["ts"].min(), df["end"].max()]
            for items in df.sort("ts")["evidence"].to_list():
                where.extend(items)
        else:
            times += [df["ts"].min(), df["ts"].max()]
            where += [f"{f}:{n}" for f, n in df.sort("ts").select("file", "line").iter_rows()]
    return min(times), max(times), list(dict.fromkeys(where))


def _finding(pattern, frames, pipeline, events, explanation, headline) -> Finding:
    title, severity = PATTERNS[pattern]
    start, end, where = _evidence(*frames)
    return Finding(pattern, title, severity, pipeline, _iso(start), _iso(end), int(events),
                   where[:20], explanation, pattern, headline)  # fmt: skip


def _clusters(df: pl.DataFrame, gap: timedelta) -> list[pl.DataFrame]:
    """Split rows (sorted by ts) where consecutive rows are more than ``gap`` apart."""
    df = df.filter(pl.col("ts").is_not_null()).sort("ts")
    if df.height == 0:
        return []
    ids = (df["ts"].diff() > gap).fill_null(False).cast(pl.Int32).cum_sum()
    return [part.drop("cluster") for _, part in df.with_columns(cluster=ids).group_by("cluster", maintain_order=True)]  # fmt: skip


def _end_of_log(t) -> datetime | None:
    return max((df["ts"].max() for df in t.values() if "ts" in df.columns and df["ts"].max() is not None), default=None)  # fmt: skip


def _driver() -> pl.Expr:
    """The process a record comes from: its file and its pid (the driver's own lines have none)."""
    return pl.concat_str(
        [pl.col("file"), pl.col("pid").cast(pl.String).fill_null("driver")], separator="|"
    )


def _attempts(t) -> pl.DataFrame:
    """Every pipeline attempt: its start, and its end (the next start in the same driver process,
    any pipeline's: a driver runs its pipelines one after another; else the end of the log)."""
    starts = t["pipeline_attempts"].filter(
        (pl.col("rule") == "zephyr.pipeline_start") & pl.col("pipeline").is_not_null() & pl.col("ts").is_not_null()
    ).with_columns(driver=_driver()).sort("ts")  # fmt: skip
    starts = starts.with_columns(until=pl.col("ts").shift(-1).over("driver"))
    if starts.height == 0:
        return starts
    return starts.with_columns(
        until=pl.col("until").fill_null(_end_of_log(t) + timedelta(seconds=1))
    )


def _workers(failures: pl.DataFrame) -> int:
    """Distinct workers among heartbeat-failure happenings: a worker that failed, re-registered
    and failed again counts once; a line Ray's dedup folded counts the N it stands for."""
    return int(failures.unique("worker_id", keep="first", maintain_order=True)["events"].sum())


def _unexplained(failures: pl.DataFrame, deaths: pl.DataFrame, window: timedelta) -> int:
    """Distinct failed workers that no process or actor death explains: each death (a line Ray's
    dedup folded counts the N it stands for) explains one failure at most ``window`` after it,
    the earliest unexplained first."""
    first = failures.unique("worker_id", keep="first", maintain_order=True)
    fails = sorted(ts for ts, n in first.select("ts", "events").iter_rows() for _ in range(n))
    died = sorted(ts for ts, n in deaths.select("ts", "events").iter_rows() for _ in range(n))
    k = left = 0
    for ts in fails:
        while k < len(died) and died[k] < ts - window:
            k += 1
        if k < len(died) and died[k] <= ts:
            k += 1
        else:
            left += 1
    return left


def _zephyr_worker_hosts(t) -> dict[str, str]:
    """worker name -> the ip its own lines were printed from (Ray prints ``ip=`` for other nodes)."""
    own = t["events"].filter(
        pl.col("subject").str.starts_with("worker:") & pl.col("pid").is_not_null()
        & pl.col("rule").is_in(["lifecycle.pull_task_failed", "lifecycle.heartbeat_failed",
                                "lifecycle.heartbeat_give_up", "lifecycle.received_shutdown",
                                "lifecycle.executing_shard"])
    )  # fmt: skip
    return {s[len("worker:") :]: ip or "" for s, ip in own.select("subject", "ip").iter_rows()}


def _node_ips(t) -> dict[str, str]:
    """node id -> ip, from every record that names both (banners, OOM reports)."""
    pairs = {}
    for name in ("node_deaths", "oom_kills"):
        df = t[name].filter(pl.col("node_id").is_not_null() & pl.col("node_ip").is_not_null())
        pairs.update(dict(df.select("node_id", "node_ip").iter_rows()))
    return pairs


# --- detectors -----------------------------------------------------------------------------------


def all_workers_dead(t, p) -> list[Finding]:
    """ZL01: a pipeline's status lines read 0 alive of its registered workers with work left for
    ``stall_min`` minutes and it never raised."""
    out = []
    status = t["worker_status"].filter(pl.col("ts").is_not_null()).sort("ts")
    terminal = t["events"].filter(
        pl.col("message").str.contains("No alive workers for|NoAliveWorkersError")
    )
    for (pipeline,), rows in status.group_by("pipeline", maintain_order=True):
        # "0/0 workers alive": none registered yet (ZL11's wait), so none died
        stuck = (
            (pl.col("alive") == 0)
            & (pl.col("workers") > 0)
            & (pl.col("completed") < pl.col("total"))
        ).fill_null(False)
        runs = rows.with_columns(
            stuck=stuck, run=(stuck != stuck.shift(1)).fill_null(True).cast(pl.Int32).cum_sum()
        )
        for _, run in runs.filter(pl.col("stuck")).group_by("run", maintain_order=True):
            start, end = run["ts"][0], run["ts"][-1]
            raised = terminal.filter(_of(pipeline) & (pl.col("ts") >= start)).height
            if end - start >= timedelta(minutes=p["stall_min"]) and not raised:
                left, minutes = (
                    run["total"][-1] - run["completed"][-1],
                    (end - start).total_seconds() / 60,
                )
                out.append(_finding("ZL01", [run], pipeline, run["ts"].n_unique(),
                    f"The coordinator reported 0 alive workers with {left} tasks left for {minutes:.0f} minutes and "
                    "never raised: it waits for registered workers, not alive ones (upstream defect 1).",
                    f"the coordinator waited {minutes:.0f} min at 0/{run['workers'][-1]} alive with {left} tasks left"))  # fmt: skip
    return out


def name_collision_on_retry(t, p) -> list[Finding]:
    """ZL02: a zephyr actor name is taken after one of the pipeline's attempts failed."""
    out = []
    taken = happenings(
        t["actor_already_exists"].filter(pl.col("actor_name").str.starts_with("zephyr-")),
        p["witness_gap_s"],
    )
    failed = t["pipeline_attempts"].filter(pl.col("rule") == "zephyr.attempt_failed")
    for (pipeline,), rows in taken.group_by("pipeline", maintain_order=True):
        first_failure = failed.filter(_of(pipeline))["ts"].min()
        rows = (
            rows.filter(pl.col("ts") >= first_failure)
            if first_failure is not None
            else rows.head(0)
        )
        if rows.height:
            out.append(_finding("ZL02", [rows], pipeline, rows.height,
                f"A retry re-created {rows['actor_name'][0]} while the previous attempt's actor still held "
                "the name: retries reused actor names (upstream defect 2).",
                f"the retry collided with the old actor's name {rows['actor_name'][0]}"))  # fmt: skip
    return out


def restarted_coordinator(t, p) -> list[Finding]:
    """ZL03: a second ``Coordinator initialized`` within one attempt of one pipeline (an init that
    names no pipeline belongs to the one attempt running at that moment, if only one runs)."""
    out = []
    attempts = _attempts(t)
    inits = happenings(
        t["events"].filter(pl.col("rule") == "lifecycle.coordinator_initialized"),
        p["witness_gap_s"],
    )
    failed = t["pipeline_attempts"].filter(pl.col("rule") == "zephyr.attempt_failed")
    spans = list(attempts.select("ts", "until", "pipeline").iter_rows())
    owner = []
    for ts, pipeline in inits.select("ts", "pipeline").iter_rows():
        running = {pl_ for a, b, pl_ in spans if a <= ts < b}
        owner.append(
            pipeline if pipeline is not None else (running.pop() if len(running) == 1 else None)
        )
    inits = inits.with_columns(owner=pl.Series(owner, dtype=pl.String))
    for start, until, pipeline in spans:
        within = inits.filter(
            _of(pipeline, "owner") & (pl.col("ts") >= start) & (pl.col("ts") < until)
        )
        if within.height < 2:
            continue
        again = within.slice(1)
        after = failed.filter(
            _of(pipeline) & (pl.col("ts") >= again["ts"][0]) & (pl.col("ts") < until)
        )
        out.append(_finding("ZL03", [again, after.head(1)], pipeline, again.height,
            "The coordinator initialised again during one attempt: it was restarted (it was preemptible "
            "with max_restarts=-1) and a restarted coordinator runs only __init__ (upstream defect 3).",
            "the coordinator was restarted within one attempt"))  # fmt: skip
    return out


def heartbeat_storm(t, p) -> list[Finding]:
    """ZL04: a burst of heartbeat failures of at least ``storm_share`` of the pool (and
    ``storm_min`` workers) that no death of a node hosting those workers explains, nor deaths of
    processes or actors (Ray's ``A worker died``, the GCS's ``Actor is failed`` and ``Destroying
    actor``, OOM kills) just before them: workers that really died are not falsely marked dead."""
    out = []
    window = timedelta(seconds=p["death_before_s"])
    destroyed = t["events"].filter(pl.col("rule") == "gcs.actor_destroyed")
    died = pl.concat(
        [t[name].select(*COMMON_COLS, "pid", "ip") for name in ("actor_deaths", "oom_kills")]
        + [destroyed.select(*COMMON_COLS, "pid", "ip")]
    )
    died = happenings(died, p["witness_gap_s"])
    deaths = happenings(t["node_deaths"], p["witness_gap_s"])
    ips = _node_ips(t)
    deaths = deaths.with_columns(
        host=pl.coalesce(pl.col("node_ip"), pl.col("node_id").replace_strict(ips, default=None, return_dtype=pl.String))
    )  # fmt: skip
    hosts = _zephyr_worker_hosts(t)
    size = dict(
        t["registrations"].group_by("pipeline").agg(pl.col("worker_id").n_unique()).iter_rows()
    )
    failures = happenings(t["heartbeat_failures"], p["witness_gap_s"])
    for (pipeline,), rows in failures.group_by("pipeline", maintain_order=True):
        need = max(p["storm_min"], size.get(pipeline, 0) * p["storm_share"])
        for burst in _clusters(rows, timedelta(seconds=p["storm_gap_s"])):
            a, b = burst["ts"][0], burst["ts"][-1]
            near = deaths.filter(
                (pl.col("ts") >= a - timedelta(seconds=p["death_before_s"])) & (pl.col("ts") <= b)
            )
            known = {hosts[w] for w in burst["worker_id"].drop_nulls() if w in hosts}
            if known:  # the log says where the silent workers ran: only those nodes' deaths count
                explained = near.filter(pl.col("host").is_in(list(known))).height > 0
            else:
                explained = near.height > 0
            n = _unexplained(
                burst, died.filter((pl.col("ts") >= a - window) & (pl.col("ts") <= b)), window
            )
            if n >= need and not explained:
                out.append(_finding("ZL04", [burst], pipeline, n,
                    f"{n} workers were marked dead within {(b - a).total_seconds():.0f}s while none of their "
                    "nodes or processes died: the coordinator was too busy to hear their heartbeats (upstream defects 4, 14).",
                    f"{n} workers falsely marked dead in {(b - a).total_seconds():.0f}s"))  # fmt: skip
    return out


def preemption_wave(t, p) -> list[Finding]:
    """ZL07: ``wave_nodes`` distinct nodes die within ``wave_gap_s`` of each other and then
    ``wave_failures`` distinct zephyr workers miss their heartbeats."""
    out = []
    ips = _node_ips(t)
    by_ip = {ip: node for node, ip in ips.items()}
    deaths = t["node_deaths"].with_columns(  # one node named by id in one record, by ip in another
        subject=pl.coalesce(
            pl.when(pl.col("subject").is_not_null()).then(pl.col("subject")),
            pl.concat_str([pl.lit("node:"), pl.col("node_ip").replace_strict(by_ip, default=None, return_dtype=pl.String)]),
            pl.concat_str([pl.lit("node:"), pl.col("node_ip")]),
        )
    )  # fmt: skip
    deaths = happenings(deaths, p["witness_gap_s"])
    failures = happenings(t["heartbeat_failures"], p["witness_gap_s"])
    for wave in _clusters(deaths, timedelta(seconds=p["wave_gap_s"])):
        # one row per node death (a late witness of a node already counted is no other node);
        # dedup repeats count
        nodes = int(wave.unique("subject", keep="first", maintain_order=True)["events"].sum())
        if nodes < p["wave_nodes"]:
            continue
        a, b = wave["ts"][0], wave["ts"][-1]
        after = failures.filter(
            (pl.col("ts") >= a) & (pl.col("ts") <= b + timedelta(seconds=p["death_before_s"]))
        )
        lost = _workers(after)
        if lost < p["wave_failures"]:
            continue
        pipeline = after["pipeline"].drop_nulls().mode().sort().to_list()
        out.append(_finding("ZL07", [wave, after], pipeline[0] if pipeline else None, nodes,
            f"{nodes} nodes died in {(b - a).total_seconds() / 60:.1f} minutes, then {lost} workers missed "
            "their heartbeats: a preemption wave took the worker pool.",
            f"a preemption wave killed {nodes} nodes; {lost} workers missed heartbeats"))  # fmt: skip
    return out


COMMON_COLS = [
    "file",
    "line",
    "ts",
    "ts_inferred",
    "repeat",
    "pipeline",
    "rule",
    "message",
    "subject",
]
KILLED_WORK = r"task name=([^,\s)]+)|\(task ID: ([0-9a-f]+)|task_name=([^,\s)]+)"


def poison_shard(t, p) -> list[Finding]:
    """ZL08: the same work killed again and again: one Ray task (by id or name) OOM-killed
    ``poison_kills`` times, or ``poison_kills`` of a pipeline's attempts each ended by an OOM kill,
    or the engine's shard-budget error."""
    out = []
    # The work a kill took, from whichever witness names it (a kill's witnesses are one happening).
    kills = t["oom_kills"].with_columns(
        work=pl.col("message").str.extract_groups(KILLED_WORK).struct.field("1").fill_null(
            pl.col("message").str.extract(KILLED_WORK, 2)).fill_null(pl.col("message").str.extract(KILLED_WORK, 3))
    )  # fmt: skip
    kills = happenings(kills, p["witness_gap_s"])
    # A node's OOM summary ("N Workers ... killed ... over the last time period") witnesses the
    # kills it sums up: it is a kill of its own only when no kill of a process is near it.
    procs = kills.filter(pl.col("subject").str.contains(r"^(?:process|oom):"))
    gap = timedelta(seconds=p["witness_gap_s"])
    summed_up = [
        rule == "ray.oom_summary" and procs.filter((pl.col("node_ip") == ip) & (pl.col("ts") >= ts - gap) & (pl.col("ts") <= ts)).height > 0
        for rule, ip, ts in kills.select("rule", "node_ip", "ts").iter_rows()
    ]  # fmt: skip
    kills = kills.filter(~pl.Series(summed_up, dtype=pl.Boolean)) if kills.height else kills
    for (work,), rows in kills.filter(pl.col("work").is_not_null()).group_by(
        "work", maintain_order=True
    ):
        if rows.height >= p["poison_kills"]:
            out.append(_finding("ZL08", [rows], rows["pipeline"].drop_nulls().first(), rows.height,
                f"Task {work} was killed by the memory monitor {rows.height} times: the same work keeps "
                "getting killed; without a per-shard budget it loops forever.",
                f"task {work} OOM-killed {rows.height} times"))  # fmt: skip
    # An attempt's end (its failure, the pipeline's failure, an actor death) right after an OOM
    # kill was ended by it; the failure line that names the OOM error is its own witness.
    ends = happenings(pl.concat([
        t["pipeline_attempts"].filter(pl.col("rule").is_in(["zephyr.attempt_failed", "zephyr.pipeline_failed"])).select(COMMON_COLS),
        t["actor_deaths"].select(COMMON_COLS),
    ]).filter(pl.col("pipeline").is_not_null()), p["witness_gap_s"])  # fmt: skip
    window = timedelta(seconds=p["kill_ends_attempt_s"])
    for (pipeline,), rows in ends.group_by("pipeline", maintain_order=True):
        ended, why = [], []
        for ts in rows["ts"]:
            before = kills.filter((pl.col("ts") >= ts - window) & (pl.col("ts") <= ts))
            if before.height:
                ended.append(ts)
                why.append(before)
        if len(ended) >= p["poison_kills"]:
            by_kill = rows.filter(pl.col("ts").is_in(ended))
            out.append(_finding("ZL08", [*why, by_kill], pipeline, len(ended),
                f"{len(ended)} of the pipeline's attempts each ended right after an OOM kill: the same "
                "work keeps getting killed; without a per-shard budget it loops forever.",
                f"{len(ended)} attempts ended by OOM kills"))  # fmt: skip
    budget = t["events"].filter(
        pl.col("message").str.contains(r"Shard \d+ has (failed \d+ times|been in flight during)")
    )
    for row in happenings(budget, p["witness_gap_s"]).iter_rows(named=True):
        one = pl.DataFrame([row]).select("ts", "end", "evidence")
        out.append(_finding("ZL08", [one], row["pipeline"], 1, "A shard exhausted its failure budget.",
                            "a shard exhausted its failure budget"))  # fmt: skip
    return out


def constructor_args(t, p) -> list[Finding]:
    """ZL09: the ray#53727 warning for a zephyr pipeline's actors."""
    warn = happenings(
        t["warnings"].filter(
            (pl.col("code") == "object_store_args") & pl.col("pipeline").is_not_null()
        ),
        p["witness_gap_s"],
    )
    return [
        _finding("ZL09", [rows], pipeline, rows.height,
                 "Worker actors were created with arguments in the object store and max_restarts > 0 "
                 "(ray#53727): their restarts fail when the arguments are evicted (upstream defect 9).",
                 "worker actors created with constructor arguments in the object store")
        for (pipeline,), rows in warn.group_by("pipeline", maintain_order=True)
    ]  # fmt: skip


def no_workers_ever(t, p) -> list[Finding]:
    """ZL11: a zephyr pipeline attempt started, resource requests could not be scheduled, and none
    of that pipeline's workers registered during the attempt."""
    out = []
    regs = t["registrations"].filter(pl.col("ts").is_not_null())
    infeasible = happenings(
        t["warnings"].filter(pl.col("code") == "infeasible_request"), p["witness_gap_s"]
    )
    for start, until, pipeline in _attempts(t).select("ts", "until", "pipeline").iter_rows():
        mine = regs.filter(_of(pipeline) & (pl.col("ts") >= start) & (pl.col("ts") < until))
        asked = infeasible.filter((pl.col("ts") >= start) & (pl.col("ts") < until))
        if mine.height == 0 and asked.height:
            out.append(_finding("ZL11", [asked], pipeline, asked.height,
                "Resource requests could not be scheduled and none of the pipeline's workers ever "
                "registered: without a readiness bound the pipeline waits for workers that never come "
                "(upstream defect 11).", "no worker ever registered; the resource request cannot be met"))  # fmt: skip
    return out


def retries_exhausted(t, p) -> list[Finding]:
    """ZL12: a pipeline's final attempt failed (``N/N`` or the final failure)."""
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
            _of(pipeline) & (pl.col("rule") == "zephyr.attempt_failed") & (pl.col("ts") <= end)
        )
        every = pl.concat([failures, rows]).unique(["file", "line"])
        out.append(_finding("ZL12", [every], pipeline, failures.height,
            f"Every retry failed ({failures.height} attempt failures); upstream retried without backoff and "
            "kept only the last cause (upstream defect 12).", f"pipeline failed after {failures.height} failed attempts"))  # fmt: skip
    return out


def lost_shard(t, p) -> list[Finding]:
    """ZL05: after re-registrations, nothing queued and no progress with work left for
    ``stall_min`` minutes."""
    out = []
    status = t["worker_status"].filter(pl.col("ts").is_not_null()).sort("ts")
    for (pipeline,), rows in status.group_by("pipeline", maintain_order=True):
        rereg = t["reregistrations"].filter(_of(pipeline))
        if rereg.height == 0:
            continue
        stalled = rows.filter(
            (pl.col("queued") == 0)
            & (pl.col("completed") < pl.col("total"))
            & (pl.col("ts") > rereg["ts"].min())
        )
        for (_done,), run in stalled.group_by("completed", maintain_order=True):
            if run["ts"][-1] - run["ts"][0] >= timedelta(minutes=p["stall_min"]):
                out.append(_finding("ZL05", [run], pipeline, run["ts"].n_unique(),
                    "After workers re-registered, nothing was queued and progress stopped with work left: "
                    "a re-registering worker's shard was lost (upstream defects 5, 6, 13).",
                    "progress stopped with nothing queued after re-registrations"))  # fmt: skip
    return out


def zombie_worker(t, p) -> list[Finding]:
    """ZL06: a worker's ``pull_task`` failed within ``zombie_s`` before the coordinator marked
    that worker dead."""
    out = []
    pulls = (
        t["events"]
        .filter(pl.col("rule") == "lifecycle.pull_task_failed")
        .with_columns(worker=pl.col("subject").str.strip_prefix("worker:"))
    )
    if pulls.height == 0:
        return out
    window = timedelta(seconds=p["zombie_s"])
    failures = happenings(
        t["heartbeat_failures"].filter(
            pl.col("worker_id").is_in(pulls["worker"].drop_nulls().implode())
        ),
        p["witness_gap_s"],
    )
    for row in failures.iter_rows(named=True):
        before = pulls.filter(
            (pl.col("worker") == row["worker_id"])
            & (pl.col("ts") <= row["ts"])
            & (pl.col("ts") >= row["ts"] - window)
        )
        if before.height:
            one = failures.filter(pl.col("subject") == row["subject"]).filter(
                pl.col("ts") == row["ts"]
            )
            out.append(_finding("ZL06", [before, one], row["pipeline"], 1,
                f"{row['worker_id']} stopped polling after pull_task errors and then missed its heartbeats "
                "while the coordinator lived: a zombie that the backend never restarts (upstream defect 7).",
                f"{row['worker_id']} became a zombie"))  # fmt: skip
    return out


def silent_status_loop(t, p) -> list[Finding]:
    """ZL10: a pipeline's status line stops while its stage is unfinished, for ``stall_min``
    minutes before the log ends, and nothing shows the stage or the pipeline ended: no stage
    progress after it (a final ``N/N tasks completed``, a next stage), no coordinator shutdown or
    worker ``Received SHUTDOWN``, no attempt end, failure, error or actor death of the pipeline, and
    no later pipeline start in the same driver process."""
    out = []
    status = t["worker_status"].filter(pl.col("ts").is_not_null()).sort("ts")
    end_of_log = _end_of_log(t)
    ended = pl.concat([
        t["events"].filter(pl.col("rule").is_in(["lifecycle.coordinator_shutdown", "lifecycle.received_shutdown",
            "lifecycle.no_alive_workers", "lifecycle.coordinator_aborted", "lifecycle.loop_crashed"])).select("pipeline", "ts"),
        t["stage_progress"].select("pipeline", "ts"),
        t["pipeline_attempts"].select("pipeline", "ts"),
        t["actor_deaths"].select("pipeline", "ts"),
    ])  # fmt: skip
    starts = _attempts(t)
    for (pipeline,), rows in status.group_by("pipeline", maintain_order=True):
        if pipeline is None:  # no process named it: nothing could be seen to end it
            continue
        last = rows.tail(1)
        when = last["ts"][0]
        if last["completed"][0] >= last["total"][0] or end_of_log - when < timedelta(
            minutes=p["stall_min"]
        ):
            continue
        if ended.filter(_of(pipeline) & (pl.col("ts") >= when)).height:
            continue
        drivers = starts.filter(_of(pipeline))["driver"].unique().implode()
        if starts.filter(pl.col("driver").is_in(drivers) & (pl.col("ts") > when)).height:
            continue  # the driver went on to its next pipeline: this one had returned
        out.append(_finding("ZL10", [last], pipeline, 1,
            "The coordinator's status line stopped with work left and nothing ended the pipeline: its "
            "loop thread died silently (upstream defect 10).",
            f"the status line stopped at {last['completed'][0]}/{last['total'][0]} and nothing ended the pipeline"))  # fmt: skip
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
RULE_OF = {d.__name__: re.sub(r"\s+", " ", (d.__doc__ or "").strip()) for d in DETECTORS}


def as_json(findings: list[Finding], params: dict[str, float] | None = None) -> str:
    """The findings and the parameters they were found with."""
    return json.dumps(
        {"params": params or parameters(), "findings": [asdict(f) for f in findings]}, indent=1
    )
