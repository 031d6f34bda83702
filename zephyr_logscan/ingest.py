"""``logscan ingest``: logs -> typed Parquet tables and ``manifest.json``, streaming, atomically."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from importlib.metadata import version
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from parsers.lines import split_lines
from parsers.records import RecordFolder
from parsers.sources import Source, SourceError, discover
from parsers.tables import ALL_TABLES, PIPELINE, PIPELINE_START, SCHEMAS, classify_records, to_arrow

VERSION = version("zephyr-logscan")  # one place: pyproject.toml
# One pass: every word with a digit (numbers, hex ids, IPs, times, pid=N) becomes "<*>", so
# records that differ only in values share a template.
MASK = r"[\w.:/=-]*\d[\w.:/=-]*"
JSON_LEVELS = {"WARN": "WARNING", "CRITICAL": "FATAL"}
RECORD_SCHEMA = {
    "line": pl.Int64, "prefix": pl.String, "source": pl.String, "pid": pl.Int64, "ip": pl.String,
    "ts": pl.Int64, "level": pl.String, "lines": pl.Int32, "head": pl.String, "message": pl.String,
    "repeat": pl.Int32,
    "label": pl.String,  # JSON event files: the event's label, kept in `fields`
}  # fmt: skip
MAX_TEMPLATES = 20_000


class IngestError(Exception):
    """Bad input or output: one line for the user, exit code 2."""


@dataclass
class IngestResult:
    out_dir: Path
    manifest: dict


def parse_time(text: str | None, tz: tzinfo) -> datetime | None:
    """``--since``/``--until`` value -> an aware time (naive times are read in ``tz``)."""
    if text is None:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise IngestError(
            f"not a time: {text!r} (use ISO 8601, e.g. 2026-02-21T12:50:00)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(UTC)


class FileState:
    """What one file carries from chunk to chunk: its fold, last timestamp, process pipelines."""

    def __init__(self, tz: str):
        self.folder = RecordFolder(tz)
        self.last_ts = None
        self.process_pipeline: dict[str, str] = {}


class Ingest:
    """One run: folds every source into records, classifies them and streams the tables."""

    def __init__(self, work: Path, tz: str, since, until):
        self.work = work
        self.tz = tz
        self.since, self.until = since, until
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows = defaultdict(int)
        self.events = defaultdict(int)
        self.templates: dict[str, list] = {}
        self.lines_total = self.lines_unmatched = self.lines_outside = 0
        self.first_ts = self.last_ts = None
        self.writer_thread = ThreadPoolExecutor(1, thread_name_prefix="logscan-writer")
        self.pending: deque = deque()

    # --- records -> rows -------------------------------------------------------------------------

    def records(self, recs: pl.DataFrame, file: str, state: FileState):
        if recs.height == 0:
            return
        self.lines_total += int(recs["lines"].sum())
        recs = self.infer_time(recs, state)
        if self.since is not None or self.until is not None:
            keep = pl.lit(True)
            if self.since is not None:
                keep = keep & (pl.col("ts") >= self.since)
            if self.until is not None:
                keep = keep & (pl.col("ts") <= self.until)
            inside = recs.select(keep.fill_null(False)).to_series()
            self.lines_outside += int(recs.filter(~inside)["lines"].sum())
            recs = recs.filter(inside)
        recs = self.attribute_pipeline(recs, state).with_columns(file=pl.lit(file))
        tables, classified = classify_records(recs)
        # The output side (templates, Arrow conversion, Parquet writing) runs in one writer
        # thread, in order, while this thread parses the next chunk; at most two chunks wait.
        while len(self.pending) >= 2:
            self.pending.popleft().result()
        self.pending.append(
            self.writer_thread.submit(self.output, tables, recs.filter(~classified))
        )

    def output(self, tables: dict[str, pl.DataFrame], unmatched: pl.DataFrame):
        self.lines_unmatched += int(unmatched["lines"].sum())
        self.template(unmatched)
        ts = tables["events"]["ts"].drop_nulls()
        if len(ts):
            self.first_ts = ts.min() if self.first_ts is None else min(self.first_ts, ts.min())
            self.last_ts = ts.max() if self.last_ts is None else max(self.last_ts, ts.max())
        for table, rows in tables.items():
            self.rows[table] += rows.height
            self.events[table] += int(rows["repeat"].sum())
            self.write(table, to_arrow(table, rows))

    def infer_time(self, recs: pl.DataFrame, state: FileState) -> pl.DataFrame:
        """A record without its own timestamp takes the nearest earlier one of the same file."""
        filled = pl.col("ts").forward_fill()
        if state.last_ts is not None:
            filled = filled.fill_null(pl.lit(state.last_ts, dtype=recs["ts"].dtype))
        recs = recs.with_columns(
            ts_inferred=pl.col("ts").is_null() & filled.is_not_null(), ts=filled
        )
        last = recs["ts"].drop_nulls()
        if len(last):
            state.last_ts = last[-1]
        return recs

    @staticmethod
    def attribute_pipeline(recs: pl.DataFrame, state: FileState) -> pl.DataFrame:
        """The pipeline a record names, else the one its process named last (README, Decisions)."""
        named = pl.coalesce(
            pl.col("message").str.extract(PIPELINE_START.pattern, 1),
            pl.col("message").str.extract(PIPELINE.pattern, 1),
        )
        key = (
            pl.when(pl.col("pid").is_not_null())
            .then(
                pl.concat_str(
                    [pl.col("pid").cast(pl.String), pl.col("ip").fill_null("")], separator="|"
                )
            )
            .when(pl.col("prefix").is_null())
            .then(pl.lit("driver"))  # the driver's own lines are one process
        )  # raylet, gcs_server, autoscaler speak for the cluster: no key, no inheritance
        recs = recs.with_columns(named=named, key=key)
        carried = pl.col("key").replace_strict(
            state.process_pipeline, default=None, return_dtype=pl.String
        )
        recs = recs.with_columns(
            pipeline=pl.when(pl.col("key").is_null())
            .then(pl.col("named"))
            .otherwise(pl.coalesce(pl.col("named").forward_fill().over("key"), carried))
        )
        last = recs.filter(pl.col("named").is_not_null() & pl.col("key").is_not_null())
        for key_, name in (
            last.group_by("key", maintain_order=True).agg(pl.col("named").last()).iter_rows()
        ):
            state.process_pipeline[key_] = name
        return recs

    def template(self, unmatched: pl.DataFrame):
        if unmatched.height == 0:
            return
        # Every word with a digit (numbers, hex ids, IPs, times, pid=N) becomes "<*>"; bounded
        # slices keep a single 50 MB line linear.
        grouped = (
            unmatched.with_columns(
                template=pl.col("head")
                .str.slice(0, 400)
                .str.replace_all(MASK, "<*>")
                .str.slice(0, 300)
            )
            .group_by("template", maintain_order=True)
            .agg(
                pl.len(),
                pl.col("repeat").sum(),
                pl.col("file", "line").first(),
                pl.col("head").first().str.slice(0, 500),
            )
        )
        for template, n, events, file, line, sample in grouped.iter_rows():
            entry = self.templates.get(template)
            if entry is None:
                if len(self.templates) >= MAX_TEMPLATES:
                    entry = self.templates.setdefault(
                        "<other templates>", [0, 0, file, line, sample]
                    )
                else:
                    entry = self.templates[template] = [0, 0, file, line, sample]
            entry[0] += n
            entry[1] += events

    # --- sources ---------------------------------------------------------------------------------

    def source(self, src: Source, progress: Callable[[int], None]):
        state = FileState(self.tz)
        for chunk in src.chunks():
            if src.json_events:
                self.records(self.json_events(src, chunk), src.label, state)
            else:
                lines = split_lines(chunk)
                src.lines += len(lines)
                self.records(state.folder.feed(lines), src.label, state)
            progress(src.bytes_read)
        if not src.json_events:
            self.records(state.folder.close(), src.label, state)

    @staticmethod
    def json_events(src: Source, chunk: bytes) -> pl.DataFrame:
        """Ray's JSON event files: one event per line, read as a record of its message."""
        rows = []
        for raw in chunk.decode("utf-8", "replace").splitlines():
            src.lines += 1
            try:
                ev = json.loads(raw)
            except ValueError:
                ev = None
            if not isinstance(ev, dict):
                ev = {"message": raw}
            # Any field may have any shape in a file we did not write: take each defensively.
            level = str(ev.get("severity") or ev.get("levelname") or "").upper()[:16]
            stamp = ev.get("timestamp")
            ms = None
            if isinstance(stamp, int | float) and not isinstance(stamp, bool) and stamp == stamp:
                ms = int(stamp * 1000) if abs(stamp) < 1e11 else int(stamp)
                ms = ms if 0 <= ms < 253402300800000 else None  # up to year 9999
            pid = ev.get("pid", ev.get("source_pid"))
            pid = int(pid) if str(pid).isdigit() and len(str(pid)) < 19 else None
            message = ev.get("message", "")
            message = message if isinstance(message, str) else json.dumps(message, default=str)
            label = ev.get("label")
            label = None if label is None else label if isinstance(label, str) else str(label)
            source = ev.get("source_type")
            rows.append({
                "line": src.lines, "prefix": None, "source": None if source is None else str(source),
                "pid": pid, "ip": None, "ts": ms,
                "level": JSON_LEVELS.get(level, level or None), "lines": 1,
                "head": message, "message": message, "repeat": 1, "label": label,
            })  # fmt: skip
        return pl.DataFrame(rows, schema=RECORD_SCHEMA).with_columns(
            pl.col("ts").cast(pl.Datetime("ms", "UTC"))
        )

    # --- output ----------------------------------------------------------------------------------

    def write(self, table: str, data: pa.Table):
        writer = self.writers.get(table)
        if writer is None:
            writer = self.writers[table] = pq.ParquetWriter(
                self.work / f"{table}.parquet", SCHEMAS[table], compression="zstd"
            )
        writer.write_table(data)

    def finish(self):
        while self.pending:
            self.pending.popleft().result()
        self.writer_thread.shutdown()
        rows = sorted(self.templates.items(), key=lambda kv: (-kv[1][0], kv[0]))
        cols = list(zip(*[(t, *v) for t, v in rows], strict=True)) if rows else [[]] * 6
        table = pa.table(
            {
                f.name: pa.array(list(c), type=f.type)
                for f, c in zip(SCHEMAS["templates"], cols, strict=True)
            },
            schema=SCHEMAS["templates"],
        )
        pq.write_table(table, self.work / "templates.parquet", compression="zstd")
        for name in ALL_TABLES:
            if name == "templates":
                continue
            if name in self.writers:
                self.writers[name].close()
            else:
                pq.write_table(
                    SCHEMAS[name].empty_table(), self.work / f"{name}.parquet", compression="zstd"
                )

    def abandon(self):
        """After a failure: stop the writer thread and close what is open (the folder is removed)."""
        self.writer_thread.shutdown(cancel_futures=True)
        for writer in self.writers.values():
            with contextlib.suppress(Exception):
                writer.close()


