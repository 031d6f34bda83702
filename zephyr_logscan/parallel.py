"""Ingest on every core here, or as Ray tasks on a cluster: parts parsed apart, merged in order.

A part is a whole file, or a byte range of a large plain file cut where a record certainly
starts (``parsers.ranges``). Workers (processes here, Ray tasks there) parse parts exactly as the
single-process ingest parses a file and hand back Arrow tables plus what the merge needs; the
main process writes them in input order, so the tables are the sequential run's, row for row:

- ``line`` counts from the part's first line: the merge adds the lines of the ranges before it;
- a record whose process named no pipeline yet within its range gets the pipeline that process
  named last in the ranges before (the parser leaves ``pipeline`` null and keeps the process
  key in a hidden ``_key`` column for this);
- templates, counts and time bounds add up; template entries keep their first occurrence.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow as pa

from parsers.ranges import split_ranges
from parsers.sources import Source, SourceError
from parsers.tables import to_arrow
from zephyr_logscan.ingest import MAX_TEMPLATES, Ingest

RANGE_BYTES = 8 << 20  # a plain file of at least twice this is split into ranges near this size
TASK_BYTES = 8 << 20  # small files are handed out together, up to about this many bytes a task
AUTO_MIN_BYTES = 16 << 20  # the default --jobs parses less input than this in one process
MAX_JOBS_PER_CORE = 4  # a larger --jobs is refused: processes beyond it only cost
PROCESS_CORES = 2  # the cores one ingest process keeps busy (see auto_jobs)
POLL_SECONDS = 0.1  # how often a wait for a worker's result looks whether a worker died
STOP_SECONDS = 10  # a stopped worker or the pool's thread is not waited for longer
WRITE_ROWS = 65_536  # rows of a table gathered before the main process writes them
KEY = "_key"  # hidden column: the process key of each row, dropped before writing


def auto_jobs(sources: list[Source]) -> int:
    """The default ``--jobs``: worker processes only where they pay, i.e. input worth starting
    them for (about half a second each) on a machine with more cores than one process keeps
    busy. One ingest process keeps about two cores busy with its three stages; on two cores
    ``--jobs 2`` measured 0.85-0.88x the speed of ``--jobs 1`` (the workers' start and the results'
    transfer cost more CPU than they free)."""
    cores = default_jobs()
    if cores <= PROCESS_CORES:
        return 1
    size = sum(s.path.stat().st_size for s in sources if s.seekable)
    return cores if size >= AUTO_MIN_BYTES else 1


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# --- parts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A whole input file, or the byte range ``[start, end)`` of one."""

    source: int  # index in the run's sources
    label: str
    path: str
    json_events: bool = False
    start: int = 0
    end: int | None = None  # None: the whole file
    first: bool = True  # the file's first range (or the whole file)
    last: bool = True  # the file's last range (or the whole file)
    size: int = 0  # bytes, as planned (the file may change or vanish while it is read)


