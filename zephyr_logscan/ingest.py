"""``logscan ingest``: logs -> typed Parquet tables and ``manifest.json``, streaming, atomically.

Where the tables go (and what may be replaced) is ``output``; how inputs are opened and read in
full is ``parsers.sources``; stop signals are ``stops``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from parsers.lines import split_lines, where_holds
from parsers.records import RecordFolder, fold_files
from parsers.sources import CHUNK, Source, SourceError, discover
from parsers.tables import ALL_TABLES, SCHEMAS, classify_records, pipelines_named, to_arrow
from zephyr_logscan import output
from zephyr_logscan.output import OutputError
from zephyr_logscan.stops import Interrupted, stop_on_signals, uninterrupted  # noqa: F401
from zephyr_logscan.version import VERSION

# One pass: every word with a digit (numbers, hex ids, IPs, times, pid=N) becomes "<*>", so
# records that differ only in values share a template.
# (The lazy first class matches the same spans as a greedy one, since the last class takes the
# rest of the word either way, and is about 1.6x faster in polars' regex engine.)
MASK = r"[\w.:/=-]*?\d[\w.:/=-]*"
DIGITS = list("123456789")


def templates_of(heads: pl.Series) -> pl.Series:
    """Each head's template: every word with a digit (numbers, hex ids, IPs, times, pid=N)
    becomes "<*>"; bounded slices keep a single 50 MB line linear.

    The mask runs once per distinct shape, a head whose ASCII digits all read 0 (a chunk's tens
    of thousands of unmatched lines have a few hundred shapes): a word of the shape holds a digit
    exactly where the head's did, so both mask alike.
    """
    shapes = heads.str.slice(0, 400).str.replace_many(DIGITS, ["0"] * len(DIGITS))
    distinct = shapes.unique()
    return shapes.replace_strict(distinct, distinct.str.replace_all(MASK, "<*>").str.slice(0, 300))


JSON_LEVELS = {"WARN": "WARNING", "CRITICAL": "FATAL"}
RECORD_SCHEMA = {
    "line": pl.Int64, "prefix": pl.String, "source": pl.String, "pid": pl.Int64, "ip": pl.String,
    "ts": pl.Int64, "level": pl.String, "lines": pl.Int32, "head": pl.String, "message": pl.String,
    "repeat": pl.Int32,
    "label": pl.String,  # JSON event files: the event's label, kept in `fields`
}  # fmt: skip
MAX_TEMPLATES = 20_000
BATCH_FILE_BYTES = 4 << 20  # a plain file up to this size is read whole and parsed with others
BATCH_BYTES = CHUNK  # small files parsed in one pass: about as many bytes as a chunk


class IngestError(Exception):
    """Bad options (a time that is no time, --since after --until): one line, exit code 2."""


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

    def __init__(self, work: Path, tz: str, since, until, gate=contextlib.nullcontext):
        self.work = work
        self.gate = gate  # held while a file is created in `work` (see Job)
        self.tz = tz
        self.since, self.until = since, until
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows = defaultdict(int)
        self.events = defaultdict(int)
        self.templates: dict[str, list] = {}
        self.lines_total = self.lines_unmatched = self.lines_outside = 0
        self.first_ts = self.last_ts = None
        # Three stages, each in its own thread and in order: the reading thread folds chunk
        # N+1 while the classify thread classifies chunk N and the writer thread writes chunk
        # N-1 (polars and pyarrow release the GIL: the stages share the machine's cores).
        self.classify_thread = ThreadPoolExecutor(1, thread_name_prefix="logscan-classify")
        self.classifying: deque = deque()
        self.writer_thread = ThreadPoolExecutor(1, thread_name_prefix="logscan-writer")
        self.pending: deque = deque()

    # --- records -> rows -------------------------------------------------------------------------

    def records(self, recs: pl.DataFrame, file: str | list[str], state: FileState | None):
        """Records of one file (its label and the state carried from its earlier chunks), or of
        a batch of whole files (their labels, indexed by the records' ``part``; no state): handed
        to the classify thread (at most one chunk waits for it)."""
        if recs.height == 0:
            return
        while self.classifying:
            self.classifying.popleft().result()
        self.classifying.append(self.classify_thread.submit(self.classify, recs, file, state))

    def classify(self, recs: pl.DataFrame, file: str | list[str], state: FileState | None):
        """Times, the window, pipelines and the tables of one chunk's records (in the classify
        thread; it alone touches ``state``'s time and pipelines, in chunk order)."""
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
        self.time_range(recs["ts"])
        recs = self.attribute_pipeline(recs, state)
        if state is None:
            recs = recs.with_columns(file=pl.Series(file, dtype=pl.String).gather(recs["part"]))
            recs = recs.drop("part")
        else:
            recs = recs.with_columns(file=pl.lit(file))
        tables, classified = classify_records(recs)
        # The output side (templates, Arrow conversion, Parquet writing) runs in the writer thread.
        unmatched = recs.select("file", "line", "lines", "head", "repeat").filter(~classified)
        self.to_writer(self.output, tables, unmatched)

    def time_range(self, ts: pl.Series):
        """The run's time range: of every record read (in the window), matched or not."""
        ts = ts.drop_nulls()
        if len(ts):
            self.first_ts = ts.min() if self.first_ts is None else min(self.first_ts, ts.min())
            self.last_ts = ts.max() if self.last_ts is None else max(self.last_ts, ts.max())

    def to_writer(self, fn: Callable, *args):
        """``fn(*args)`` in the writer thread, in order; at most two calls wait for it."""
        while len(self.pending) >= 2:
            self.pending.popleft().result()
        self.pending.append(self.writer_thread.submit(fn, *args))

    def output(self, tables: dict[str, pl.DataFrame], unmatched: pl.DataFrame):
        self.lines_unmatched += int(unmatched["lines"].sum())
        self.template(unmatched)
        for table, rows in tables.items():
            self.rows[table] += rows.height
            self.events[table] += int(rows["repeat"].sum())
            self.emit(table, rows)

    def emit(self, table: str, rows: pl.DataFrame):
        """One table's rows of a chunk -> the table's file (a parallel worker keeps them)."""
        self.write(table, to_arrow(table, rows))

    def infer_time(self, recs: pl.DataFrame, state: FileState | None) -> pl.DataFrame:
        """A record without its own timestamp takes the nearest earlier one of the same file
        (whole files in a batch: within each ``part``; a streamed file: from its earlier chunks
        too)."""
        filled = pl.col("ts").forward_fill()
        if state is None:
            filled = filled.over("part")
        elif state.last_ts is not None:
            filled = filled.fill_null(pl.lit(state.last_ts, dtype=recs["ts"].dtype))
        recs = recs.with_columns(
            ts_inferred=pl.col("ts").is_null() & filled.is_not_null(), ts=filled
        )
        last = recs["ts"].drop_nulls()
        if state is not None and len(last):
            state.last_ts = last[-1]
        return recs

    @staticmethod
    def attribute_pipeline(recs: pl.DataFrame, state: FileState | None) -> pl.DataFrame:
        """The pipeline a record names, else the one its process named last (README, Decisions)."""
        # (Both patterns hold the word.)
        named = where_holds(recs["message"], "zephyr", pipelines_named, pl.String)
        key = (
            pl.when(pl.col("pid").is_not_null())
            .then(
                pl.concat_str(
                    [pl.col("pid").cast(pl.String), pl.col("ip").fill_null("")], separator="|"
                )
            )
            .when(pl.col("prefix").is_null())
            .then(pl.lit("driver"))  # the driver's own lines are one process
            .when(pl.col("prefix").str.starts_with("task="))
            .then(pl.col("prefix"))  # an Iris task's attempt is one process
        )  # raylet, gcs_server, autoscaler speak for the cluster: no key, no inheritance
        recs = recs.with_columns(named=named, key=key)
        # Whole files in a batch: a process's pipeline is carried within its file only; a
        # streamed file: from its earlier chunks too.
        carried = pl.col("key").replace_strict(
            state.process_pipeline if state is not None else {}, default=None,
            return_dtype=pl.String,
        )  # fmt: skip
        within = ("part", "key") if state is None else ("key",)
        recs = recs.with_columns(
            pipeline=pl.when(pl.col("key").is_null())
            .then(pl.col("named"))
            .otherwise(pl.coalesce(pl.col("named").forward_fill().over(*within), carried))
        )
        if state is None:
            return recs
        last = recs.filter(pl.col("named").is_not_null() & pl.col("key").is_not_null())
        for key_, name in (
            last.group_by("key", maintain_order=True).agg(pl.col("named").last()).iter_rows()
        ):
            state.process_pipeline[key_] = name
        return recs

    def template(self, unmatched: pl.DataFrame):
        if unmatched.height == 0:
            return
        grouped = (
            unmatched.with_columns(template=templates_of(unmatched["head"]))
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

    def read(
        self,
        sources: list[Source],
        progress: Callable[[int], None],
        skip: Callable[[Source, SourceError], None],
    ) -> list[tuple[Source, FileState | None]]:
        """Parse every source, in order; returns those read, each with its state (None for a
        file parsed in a batch).

        Small plain files are read whole and parsed together, one pass for many: a session
        folder holds thousands of small files, and every pass has a fixed cost. The others
        stream chunk by chunk. ``progress`` gets the stored bytes read so far; a source that
        fails goes to ``skip(src, error)``, which raises when the run cannot go on without it.
        (A small file that fails adds nothing to the tables; a streamed one keeps the records
        of the chunks parsed before, as the sequential run always did.)
        """
        used: list[tuple[Source, FileState | None]] = []
        batch: list[tuple[Source, list[bytes]]] = []
        batch_bytes = done = 0

        def flush():
            nonlocal batch, batch_bytes
            if batch:
                self.parse_batch(batch)
                used.extend((src, None) for src, _ in batch)
                batch, batch_bytes = [], 0

        for src in sources:

            def tick(n: int, base: int = done):
                progress(base + n)

            try:
                if not self.batchable(src):
                    flush()
                    used.append((src, self.source(src, tick)))
                    continue
                chunks, stream, size = [], src.chunks(), 0
                for chunk in stream:
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > BATCH_FILE_BYTES:  # a compressed file larger than it looked
                        flush()
                        used.append((src, self.source(src, tick, itertools.chain(chunks, stream))))
                        break
                else:
                    tick(src.consumed)
                    batch.append((src, chunks))
                    batch_bytes += size
                    if batch_bytes >= BATCH_BYTES:
                        flush()
            except SourceError as e:
                skip(src, e)
            finally:
                done += src.consumed
        flush()
        return used

    @staticmethod
    def batchable(src: Source) -> bool:
        """A whole plain-text log file small enough to be read at once."""
        if src.json_events or src.path is None or src.end is not None or not src.seekable:
            return False
        try:
            return src.path.stat().st_size <= BATCH_FILE_BYTES
        except OSError:
            return False

    def parse_batch(self, batch: list[tuple[Source, list[bytes]]]):
        """Whole files, read in full, split into lines, folded and classified in one pass."""
        texts, used = [], []
        for src, chunks in batch:
            text = b"".join(chunks)
            if text:  # its last line is a line even without a line break
                texts.append(text if text.endswith(b"\n") else text + b"\n")
                used.append(src)
        if not texts:
            return
        lines = split_lines(b"".join(texts))  # lines are cut at line breaks only
        starts, n = [], 0
        for src, text in zip(used, texts, strict=True):
            starts.append(n)
            count = text.count(b"\n")
            src.lines += count
            n += count
        self.records(fold_files(lines, starts, self.tz), [src.label for src in used], None)

    def source(
        self, src: Source, progress: Callable[[int], None], chunks: Iterator[bytes] | None = None
    ) -> FileState:
        """One file, chunk by chunk (``chunks``: its blocks when reading has begun)."""
        state = FileState(self.tz)
        chunks = src.chunks() if chunks is None else chunks
        chunk = next(chunks, None)
        while chunk is not None:
            # One chunk ahead: the file's last chunk is folded with the open record in one pass
            # (a small file is one pass, not two).
            following = next(chunks, None)
            progress(src.consumed)
            if src.json_events:
                self.records(self.json_events(src, chunk), src.label, state)
            else:
                lines = split_lines(chunk)
                src.lines += len(lines)
                self.records(state.folder.feed(lines, final=following is None), src.label, state)
            chunk = following
        progress(src.consumed)
        if not src.json_events and state.folder.carry.len():
            self.records(state.folder.close(), src.label, state)
        return state

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
            with self.gate():
                writer = self.writers[table] = pq.ParquetWriter(
                    self.work / f"{table}.parquet", SCHEMAS[table], compression="zstd"
                )
        writer.write_table(data)

    def drain(self):
        """Wait until every chunk handed on is classified and written (their errors rise here)."""
        while self.classifying:
            self.classifying.popleft().result()
        while self.pending:
            self.pending.popleft().result()
        self.classify_thread.shutdown()
        self.writer_thread.shutdown()

    def finish(self):
        self.drain()
        rows = sorted(self.templates.items(), key=lambda kv: (-kv[1][0], kv[0]))
        cols = list(zip(*[(t, *v) for t, v in rows], strict=True)) if rows else [[]] * 6
        table = pa.table(
            {
                f.name: pa.array(list(c), type=f.type)
                for f, c in zip(SCHEMAS["templates"], cols, strict=True)
            },
            schema=SCHEMAS["templates"],
        )
        with self.gate():
            pq.write_table(table, self.work / "templates.parquet", compression="zstd")
        for name in ALL_TABLES:
            if name == "templates":
                continue
            if name in self.writers:
                self.writers[name].close()
            else:
                with self.gate():
                    pq.write_table(
                        SCHEMAS[name].empty_table(),
                        self.work / f"{name}.parquet",
                        compression="zstd",
                    )

    def abandon(self):
        """After a failure: stop the stage threads and close what is open (the folder is removed)."""
        self.classify_thread.shutdown(cancel_futures=True)
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
    progress: Callable[[int, int | None], None] | None = None,
    force: bool = False,
    jobs: int | None = 1,
    ray_address: str | None = None,
) -> IngestResult:
    """Read the logs and write ``out_dir/<table>.parquet`` and ``manifest.json``.

    Everything that can be checked is checked before anything is written (times, inputs, the
    output folder: see ``output.plan``). ``progress(done, total)`` gets the stored bytes read so
    far (compressed bytes for compressed inputs) and their total, None when an input is a pipe.
    ``force`` lets logscan write into a folder that holds other files too (replacing only its own).
    ``jobs`` > 1 parses files, and ranges of large files, in that many worker processes (None:
    the machine's cores when the inputs hold ``parallel.AUTO_MIN_BYTES`` or more, else one);
    ``ray_address`` runs the same parsing as Ray tasks (``zephyr_logscan.parallel``). The tables
    are the same either way.

    >>> result = ingest(["full_log.txt"])              # -> full_log.txt.logscan/
    >>> result.manifest["tables"]["node_deaths"]["events"]
    74
    """
    started = time.perf_counter()
    window = parse_time(since, tz), parse_time(until, tz)
    if window[0] is not None and window[1] is not None and window[0] > window[1]:
        raise IngestError(f"--since {since} is after --until {until}: nothing would be kept")
    if jobs is not None and not ray_address:
        from zephyr_logscan.parallel import MAX_JOBS_PER_CORE, default_jobs

        if jobs > MAX_JOBS_PER_CORE * default_jobs():
            raise IngestError(
                f"--jobs {jobs} is more than {MAX_JOBS_PER_CORE} processes for each of this "
                f"machine's {default_jobs()} cores: they would only add start-up time and memory"
            )
    sources, skipped = discover(inputs, skip_folder=output.not_logs)
    target = output.plan(
        Path(out_dir) if out_dir else output.default_output(inputs[0]), inputs, force
    )
    total = sum(s.path.stat().st_size for s in sources if s.seekable)
    if not all(s.seekable for s in sources):
        total = None  # a pipe: its size is known only at its end
    with stop_on_signals():
        with uninterrupted():
            output.start(target)
        job = Job(target, sources, skipped, progress, total, started)
        if jobs is None:
            from zephyr_logscan.parallel import auto_jobs

            jobs = auto_jobs(sources)
        job.jobs, job.ray_address = jobs, ray_address
        job.run = Ingest(target.work, str(tz), *window, gate=job.gate)
        threading.Thread(target=job, name="logscan-ingest", daemon=True).start()
        try:
            job.done.wait()  # a stop signal interrupts this wait at once
        except BaseException:
            with uninterrupted():
                job.cancel()
            raise
    if job.error is not None:
        raise job.error
    return IngestResult(target.out, job.manifest)


class Cancelled(Exception):
    """The run was stopped from outside (a stop signal in the main thread)."""


class Job:
    """One ingest run in a thread of its own.

    The main thread only waits, so a stop signal is handled at once however long a polars step
    takes. Cancelling removes the temporary folder under ``lock``; files are created in it only
    under the same lock (``gate``), so none can appear after it is gone. The thread notices the
    cancel at its next chunk.
    """

    def __init__(self, target, sources, skipped, progress, total, started):
        self.target, self.sources, self.skipped = target, sources, skipped
        self.progress, self.total, self.started = progress, total, started
        self.run: Ingest | None = None
        self.lock = threading.Lock()
        self.cancelled = False
        self.done = threading.Event()
        self.manifest: dict | None = None
        self.error: BaseException | None = None
        self.jobs, self.ray_address = 1, None
        self.stoppers: list[Callable[[], None]] = []  # end the workers of a parallel run

    def __call__(self):
        try:
            self.manifest = self.body()
        except BaseException as e:
            self.error = e
        finally:
            self.done.set()

    @contextlib.contextmanager
    def gate(self):
        with self.lock:
            if self.cancelled:
                raise Cancelled
            yield

    def cancel(self):
        with self.lock:
            self.cancelled = True
            for stop in self.stoppers:
                stop()
            output.discard(self.target)

    def body(self) -> dict:
        run, target = self.run, self.target
        try:
            parallel = (self.jobs > 1 or self.ray_address) and all(s.seekable for s in self.sources)
            if parallel:
                used = self.parallel()
            else:

                def tick(n):
                    if self.cancelled:
                        raise Cancelled
                    if self.progress:
                        self.progress(n, self.total)

                used = [src for src, _ in run.read(self.sources, tick, self.skip)]
            run.finish()
            manifest = build_manifest(run, used, self.skipped, time.perf_counter() - self.started)
            with self.gate():
                (target.work / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
                output.commit(target)
            return manifest
        except OSError as e:  # reading errors are SourceErrors: this is the output side
            self.abandon()
            raise OutputError(f"cannot write {target.out}: {output.strerror(e)}") from None
        except BaseException:
            self.abandon()
            raise

    def skip(self, src: Source, error: SourceError):
        """An unreadable file inside a folder is listed as skipped; any other failure is fatal."""
        if not (src.in_folder and error.skippable):
            raise error
        self.skipped.append({"path": src.label, "why": error.why})

    def parallel(self) -> list[Source]:
        """The sources parsed by worker processes or Ray tasks and merged here, in order."""
        from zephyr_logscan import parallel

        def tick(n):
            if self.cancelled:
                raise Cancelled
            if self.progress:
                self.progress(n, self.total)

        run = self.run
        how = (
            (parallel.run_ray, self.ray_address)
            if self.ray_address
            else (parallel.run_local, self.jobs)
        )
        return how[0](
            run, self.sources, how[1], run.tz, run.since, run.until, tick, self.skipped,
            self.stoppers,
        )  # fmt: skip

    def abandon(self):
        self.run.abandon()
        with self.lock:
            output.discard(self.target)


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
        "generator": output.GENERATOR,
        "version": VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "inputs": [
            {
                "path": s.label,
                "bytes": s.bytes_read,
                "stored_bytes": s.consumed,
                "sha256": s.sha256,
                "lines": s.lines,
                # a NUL run is a hole (crash, full disk), removed before parsing
                "nul_bytes": s.nul_bytes,
                "nul_runs": s.nul_runs,
                # giant lines keep their first MAX_LINE bytes
                "truncated_lines": s.truncated_lines,
                "truncated_bytes": s.truncated_bytes,
            }  # fmt: skip
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


__all__ = [
    "VERSION", "IngestError", "IngestResult", "Interrupted", "OutputError", "SourceError", "ingest",
]  # fmt: skip
