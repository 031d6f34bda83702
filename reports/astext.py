"""Each figure told in words: the page's text equivalent of its plots (for a screen reader, a
search in the page, a copy into a ticket), from the same data the figures draw."""

from __future__ import annotations

from reports import timeline as tl


def workers_text(t: tl.Tables) -> list[str]:
    """Per pipeline: its workers, its progress and every stretch with no worker alive."""
    lines = []
    for pipeline, s in tl.worker_series(t).items():
        last = s.row(-1, named=True)
        alive = (f", alive {s['alive'].min()}-{s['alive'].max()}"
                 if s["alive"].null_count() < s.height else "")  # fmt: skip
        stalls = "; ".join(f"no worker alive {_t(a)} to {_t(b)}" for a, b in tl.stalls(s))
        lines.append(
            f"{pipeline}: {_t(s['ts'].min())} to {_t(s['ts'].max())}, up to {s['workers'].max()} "
            f"workers registered{alive}, {last['completed']} of {last['total']} shards completed"
            + (f"; {stalls}" if stalls else "")
        )
    return lines or ["no coordinator status lines in these logs"]


def events_text(t: tl.Tables, every: int) -> list[str]:
    """Per strip: its events and its busiest bin."""
    lines = []
    for label, df in tl.event_bins(t, every).items():
        if df.height == 0:
            lines.append(f"{label}: none")
            continue
        top = df.sort(["events", "bin"], descending=[True, False]).row(0, named=True)
        lines.append(
            f"{label}: {df['events'].sum():,}, most ({top['events']:,}) in the bin from {_t(top['bin'])}"
        )
    return lines


def nodes_text(t: tl.Tables) -> list[str]:
    """Per kind: how many, on how many nodes, when."""
    lanes = tl.node_lanes(t)
    lines = []
    for (kind,), df in lanes.group_by("kind", maintain_order=True):
        nodes = df["node"].n_unique()
        lines.append(f"{kind}: {df['repeat'].sum():,} on the {nodes} node{'s' if nodes != 1 else ''} the lines name, "
                     f"{_t(df['ts'].min())} to {_t(df['ts'].max())}")  # fmt: skip
    return lines or ["no node events in these logs"]


def _t(ts) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S") if ts is not None else "-"
