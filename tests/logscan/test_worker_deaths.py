"""A worker process of ``logscan ingest --jobs 3`` SIGKILLed at any moment of its life: the run
fails in one line (exit 1, nothing written) within a deadline, never hangs. multiprocessing's
resource tracker SIGKILLed mid-run: the run is not hurt and stays quiet.

Each run is a real command line with real worker processes; the 3 MB log is cut into about
twelve ranges (``parallel.RANGE_BYTES`` set in the command's own process) so every worker gets
several tasks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from zephyr_logscan import parallel
from zephyr_logscan.ingest import ingest

from .safety import ROOT, children, error_within, leftovers, one_line_error
from .test_parallel import assert_same_tables

DEADLINE = 60  # seconds for the whole run after the kill: a hang is a failure, not a wait
RUN = (
    "import sys; from zephyr_logscan import parallel, cli; parallel.RANGE_BYTES = 256_000; "
    "cli.main(sys.argv[1:])"
)


def start(log: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", RUN, "ingest", str(log), "-o", str(out), "-q", "--jobs", "3"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def proc_file(pid: int, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return b""


def workers_of(pid: int) -> list[int]:
    """The run's worker processes, once they run the worker code (not the resource tracker)."""
    return [c for c in children(pid) if b"spawn_main" in proc_file(c, "cmdline")]


def cpu_seconds(pid: int) -> float:
    fields = proc_file(pid, "stat").rsplit(b")", 1)[-1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def kill_while_importing(proc) -> int | None:
    """A worker that runs the worker code but has used little CPU yet (it imports polars)."""
    for pid in workers_of(proc.pid):
        if 0.05 <= cpu_seconds(pid) < 0.3:
            return pid
    return None


def kill_while_parsing(proc) -> int | None:
    """A worker past its imports (about 0.8 s of CPU; its parsing threads run): it parses."""
    for pid in workers_of(proc.pid):
        if cpu_seconds(pid) >= 0.95 and threads(pid) >= 10:
            return pid
    return None


def threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").glob("*")))


# Killed while it imports: test_parallel.py::test_a_worker_killed_mid_run_fails_the_run_in_one_line;
# before the pool has started the others: the last test here.


def finish(proc: subprocess.Popen, out: Path, tmp: Path):
    """The run ends within the deadline in logscan's one line, exit 1, nothing left."""
    try:
        _, err = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the run hung for {DEADLINE} s after its worker was killed") from None
    res = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    one_line_error(res, 1, "a worker process died (killed by SIGKILL", "fewer --jobs")
    assert not out.exists() and leftovers(tmp) == []


@contextlib.contextmanager
def run_cleaned_up(proc: subprocess.Popen):
    """Whatever the test's outcome, no process of the run outlives it."""
    try:
        yield proc
    finally:
        for pid in [*children(proc.pid), proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_a_worker_killed_while_it_parses_fails_the_run_in_one_line(small_log, tmp_path):
    out = tmp_path / "tables"
    with run_cleaned_up(start(small_log[0], out)) as proc:
        deadline, victim = time.monotonic() + DEADLINE, None
        while victim is None and proc.poll() is None and time.monotonic() < deadline:
            victim = kill_while_parsing(proc)
            if victim is None:
                time.sleep(0.002)
        assert victim is not None, "no worker seen parsing"
        os.kill(victim, signal.SIGKILL)
        finish(proc, out, tmp_path)


def test_a_worker_killed_while_it_sends_a_result_fails_the_run_in_one_line(small_log, tmp_path):
    """The case the pool's own thread never notices: the worker dies with half a result in the
    pipe (the main process is held back so that the worker blocks writing it), and that thread
    waits for the rest forever. It hung the run with the killed worker a zombie."""
    out = tmp_path / "tables"
    with run_cleaned_up(start(small_log[0], out)) as proc:
        deadline, victim = time.monotonic() + DEADLINE, None
        while victim is None and proc.poll() is None and time.monotonic() < deadline:
            busy = [p for p in workers_of(proc.pid) if cpu_seconds(p) > 0.5]
            if not busy:
                time.sleep(0.01)
                continue
            # Hold the main process back: a worker that finishes its range blocks writing its
            # result into the full pipe (the results of a range are several pipe buffers).
            os.kill(proc.pid, signal.SIGSTOP)
            held = time.monotonic() + 5
            while victim is None and time.monotonic() < held:
                blocked = [p for p in busy if proc_file(p, "wchan") == b"anon_pipe_write"]
                victim = blocked[0] if blocked else None
                time.sleep(0.01)
            if victim is not None:
                os.kill(victim, signal.SIGKILL)
            os.kill(proc.pid, signal.SIGCONT)  # (else let it take its next tasks and try again)
            if victim is None:
                time.sleep(0.2)
        assert victim is not None, "no worker seen writing a result"
        finish(proc, out, tmp_path)


def test_the_resource_tracker_killed_mid_run_leaves_the_run_whole_and_quiet(
    small_log, small_ingest, tmp_path
):
    """The resource tracker is a helper (it unlinks the semaphores of processes that die): the
    run's tables do not depend on it. Killed, it made the run's end print a warning and five
    tracebacks (multiprocessing started a new tracker, which knew none of the semaphores)."""
    out = tmp_path / "tables"
    with run_cleaned_up(start(small_log[0], out)) as proc:
        deadline, tracker = time.monotonic() + DEADLINE, None
        while tracker is None and proc.poll() is None and time.monotonic() < deadline:
            if kill_while_importing(proc) is not None:  # the workers are started: mid-run
                found = [
                    c for c in children(proc.pid) if b"resource_tracker" in proc_file(c, "cmdline")
                ]
                tracker = found[0] if found else None
            time.sleep(0.002)
        assert tracker is not None, "no resource tracker seen mid-run"
        os.kill(tracker, signal.SIGKILL)
        _, err = proc.communicate(timeout=DEADLINE)
    assert (proc.returncode, err) == (0, "")
    assert_same_tables(small_ingest, out)


def test_a_worker_dead_before_the_pool_has_started_fails_the_run_in_one_error(
    small_log, tmp_path, monkeypatch
):
    """The first worker dies (SIGKILL) while the pool is still starting the others: starting
    the next one found the pool broken and the run ended in a BrokenProcessPool traceback.
    (The test holds the next start until the pool has seen the death: that order is rare but
    happened under load.)"""
    real_submit = ProcessPoolExecutor.submit
    killed = []

    def submit(pool, fn, *args, **kw):
        if fn is int and pool._processes and not killed:
            killed.append(next(iter(pool._processes)))
            os.kill(killed[0], signal.SIGKILL)
            deadline = time.monotonic() + DEADLINE
            while not pool._broken and time.monotonic() < deadline:
                time.sleep(0.01)
        return real_submit(pool, fn, *args, **kw)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", submit)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 256_000)  # several tasks: two workers
    failed = error_within(DEADLINE, lambda: ingest([str(small_log[0])], tmp_path / "t", jobs=3))
    assert killed and isinstance(failed, parallel.WorkerLost), failed
    assert "killed by SIGKILL" in str(failed)
    assert not (tmp_path / "t").exists() and leftovers(tmp_path) == []