def ingest(
    inputs: list[str],
    out_dir: str | os.PathLike | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    tz: tzinfo = UTC,
    progress: Callable[[int, int], None] | None = None,
) -> IngestResult:
    """Read the logs and write ``out_dir/<table>.parquet`` and ``manifest.json``.

    >>> result = ingest(["full_log.txt"])              # -> full_log.txt.logscan/
    >>> result.manifest["tables"]["node_deaths"]["events"]
    74
    """
    started = time.perf_counter()
    sources, skipped = discover(inputs)
    out = (
        Path(out_dir) if out_dir else Path(f"{'stdin' if inputs[0] == '-' else inputs[0]}.logscan")
    )
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise IngestError(f"cannot write {out}: it is a file")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(f"{out}.tmp-{os.getpid()}")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
    except OSError as e:
        raise IngestError(f"cannot write {out}: {e.strerror or e}") from None
    total = sum(s.path.stat().st_size for s in sources if s.path is not None)
    done_before = 0
    run = Ingest(work, str(tz), parse_time(since, tz), parse_time(until, tz))
    try:
        for src in sources:
            run.source(src, lambda n, base=done_before: progress and progress(base + n, total))
            done_before += src.bytes_read
        run.finish()
        manifest = build_manifest(run, sources, skipped, time.perf_counter() - started)
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        replace_dir(work, out)
    except BaseException:
        run.abandon()
        shutil.rmtree(work, ignore_errors=True)
        raise
    return IngestResult(out, manifest)


