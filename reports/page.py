"""The report page: one self-contained HTML file (plotly.js inlined), six sections with stable ids,
time axes linked across figures. Log text is untrusted: every piece of it is HTML-escaped before
it reaches the page or a hover label, and the figure JSON cannot close its script element."""

from __future__ import annotations

import html
import os
from datetime import datetime, timedelta
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline
import polars as pl
from plotly.subplots import make_subplots

from reports import astext
from reports import timeline as tl
from reports.schedule import schedule_section

# A node death is a thin cross and an actor death a ring around it: both show when a node's
# death and the actor deaths it caused fall on one instant of one lane.
KIND_STYLE = {"node death": ("x-thin", "#d62728"), "OOM kill": ("diamond", "#9467bd"),
              "TPU/VFIO error": ("triangle-up", "#ff7f0e"), "actor death": ("circle-open", "#1f77b4")}  # fmt: skip
INPUTS_SHOWN = 8  # more inputs than this are listed in a closed <details>, largest first
INPUTS_LISTED = 200
LANES_SHOWN = 80  # node lanes drawn 16 px apart; more lanes share that height (zoom to read)
MARKER = {
    "x-thin": (11, 2.5),
    "circle-open": (15, 2),
}  # symbol -> (size, line width); else 8, filled
PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def render_report(
    folder: str | os.PathLike, out: str | os.PathLike | None = None, findings: list | None = None
) -> Path:
    """Write the HTML report of an ingest output folder; returns its path. ``findings`` are the
    diagnosis (objects with pattern, title, severity, pipeline, start, end, events, evidence,
    explanation), or None when none was run.

    >>> render_report("full_log.txt.logscan")          # -> full_log.txt.logscan/report.html
    """
    t = tl.load(folder)
    found = findings
    out = Path(out) if out else Path(folder) / "report.html"
    start, end = tl.time_range(t)
    every = tl.bin_seconds(start, end)
    figures = all_figures(t, found, every)
    body = "\n".join([
        header_section(t, start, end),
        summary_section(found),
        plot_section("section-workers", "Workers over time", "plot-workers", astext.workers_text(t),
                     "Workers alive (solid), dead (dashed) and registered (dotted), and completed shards, per pipeline "
                     "(one color each; click a pipeline in the legend to hide it), from the coordinator's status line. "
                     "Lines hold each count until the next status line. Red bands: workers registered, none alive, while work remained."),
        schedule_section(t.folder, [f.pipeline for f in found or [] if f.severity == "critical"]),
        plot_section("section-events", "Events", "plot-events", astext.events_text(t, every),
                     f"Events per {_duration(every)}, each counted once however many files report it (as logscan diagnose "
                     "counts them); a line printed with [repeated Nx across cluster] counts N."),
        plot_section("section-nodes", "Node lanes", "plot-nodes", astext.nodes_text(t),
                     "One lane per node IP: deaths, OOM kills, TPU/VFIO errors and actor deaths. A preemption wave is a column of deaths "
                     "at one time. A line Ray printed once for N nodes ([repeated Nx across cluster]) is one marker, labelled ×N, "
                     "on the node it names."),
        findings_section(found),
        unknowns_section(t),
    ])  # fmt: skip
    page = PAGE.format(
        title=html.escape(
            f"logscan report: {', '.join(i['path'] for i in t.manifest['inputs'])[:200]}"
        ),
        plotly=plotly.offline.get_plotlyjs(),
        body=body,
        figures=_script_json({k: _figure_json(f) for k, f in figures.items()}),
        config=_script_json(PLOT_CONFIG),
    )
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out


# --- figures -------------------------------------------------------------------------------------

# Every figure's plot area has the same left and right edge (legends sit in the right margin and
# never push it): one instant is at one x on the whole page, so the eye can go straight down.
MARGIN = {"l": 110, "r": 250, "t": 40, "b": 30, "autoexpand": False}
LEGEND = {"x": 1.01, "xanchor": "left", "y": 1, "yanchor": "top"}


# Colors with no white, no grey: a pipeline's color must show on the plot background.
PIPELINE_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                   "#17becf", "#bcbd22", "#393b79", "#ad494a", "#637939", "#7b4173", "#3182bd",
                   "#e6550d", "#31a354", "#756bb1", "#843c39", "#8c6d31", "#d6616b", "#0b6e4f",
                   "#a6761d", "#e7298a", "#1b1b8f"]  # fmt: skip
