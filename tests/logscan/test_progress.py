"""Progress on stored bytes (compressed bytes for compressed inputs, a counter for pipes), and
the package run from a source checkout that is not installed."""

from __future__ import annotations

import gzip
import os
import pty
import select
import site
import subprocess
import sys
import threading

from zephyr_logscan.ingest import ingest

from .safety import ROOT, manifest


def test_compressed_input_progress_counts_compressed_bytes(small_log, tmp_path):
    src = tmp_path / "app.log.gz"
    src.write_bytes(gzip.compress(small_log[0].read_bytes()))
    calls = []
    ingest([str(src)], tmp_path / "t", progress=lambda done, total: calls.append((done, total)))
    size = src.stat().st_size
    assert calls and {total for _, total in calls} == {size}
    assert all(a <= b <= size for (a, _), (b, _) in zip(calls, calls[1:], strict=False))
    assert calls[-1][0] == size


def test_pipe_progress_is_a_counter_without_total(small_log, tmp_path):
    data = small_log[0].read_bytes()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def write():
        with open(fifo, "wb") as f:
            f.write(data)

    threading.Thread(target=write, daemon=True).start()
    calls = []
    ingest([str(fifo)], tmp_path / "t", progress=lambda done, total: calls.append((done, total)))
    assert {total for _, total in calls} == {None} and calls[-1][0] == len(data)


def test_the_cli_draws_the_bar_on_a_terminal(small_log, tmp_path):
    src = tmp_path / "app.log.gz"
    src.write_bytes(gzip.compress(small_log[0].read_bytes()))
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "zephyr_logscan", "ingest", str(src), "-o", str(tmp_path / "t")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    drawn = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        assert ready, "no output from the progress bar"
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        drawn += chunk
    assert proc.wait(timeout=60) == 0
    os.close(leader)
    text = drawn.decode()
    size_mb = f"{src.stat().st_size / 1e6:.1f} MB"
    assert "ingest" in text and "100%" in text and size_mb in text, text[-500:]


def test_runs_from_a_source_checkout_that_is_not_installed(small_log, tmp_path):
    # A checkout (the packages and pyproject.toml, no *.egg-info) beside the dependencies
    # without this package's distribution or its editable-install hook.
    checkout, deps = tmp_path / "checkout", tmp_path / "deps"
    checkout.mkdir()
    deps.mkdir()
    for name in ("parsers", "reports", "zephyr_engine", "zephyr_logscan", "pyproject.toml"):
        (checkout / name).symlink_to(ROOT / name)
    for name in os.listdir(site.getsitepackages()[0]):
        if "zephyr_logscan" not in name and not name.endswith(".pth"):
            (deps / name).symlink_to(os.path.join(site.getsitepackages()[0], name))
    env = {**os.environ, "PYTHONPATH": str(deps)}

    def run(*args):  # -S: no site-packages; -m puts the checkout (the cwd) first on the path
        cmd = [sys.executable, "-S", *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=checkout)

    probe = run("-c", "import importlib.metadata as m; m.version('zephyr-logscan')")
    assert "PackageNotFoundError" in probe.stderr, "the distribution must be invisible here"
    res = run("-m", "zephyr_logscan", "--version")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("logscan, version 0.") and "+source" in res.stdout
    res = run("-m", "zephyr_logscan", "ingest", str(small_log[0]), "-o", str(tmp_path / "t"), "-q")
    assert res.returncode == 0, res.stderr
    assert manifest(tmp_path / "t")["lines_total"] == small_log[1]["lines_total"]
