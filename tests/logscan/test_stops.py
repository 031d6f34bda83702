"""Clean stops: real signals sent to a real ``logscan ingest`` of the 100 MB synth log."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from .safety import ROOT, children, leftovers, logscan, manifest

# Seconds from the signal to the exit. The promise is one second; the bound leaves slack for a
# CI machine running several suites at once (measured 0.1-0.9 s at load 10-16 on 2 cores).
STOP_WITHIN = 2.0


def start(src, out, stdin=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "zephyr_logscan", "ingest", str(src), "-o", str(out), "-q"],
        cwd=ROOT,
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_tables(proc: subprocess.Popen, out, deadline: float = 120) -> None:
    """Until the run writes its first table into its temporary folder (mid-ingest)."""
    limit = time.monotonic() + deadline
    while not list(out.parent.glob(f"{out.name}.tmp-{proc.pid}/*.parquet")):
        assert proc.poll() is None, f"ended before the signal: {proc.stderr.read()}"
        assert time.monotonic() < limit, "no table written in time"
        time.sleep(0.01)


def stop(proc: subprocess.Popen, *signals: int) -> tuple[float, str]:
    """Send the signals (50 ms apart); seconds from the first one to the exit, and stderr.

    stderr must also close: a worker process left running would hold it open."""
    sent = time.monotonic()
    for s in signals:
        proc.send_signal(s)
        time.sleep(0.05)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("did not stop within 30 s")
    seconds = time.monotonic() - sent
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("a process of the run outlived it (stderr still open 10 s after the exit)")
    return seconds, err


def fingerprint(path):
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@pytest.mark.parametrize(
    ("signals", "code"),
    [
        ((signal.SIGINT,), 130),
        ((signal.SIGINT, signal.SIGINT), 130),
        ((signal.SIGTERM,), 143),
    ],
    ids=["sigint", "sigint-twice", "sigterm"],
)
def test_a_signal_stops_the_run_at_once_and_cleanly(full_log, tmp_path, signals, code):
    src = full_log[0]
    before = fingerprint(src)
    out = tmp_path / "t"
    proc = start(src, out)
    wait_for_tables(proc, out)
    seconds, err = stop(proc, *signals)
    assert (proc.returncode, err) == (code, "logscan: interrupted\n")
    assert seconds < STOP_WITHIN, f"took {seconds:.2f}s to stop"
    assert not out.exists() and not leftovers(tmp_path) and fingerprint(src) == before


def test_an_interrupted_rerun_keeps_the_previous_output(small_log, full_log, tmp_path):
    out = tmp_path / "t"
    assert logscan("ingest", small_log[0], "-o", out, "-q").returncode == 0
    previous = {p.name: p.read_bytes() for p in out.iterdir()}
    proc = start(full_log[0], out)
    wait_for_tables(proc, out)
    seconds, err = stop(proc, signal.SIGTERM)
    assert (proc.returncode, err) == (143, "logscan: interrupted\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == previous
    assert not leftovers(tmp_path)


def test_a_run_blocked_on_a_pipe_stops_at_once(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    out = tmp_path / "t"
    proc = start(fifo, out)
    with open(fifo, "wb") as writer:  # opened, a few lines, then silence: the read blocks
        writer.write(b"2026-02-21 12:00:00,000 INFO waiting\n" * 10)
        writer.flush()
        limit = time.monotonic() + 60
        while not list(tmp_path.glob("t.tmp-*")):
            assert time.monotonic() < limit and proc.poll() is None
            time.sleep(0.01)
        time.sleep(0.3)
        seconds, err = stop(proc, signal.SIGTERM)
    assert (proc.returncode, err) == (143, "logscan: interrupted\n")
    assert seconds < STOP_WITHIN and not out.exists() and not leftovers(tmp_path)


def test_the_temporary_folder_of_a_killed_run_is_removed_by_the_next_run(
    small_log, full_log, tmp_path
):
    out = tmp_path / "t"
    proc = start(full_log[0], out)
    wait_for_tables(proc, out)
    workers = children(proc.pid)  # SIGKILL leaves a parallel run's workers behind: end them
    proc.kill()
    proc.wait(timeout=30)
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.stderr.close()
    left = tmp_path / f"t.tmp-{proc.pid}"
    assert left.is_dir(), "SIGKILL cannot be cleaned up by the run itself"
    res = logscan("ingest", small_log[0], "-o", out, "-q")
    assert res.returncode == 0, res.stderr
    assert not left.exists() and not leftovers(tmp_path)
    assert manifest(out)["lines_total"] == small_log[1]["lines_total"]


def test_leftovers_of_live_runs_and_with_foreign_files_are_kept(small_log, tmp_path):
    out = tmp_path / "t"
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        live = tmp_path / f"t.tmp-{sleeper.pid}"  # a run still under way
        live.mkdir()
        (live / "events.parquet").write_bytes(b"being written")
        dead = tmp_path / "t.tmp-999999999"  # no such process (above pid_max)
        dead.mkdir()  # a dead run's folder that somebody put a file of their own into
        (dead / "notes.txt").write_text("mine\n")
        res = logscan("ingest", small_log[0], "-o", out, "-q")
        assert res.returncode == 0, res.stderr
        assert (live / "events.parquet").read_bytes() == b"being written"
        assert (dead / "notes.txt").read_text() == "mine\n"
    finally:
        sleeper.kill()
        sleeper.wait()