SERIES_DASH = {"alive": "solid", "dead": "dash", "workers": "dot"}
LEGEND_CHARS = 30  # a longer pipeline name is cut in the legend (its hover shows it whole)


def all_figures(t: tl.Tables, found: list | None, every: int) -> dict[str, go.Figure]:
    """The page's three timelines, by plot id, on one time axis."""
    figures = {
        "plot-workers": workers_figure(t),
        "plot-events": events_figure(t, every),
        "plot-nodes": nodes_figure(t),
    }
    span = axis_range(t, every)
    shade_findings(figures.values(), found or [], span)
    for fig in figures.values():
        fig.update_layout(margin=MARGIN, legend=LEGEND)
        if span:  # one time range for every panel; zooming one zooms all (see the script)
            fig.update_xaxes(range=list(span), type="date")
            # The axis says its zone (times read with --tz in another zone are drawn in UTC), on
            # the date line under the ticks, at the right end where no date is printed.
            fig.add_annotation(text="UTC", showarrow=False, xref="paper", yref="paper", x=1, y=0,
                               xanchor="right", yanchor="top", yshift=-16, font={"size": 11})  # fmt: skip
    return figures


def axis_range(t: tl.Tables, every: int) -> tuple | None:
    """The time axis: from the start of the first event bin to the end of the last, so the bars
    at either end are whole (the range ended at the last record: a bar of the last second, a
    lone death at the end, was cut to a sliver)."""
    start, end = tl.time_range(t)
    if start is None:
        return None
    return tl.bin_start(start, every), tl.bin_start(end, every) + timedelta(seconds=every)


