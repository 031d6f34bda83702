"""Ingest benchmark: wall time, MB/s, lines/s and peak RSS of `logscan ingest` on the default synth
log, with ratios against ripgrep (the floor: counting lines with any catalog literal) and a plain
per-line Python loop (`bench/ingest_baseline.py`), all run side by side here. It also ingests a
1 GB input (the log repeated) and compares peak RSS. Figures are medians of several runs.

    python bench/ingest.py [--runs 3] [--skip-1gb]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from parsers.rules import RULES  # noqa: E402
from zephyr_logscan.synth import SynthConfig, synthesize  # noqa: E402


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) via /usr/bin/time-like wait4 accounting."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:4])} failed: {proc.stderr.read().decode()[-300:]}")
    return wall, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-1gb", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="logscan-bench-"))
    try:
        log = work / "full_log.txt"
        t0 = time.perf_counter()
        truth = synthesize(log, SynthConfig())
        synth_s = time.perf_counter() - t0
        mb, lines = truth["bytes"] / 1e6, truth["lines_total"]
        print(f"input: default synth log, {mb:.1f} MB, {lines:,} lines (synth took {synth_s:.1f}s)")

        def logscan(src: Path, out: Path) -> list[str]:
            return [
                sys.executable,
                "-m",
                "zephyr_logscan.cli",
                "ingest",
                str(src),
                "-q",
                "-o",
                str(out),
            ]

        runs = [run_measured(logscan(log, work / f"t{i}")) for i in range(args.runs)]
        wall = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        print(
            f"logscan ingest: median {wall:.2f}s wall (incl. interpreter start), {mb / wall:.1f} MB/s, "
            f"{lines / wall:,.0f} lines/s, peak RSS {rss:.0f} MB  [runs: {', '.join(f'{r[0]:.2f}' for r in runs)}]"
        )

        rg = shutil.which("rg")
        if rg:
            pattern = "|".join({r.literals[0] for r in RULES})
            rg_runs = [
                run_measured(
                    [
                        rg,
                        "-c",
                        "-F",
                        *sum((["-e", lit] for lit in pattern.split("|")), []),
                        str(log),
                    ]
                )[0]
                for _ in range(args.runs)
            ]
            rg_s = statistics.median(rg_runs)
            print(
                f"ripgrep literal scan (floor): median {rg_s:.2f}s; logscan / ripgrep = {wall / rg_s:.1f}x"
            )
        else:
            print("ripgrep: not installed (apt-get install ripgrep); floor ratio skipped")

        base_s, base_rss = run_measured(
            [
                sys.executable,
                str(ROOT / "bench" / "ingest_baseline.py"),
                str(log),
                str(work / "base"),
            ]
        )
        print(
            f"python line-loop baseline: {base_s:.2f}s, peak RSS {base_rss:.0f} MB; "
            f"logscan is {base_s / wall:.1f}x faster"
        )

        if not args.skip_1gb:
            big = work / "big_log.txt"
            with open(big, "wb") as out:
                for _ in range(10):
                    with open(log, "rb") as src:
                        shutil.copyfileobj(src, out, 16 << 20)
            big_s, big_rss = run_measured(logscan(big, work / "big"))
            print(
                f"1 GB input ({big.stat().st_size / 1e9:.2f} GB): {big_s:.1f}s, {big.stat().st_size / 1e6 / big_s:.1f} MB/s, "
                f"peak RSS {big_rss:.0f} MB = {big_rss / rss:.2f}x the 100 MB run"
            )
        manifest = json.loads((work / "t0" / "manifest.json").read_text())
        rows = ", ".join(f"{k}={v['rows']}" for k, v in manifest["tables"].items())
        print(f"tables: {rows}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
