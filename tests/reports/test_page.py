"""The report's figures (reports/page.py), read from the plotly figure itself."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from reports import render_report
from reports import timeline as tl
from reports.page import (
    all_figures,
    axis_range,
    events_figure,
    header_section,
    nodes_figure,
    workers_figure,
)
from zephyr_logscan.findings import diagnose
from zephyr_logscan.ingest import ingest

DATA = Path(__file__).resolve().parents[1] / "data"
ZL07 = DATA / "ray-scenarios" / "ZL07"


@pytest.fixture(scope="module")
def zl07(tmp_path_factory):
    """A real capture read whole (driver log and session folders): its tables, findings, bin."""
    inputs = [ZL07 / "driver.log", *sorted((ZL07 / "session").glob("*/logs"))]
    t = tl.load(ingest([str(p) for p in inputs], tmp_path_factory.mktemp("zl07")).out_dir)
    return t, diagnose(t.folder), tl.bin_seconds(*tl.time_range(t))


def test_every_event_bar_spans_its_bin_a_lone_one_too(tmp_path):
    """A real capture's one node death (tests/data/ray-scenarios/ZL07, its GCS log): its bar is
    as wide as its bin, from the bin's start, like every other bar. Plotly's default width is the
    gap between a strip's closest two bars, so a lone bar was a sliver nobody saw, and sparse
    bars spanned several bins."""
    gcs = ZL07 / "session" / "head" / "logs" / "gcs_server.out"
    t = tl.load(ingest([str(gcs), str(ZL07 / "driver.log")], tmp_path / "t").out_dir)
    every = 1
    fig = events_figure(t, every)
    bars = {trace.name: trace for trace in fig.data}
    assert len(bars["node deaths"].x) == 1 and list(bars["node deaths"].y) == [1]
    for name, trace in bars.items():
        if len(trace.x):
            assert (trace.width, trace.offset) == (every * 1000, 0), name


def test_the_time_axis_holds_the_first_and_last_bars_whole(zl07):
    """The capture's last actor deaths fall in its last second: the axis ended at the last record,
    so their bar was cut to a sliver at the right edge."""
    t, found, every = zl07
    figures = all_figures(t, found, every)
    a, b = (datetime.fromisoformat(str(x)) for x in figures["plot-events"].layout.xaxis.range)
    drawn = 0
    for trace in figures["plot-events"].data:
        for x in trace.x:
            assert a <= x and x + timedelta(milliseconds=trace.width) <= b, (trace.name, x, a, b)
            drawn += 1
    assert drawn and any(
        x + timedelta(seconds=every) > max(tl.time_range(t)) - timedelta(seconds=every)
        for trace in figures["plot-events"].data
        for x in trace.x
    ), "no bar in the last bin: the capture no longer tests the right edge"
    for fig in figures.values():
        assert [datetime.fromisoformat(str(x)) for x in fig.layout.xaxis.range] == [a, b]


def test_every_figure_has_one_plot_area_whatever_its_legend_or_labels(zl07):
    """One instant is at one x on the whole page: the figures' margins are equal and fixed (a
    legend or long lane labels widened some figures' margins, so their plot areas ended ~100 px
    apart and the eye went down to the wrong time)."""
    t, found, every = zl07
    figures = all_figures(t, found, every)
    margins = {id_: fig.layout.margin.to_plotly_json() for id_, fig in figures.items()}
    assert len({tuple(sorted(m.items())) for m in margins.values()}) == 1, margins
    first = next(iter(margins.values()))
    assert first["autoexpand"] is False and first["l"] and first["r"]
    for id_, fig in figures.items():
        assert fig.layout.legend.x >= 1, id_  # the legend sits in the right margin, off the data


def test_each_pipeline_is_one_color_and_one_legend_entry(small_ingest):
    """The synth log's eight pipelines: all lines of one pipeline (alive, dead, workers, completed
    shards) share its color, no two pipelines share one, and the legend names each pipeline once.
    Left to plotly, every line took the next of ten colors: a pipeline's four lines had four
    colors, the colors came round again, and 30 legend entries scrolled the incident's pipeline
    out of sight."""
    t = tl.load(small_ingest)
    fig = workers_figure(t)
    pipelines = list(tl.worker_series(t))
    assert len(pipelines) > 5
    colors = {}
    for trace in fig.data:
        colors.setdefault(trace.legendgroup, set()).add(trace.line.color)
    assert sorted(colors) == sorted(pipelines)
    assert all(len(c) == 1 for c in colors.values()), colors
    assert len({c for cs in colors.values() for c in cs}) == len(pipelines)
    assert sorted(tr.legendgroup for tr in fig.data if tr.showlegend) == sorted(pipelines)


def test_critical_findings_are_named_once_per_figure_without_overlap(small_report):
    """The synth log's critical findings: ZL08, ZL12 and ZL02 within two minutes, ZL03 and ZL02
    within a minute, ZL01. Each figure names them once, above its bands, and no two labels share
    a line closer than a label's width (one label per band and subplot wrote them over each other,
    seven times in the event strips); an instant's finding (ZL02, start = end) still has a band
    one can see (it was zero wide)."""
    tables, found, _ = small_report
    t = tl.load(tables)
    every = tl.bin_seconds(*tl.time_range(t))
    a, b = axis_range(t, every)
    span = (b - a).total_seconds()
    critical = [f for f in found if f.severity == "critical"]
    assert {"ZL01", "ZL02", "ZL03"} <= {f.pattern for f in critical}
    for id_, fig in all_figures(t, found, every).items():
        labels = [n for n in fig.layout.annotations if re.fullmatch(r"(ZL\d\d ?)+", n.text)]
        assert {p for n in labels for p in n.text.split()} == {f.pattern for f in critical}, id_
        assert len(labels) < len(critical), id_  # close ones share a label
        placed = sorted((n.yshift or 0, datetime.fromisoformat(n.x)) for n in labels)
        for (row1, x1), (row2, x2) in zip(placed, placed[1:], strict=False):
            if row1 == row2:
                assert (x2 - x1).total_seconds() > 0.03 * span, (id_, x1, x2)
        bands = [s for s in fig.layout.shapes if s.fillcolor == "orange"]
        assert len({(str(s.x0), str(s.x1)) for s in bands}) == len(critical), id_  # per subplot
        for s in bands:
            width = datetime.fromisoformat(str(s.x1)) - datetime.fromisoformat(str(s.x0))
            assert width.total_seconds() >= 0.002 * span, (id_, s.x0)


def test_a_node_death_and_the_actor_deaths_it_caused_both_show_on_their_lane(zl07):
    """The capture's node death and an actor death fall on one instant of lane 192.0.2.2. The
    marker drawn later must not hide the one beneath: it is a thin cross or a ring, or the one
    beneath is a larger ring (the filled actor-death dot was drawn over the node death's cross,
    and the lane showed no node death at all)."""
    t, _, _ = zl07
    traces = list(nodes_figure(t).data)
    shared = 0
    for i, low in enumerate(traces):
        for high in traces[i + 1 :]:
            same = set(zip(low.x, low.y, strict=True)) & set(zip(high.x, high.y, strict=True))
            if not same:
                continue
            shared += len(same)
            see_through = high.marker.symbol.endswith(("-thin", "-open"))
            ring_around = low.marker.symbol.endswith("-open") and low.marker.size > high.marker.size
            assert see_through or ring_around, (low.name, high.name)
    assert shared, "no node and actor death at one instant: the capture no longer tests this"


def test_a_line_printed_for_n_nodes_says_so_beside_its_marker(small_ingest):
    """The synth log's preemption waves are lines like `... [repeated 7x across cluster]`: one
    marker on the node the line names stands for 7 deaths. Each such marker is labelled ×7, so
    the lanes add up to the strip's count (a wave of 40 deaths looked like 17 crosses)."""
    t = tl.load(small_ingest)
    deaths = next(tr for tr in nodes_figure(t).data if tr.name == "node death")
    lanes = tl.node_lanes(t).filter(pl.col("kind") == "node death")
    assert lanes["repeat"].max() > 1
    assert list(deaths.text) == [f"×{r}" if r > 1 else "" for r in lanes["repeat"]]


