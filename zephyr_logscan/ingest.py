"""``logscan ingest``: logs -> typed Parquet tables and ``manifest.json``, streaming, atomically."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from parsers.prefix import ANSI, Clock
from parsers.records import Record, RecordFolder
from parsers.sources import Source, SourceError, discover
from parsers.tables import (
    ALL_TABLES,
    SCHEMAS,
    TableBuffers,
    classify,
    derive,
    fields_of,
    pipeline_named,
)

VERSION = "0.1.0"
# One pass: every word with a digit (numbers, hex ids, IPs, times, pid=N) becomes "<*>", so
# records that differ only in values share a template.
MASK = re.compile(r"[\w.:/=-]*\d[\w.:/=-]*")
MAX_TEMPLATES = 20_000


class IngestError(Exception):
    """Bad input or output: one line for the user, exit code 2."""


@dataclass
class IngestResult:
    out_dir: Path
    manifest: dict


def parse_time(text: str | None, tz: tzinfo) -> int | None:
    """``--since``/``--until`` value -> epoch ms (naive times are read in ``tz``)."""
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
    return int(dt.timestamp() * 1000)


class Ingest:
    """One run: folds every source into records, classifies them and streams the tables."""

    def __init__(self, work: Path, tz: tzinfo, since: int | None, until: int | None):
        self.work = work
        self.clock = Clock(tz)
        self.since, self.until = since, until
        self.buffers = TableBuffers()
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.templates: dict[str, list] = {}
        self.process_pipeline: dict[tuple, str] = {}
        self.lines_total = self.lines_unmatched = self.lines_outside = 0
        self.first_ts = self.last_ts = None

    # --- records -> rows -------------------------------------------------------------------------

    def record(self, rec: Record, last_ts: list):
        nlines = len(rec.bodies)
        self.lines_total += nlines
        ts, inferred = rec.ts, False
        if ts is None:
            ts, inferred = last_ts[0], last_ts[0] is not None
        else:
            last_ts[0] = ts
        if (self.since is not None and (ts is None or ts < self.since)) or (
            self.until is not None and (ts is None or ts > self.until)
        ):
            self.lines_outside += nlines
            return
        message = rec.message
        named = pipeline_named(message)
        key = self.process_key(rec)
        if named is not None:
            if key is not None:
                self.process_pipeline[key] = named
            pipeline = named
        else:
            pipeline = self.process_pipeline.get(key) if key is not None else None
        found = classify(message)
        if not found:
            self.lines_unmatched += nlines
            self.template(rec, message)
            return
        if ts is not None:
            self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
            self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)
        pid = int(rec.pid) if rec.pid and rec.pid.isdigit() else None
        fields = list(fields_of(rec).items())
        kinds = [t for t in found if t != "events"]
        first_rule = next(iter(found.values()))[0].id
        common = [rec.file, rec.line, nlines, ts, inferred, rec.level, rec.source, pid, rec.ip,
                  rec.repeat, pipeline, first_rule, message, fields]  # fmt: skip
        self.buffers.add("events", common, {"kinds": kinds})
        for table, (rule, values) in found.items():
            if table != "events":
                common[11] = rule.id
                self.buffers.add(table, common, derive(table, values))

    @staticmethod
    def process_key(rec: Record) -> tuple | None:
        if rec.pid is not None and rec.pid.isdigit():
            return (rec.file, rec.pid, rec.ip)
        if rec.prefix is None:
            return (rec.file, "driver")  # the driver's own lines are one process
        return None  # raylet, gcs_server, autoscaler speak for the cluster

    def template(self, rec: Record, message: str):
        head = message.split("\n", 1)[0]
        masked = MASK.sub("<*>", head[:400])[:300]  # bounded: a 50 MB line must stay linear
        entry = self.templates.get(masked)
        if entry is None:
            if len(self.templates) >= MAX_TEMPLATES:
                masked = "<other templates>"
                entry = self.templates.get(masked)
            if entry is None:
                entry = self.templates[masked] = [0, 0, rec.file, rec.line, head[:500]]
        entry[0] += 1
        entry[1] += rec.repeat

    # --- sources ---------------------------------------------------------------------------------

    def source(self, src: Source, progress: Callable[[int], None]):
        folder = RecordFolder(src.label, self.clock)
        last_ts: list = [None]
        if src.json_events:
            for chunk in src.chunks():
                self.json_events(src, chunk, last_ts)
                progress(src.bytes_read)
            return
        for chunk in src.chunks():
            text = chunk.decode("utf-8", "replace")
            if "\x1b" in text:
                text = ANSI.sub("", text)
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            if "\r" in text:
                lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
            src.lines += len(lines)
            for rec in folder.feed(lines):
                self.record(rec, last_ts)
            self.flush()
            progress(src.bytes_read)
        rec = folder.close()
        if rec is not None:
            self.record(rec, last_ts)
        self.flush()

    def json_events(self, src: Source, chunk: bytes, last_ts: list):
        """Ray's JSON event files: one event per line, read as a record of its message."""
        for raw in chunk.decode("utf-8", "replace").splitlines():
            src.lines += 1
            line_no = src.lines
            try:
                ev = json.loads(raw)
                message = str(ev.get("message", ""))
            except (ValueError, AttributeError):
                ev, message = None, raw
            rec = Record(src.label, line_no, None, None, None, None, None, None, [message])
            if isinstance(ev, dict):
                rec.source = ev.get("source_type")
                rec.pid = str(ev.get("pid")) if ev.get("pid") is not None else None
                rec.level = {"WARN": "WARNING", "CRITICAL": "FATAL"}.get(
                    str(ev.get("severity") or ev.get("levelname") or "").upper(),
                    str(ev.get("severity") or ev.get("levelname") or "").upper() or None,
                )
                stamp = ev.get("timestamp")
                if isinstance(stamp, int | float):
                    rec.ts = int(stamp * 1000) if stamp < 1e11 else int(stamp)
            self.record(rec, last_ts)

    # --- output ----------------------------------------------------------------------------------

    def flush(self):
        for table, batch in self.buffers.batches():
            writer = self.writers.get(table)
            if writer is None:
                writer = self.writers[table] = pq.ParquetWriter(
                    self.work / f"{table}.parquet", SCHEMAS[table], compression="zstd"
                )
            writer.write_batch(batch)

    def finish(self):
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
    run = Ingest(work, tz, parse_time(since, tz), parse_time(until, tz))
    try:
        for src in sources:
            run.source(src, lambda n, base=done_before: progress and progress(base + n, total))
            done_before += src.bytes_read
        run.finish()
        manifest = build_manifest(run, sources, skipped, time.perf_counter() - started)
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        replace_dir(work, out)
    except BaseException:
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
    def iso(ms):
        return (
            None
            if ms is None
            else datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
        )

    tables = {t: {"rows": run.buffers.rows[t], "events": run.buffers.events[t]} for t in ALL_TABLES}
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
