"""The report's figures (reports/page.py), read from the plotly figure itself."""

from __future__ import annotations

from pathlib import Path

from reports import timeline as tl
from reports.page import events_figure
from zephyr_logscan.ingest import ingest

DATA = Path(__file__).resolve().parents[1] / "data"


def test_every_event_bar_spans_its_bin_a_lone_one_too(tmp_path):
    """A real capture's one node death (tests/data/ray-scenarios/ZL07, its GCS log): its bar is
    as wide as its bin, from the bin's start, like every other bar. Plotly's default width is the
    gap between a strip's closest two bars, so a lone bar was a sliver nobody saw, and sparse
    bars spanned several bins."""
    gcs = DATA / "ray-scenarios" / "ZL07" / "session" / "head" / "logs" / "gcs_server.out"
    t = tl.load(ingest([str(gcs), str(gcs.parents[3] / "driver.log")], tmp_path / "t").out_dir)
    every = 1
    fig = events_figure(t, every)
    bars = {trace.name: trace for trace in fig.data}
    assert len(bars["node deaths"].x) == 1 and list(bars["node deaths"].y) == [1]
    for name, trace in bars.items():
        if len(trace.x):
            assert (trace.width, trace.offset) == (every * 1000, 0), name