def plan(sources: list[Source], jobs: int, tz: str, range_bytes: int | None = None) -> list[Part]:
    """Every source as parts, in reading order. Plain files of ``2 * range_bytes`` or more are
    split into a multiple of ``jobs`` ranges, so every worker gets an even share, but never
    into ranges under a quarter of ``range_bytes`` (however many processes there are: a
    range's fixed cost would outweigh what it spreads)."""
    range_bytes = range_bytes or RANGE_BYTES
    parts: list[Part] = []
    for k, src in enumerate(sources):
        path = str(src.path)
        try:
            size = src.path.stat().st_size
        except OSError:  # gone since it was found: its worker says so, as for any unreadable file
            size = 0
        splittable = not src.json_events and not src.path.name.endswith((".gz", ".zst"))
        if not splittable or size < 2 * range_bytes:
            parts.append(Part(k, src.label, path, src.json_events, size=size))
            continue
        n = min(jobs * math.ceil(size / (jobs * range_bytes)), size // max(1, range_bytes // 4))
        ranges = split_ranges(path, n, tz)
        for i, (start, end) in enumerate(ranges):
            parts.append(
                Part(
                    k, src.label, path, False, start, end, i == 0, i == len(ranges) - 1, end - start
                )
            )
    return parts


def tasks(parts: list[Part], task_bytes: int = TASK_BYTES) -> Iterator[list[Part]]:
    """Consecutive parts grouped into tasks of about ``task_bytes`` (a range is a task alone)."""
    group: list[Part] = []
    size = 0
    for part in parts:
        if part.end is not None:
            if group:
                yield group
                group, size = [], 0
            yield [part]
            continue
        group.append(part)
        size += part.size
        if size >= task_bytes:
            yield group
            group, size = [], 0
    if group:
        yield group


# --- the worker side ------------------------------------------------------------------------------


@dataclass
class PartOutcome:
    """One part of a task: its source's counters after reading it, or why it could not be read."""

    part: Part
    source: dict = field(default_factory=dict)
    error: tuple[str, bool, str] | None = None  # a SourceError: message, skippable, why


@dataclass
class TaskResult:
    """What a task hands back: the rows and figures of all its parts, and each part's outcome."""

    parts: list[PartOutcome]
    tables: dict[str, pa.Table] = field(default_factory=dict)  # with the hidden _key column
    rows: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    templates: dict[str, list] = field(default_factory=dict)
    lines_total: int = 0
    lines_unmatched: int = 0
    lines_outside: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    process_pipeline: dict[str, str] = field(
        default_factory=dict
    )  # a range's: last named, per process


class PartIngest(Ingest):
    """The ingest of one task's parts: the same parsing, tables kept (with their process key)
    instead of written."""

    def __init__(self, tz: str, since, until):
        super().__init__(None, tz, since, until)
        self.collected: dict[str, list[pa.Table]] = {}

    def emit(self, table: str, rows: pl.DataFrame):
        data = to_arrow(table, rows)
        key = rows["key"] if "key" in rows.columns else pl.Series([None] * rows.height)
        data = data.append_column(KEY, key.cast(pl.String).to_arrow().cast(pa.string()))
        self.collected.setdefault(table, []).append(data)

    def result(self, parts: list[PartOutcome], state) -> TaskResult:
        self.drain()
        return TaskResult(
            parts=parts,
            tables={t: pa.concat_tables(ts) for t, ts in self.collected.items()},
            rows=dict(self.rows),
            events=dict(self.events),
            templates=self.templates,
            lines_total=self.lines_total,
            lines_unmatched=self.lines_unmatched,
            lines_outside=self.lines_outside,
            first_ts=self.first_ts,
            last_ts=self.last_ts,
            process_pipeline=state.process_pipeline if state is not None else {},
        )


def source_counters(src: Source) -> dict:
    skip = {"label", "path", "json_events", "in_folder", "start", "end", "_hash"}
    return {k: v for k, v in vars(src).items() if k not in skip}


def parse_parts(parts: list[Part], tz: str, since, until) -> TaskResult:
    """Parse one task's parts as the single-process ingest parses files (``Ingest.read``: small
    whole files in one pass); the function a worker process or Ray task runs."""
    sources = []
    for part in parts:
        src = Source(part.label, Path(part.path), json_events=part.json_events)
        if part.end is not None:
            src.start, src.end = part.start, part.end
        sources.append(src)
    errors: dict[int, tuple[str, bool, str]] = {}

    def skip(src: Source, e: SourceError):
        errors[id(src)] = (str(e), e.skippable, e.why)

    run = PartIngest(tz, since, until)
    try:
        used = run.read(sources, lambda n: None, skip)
    except BaseException:
        run.abandon()
        raise
    outcomes = [
        PartOutcome(part, source_counters(src), errors.get(id(src)))
        for part, src in zip(parts, sources, strict=True)
    ]
    # A range is a task alone: its state carries its processes' pipelines to the next range.
    return run.result(outcomes, used[0][1] if len(parts) == 1 and used else None)


def _worker_init():
    # The main process turns Ctrl-C into a clean stop of the pool; workers must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def polars_threads(threads: int):
    """Processes started meanwhile size polars' thread pool to ``threads``. Only the environment
    a process starts with can: polars sizes its pool when it loads, and a spawned worker loads
    it before any code of ours runs (to unpickle its first call)."""
    before = os.environ.get("POLARS_MAX_THREADS")
    os.environ["POLARS_MAX_THREADS"] = str(threads)
    try:
        yield
    finally:
        if before is None:
            del os.environ["POLARS_MAX_THREADS"]
        else:
            os.environ["POLARS_MAX_THREADS"] = before


# --- the main side --------------------------------------------------------------------------------


class Merge:
    """Writes part results in input order and adds up what the manifest reports."""

    def __init__(self, run: Ingest, sources: list[Source]):
        self.run = run
        self.sources = sources
        self.line_offset = 0  # lines of the ranges before, in the current file
        self.carried: dict[str, str] = {}  # the current file's process -> pipeline so far
        self.buffers: dict[str, list[pa.Table]] = {}
        # The checksum of a file read in ranges: taken here, in a thread, while workers parse.
        self.hasher = ThreadPoolExecutor(1, thread_name_prefix="logscan-sha256")
        self.checksums: dict[int, Future] = {}

    def add(self, res: TaskResult):
        """A task's rows and figures (its parts' outcomes are ``account``ed apart)."""
        run = self.run
        if res.parts[0].part.first:  # whole files, or a file's first range
            self.line_offset, self.carried = 0, {}
        for table, data in res.tables.items():
            self.write(table, self.stitch(data))
            run.rows[table] += res.rows.get(table, 0)
            run.events[table] += res.events.get(table, 0)
        for template, (n, events, file, line, sample) in res.templates.items():
            entry = run.templates.get(template)
            if entry is None:
                if len(run.templates) >= MAX_TEMPLATES:
                    entry = run.templates.setdefault(
                        "<other templates>", [0, 0, file, line + self.line_offset, sample]
                    )
                else:
                    entry = run.templates[template] = [
                        0, 0, file, line + self.line_offset, sample,
                    ]  # fmt: skip
            entry[0] += n
            entry[1] += events
        run.lines_total += res.lines_total
        run.lines_unmatched += res.lines_unmatched
        run.lines_outside += res.lines_outside
        for ts in (res.first_ts, res.last_ts):
            if ts is not None:
                run.first_ts = ts if run.first_ts is None else min(run.first_ts, ts)
                run.last_ts = ts if run.last_ts is None else max(run.last_ts, ts)
        self.carried.update(res.process_pipeline)
        if len(res.parts) == 1:  # a range: the next range of its file counts on from here
            self.line_offset += res.parts[0].source.get("lines", 0)

    def write(self, table: str, data: pa.Table):
        """Small parts' rows are written together: fewer, fuller row groups."""
        buffered = self.buffers.setdefault(table, [])
        buffered.append(data)
        if sum(t.num_rows for t in buffered) >= WRITE_ROWS:
            self.flush(table)

    def flush(self, table: str | None = None):
        """Hand the buffered rows to the writer thread (this thread merges and parses on)."""
        for name in [table] if table else list(self.buffers):
            if self.buffers.get(name):
                self.run.to_writer(self.run.write, name, pa.concat_tables(self.buffers.pop(name)))

    def stitch(self, data: pa.Table) -> pa.Table:
        """Line numbers counted from the file's start; pipelines carried in from earlier ranges."""
        if self.line_offset:
            i = data.schema.get_field_index("line")
            line = (pl.from_arrow(data["line"]) + self.line_offset).to_arrow()
            data = data.set_column(i, data.schema.field(i), line.cast(pa.int64()))
        if self.carried and data.num_rows:
            key = pl.from_arrow(data[KEY]).rename("key")
            pipeline = pl.from_arrow(data["pipeline"]).rename("pipeline")
            need = pipeline.is_null() & key.is_not_null()
            if need.any():
                fill = key.replace_strict(self.carried, default=None, return_dtype=pl.String)
                filled = pl.select(
                    pl.when(pl.lit(need)).then(pl.lit(fill)).otherwise(pl.lit(pipeline))
                ).to_series()
                i = data.schema.get_field_index("pipeline")
                field_ = data.schema.field(i)
                data = data.set_column(i, field_, filled.to_arrow().cast(field_.type))
        return data.drop_columns([KEY])

    def account(self, part: Part, counters: dict):
        """The source's manifest figures: a whole part's as read; ranges add up, and the file's
        checksum is taken over the whole file."""
        src = self.sources[part.source]
        if part.end is None:
            for k, v in counters.items():
                setattr(src, k, v)
            return
        for k, v in counters.items():
            if isinstance(v, int) and not isinstance(v, bool):
                setattr(src, k, getattr(src, k) + v)
        if part.first:
            self.checksums[part.source] = self.hasher.submit(sha256_of, part.path)
        if part.last:
            try:
                src.sha256 = self.checksums.pop(part.source).result()
            except OSError as e:  # (gone after its ranges were read)
                raise SourceError(f"{src.label}: {e.strerror or e} while reading it") from None

    def close(self):
        self.hasher.shutdown(wait=False, cancel_futures=True)


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(8 << 20):
            digest.update(block)  # (releases the GIL: the merge goes on meanwhile)
    return digest.hexdigest()


def run_parts(
    run: Ingest,
    sources: list[Source],
    parts: list[Part],
    submit: Callable[[list[Part]], object],
    wait: Callable[[object], TaskResult],
    window: int,
    progress: Callable[[int], None],
    skipped: list[dict],
    ready: Callable[[object], bool] | None = None,
    inline: Callable[[list[Part]], TaskResult] | None = None,
) -> list[Source]:
    """Hand out the tasks (at most ``window`` at a time), merge the results in order; returns
    the sources read (an unreadable file inside a folder is skipped, as in the sequential run).

    With ``inline``, this process is a worker too: while the oldest task is not ``ready`` and
    the window is full, it parses the next task itself instead of waiting (it starts at once,
    while the worker processes are still starting, and it saves starting one of them).
    """
    merge = Merge(run, sources)
    try:
        return _run_parts(
            merge, sources, parts, submit, wait, window, progress, skipped, ready, inline
        )
    finally:
        merge.close()


def _run_parts(merge, sources, parts, submit, wait, window, progress, skipped, ready, inline):
    pending: deque = deque()  # (handle or results, parsed here?) in input order
    todo = tasks(parts)
    nxt = next(todo, None)
    out = 0  # tasks handed out and not yet merged
    failed: set[int] = set()
    done = 0
    while pending or nxt is not None:
        while nxt is not None and out < window:
            pending.append((submit(nxt), False))
            out += 1
            nxt = next(todo, None)
        handle, here = pending[0]
        if not here and nxt is not None and inline is not None and not ready(handle):
            pending.append((inline(nxt), True))
            nxt = next(todo, None)
            continue
        pending.popleft()
        res = handle if here else wait(handle)
        out -= 0 if here else 1
        if len(res.parts) == 1 and res.parts[0].part.source in failed:
            continue  # a later range of a file that could not be read
        for outcome in res.parts:
            k = outcome.part.source
            if outcome.error is not None:
                message, skippable, why = outcome.error
                if not (sources[k].in_folder and skippable):
                    raise SourceError(message, skippable, why)
                if k not in failed:
                    failed.add(k)
                    skipped.append({"path": sources[k].label, "why": why})
                continue
            merge.account(outcome.part, outcome.source)
        merge.add(res)
        done += sum(o.part.size for o in res.parts)
        progress(done)
    merge.flush()
    return [s for k, s in enumerate(sources) if k not in failed]


class WorkerLost(Exception):
    """A worker process (or a Ray task, after its retries) died mid-run, most often killed by
    the out-of-memory killer: the run fails as a whole, nothing is written (one line, exit
    code 1)."""


def lost(processes) -> str:
    """Why the run failed, from the exit codes of its worker processes (the pool ends the
    others with SIGTERM once one dies: another cause comes first)."""
    from multiprocessing.connection import wait

    # Every process that is gone, with its exit code: the pool's own thread may be collecting
    # a code at this instant (then it is briefly none here), and a SIGTERM the pool sent after
    # the death must not be taken for its cause.
    deadline = time.monotonic() + 2
    while True:
        gone = wait([p.sentinel for p in processes], timeout=0.01)
        codes = [p.exitcode for p in processes if p.sentinel in gone]
        if (codes and None not in codes) or time.monotonic() > deadline:
            break
    codes = sorted((c for c in codes if c), key=lambda c: c == -signal.SIGTERM)
    if codes and codes[0] < 0:
        how = f"killed by {signal.Signals(-codes[0]).name}"
        if codes[0] == -signal.SIGKILL:
            how += ", as the out-of-memory killer does"
    else:
        how = f"exit code {codes[0]}" if codes else "ended abruptly"
    return f"a worker process died ({how}); nothing was written: run again with fewer --jobs"


def start_workers(workers: int, threads: int):
    """A pool of ``workers`` processes, started now (they import while this process parses),
    each with ``threads`` polars threads.

    spawn, not fork: polars and pyarrow run threads, and a forked thread pool can deadlock.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        workers, mp_context=mp.get_context("spawn"), initializer=_worker_init
    )
    with polars_threads(threads):
        for _ in range(workers):  # (a pool starts a process per call while none is idle)
            try:
                pool.submit(int)
            except BrokenProcessPool:  # one died as it started: the run's first task says so
                break
    return pool


class Workers:
    """Worker processes that a dying worker cannot hang.

    The pool's own thread notices a dead worker by its sentinel, but it can miss one for good:
    a worker killed while it sends a result leaves part of a message in the result pipe, and
    that thread then waits for the rest forever (the other workers wait for the pipe's lock the
    dead one held), so no result ever fails. So the waits here watch the workers themselves,
    and a stop ends that thread without waiting on it forever.
    """

    def __init__(self, workers: int, threads: int):
        self.pool = start_workers(workers, threads)
        # (no public way to these before Python 3.14)
        self.processes = list(self.pool._processes.values())
        self.results = self.pool._result_queue
        self.manager = self.pool._executor_manager_thread
        release_quietly(self.pool)

    def submit(self, group: list[Part], tz, since, until) -> Future:
        try:
            return self.pool.submit(parse_parts, group, tz, since, until)
        except BrokenProcessPool:  # (its thread saw a worker die since the last wait)
            raise WorkerLost(lost(self.processes)) from None

    def result(self, future: Future) -> TaskResult:
        """The task's result; a worker that died meanwhile fails the run (``WorkerLost``)."""
        while True:
            try:
                return future.result(timeout=POLL_SECONDS)
            except BrokenProcessPool:
                raise WorkerLost(lost(self.processes)) from None
            except TimeoutError:
                if self.died():
                    raise WorkerLost(lost(self.processes)) from None

    def died(self) -> bool:
        from multiprocessing.connection import wait

        return bool(wait([p.sentinel for p in self.processes], timeout=0))

    def stop(self, wait: bool = True):
        """End the workers. With ``wait``, also the pool's thread, which releases the pool's
        queues (a pool left behind makes multiprocessing warn about leaked semaphores at exit);
        a stop signal does not wait: the command line releases them on its quick exit."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in self.processes:
            proc.terminate()
        if not wait:
            return
        deadline = time.monotonic() + STOP_SECONDS
        for proc in self.processes:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.exitcode is None:
                proc.kill()
                proc.join(1)
        # The pool's thread may be waiting for the rest of a dead worker's message: with the
        # workers gone and this process's end of the pipe closed, it reads the pipe's end.
        self.results._writer.close()
        self.manager.join(STOP_SECONDS)
        self.release()

    def release(self):
        """Let go of the pool's queues, so that their semaphores are released by the thread
        that drops the pool, not by whatever thread is left at interpreter exit."""
        self.results = self.manager = None

    def close(self):
        """The workers are done: their exit (about 0.3 s: an interpreter and its libraries) is
        waited for in a thread while this process writes the last rows and the manifest."""
        self.release()
        threading.Thread(target=self.pool.shutdown, name="logscan-pool-exit").start()


def release_quietly(pool):
    """Have the pool's semaphores released without restarting multiprocessing's resource
    tracker.

    The tracker (a process of its own that unlinks what dead processes leave) can be killed
    from outside. Releasing a semaphore then starts a new tracker that knows none of them: a
    warning and one traceback per semaphore on stderr, after a run that went well. So each of
    the pool's semaphores is released as multiprocessing would (when it is dropped, or at exit)
    but tells only the tracker that knew it, if that one still runs.
    """
    from multiprocessing import resource_tracker, util
    from multiprocessing.synchronize import SemLock

    tracker = resource_tracker._resource_tracker  # (private: there is no public way)
    held = {}
    for queue in (pool._call_queue, pool._result_queue):
        for name in ("_rlock", "_wlock", "_sem"):
            if (lock := getattr(queue, name, None)) is not None:
                held[lock._semlock.name] = lock
    for finalizer in list(util._finalizer_registry.values()):
        if finalizer._callback is SemLock._cleanup and finalizer._args[0] in held:
            name = finalizer._args[0]
            finalizer.cancel()  # (only a release replaced here: never two for one semaphore)
            util.Finalize(held[name], release_semaphore, (name, tracker._pid), exitpriority=0)


def release_semaphore(name: str, tracker_pid: int | None):
    """Unlink a named semaphore and tell the resource tracker that knew it, if it still runs
    (multiprocessing's own release starts a new tracker when that one is gone)."""
    import _multiprocessing
    from multiprocessing import resource_tracker

    with contextlib.suppress(OSError):
        _multiprocessing.sem_unlink(name)
    tracker = resource_tracker._resource_tracker
    if tracker._fd is not None and tracker._pid == tracker_pid:
        with contextlib.suppress(OSError):  # (gone: it has nothing left to unlink)
            os.write(tracker._fd, f"UNREGISTER:{name}:semaphore\n".encode("ascii"))


def run_local(run, sources, jobs, tz, since, until, progress, skipped, stoppers) -> list[Source]:
    """The parts on ``jobs`` processes of this machine: this one and ``jobs - 1`` workers."""
    # This process parses too (run_parts, inline): jobs - 1 worker processes, and never more
    # than there are tasks for them; each one of that many processes: polars must not start
    # a thread per core in each.
    parts = plan(sources, jobs, tz)
    n = max(1, min(jobs - 1, sum(1 for _ in tasks(parts)) - 1))
    workers = Workers(n, max(1, default_jobs() // (n + 1)))
    stoppers.append(lambda: workers.stop(wait=False))  # a stop signal ends the workers at once
    try:
        used = run_parts(
            run, sources, parts,
            submit=lambda group: workers.submit(group, tz, since, until),
            wait=workers.result,
            window=2 * n, progress=progress, skipped=skipped,
            ready=lambda future: future.done(),
            inline=lambda group: parse_parts(group, tz, since, until),
        )  # fmt: skip
    except BaseException:
        workers.stop()
        raise
    workers.close()
    return used


def run_inline(run, sources, jobs, tz, since, until, progress, skipped, stoppers=()):
    """The same parts, parsed one after the other in this process (debugging, and the tests of
    the cutting and stitching without process start-up)."""
    parts = plan(sources, jobs, tz)
    return run_parts(
        run, sources, parts,
        submit=lambda group: parse_parts(group, tz, since, until),
        wait=lambda results: results,
        window=1, progress=progress, skipped=skipped,
    )  # fmt: skip


def run_ray(run, sources, address, tz, since, until, progress, skipped, stoppers) -> list[Source]:
    """The parts as Ray tasks, one CPU each; inputs must be on a path every node sees. Uses
    the Ray session this process already has, else connects to ``address`` (and disconnects at
    the end)."""
    try:
        import ray
    except ImportError:
        raise SourceError("--ray needs ray: pip install 'zephyr-logscan[ray]'") from None
    started = False
    if not ray.is_initialized():
        kwargs = {"include_dashboard": False} if address == "local" else {}
        try:
            with no_ray_signal_dump():
                ray.init(address=address, logging_level="ERROR", log_to_driver=False, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise SourceError(
                f"cannot reach a Ray cluster at {address!r}: {first_line(e)}"
            ) from None
        started = True
    refs: deque = deque()

    def stop():
        for ref in list(refs):
            ray.cancel(ref, force=True)

    stoppers.append(stop)
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        parts = plan(sources, cpus, tz)
        task = ray.remote(num_cpus=1, max_retries=2)(parse_parts)

        def submit(group):
            ref = task.remote(group, tz, since, until)
            refs.append(ref)
            return ref

        def wait(ref):
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError:
                raise  # the parsing itself failed, as it would have in this process
            except ray.exceptions.RayError as e:  # its process or node died, retries spent
                raise WorkerLost(
                    f"a Ray task died ({first_line(e)}); nothing was written"
                ) from None
            refs.remove(ref)
            return result

        return run_parts(
            run, sources, parts, submit=submit, wait=wait,
            window=2 * cpus, progress=progress, skipped=skipped,
        )  # fmt: skip
    except BaseException:
        stop()
        raise
    finally:
        if started:
            ray.shutdown()


@contextlib.contextmanager
def no_ray_signal_dump():
    """A Ray session started meanwhile leaves this process's SIGTERM to logscan alone.

    Ray's driver installs absl's failure signal handler, which covers SIGTERM as well as real
    crashes: a stop request printed a six-line "SIGTERM received" dump before logscan's own
    one line. Ray reads its switch for that handler when the driver connects, so it is off for
    this process only (Ray's own processes keep theirs); the cost: a native crash of this
    process's Ray client prints no C++ stack (``python -X faulthandler`` still prints Python's).
    """
    from ray._private import ray_constants

    before = ray_constants.RAY_DISABLE_FAILURE_SIGNAL_HANDLER
    ray_constants.RAY_DISABLE_FAILURE_SIGNAL_HANDLER = True
    try:
        yield
    finally:
        ray_constants.RAY_DISABLE_FAILURE_SIGNAL_HANDLER = before


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