def test_a_log_with_nothing_to_draw_says_so_where_one_looks(tmp_path):
    """A log with one line no rule knows: the workers figure says it has no status lines inside
    its top plot (the message sat in the gap between the two plots, over the lower one's title),
    the seven empty event strips say there is no event, and the header names no '- to -' range."""
    log = tmp_path / "one.log"
    log.write_text("2026-02-21 12:00:00,000 INFO x.py:1 -- something no rule knows\n")
    t = tl.load(ingest([str(log)], tmp_path / "t").out_dir)
    (note,) = workers_figure(t).layout.annotations[2:]  # after the two subplot titles
    assert (note.xref, note.yref) == ("x domain", "y domain") and "no coordinator" in note.text
    strips = events_figure(t, 60).layout.annotations
    assert any("no events" in n.text for n in strips)
    page = render_report(t.folder).read_text()
    assert "no classified record has a timestamp" in page and " - to - " not in page
    for fig in all_figures(t, [], 60).values():  # no axis, no zone floating under nothing
        assert not [n for n in fig.layout.annotations if n.text == "UTC"]


def test_every_figure_is_also_told_in_words(small_report):
    """The plots are images to a screen reader and to a search in the page: each plot element is
    an image described by a list that says what it draws (the synth log's stall, its busiest
    node-death bin, its node deaths), read from the same data (there was no text equivalent)."""
    tables, _, report = small_report
    page = render_report(tables, report.parent / "words.html", findings=[]).read_text()
    t = tl.load(tables)
    for plot in ("plot-workers", "plot-events", "plot-nodes"):
        div = re.search(rf'<div id="{plot}"[^>]*>', page).group(0)
        assert 'role="img"' in div and f'aria-describedby="{plot}-text"' in div, div
        assert re.search(rf'<ul id="{plot}-text"><li>', page), plot
    words = page.split('id="plot-workers-text"', 1)[1].split("</ul>", 1)[0]
    ((a, b),) = tl.stalls(tl.worker_series(t)["tokenize-train-b160eb54"])
    assert f"no worker alive {a:%Y-%m-%d %H:%M:%S} to {b:%Y-%m-%d %H:%M:%S}" in words
    events = page.split('id="plot-events-text"', 1)[1].split("</ul>", 1)[0]
    total = tl.event_bins(t, tl.bin_seconds(*tl.time_range(t)))["node deaths"]["events"].sum()
    assert f"node deaths: {total:,}, most" in events
    deaths = tl.node_lanes(t).filter(pl.col("kind") == "node death")
    nodes = page.split('id="plot-nodes-text"', 1)[1].split("</ul>", 1)[0]
    assert (
        f"node death: {deaths['repeat'].sum():,} on the {deaths['node'].n_unique()} nodes" in nodes
    )


