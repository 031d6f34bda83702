"""The synth's writer: text to bytes, a tick at a time, and the truth counted record by record.

Every record the story writes goes through ``LogWriter.record`` with what it is (its tables,
dedup count, process, the pipeline it names, its distinct values), so ``Truth`` counts what the
log holds under the counting contract of shared/DESIGN.md without reading the text back.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime

from zephyr_logscan import synth_text as tx

DISTINCT_COLUMNS = {
    "events": ("pipeline",),
    "node_deaths": ("node_id", "node_ip"),
    "heartbeat_failures": ("worker_id", "pipeline"),
    "registrations": ("worker_id", "pipeline"),
    "reregistrations": ("worker_id", "pipeline"),
    "actor_already_exists": ("actor_name",),
    "worker_status": ("pipeline", "stage"),
    "stage_progress": ("pipeline", "stage"),
    "pipeline_attempts": ("pipeline",),
    "actor_deaths": ("actor_id",),
    "oom_kills": ("node_ip",),
    "warnings": ("code",),
}
TABLES = (
    "node_deaths", "heartbeat_failures", "registrations", "reregistrations",
    "actor_already_exists", "worker_status", "stage_progress", "pipeline_attempts",
    "actor_deaths", "oom_kills", "warnings", "events",
)  # fmt: skip
UNMATCHED = None  # `tables` value of a record no rule classifies
DRIVER = (0, "driver")  # the process key of the driver's own (unprefixed) lines


class Truth:
    """Counts what the log holds, record by record, under the counting contract."""

    def __init__(self):
        self.rows = defaultdict(int)
        self.events = defaultdict(int)
        self.distinct = defaultdict(lambda: defaultdict(set))
        self.unmatched = [0, 0, 0]  # records, events, lines
        self.windows: dict[tuple[str, str, int], list[float]] = {}
        self.process_pipeline: dict[tuple[int, str], str] = {}
        self.oom_kills: list[tuple[float, str, str | None]] = []  # (t, pipeline, node_ip)

    def count(self, t, nlines, tables, repeat, proc, names, values, patterns, about):
        if names is None and proc is not None:
            pipeline = self.process_pipeline.get(proc)
        else:
            pipeline = names
            if names is not None and proc is not None:
                self.process_pipeline[proc] = names
        for p in patterns:
            # A window belongs to the pipeline the story was about (`about`: pipeline, episode);
            # Ray's own lines (node deaths, autoscaler) name no pipeline themselves.
            key = (p, *(about or (pipeline or "", 0)))
            w = self.windows.get(key)
            if w is None:
                self.windows[key] = [t, t]
            else:
                w[0], w[1] = min(w[0], t), max(w[1], t)
        if tables is not UNMATCHED and "oom_kills" in tables and pipeline is not None:
            self.oom_kills.append((t, pipeline, (values or {}).get("node_ip")))
        if tables is UNMATCHED:
            self.unmatched[0] += 1
            self.unmatched[1] += repeat
            self.unmatched[2] += nlines
            return
        for table in (*tables, "events"):
            self.rows[table] += 1
            self.events[table] += repeat
            cols = DISTINCT_COLUMNS.get(table, ())
            if pipeline is not None and "pipeline" in cols:
                self.distinct[table]["pipeline"].add(pipeline)
            if values:
                for col, val in values.items():
                    if col in cols and val is not None:
                        self.distinct[table][col].add(val)


class LogWriter:
    """Buffers one tick of text, writes it as bytes, and feeds the truth."""

    def __init__(self, fh, truth: Truth):
        self.fh = fh
        self.truth = truth
        self.buf: list[str] = []
        self.chars = 0
        self.bytes = 0
        self.lines = 0
        self._sec = -1
        self._base = ""
        self._dedup_noted = False

    def ts(self, t: float) -> str:
        sec = int(t)
        if sec != self._sec:
            self._sec = sec
            self._base = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec))
        return f"{self._base},{int((t - sec) * 1000):03d}"

    def shown(self, t: float) -> float:
        """``t`` as the log shows it (truncated to the millisecond, as ``ts`` prints it)."""
        sec = int(t)
        return sec + int((t - sec) * 1000) / 1000

    def dedup(self, n: int, colour: bool) -> str:
        suffix = f" [repeated {n}x across cluster]"
        if not self._dedup_noted:
            self._dedup_noted = True
            suffix += tx.DEDUP_NOTE
        return f"{tx.GREEN}{suffix}{tx.RESET}" if colour else suffix

    def record(self, t, lines, tables=(), *, repeat=1, proc=None, names=None, values=None,
               patterns=(), about=None):  # fmt: skip
        if proc is None and lines[0][:1] not in ("(", "\x1b"):
            proc = DRIVER  # the driver's own lines: one process for pipeline inheritance
        text = "\n".join(lines) + "\n"
        self.buf.append(text)
        self.chars += len(text)
        self.lines += len(lines)
        self.truth.count(t, len(lines), tables, repeat, proc, names, values, patterns, about)

    def flush(self):
        if self.buf:
            data = "".join(self.buf).encode("utf-8", "surrogateescape")
            self.fh.write(data)
            self.bytes += len(data)
            self.buf.clear()


def truth_document(cfg, out: LogWriter, truth: Truth) -> dict:
    """The truth file: counts per table, distinct ids, unmatched records, pattern windows."""

    def iso(t: float) -> str:
        return (
            datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )

    tables = {}
    for table in TABLES:
        tables[table] = {
            "rows": truth.rows[table],
            "events": truth.events[table],
            "distinct": {c: len(truth.distinct[table][c]) for c in DISTINCT_COLUMNS.get(table, ())},
        }
    windows = [
        {"pattern": p, "pipeline": pipe or None, "start": iso(w[0]), "end": iso(w[1])}
        for (p, pipe, _), w in sorted(truth.windows.items(), key=lambda kv: (kv[1][0], kv[0][0]))
    ]
    return {
        "seed": cfg.seed,
        "clean": cfg.clean,
        "workers": cfg.workers,
        "pipelines": cfg.pipelines,
        "lines_total": out.lines,
        "bytes": out.bytes,
        "lines_unmatched": truth.unmatched[2],
        "unmatched": {"records": truth.unmatched[0], "events": truth.unmatched[1]},
        "tables": tables,
        "windows": windows,
    }