def replace_dir(work: Path, out: Path):
    """Move the finished folder into place; an older result is removed only after that."""
    old = None
    if out.exists():
        if not out.is_dir():
            raise IngestError(f"cannot write {out}: it is a file")
        old = Path(f"{out}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(work, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_manifest(run: Ingest, sources: list[Source], skipped: list[dict], seconds: float) -> dict:
    def iso(ts):
        return None if ts is None else ts.astimezone(UTC).isoformat(timespec="milliseconds")

    tables = {t: {"rows": run.rows[t], "events": run.events[t]} for t in ALL_TABLES}
    tables["templates"] = {
        "rows": len(run.templates),
        "events": sum(v[1] for v in run.templates.values()),
        "records": sum(v[0] for v in run.templates.values()),
    }
    return {
        "version": VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "inputs": [
            {"path": s.label, "bytes": s.bytes_read, "sha256": s.sha256, "lines": s.lines}
            for s in sources
        ],
        "lines_total": run.lines_total,
        "lines_unmatched": run.lines_unmatched,
        "lines_outside_window": run.lines_outside,
        "tables": tables,
        "first_ts": iso(run.first_ts),
        "last_ts": iso(run.last_ts),
        "skipped": skipped,
    }


def progress_printer(stream=sys.stderr) -> Callable[[int, int], None]:
    """A one-line progress bar with bytes/s, redrawn at most ten times a second."""
    started = time.perf_counter()
    last = [0.0]

    def show(done: int, total: int):
        now = time.perf_counter()
        if now - last[0] < 0.1 and done < total:
            return
        last[0] = now
        rate = done / max(now - started, 1e-6) / 1e6
        frac = done / total if total else 0
        bar = "#" * int(frac * 30)
        stream.write(
            f"\ringest [{bar:<30}] {done / 1e6:7.1f}/{total / 1e6:.1f} MB {rate:6.1f} MB/s"
        )
        stream.flush()

    return show


__all__ = ["IngestError", "IngestResult", "SourceError", "ingest", "progress_printer"]