def test_node_lanes_are_in_address_order_from_the_top(tmp_path):
    """Four nodes marked dead by the GCS, 10.0.0.9, 10.0.0.10, 10.0.0.100, 10.0.1.2: the lanes run
    in address order from the top, so a node is where one looks for it (sorted as text from the
    bottom: 10.0.0.10, 10.0.0.100, 10.0.0.9, 10.0.1.2; the 4,000-worker synth's 10.128.5.14 sat
    between 10.128.5.139 and 10.128.5.15)."""
    ips = ["10.0.0.9", "10.0.0.10", "10.0.0.100", "10.0.1.2"]
    log = tmp_path / "gcs_server.out"
    log.write_text("".join(
        f"[2026-02-21 12:00:0{k},000 W 1 1] (gcs_server) gcs_node_manager.cc:761: The node with node id: "
        f"{str(k) * 56} and address: {ip} and node name: {ip} has been marked dead because the detector "
        "has missed too many heartbeats from it.\n"
        for k, ip in enumerate(reversed(ips))
    ))  # fmt: skip
    t = tl.load(ingest([str(log)], tmp_path / "t").out_dir)
    axis = nodes_figure(t).layout.yaxis
    assert list(axis.categoryarray) == ips and axis.autorange == "reversed"


@pytest.fixture(scope="module")
def days_apart(small_log, tmp_path_factory):
    """The synth log with its second half three days later (a log collected over days, with
    nothing in between): its tables and findings."""
    lines = small_log[0].read_bytes().split(b"\n")
    half = len(lines) // 2
    later = [
        line.replace(b"2026-02-21", b"2026-02-24").replace(b"2026-02-20", b"2026-02-23")
        for line in lines[half:]
    ]
    log = tmp_path_factory.mktemp("days") / "days.log"
    log.write_bytes(b"\n".join(lines[:half] + later))
    t = tl.load(ingest([str(log)], log.parent / "t").out_dir)
    return t, diagnose(t.folder)


