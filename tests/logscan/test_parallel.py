"""Parallel ingest (``--jobs``): the same tables as the sequential run, row for row.

The folder and file tests run real worker processes; the property test runs the same parts in
this process (``parallel.run_inline``) so that hundreds of random cuts stay fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.ranges import certain_starts
from parsers.sources import Source
from zephyr_logscan import parallel
from zephyr_logscan.ingest import ingest

from .safety import ROOT, children, error_within, leftovers, logscan, one_line_error

SESSION = "samples/ray-2.60-faults/session1_logs"


def assert_same_tables(seq: Path, par: Path):
    """Manifests equal but for timing; every table equal in every column, in order."""
    a = json.loads((seq / "manifest.json").read_text())
    b = json.loads((par / "manifest.json").read_text())
    for m in (a, b):
        m.pop("seconds"), m.pop("created")
    assert a == b
    for table in a["tables"]:
        x = pl.read_parquet(seq / f"{table}.parquet")
        y = pl.read_parquet(par / f"{table}.parquet")
        assert x.schema == y.schema, table
        assert x.equals(y), table


def both(inputs, tmp_path, **kw) -> tuple[Path, Path]:
    seq = ingest([str(i) for i in inputs], tmp_path / "seq").out_dir
    par = ingest([str(i) for i in inputs], tmp_path / "par", jobs=2, **kw).out_dir
    return seq, par


# --- logs whose records straddle every cut --------------------------------------------------------


def straddling_log(units: int, seed: int = 0) -> bytes:
    """The driver names its pipeline once; then ERROR records with 20-line tracebacks and Ray
    dedup suffixes (records that do not name a pipeline: they inherit it), worker records of
    four processes (one names its own pipeline), and lines with a timestamp that is no time."""
    out = [b"2026-02-20 21:40:00,000 INFO execution.py:1 -- Starting zephyr pipeline: straddle-a\n"]
    out.append(
        b"(pid=101, ip=10.0.0.1) 2026-02-20 21:40:00,500 INFO execution.py:2 -- "
        b"Starting zephyr pipeline: straddle-b\n"
    )
    for i in range(units):
        s, ms = divmod(i, 1000)
        ts = f"2026-02-20 21:{41 + s // 60:02d}:{s % 60:02d},{ms:03d}".encode()
        pid = 100 + (i + seed) % 4
        prefix = f"(pid={pid}, ip=10.0.0.1) ".encode()
        out.append(
            ts + b" ERROR zephyr.execution:640 Coordinator loop crashed, aborting pipeline"
            b" [repeated 3x across cluster]\n"
        )
        out.append(b"Traceback (most recent call last):\n")
        for k in range(20):
            out.append(f'  File "/app/step{k}.py", line {k + i}, in run\n'.encode())
            if k % 7 == 3:
                out.append(b"    raise_it() [repeated 2x across cluster]\n")
        out.append(b"RuntimeError: boom\n")
        out.append(
            prefix + ts + b" WARNING zephyr.execution [w-1] Heartbeat failed (2/5): Socket closed"
            b" [repeated 4x across cluster]\n"
        )
        out.append(prefix + b"Traceback (most recent call last):\n")
        out.append(prefix + b'  File "/app/worker.py", line 3, in beat\n')
        out.append(prefix + b"ConnectionError: Socket closed\n")
        if i % 5 == 2:
            out.append(
                b"2026-13-45 99:99:99,000 INFO zephyr.execution:233 Coordinator initialized\n"
            )
    return b"".join(out)


def cuts_inside_records(path: Path, parts: int) -> list[int]:
    """The naive cut targets that fall inside a record (not on a certain record start)."""
    body = path.read_bytes()
    inside = []
    for k in range(1, parts):
        target = len(body) * k // parts
        line_start = body.rfind(b"\n", 0, target) + 1
        end = body.find(b"\n", target)
        if line_start != target or not certain_starts(body[line_start : end + 1]):
            inside.append(target)
    return inside


def test_straddling_tracebacks_and_dedup_suffixes_give_the_same_tables(tmp_path, monkeypatch):
    log = tmp_path / "straddle.log"
    log.write_bytes(straddling_log(400))
    monkeypatch.setattr(parallel, "RANGE_BYTES", 20_000)  # about 24 ranges across 2 workers
    parts = parallel.plan([Source("straddle.log", log)], 2, "UTC")
    assert len(parts) > 10
    # every naive cut would split a record: the ranges moved each to the next record start
    n = 2 * -(-log.stat().st_size // (2 * 20_000))
    assert len(cuts_inside_records(log, n)) == n - 1
    seq, par = both([log], tmp_path)
    assert_same_tables(seq, par)
    events = pl.read_parquet(par / "events.parquet")
    # the carried pipeline reaches records far from the line that named it
    driver = events.filter(pl.col("pid").is_null())
    assert driver["pipeline"].null_count() == 0 and set(driver["pipeline"]) == {"straddle-a"}
    worker = events.filter(pl.col("pid") == 101)
    assert set(worker["pipeline"]) == {"straddle-b"} and worker["line"].max() > 5_000
    assert int(events["repeat"].max()) == 4 and (events["lines"] > 20).any()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    units=st.integers(1, 60),
    seed=st.integers(0, 3),
    range_bytes=st.integers(200, 5_000),
    crlf=st.booleans(),
)
def test_any_cut_gives_the_same_tables(
    tmp_path_factory, monkeypatch, units, seed, range_bytes, crlf
):
    tmp = tmp_path_factory.mktemp("cut")
    body = straddling_log(units, seed)
    if crlf:
        body = body.replace(b"\n", b"\r\n")
    log = tmp / "log.txt"
    log.write_bytes(body)
    monkeypatch.setattr(parallel, "RANGE_BYTES", range_bytes)
    monkeypatch.setattr(parallel, "run_local", parallel.run_inline)
    seq, par = both([log], tmp)
    assert_same_tables(seq, par)


# --- real worker processes ------------------------------------------------------------------------


def test_synth_log_in_ranges_on_two_processes(small_log, tmp_path, monkeypatch):
    path, _ = small_log
    monkeypatch.setattr(parallel, "RANGE_BYTES", 256_000)  # 3 MB: 12 ranges
    seq, par = both([path], tmp_path)
    assert_same_tables(seq, par)


def test_session_folder_read_in_place(shared_dir, tmp_path):
    folder = shared_dir / SESSION
    seq, par = both([folder], tmp_path)
    assert_same_tables(seq, par)
    assert len(json.loads((par / "manifest.json").read_text())["inputs"]) > 100


def test_several_inputs_mixed(small_log, shared_dir, tmp_path, monkeypatch):
    path, _ = small_log
    monkeypatch.setattr(parallel, "RANGE_BYTES", 512_000)
    seq, par = both([shared_dir / SESSION / "raylet.out", path, shared_dir / SESSION], tmp_path)
    assert_same_tables(seq, par)


def test_cli_jobs(small_log, tmp_path):
    path, _ = small_log

    def ingest(jobs: str, timeout: float = 300) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "zephyr_logscan.cli", "ingest", str(path), "-q"]
        cmd += ["-o", str(tmp_path / f"j{jobs}"), "--jobs", jobs]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    for jobs in ("2", "1"):
        res = ingest(jobs)
        assert res.returncode == 0, res.stderr
    assert_same_tables(tmp_path / "j1", tmp_path / "j2")
    res = ingest("0", timeout=60)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "--jobs" in res.stderr


def test_interrupt_stops_every_worker(tmp_path):
    """Ctrl-C on a parallel ingest: exit 130, no output folder, no worker process left."""
    logs = tmp_path / "logs"
    logs.mkdir()
    body = straddling_log(3000)
    for k in range(8):  # eight tasks: both workers busy for a while
        (logs / f"worker-{k}.out").write_bytes(body)
    proc = subprocess.Popen(
        [sys.executable, "-m", "zephyr_logscan.cli", "ingest", str(logs), "-q", "-o", str(tmp_path / "out"), "--jobs", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(children) < 2 and proc.poll() is None:
            children = set(_children(proc.pid))
            time.sleep(0.1)
        assert len(children) >= 2, "the workers never started"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "Traceback" not in err and err.count("\n") == 1, err
        assert not (tmp_path / "out").exists()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(c) for c in children):
            time.sleep(0.1)
        assert not any(_alive(c) for c in children)
    finally:  # a failed run must not leave its processes behind
        for pid in [proc.pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _children(pid: int) -> list[int]:
    """Child processes of every thread of ``pid`` (the workers are started by the run's thread)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_default_jobs_use_every_core_only_where_processes_pay(tmp_path, monkeypatch):
    """Worker processes by default only for 16 MB of input or more, on more cores than one
    process keeps busy."""
    small, big = tmp_path / "small.log", tmp_path / "big.log"
    small.write_bytes(b"2026-02-20 21:40:00,000 INFO x.py:1 -- hello\n")
    with open(big, "wb") as fh:
        fh.truncate(parallel.AUTO_MIN_BYTES)  # only its size is looked at
    both_files = [Source("small.log", small), Source("big.log", big)]
    assert parallel.default_jobs() == len(os.sched_getaffinity(0))
    for cores, expected in ((8, 8), (3, 3), (2, 1), (1, 1)):
        monkeypatch.setattr(parallel, "default_jobs", lambda cores=cores: cores)
        assert parallel.auto_jobs([Source("small.log", small)]) == 1
        assert parallel.auto_jobs(both_files) == expected, cores


def test_each_worker_has_the_polars_threads_it_is_given():
    """Polars sizes its thread pool when it loads, before a worker runs any code of ours: the
    size must be in the environment the worker starts with (and this process's is left as it
    was)."""
    if pl.thread_pool_size() == 1:
        pytest.skip("polars has one thread here by default: one thread tells nothing apart")
    before = os.environ.get("POLARS_MAX_THREADS")
    pool = parallel.start_workers(2, 1)
    try:
        sizes = {pool.submit(pl.thread_pool_size).result(timeout=120) for _ in range(4)}
    finally:
        pool.shutdown()
    assert sizes == {1}
    assert os.environ.get("POLARS_MAX_THREADS") == before


def test_a_worker_killed_mid_run_fails_the_run_in_one_line(small_log, tmp_path):
    """The out-of-memory killer takes a worker: the run fails as a whole (nothing written, no
    traceback), naming the cause."""
    out = tmp_path / "tables"
    proc = subprocess.Popen(
        [sys.executable, "-m", "zephyr_logscan", "ingest", str(small_log[0]), "-o", str(out)]
        + ["-q", "--jobs", "2"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    killed = False
    while not killed and proc.poll() is None and time.monotonic() < deadline:
        for pid in children(proc.pid):  # the worker imports for about half a second
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
                    killed = True
        time.sleep(0.005)
    assert killed, "no worker process seen"
    _, err = proc.communicate(timeout=60)
    # Exactly logscan's line: no warning of multiprocessing's resource tracker after it
    res = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    one_line_error(res, 1, "a worker process died (killed by SIGKILL", "fewer --jobs")
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_lost_run_has_released_its_pools_semaphores_when_it_returns(
    small_log, tmp_path, monkeypatch
):
    """The pool's named semaphores are released by the run itself, before it reports its
    failure. Left to the interpreter's exit, their release could run in the run's own thread
    (a daemon) while the main thread exits: frozen between unlinking a semaphore and telling
    multiprocessing's resource tracker, which then warned of a "leaked semaphore" (4 lines)
    after logscan's one line."""
    names: list[str] = []
    real = parallel.start_workers

    def start_then_kill_one(workers: int, threads: int):
        pool = real(workers, threads)
        for queue in (pool._call_queue, pool._result_queue):
            for lock in ("_rlock", "_wlock", "_sem"):
                if (held := getattr(queue, lock, None)) is not None:
                    names.append(held._semlock.name)
        os.kill(next(iter(pool._processes)), signal.SIGKILL)
        return pool

    monkeypatch.setattr(parallel, "start_workers", start_then_kill_one)
    failed = error_within(120, lambda: ingest([str(small_log[0])], tmp_path / "t", jobs=3))
    assert isinstance(failed, parallel.WorkerLost), failed
    assert "killed by SIGKILL" in str(failed)
    assert len(names) == 5
    assert [n for n in names if Path(f"/dev/shm/sem.{n.lstrip('/')}").exists()] == []


def test_more_jobs_than_work_start_no_idle_process_and_no_tiny_range(
    small_log, tmp_path, monkeypatch
):
    """One small file with ``--jobs 8``: one worker, not seven (each costs half a second and
    tens of MB to start); and however many processes, no range under a quarter of the range
    size. The tables are the same."""
    path, _ = small_log
    started = []
    real = parallel.start_workers
    monkeypatch.setattr(
        parallel, "start_workers", lambda n, threads: started.append(n) or real(n, threads)
    )
    ingest([str(path)], tmp_path / "eight", jobs=8)
    assert started == [1]  # one part: this process waits, one worker parses
    assert_same_tables(ingest([str(path)], tmp_path / "one").out_dir, tmp_path / "eight")
    monkeypatch.setattr(parallel, "RANGE_BYTES", 400_000)
    ranges = parallel.plan([Source("log", path)], 100_000, "UTC")
    assert 2 <= len(ranges) <= path.stat().st_size // 100_000
    assert min(r.end - r.start for r in ranges[:-1]) >= 90_000  # (cuts move to record starts)


def test_jobs_far_beyond_the_cores_are_refused(small_log, tmp_path):
    res = logscan("ingest", small_log[0], "-o", tmp_path / "t", "--jobs", "100000", timeout=60)
    one_line_error(res, 2, "--jobs 100000", "cores")
    assert not (tmp_path / "t").exists()


def test_a_file_cut_short_or_gone_after_planning_is_read_as_one_run_would(
    small_log, tmp_path, monkeypatch
):
    """Files change under a running ingest: one is cut short after its ranges were planned,
    another vanishes. The run reads what is there, as a one-process run would: the tables of
    the changed files, the vanished one listed as skipped (it was a KeyError traceback, and a
    "cannot write" error naming the output)."""
    folder = tmp_path / "logs"
    folder.mkdir()
    big, gone = folder / "a-big.log", folder / "b-gone.log"
    big.write_bytes(small_log[0].read_bytes())
    gone.write_bytes(b"2026-02-20 21:40:00,000 INFO x.py:1 -- soon gone\n")
    monkeypatch.setattr(parallel, "RANGE_BYTES", 200_000)
    real_plan = parallel.plan

    def plan_then_change(*args, **kw):
        parts = real_plan(*args, **kw)
        with open(big, "r+b") as fh:
            fh.truncate(big.stat().st_size // 3)
        gone.unlink()
        return parts

    monkeypatch.setattr(parallel, "plan", plan_then_change)
    par = ingest([str(folder)], tmp_path / "par", jobs=3).out_dir
    manifest = json.loads((par / "manifest.json").read_text())
    assert [s["path"] for s in manifest["skipped"]] == ["logs/b-gone.log"], manifest["skipped"]
    seq = ingest([str(big)], tmp_path / "seq", jobs=1).out_dir
    for table in ("events", "node_deaths", "heartbeat_failures", "templates"):
        a = pl.read_parquet(seq / f"{table}.parquet").drop("file", strict=False)
        b = pl.read_parquet(par / f"{table}.parquet").drop("file", strict=False)
        if table == "templates":
            a, b = a.drop("first_file"), b.drop("first_file")
        assert a.equals(b), table
