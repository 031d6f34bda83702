"""Ingest tables -> the data the report draws: event bins, worker series, node lanes, unknowns.

Pure functions over polars frames, so the figures' numbers are tested apart from the drawing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from zephyr_logscan.derive import own_pipelines
from zephyr_logscan.findings import PARAMS, happenings, node_deaths
from zephyr_logscan.load import read_manifest

# Event strips: label -> (table, optional filter)
STRIPS = {
    "node deaths": ("node_deaths", None),
    "heartbeat failures": ("heartbeat_failures", None),
    "registrations": ("registrations", None),
    "re-registrations": ("reregistrations", None),
    "OOM kills": ("oom_kills", None),
    "actor deaths": ("actor_deaths", None),
    "name collisions": ("actor_already_exists", None),
}
NICE_BINS = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400]  # seconds
MAX_POINTS = 50_000  # above this a lane is thinned to its first and last points per bin


@dataclass
class Tables:
    folder: Path
    manifest: dict
    frames: dict[str, pl.DataFrame]

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.frames[name]


def load(folder: str | Path) -> Tables:
    folder = Path(folder)
    manifest = read_manifest(folder)
    frames = {name: pl.read_parquet(folder / f"{name}.parquet") for name in manifest["tables"]}
    if "events" in frames and "node_deaths" in frames:  # a cluster being stopped loses no node
        frames["node_deaths"] = node_deaths(frames)
    return Tables(folder, manifest, frames)


def time_range(t: Tables) -> tuple:
    stamps = [
        df["ts"].drop_nulls() for name, df in t.frames.items() if name != "templates" and df.height
    ]
    stamps = [s for s in stamps if len(s)]
    if not stamps:
        return None, None
    return min(s.min() for s in stamps), max(s.max() for s in stamps)


def bin_seconds(start, end, target_bins: int = 240) -> int:
    """The smallest nice bin width that gives at most ``target_bins`` bins over the range."""
    if start is None or end is None:
        return 60
    span = max((end - start).total_seconds(), 1)
    return next((b for b in NICE_BINS if span / b <= target_bins), NICE_BINS[-1])


def bin_start(ts, every_s: int):
    """The start of the event bin holding ``ts`` (bins are aligned to the epoch, as
    ``group_by_dynamic`` aligns them)."""
    return ts - (ts - datetime(1970, 1, 1, tzinfo=ts.tzinfo)) % timedelta(seconds=every_s)


def event_bins(
    t: Tables, every_s: int, gap_s: float = PARAMS["witness_gap_s"][0]
) -> dict[str, pl.DataFrame]:
    """Per strip: ``bin`` start times and ``events`` in each bin: happenings, as ``logscan
    diagnose`` counts them (one node death reported by the driver, the GCS and an event file is
    one; a line printed with ``[repeated Nx across cluster]`` is N), at their earliest time."""
    out = {}
    for label, (table, _) in STRIPS.items():
        df = happenings(t[table], gap_s).select("ts", "events")
        out[label] = (
            df.sort("ts")
            .group_by_dynamic("ts", every=f"{every_s}s")
            .agg(pl.col("events").sum())
            .rename({"ts": "bin"})
        )
    return out


def worker_series(t: Tables) -> dict[str, pl.DataFrame]:
    """Per pipeline: the status line over time (alive, dead, workers, completed, total). A
    coordinator's lines from before it named its pipeline are that pipeline's."""
    tables = {"events": t["events"], "worker_status": t["worker_status"]}
    status = own_pipelines(tables).get("worker_status", t["worker_status"])
    status = status.filter(pl.col("ts").is_not_null()).sort("ts")
    out = {}
    for (pipeline,), df in status.group_by("pipeline", maintain_order=True):
        out[pipeline or "(unattributed)"] = df.select(
            "ts", "alive", "dead", "workers", "completed", "total", "stage"
        )
    return out


def with_gaps(series: pl.DataFrame, least_s: float = 300, factor: float = 10) -> pl.DataFrame:
    """The series with a row of nulls after each silence longer than ``factor`` times its usual
    step (and ``least_s``): a line drawn through hours without a status line claims counts nobody
    logged."""
    if series.height < 3:
        return series
    step = series["ts"].diff().dt.total_milliseconds().drop_nulls().median() / 1000
    gap = max(least_s, factor * step)
    after = series.filter(
        (series["ts"].shift(-1) - series["ts"]).dt.total_milliseconds() > gap * 1000
    )
    if after.height == 0:
        return series
    breaks = after.select(pl.col("ts") + pl.duration(milliseconds=1)).with_columns(
        [pl.lit(None, dtype=series[c].dtype).alias(c) for c in series.columns if c != "ts"]
    )
    return pl.concat([series, breaks.select(series.columns)]).sort("ts")


def stalls(series: pl.DataFrame) -> list[tuple]:
    """Stretches where workers are registered, none alive, and work remains: ``(start, end)``
    pairs. Before the first registration (``0/0 workers alive``) the coordinator is starting, not
    stuck: every real Ray run's start was drawn as a stall."""
    stuck = series.with_columns(
        stuck=(pl.col("alive") == 0)
        & (pl.col("workers") > 0)
        & (pl.col("completed") < pl.col("total"))
    )
    spans, start, last = [], None, None
    for ts, is_stuck in stuck.select("ts", "stuck").iter_rows():
        if is_stuck and start is None:
            start = ts
        if not is_stuck and start is not None:
            spans.append((start, last))
            start = None
        last = ts
    if start is not None:
        spans.append((start, last))
    return spans


def node_lanes(t: Tables) -> pl.DataFrame:
    """One row per event on a node: ``node`` (IP), ``ts``, ``kind``, ``repeat``, hover text."""
    ip_of_node = dict(
        t["node_deaths"].filter(pl.col("node_id").is_not_null() & pl.col("node_ip").is_not_null())
        .select("node_id", "node_ip").iter_rows()
    )  # fmt: skip

    def lane(df: pl.DataFrame, kind: str, node: pl.Expr) -> pl.DataFrame:
        return df.select(
            node.alias("node"),
            "ts",
            pl.lit(kind).alias("kind"),
            "repeat",
            "message",
            "file",
            "line",
        ).filter(pl.col("node").is_not_null() & pl.col("ts").is_not_null())

    deaths = t["actor_deaths"]
    parts = [
        lane(t["node_deaths"], "node death", pl.col("node_ip")),
        lane(t["oom_kills"], "OOM kill", pl.coalesce("node_ip", "ip")),
        lane(
            t["warnings"].filter(pl.col("code") == "tpu_device_busy"),
            "TPU/VFIO error",
            pl.col("ip"),
        ),
        lane(
            deaths,
            "actor death",
            pl.coalesce(pl.col("node_id").replace_strict(ip_of_node, default=None), "ip"),
        ),
    ]
    return pl.concat(parts).sort("ts")


def thin(df: pl.DataFrame, limit: int = MAX_POINTS) -> pl.DataFrame:
    """Keep at most ``limit`` points: an evenly strided sample that keeps the first and last."""
    if df.height <= limit:
        return df
    step = -(-df.height // limit)
    return df.gather_every(step)


def top_templates(t: Tables, n: int = 25) -> pl.DataFrame:
    return t["templates"].sort("records", descending=True).head(n)


def pipelines(t: Tables) -> list[str]:
    names = t["events"]["pipeline"].drop_nulls().unique().sort().to_list()
    return names
