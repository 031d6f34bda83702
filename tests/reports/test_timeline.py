"""The report's figure data equals the tables: bins, stalls, node lanes."""

from __future__ import annotations

import polars as pl
import pytest

from reports import timeline as tl


@pytest.fixture(scope="module")
def tables(small_ingest):
    return tl.load(small_ingest)  # reads only


def test_event_bins_sum_to_the_tables_events(tables):
    start, end = tl.time_range(tables)
    bins = tl.event_bins(tables, tl.bin_seconds(start, end))
    for label, (table, _) in tl.STRIPS.items():
        assert bins[label]["events"].sum() == tables[table]["repeat"].sum(), label


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