def test_no_line_is_drawn_through_days_without_a_status_line(days_apart):
    """A pipeline running when the log falls silent for three days: its lines stop and start again
    (a straight line was drawn through the three days, claiming counts nobody logged)."""
    t, _ = days_apart
    drawn = 0
    for trace in workers_figure(t).data:
        points = [(x, y) for x, y in zip(trace.x, trace.y, strict=True)]
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            if y1 is not None and y2 is not None:
                assert x2 - x1 < timedelta(days=1), (trace.hovertemplate, x1, x2)
                drawn += 1
    assert drawn


def test_a_finding_label_at_the_axis_end_stays_on_the_plot(days_apart):
    """The all-dead stall (ZL01) starts in the last few percent of the axis: its label ends at its
    band (it started there and ran over the legend)."""
    t, found = days_apart
    every = tl.bin_seconds(*tl.time_range(t))
    a, b = axis_range(t, every)
    for id_, fig in all_figures(t, found, every).items():
        labels = [n for n in fig.layout.annotations if re.fullmatch(r"(ZL\d\d ?)+", n.text)]
        late = [n for n in labels if datetime.fromisoformat(n.x) > b - 0.05 * (b - a)]
        assert late, id_
        assert all(n.xanchor == "right" for n in late), id_


def test_worker_counts_are_drawn_as_steps(small_ingest):
    """A status line's counts hold until the next one: every line of the workers figure is drawn
    in steps (straight lines between sparse status lines drew a sudden loss of 600 workers as a
    decline over a minute)."""
    fig = workers_figure(tl.load(small_ingest))
    assert fig.data and all(trace.line.shape == "hv" for trace in fig.data)


def test_thousands_of_node_lanes_keep_the_figure_readable(tmp_path):
    """1,500 nodes marked dead by the GCS: every node keeps its lane, the figure stays a screen or
    so tall and says how to read the names (16 px a lane made it 24,120 px tall)."""
    log = tmp_path / "gcs_server.out"
    log.write_text("".join(
        f"[2026-02-21 12:{k // 60:02d}:{k % 60:02d},000 W 1 1] (gcs_server) gcs_node_manager.cc:761: The node with "
        f"node id: {k:056x} and address: 10.{k // 250}.{k % 250}.1 and node name: 10.{k // 250}.{k % 250}.1 has been marked dead because "
        "the detector has missed too many heartbeats from it.\n"
        for k in range(1500)
    ))  # fmt: skip
    t = tl.load(ingest([str(log)], tmp_path / "t").out_dir)
    fig = nodes_figure(t)
    assert len(fig.layout.yaxis.categoryarray) == 1500
    assert fig.layout.height <= 1500
    assert any("1,500 lanes" in n.text and "zoom" in n.text for n in fig.layout.annotations)


def test_the_workers_figure_shares_one_point_budget_among_pipelines(tmp_path, monkeypatch):
    """Three coordinators with 2,000 status lines each and a budget of 3,000 points: the figure
    draws at most 3,000 points per line kind in all (each pipeline was thinned against the whole
    budget on its own: a long log of many pipelines put 50K points per pipeline into the page)."""
    lines = []
    for p, pid in (("alpha-0001", 11), ("beta-0002", 12), ("gamma-0003", 13)):
        pre = f"(_RayActorHost pid={pid}) 2026-02-21"
        lines.append(f"{pre} 10:00:00,000 INFO zephyr.execution:233 Coordinator initialized")
        lines.append(f"{pre} 10:00:01,000 INFO zephyr.execution:287 Worker zephyr-{p}-workers-0 registered, total: 1")  # fmt: skip
        for i in range(2000):
            lines.append(f"{pre} {10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d},500 INFO zephyr.execution:341 "
                         f"[421bfa50ecd7] [stage0-Map → Write] {i}/4000 complete, 1 in-flight, 0 queued, "
                         "1/1 workers alive, 0 dead; items=0 (1.2k/s), bytes_processed=0MB (4.1MB/s)")  # fmt: skip
    log = tmp_path / "three.log"
    log.write_text("\n".join(lines) + "\n")
    t = tl.load(ingest([str(log)], tmp_path / "t").out_dir)
    assert sorted(tl.worker_series(t)) == ["alpha-0001", "beta-0002", "gamma-0003"]
    monkeypatch.setattr(tl, "MAX_POINTS", 3000)
    fig = workers_figure(t)
    for kind in ("alive", "completed"):
        drawn = [tr for tr in fig.data if tr.hovertemplate.split(" ")[1] == f"{kind}:"]
        assert len(drawn) == 3
        assert sum(sum(y is not None for y in tr.y) for tr in drawn) <= 3000, kind


