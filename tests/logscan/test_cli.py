"""The ``logscan`` command line: examples in --help, one-line errors, exit codes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from zephyr_logscan.cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "zephyr_logscan.cli", *args], capture_output=True, text=True
    )


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_help_shows_an_example(command):
    res = run(command, "--help")
    assert res.returncode == 0
    assert "Example" in res.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["synth"],
        ["synth", "-o", "x.txt", "--size", "lots"],
        ["synth", "-o", "x.txt", "--workers", "1"],
        ["nope"],
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args):
    res = run(*args)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("logscan: error: ")
    assert "Traceback" not in res.stderr


def test_synth_writes_log_and_truth(tmp_path):
    out = tmp_path / "new" / "folder" / "log.txt"  # missing folders are made, as `make demo` needs
    res = run("synth", "-o", str(out), "--size", "500KB", "--workers", "16")
    assert res.returncode == 0, res.stderr
    assert out.exists() and Path(f"{out}.truth.json").exists()
    assert "heartbeat failures" in res.stdout


def test_every_command_is_in_the_readme():
    text = README.read_text()
    for command in cli.commands:
        assert re.search(rf"logscan {command}\b", text), command


def test_ingest_with_report_and_report_command(tmp_path):
    log = tmp_path / "log.txt"
    assert run("synth", "-o", str(log), "--size", "400KB", "--workers", "8", "-q").returncode == 0
    res = run("ingest", str(log), "-o", str(tmp_path / "t"), "--report", str(tmp_path / "r.html"))
    assert res.returncode == 0, res.stderr
    assert (
        "report:" in res.stdout and (tmp_path / "r.html").stat().st_size > 1e6
    )  # plotly.js inlined
    res = run("report", str(tmp_path / "t"))
    assert res.returncode == 0 and (tmp_path / "t" / "report.html").exists()


def test_report_on_a_folder_that_is_no_ingest_output_is_one_line_error(tmp_path):
    res = run("report", str(tmp_path))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "manifest.json" in res.stderr