def workers_figure(t: tl.Tables) -> go.Figure:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("workers", "completed shards"))  # fmt: skip
    series = tl.worker_series(t)
    # One budget of points for the figure, shared by its pipelines (each had its own: a long log
    # of many pipelines drew 50K points per pipeline per line into the page).
    budget = max(1000, tl.MAX_POINTS // max(1, len(series)))
    for k, (pipeline, s) in enumerate(series.items()):
        s = tl.with_gaps(tl.thin(s, budget))  # no line through a silence of the coordinator
        trace = go.Scattergl if s.height > 5000 else go.Scatter
        # One color per pipeline, the line style says which count: each trace its own color
        # (cycling after ten) left no way to tell whose completed shards a line was; one legend
        # entry per pipeline (clicking it hides all its lines) instead of four.
        color, name = PIPELINE_COLORS[k % len(PIPELINE_COLORS)], _esc(pipeline)
        shown = [c for c in ("workers", "dead", "alive") if s[c].null_count() < s.height]
        for col, row in [(c, 1) for c in shown] + [("completed", 2)]:
            # alive last (on top) and thickest: it often equals the registered workers
            width = 2.5 if col == "alive" else 1.5
            # A count holds until the next status line says otherwise: steps, not slopes (a
            # straight line between sparse lines drew a sudden loss as a slow decline).
            fig.add_trace(trace(x=s["ts"].to_list(), y=s[col].to_list(), mode="lines",
                                line={"dash": SERIES_DASH.get(col, "solid"), "color": color, "width": width, "shape": "hv"},
                                name=_legend_name(pipeline), legendgroup=name, showlegend=col == "completed",
                                hovertemplate=f"{name} {col}: %{{y}}<extra></extra>"), row=row, col=1)  # fmt: skip
        for a, b in tl.stalls(series[pipeline]):
            fig.add_vrect(x0=a, x1=b, fillcolor="red", opacity=0.15, line_width=0, row="all", col=1)
    if not series:  # inside the top plot: the page's middle is the lower plot's title
        fig.add_annotation(text="no coordinator status lines in these logs", showarrow=False,
                           xref="x domain", yref="y domain", x=0.5, y=0.5)  # fmt: skip
    fig.update_layout(height=560, hovermode="x unified")
    return fig


def events_figure(t: tl.Tables, every: int) -> go.Figure:
    bins = tl.event_bins(t, every)
    fig = make_subplots(
        rows=len(bins), cols=1, shared_xaxes=True, vertical_spacing=0.02, subplot_titles=list(bins)
    )
    for row, (label, df) in enumerate(bins.items(), start=1):
        # Each bar spans its bin (milliseconds on a time axis), from the bin's start: left to
        # plotly, a bar is as wide as the closest two bars are apart, and a lone one (a single
        # node death) is a sliver nobody sees.
        fig.add_trace(go.Bar(x=df["bin"].to_list(), y=df["events"].to_list(), name=label, showlegend=False,
                             width=every * 1000, offset=0,
                             hovertemplate=f"{label}: %{{y}} events<br>%{{x}}<extra></extra>"), row=row, col=1)  # fmt: skip
        most = df["events"].max() if df.height else 0
        if most <= 4:  # whole events: plotly ticked a strip of 1 or 2 at 0.5 and 1.5
            fig.update_yaxes(dtick=1, range=[0, max(most, 1) * 1.05], row=row, col=1)
    if not any(df.height for df in bins.values()):
        fig.add_annotation(text="no events with a timestamp in these logs", showarrow=False,
                           xref="x domain", yref="y domain", x=0.5, y=0.5)  # fmt: skip
    fig.update_layout(height=90 * len(bins) + 80, bargap=0)
    fig.update_annotations(font_size=11)
    return fig


def nodes_figure(t: tl.Tables) -> go.Figure:
    lanes = tl.node_lanes(t)
    fig = go.Figure()
    # The many kinds first, node deaths last: a trace drawn later covers the earlier ones (a
    # node's death hid under the actor deaths it caused, at the same instant on the same lane).
    for rank, (kind, (symbol, color)) in reversed(list(enumerate(KIND_STYLE.items()))):
        df = tl.thin(lanes.filter(pl.col("kind") == kind))
        if df.height == 0:
            continue
        hover = [f"{_esc(m[:300])}<br>{_esc(f)}:{line} (x{r})" for m, f, line, r in
                 zip(df["message"], df["file"], df["line"], df["repeat"], strict=True)]  # fmt: skip
        # One line Ray printed for N nodes ([repeated Nx across cluster]) is one marker on the
        # node it names: say xN beside it, or a wave of 40 deaths looks like one.
        times = [f"×{r}" if r > 1 else "" for r in df["repeat"]]
        trace = go.Scattergl if df.height > 5000 else go.Scatter
        fig.add_trace(trace(x=df["ts"].to_list(), y=[_esc(n) for n in df["node"]], mode="markers+text", name=kind,
                            text=times, textposition="middle right", textfont={"size": 10, "color": color},
                            marker={"symbol": symbol, "color": color, "size": MARKER.get(symbol, (8, 0))[0],
                                    "line": {"color": color, "width": MARKER.get(symbol, (8, 0))[1]}},
                            hovertext=hover, hoverinfo="text",
                            legendrank=rank))  # fmt: skip
    nodes = lanes["node"].n_unique() if lanes.height else 0
    if not nodes:
        fig.add_annotation(
            text="no node events in these logs",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
        )
    # Lanes in address order, from the top (as text, 10.128.1.105 came before 10.128.1.82).
    order = sorted(lanes["node"].unique().to_list(), key=_address_key) if nodes else []
    if nodes > LANES_SHOWN:  # a lane each at 16 px made 1,500 nodes a 24,000 px figure
        fig.add_annotation(text=f"{nodes:,} lanes, too many to name at once: drag over some to zoom in",
                           showarrow=False, xref="paper", yref="paper", x=0, y=1, yanchor="bottom",
                           xanchor="left", font={"size": 11})  # fmt: skip
    fig.update_layout(height=max(300, 16 * min(nodes, LANES_SHOWN) + 120),
                      yaxis={"type": "category", "categoryorder": "array", "categoryarray": [_esc(n) for n in order],
                             "autorange": "reversed"})  # fmt: skip
    return fig


def shade_findings(figures, found, span: tuple | None = None) -> None:
    """Each critical finding's window as a band on every timeline (warnings are many: listed only),
    its pattern named once per figure above the bands (a label per band and subplot wrote
    ZL08, ZL12 and ZL02 of one minute over each other, seven times in the event strips)."""
    critical = sorted((f for f in found if f.severity == "critical"), key=lambda f: f.start)
    for fig in figures:
        span_s = (span[1] - span[0]).total_seconds() if span else 1.0
        for f in critical:  # an instant's finding (a name collision) gets a visible band too
            least = timedelta(seconds=BAND_LEAST * span_s)
            a, b = datetime.fromisoformat(f.start), datetime.fromisoformat(f.end)
            b = max(b, a + least)
            fig.add_vrect(x0=a, x1=b, fillcolor="orange", opacity=0.12, line_width=0)
        for x, text, row, anchor in finding_labels(critical, span):
            fig.add_annotation(x=x, y=1, xref="x", yref="paper", xanchor=anchor, yanchor="top",
                               yshift=-LABEL_LINE_PX * row, text=text, showarrow=False,
                               font={"size": 11}, bgcolor="rgba(255,255,255,0.7)")  # fmt: skip


LABEL_LINE_PX = 14
BAND_LEAST = 0.003  # the narrowest finding band, as a share of the time axis (~3 px)
LABEL_CHAR = 0.008  # a label character's width as a share of the time axis (~1000 px wide)


def finding_labels(critical: list, span: tuple | None) -> list[tuple[str, str, int, str]]:
    """``(x, text, row, xanchor)`` per label: findings starting within 1.5 % of the axis of each
    other share one label (their patterns, in time order); a label that would run into the one
    before it goes a line lower; one that would run past the axis's end ends at its band instead
    (it ran over the legend)."""
    if not critical:
        return []
    axis_start = span[0] if span else datetime.fromisoformat(critical[0].start)
    span_s = (span[1] - span[0]).total_seconds() if span else 1.0
    groups: list[list] = []
    for f in critical:
        if groups and _seconds(groups[-1][0].start, f.start) <= 0.015 * span_s:
            groups[-1].append(f)
        else:
            groups.append([f])
    labels, ends = [], []  # ends[row]: where the last label on that row ends, in seconds
    for g in groups:
        text = " ".join(dict.fromkeys(f.pattern for f in g))
        at = (datetime.fromisoformat(g[0].start) - axis_start).total_seconds()
        width = (len(text) + 1) * LABEL_CHAR * span_s
        anchor = "left" if at + width <= span_s else "right"
        lo, hi = (at, at + width) if anchor == "left" else (at - width, at)
        row = next((r for r, end in enumerate(ends) if end < lo), len(ends))
        ends[row:row + 1] = [hi]  # fmt: skip
        labels.append((g[0].start, _esc(text), row, anchor))
    return labels


def _seconds(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


# --- sections ------------------------------------------------------------------------------------


def header_section(t: tl.Tables, start, end) -> str:
    m = t.manifest
    listed = sorted(m["inputs"], key=lambda i: -i["lines"])[
        :INPUTS_LISTED
    ]  # the ones that count first
    inputs = "".join(
        f"<tr><td>{_esc(i['path'])}</td><td class=n>{i['bytes']:,}</td><td class=n>{i['lines']:,}</td></tr>"
        for i in listed
    )
    table = f"<table><tr><th>input</th><th>bytes</th><th>lines</th></tr>{inputs}</table>"
    more = len(m["inputs"]) - len(listed)
    table += f"<p>... and {more:,} more inputs</p>" if more else ""
    if (
        len(m["inputs"]) > INPUTS_SHOWN
    ):  # a session folder's 150 files pushed the figures off the screen
        empty = sum(i["lines"] == 0 for i in m["inputs"])
        table = (f"<details><summary>{len(m['inputs']):,} inputs ({empty:,} empty), "
                 f"{sum(i['bytes'] for i in m['inputs']):,} bytes</summary>{table}</details>")  # fmt: skip
    counts = "".join(
        f"<tr><td>{_esc(name)}</td><td class=n>{c['rows']:,}</td><td class=n>{c['events']:,}</td></tr>"
        for name, c in m["tables"].items()
    )
    names = ", ".join(_esc(p) for p in tl.pipelines(t)) or "none found"
    return f"""<section id="section-header"><h1>logscan report</h1>
<p><b>Time range:</b> {f"{_esc(_fmt(start))} to {_esc(_fmt(end))} UTC" if start else "no classified record has a timestamp"} &middot; <b>lines:</b> {m["lines_total"]:,}
({m["lines_unmatched"]:,} unmatched) &middot; <b>pipelines:</b> {names}</p>
<div class=cols><div>{table}</div>
<table><tr><th>table</th><th>rows</th><th>events</th></tr>{counts}</table></div></section>"""


def plot_section(section_id: str, title: str, plot_id: str, words: list[str], note: str) -> str:
    """A figure, its note, and the figure told in words (the plot is an image to a screen reader:
    its description is that list)."""
    items = "".join(f"<li>{_esc(w)}</li>" for w in words)
    return (f'<section id="{section_id}"><h2>{_esc(title)}</h2><p class=note>{_esc(note)}</p>'
            f'<div id="{plot_id}" class=plot role="img" aria-label="{_esc(title)}" aria-describedby="{plot_id}-text"></div>'
            f'<details class=astext><summary>{_esc(title)} as text</summary><ul id="{plot_id}-text">{items}</ul></details></section>')  # fmt: skip


def summary_section(findings: list | None) -> str:
    """The incident told first: the critical groups, then the chain of events in time order."""
    from zephyr_logscan import summary

    if findings is None:
        return ""
    if not findings:  # a healthy log says so first, not only at the page's end
        return ('<section id="section-summary"><h2>Incident summary</h2>'
                "<p>No known failure pattern in these logs.</p></section>")  # fmt: skip
    gs = summary.groups(findings)
    critical = [g for g in summary.critical_first(gs) if g.severity == "critical"]
    chain, rest = summary.chain_and_rest(gs)
    crit = "".join(
        f"<li><b>{_esc(g.pattern)} {_esc(g.title)}</b> [{_esc(g.pipeline or '-')}] {_esc(g.when)}: "
        f"{_esc(g.story)} <span class=sample>({_esc(g.proof)})</span></li>"
        for g in critical
    )
    steps = "".join(
        f"<li>{_esc(g.when)}: <b>{_esc(g.pattern)}</b> {_esc(g.story)} [{_esc(g.pipeline or 'cluster')}]</li>"
        for g in chain
    )
    also = (
        f"<p class=note>Also, in pipelines with no critical finding: {_esc(summary.also(rest))}</p>"
        if rest
        else ""
    )
    return f"""<section id="section-summary"><h2>Incident summary</h2>
<p>{len(findings)} findings in {len(gs)} groups, {sum(g.count for g in critical)} critical (UTC times).</p>
{f"<h3>Critical</h3><ul>{crit}</ul>" if crit else ""}<h3>Chain of events</h3><ol class=chain>{steps}</ol>{also}</section>"""


def findings_section(findings: list | None) -> str:
    from zephyr_logscan import summary

    if findings is None:
        return ('<section id="section-findings"><h2>Findings</h2><p>No diagnosis was run for this report '
                "(<code>logscan report</code> and <code>ingest --report</code> run one).</p></section>")  # fmt: skip
    if not findings:
        return ('<section id="section-findings"><h2>Findings</h2><p>No known failure pattern was found in '
                "these logs.</p></section>")  # fmt: skip

    def item(f) -> str:
        return (f"<li>{_esc(f.start[:19])} .. {_esc(f.end[:19])} ({f.events:,} events): {_esc(f.headline or f.explanation)}"
                f"<div class=sample>evidence: {_esc(', '.join(f.evidence[:5]))}{' ...' if len(f.evidence) > 5 else ''}</div></li>")  # fmt: skip

    rows = "".join(
        f"<tr><td><b>{_esc(g.pattern)}</b> {_esc(g.title)}</td><td class=k>{_esc(g.severity)}</td><td>{_esc(g.pipeline or '-')}</td>"
        f"<td>{_esc(g.start[:19])} .. {_esc(g.end[:19])}</td><td class=n>{g.count:,}</td>"
        f"<td>{_esc(g.findings[0].explanation)}<div class=sample>{_esc(g.proof)}</div>"
        f"<details><summary>{g.count} finding{'s' if g.count > 1 else ''}</summary><ul>{''.join(item(f) for f in g.findings)}</ul></details></td></tr>"
        for g in summary.critical_first(summary.groups(findings))
    )  # fmt: skip
    return f"""<section id="section-findings"><h2>Findings</h2>
<p>{len(findings)} findings (<code>logscan diagnose</code>), grouped by pattern and pipeline, critical first; critical windows are shaded on the timelines above.</p>
<table><tr><th>pattern</th><th>severity</th><th>pipeline</th><th>window (UTC)</th><th>findings</th><th>what it means</th></tr>{rows}</table></section>"""


def unknowns_section(t: tl.Tables) -> str:
    top = tl.top_templates(t)
    rows = "".join(
        f"<tr><td class=n>{r['records']:,}</td><td class=n>{r['events']:,}</td><td><code>{_esc(r['template'])}</code>"
        f"<div class=sample>{_esc(r['sample'][:300])}</div></td><td>{_esc(r['first_file'])}:{r['first_line']}</td></tr>"
        for r in top.iter_rows(named=True)
    )
    total = t.manifest["tables"]["templates"]
    return f"""<section id="section-unknowns"><h2>Unknowns</h2>
<p>Records no rule classified: {total.get("records", 0):,} records in {total["rows"]:,} templates (the top {top.height}).</p>
<table><tr><th>records</th><th>events</th><th>template and a sample</th><th>first seen</th></tr>{rows}</table></section>"""


# --- helpers -------------------------------------------------------------------------------------


def _address_key(node: str) -> tuple:
    """IPv4 addresses by their numbers, anything else after them by its text."""
    parts = node.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return (0, tuple(int(p) for p in parts), "")
    return (1, (), node)


def _legend_name(pipeline: str) -> str:
    cut = pipeline if len(pipeline) <= LEGEND_CHARS else pipeline[: LEGEND_CHARS - 1] + "…"
    return _esc(cut)


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _fmt(ts) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S") if isinstance(ts, datetime) else "-"


def _duration(seconds: int) -> str:
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _figure_json(fig: go.Figure) -> str:
    return pio.to_json(fig, validate=False)


def _script_json(value) -> str:
    """JSON safe inside a <script> element: no '<' can close it or open a comment."""
    import json

    text = value if isinstance(value, str) else json.dumps(value)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        text = "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in value.items()) + "}"
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,sans-serif;margin:1.5em;color:#222}} h1{{margin:0 0 .3em}}
section{{margin-bottom:2em}} table{{border-collapse:collapse;font-size:13px;margin:.5em 1.5em .5em 0}}
td,th{{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}} td.n{{text-align:right}}
.cols>div{{margin-right:1.5em}} p,li,td,code,summary{{overflow-wrap:anywhere}} th,td.n,td.k{{white-space:nowrap}} .cols{{display:flex;flex-wrap:wrap;align-items:flex-start}} .note{{color:#555;font-size:13px}} .sample{{color:#666;font-size:12px;word-break:break-all}}
</style>
<script>{plotly}</script></head><body>
{body}
<script>
(function () {{
  var figures = {figures};
  var config = {config};
  var ids = Object.keys(figures);
  ids.forEach(function (id) {{ var f = figures[id]; Plotly.newPlot(id, f.data, f.layout, config); }});
  // Zooming one time axis zooms them all.
  var syncing = false;
  function range(ev) {{
    for (var k in ev) {{
      if (/^xaxis\\d*\\.range\\[0\\]$/.test(k)) return [ev[k], ev[k.replace("[0]", "[1]")]];
      if (/^xaxis\\d*\\.range$/.test(k)) return ev[k];
      if (/^xaxis\\d*\\.autorange$/.test(k)) return "auto";
    }}
    return null;
  }}
  ids.forEach(function (id) {{
    document.getElementById(id).on("plotly_relayout", function (ev) {{
      var r = range(ev);
      if (syncing || !r) return;
      syncing = true;
      var done = ids.filter(function (o) {{ return o !== id; }}).map(function (o) {{
        var el = document.getElementById(o), update = {{}};
        Object.keys(el.layout).filter(function (k) {{ return /^xaxis\\d*$/.test(k); }}).forEach(function (ax) {{
          if (r === "auto") update[ax + ".autorange"] = true; else update[ax + ".range"] = r;
        }});
        return Plotly.relayout(el, update);
      }});
      Promise.all(done).then(function () {{ syncing = false; }}, function () {{ syncing = false; }});
    }});
  }});
  document.body.setAttribute("data-rendered", ids.length);
  // Self-check: a long unbroken name (a pipeline, a path) must wrap, not widen the page.
  var wider = document.documentElement.scrollWidth - document.documentElement.clientWidth;
  if (wider > 0) document.body.setAttribute("data-wider-than-window", wider);
  // Self-check for tests and curious readers: open the page with #check-linked-axes.
  if (location.hash === "#check-linked-axes") {{
    var want = ["2026-02-21 12:00:00", "2026-02-21 13:00:00"];
    Plotly.relayout(document.getElementById(ids[0]), {{"xaxis.range": want}}).then(function () {{
      setTimeout(function () {{
        var ok = ids.every(function (id) {{
          var r = document.getElementById(id).layout.xaxis.range;
          return String(r[0]).indexOf("2026-02-21 12:00") === 0 && String(r[1]).indexOf("2026-02-21 13:00") === 0;
        }});
        document.body.setAttribute("data-linked-axes", ok ? "ok" : "broken");
      }}, 300);
    }});
  }}
}})();
</script></body></html>
"""