def test_many_inputs_are_listed_closed_largest_first(zl07):
    """The capture read whole is 32 files (the shared sample's session folder is 156, 68 of them
    empty): the header says how many inputs in one line and lists them, largest first, in a
    closed <details> (50 rows in file order pushed the figures below the first screen)."""
    t, _, _ = zl07
    header = header_section(t, *tl.time_range(t))
    inputs = t.manifest["inputs"]
    assert len(inputs) > 8
    empty = sum(i["lines"] == 0 for i in inputs)
    assert f"<details><summary>{len(inputs):,} inputs ({empty:,} empty)" in header
    closed = header.split("<details>", 1)[1].split("</details>", 1)[0]
    listed = [
        int(n.replace(",", ""))
        for n in re.findall(r"<td class=n>[\d,]+</td><td class=n>([\d,]+)</td>", closed)
    ]
    assert len(listed) == len(inputs) and listed == sorted(listed, reverse=True)
    assert "<td class=n>" not in header.split("<details>", 1)[0]


def test_every_time_axis_says_its_zone(zl07):
    """Times read with --tz in another zone are drawn in UTC: each figure says UTC at its time
    axis (only the header and the summary said so)."""
    t, found, every = zl07
    for id_, fig in all_figures(t, found, every).items():
        (zone,) = [n for n in fig.layout.annotations if n.text == "UTC"]
        assert (zone.xref, zone.yref, zone.x, zone.y) == ("paper", "paper", 1, 0), id_


def test_twenty_pipelines_have_twenty_colors(tmp_path):
    """Twenty coordinators in one log: twenty colors (fourteen came round again after the
    fourteenth pipeline)."""
    lines = []
    for k in range(20):
        pre = f"(_RayActorHost pid={100 + k}) 2026-02-21 10:{k:02d}"
        lines.append(f"{pre}:00,000 INFO zephyr.execution:233 Coordinator initialized")
        lines.append(f"{pre}:01,000 INFO zephyr.execution:287 Worker zephyr-p{k:02d}-0000-workers-0 registered, total: 1")  # fmt: skip
        lines += [f"{pre}:{s:02d},500 INFO zephyr.execution:341 [421bfa50ecd7] [stage0-Map → Write] {s}/40 complete, "
                  "1 in-flight, 0 queued, 1/1 workers alive, 0 dead; items=0 (1.2k/s), bytes_processed=0MB (4.1MB/s)"
                  for s in (10, 20, 30)]  # fmt: skip
    log = tmp_path / "twenty.log"
    log.write_text("\n".join(lines) + "\n")
    t = tl.load(ingest([str(log)], tmp_path / "t").out_dir)
    fig = workers_figure(t)
    colors = {tr.legendgroup: tr.line.color for tr in fig.data}
    assert len(colors) == 20 and len(set(colors.values())) == 20


def test_event_strips_tick_whole_events(zl07):
    """Counts are whole: a strip whose tallest bar is 1 or 2 is ticked 0, 1, 2 (plotly ticked it
    at 0.5 and 1.5: half a node death), an empty strip 0 and 1."""
    t, _, _ = zl07
    fig = events_figure(t, 1)
    small = 0
    for k, trace in enumerate(fig.data, start=1):
        most = max(trace.y, default=0)
        if most <= 4:
            axis = fig.layout[f"yaxis{k if k > 1 else ''}"]
            assert axis.dtick == 1 and axis.range[1] >= max(most, 1), trace.name
            small += 1
    assert small >= 2  # the capture's node-death strip (1) and its empty OOM strip
