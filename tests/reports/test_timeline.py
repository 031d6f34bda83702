"""The report's figure data equals the tables: bins, stalls, node lanes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from reports import timeline as tl
from zephyr_logscan.findings import happenings
from zephyr_logscan.ingest import ingest

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def tables(small_ingest):
    return tl.load(small_ingest)  # reads only


def test_event_bins_sum_to_the_tables_happenings(tables):
    start, end = tl.time_range(tables)
    bins = tl.event_bins(tables, tl.bin_seconds(start, end))
    for label, (table, _) in tl.STRIPS.items():
        assert bins[label]["events"].sum() == happenings(tables[table], 120)["events"].sum(), label


def test_event_strips_count_what_happened_whatever_is_ingested(tmp_path):
    """A real Ray capture (a second raylet lost under a zephyr pipeline on Ray): the driver log,
    the session folders and both together give the same heartbeat failures and
    (re-)registrations, as often as the coordinator logged them (workers failed, re-registered and
    failed again within two minutes), and one node death however many files report it (the
    strips counted every copy: 16 failures read together, 3 deaths for one node)."""
    capture = DATA / "ray-scenarios" / "ZL07"
    sessions = sorted((capture / "session").glob("*/logs"))
    strips = {}
    for name, inputs in {"driver": [capture / "driver.log"], "session": sessions,
                         "both": [capture / "driver.log", *sessions]}.items():  # fmt: skip
        t = tl.load(ingest([str(p) for p in inputs], tmp_path / name).out_dir)
        counts = {k: v["events"].sum() for k, v in tl.event_bins(t, 60).items()}
        strips[name] = {
            k: counts[k] for k in ("heartbeat failures", "registrations", "re-registrations")
        }
        if name != "driver":
            assert counts["node deaths"] == 1, name
    driver = tl.load(tmp_path / "driver")
    logged = {
        k: driver[table].height for k, (table, _) in tl.STRIPS.items() if k in strips["driver"]
    }
    assert strips["driver"] == strips["session"] == strips["both"] == logged


def test_bin_width_is_nice_and_bounded(tables):
    start, end = tl.time_range(tables)
    every = tl.bin_seconds(start, end)
    assert every in tl.NICE_BINS and (end - start).total_seconds() / every <= 240


def test_stall_is_the_incident_window(tables, small_log):
    truth = small_log[1]
    zl01 = next(w for w in truth["windows"] if w["pattern"] == "ZL01")
    spans = tl.stalls(tl.worker_series(tables)["tokenize-train-b160eb54"])
    assert len(spans) == 1
    (a, b) = spans[0]
    assert a.isoformat()[:19] == zl01["start"][:19] and b.isoformat()[:19] == zl01["end"][:19]


def test_node_lanes_hold_deaths_ooms_and_vfio(tables):
    lanes = tl.node_lanes(tables)
    kinds = lanes.group_by("kind").agg(pl.col("repeat").sum())
    by_kind = dict(kinds.iter_rows())
    assert (
        by_kind["node death"]
        == tables["node_deaths"].filter(pl.col("node_ip").is_not_null())["repeat"].sum()
    )
    assert by_kind["TPU/VFIO error"] == 187 and set(
        lanes.filter(pl.col("kind") == "TPU/VFIO error")["node"]
    ) == {"10.128.0.58"}


def test_thin_keeps_at_most_the_limit():
    df = pl.DataFrame({"x": range(120_001)})
    assert tl.thin(df, 50_000).height <= 50_000


def test_a_coordinators_lines_before_it_named_its_pipeline_are_that_pipelines(tmp_path):
    """tests/data/ray/zephyr-on-ray: the coordinator's first status lines (`0/0 workers alive`,
    before any registration names the pipeline) are drawn in its pipeline's series, not as a
    pipeline "(unattributed)" of their own."""
    out = ingest([str(DATA / "ray" / "zephyr-on-ray" / "logs")], tmp_path / "t").out_dir
    series = tl.worker_series(tl.load(out))
    assert list(series) == ["trial-pipe"]
    first = series["trial-pipe"].row(0, named=True)
    assert (first["ts"].isoformat()[:23], first["workers"]) == ("2026-11-30T17:42:32.521", 0)


def test_a_coordinator_starting_up_is_no_stall(tmp_path):
    """tests/data/ray/zephyr-on-ray: the coordinator prints `0/0 workers alive` before any worker
    registers: that is a start, not all workers dead (it was drawn as a red stall band at the
    start of every real run). A real capture's stall (ZL07: 5 registered, 0 alive) stays."""
    out = ingest([str(DATA / "ray" / "zephyr-on-ray" / "logs")], tmp_path / "t").out_dir
    series = tl.worker_series(tl.load(out))["trial-pipe"]
    assert series.row(0, named=True)["workers"] == 0 and series.row(0, named=True)["alive"] == 0
    assert tl.stalls(series) == []
    zl07 = ingest([str(DATA / "ray-scenarios" / "ZL07" / "driver.log")], tmp_path / "z").out_dir
    ((a, b),) = tl.stalls(tl.worker_series(tl.load(zl07))["zephyr-b09deafb"])
    assert (a.isoformat()[11:23], b.isoformat()[11:23]) == ("09:47:50.310", "09:47:58.187")
