"""Parallel and distributed ingest benchmark, ratios in one run (medians of several runs).

1. The default 100 MB synth log: `logscan ingest --jobs 1` and `--jobs 2` against the bare
   seven-regex Python loop (`bench/regex_baseline.py`, counts only).
2. A 1 GB folder of 2,000 session-style files (the synth log cut into 500 KB worker files, ten
   nodes, plus the reference session's own files): `--jobs 1` against `--jobs 2`, with the
   peak RSS of every process (the main process and each worker) sampled from /proc.
3. The same folder on a private local Ray instance (2 CPUs): tables equal to the local run's,
   time against `--jobs 2` in the same process (Ray start-up reported apart).

Big inputs are written under the system temp folder and removed at the end.

    python bench/parallel.py [--runs 3] [--big-runs 1] [--skip-1gb] [--skip-ray]
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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zephyr_logscan.synth import SynthConfig, synthesize  # noqa: E402

SESSION = ROOT.parent / "shared" / "samples" / "ray-2.60-faults" / "session1_logs"


def descendants(pid: int) -> set[int]:
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            for k in kids:
                if k not in out:
                    out.add(k)
                    todo.append(k)
    return out


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run(cmd: list[str]) -> tuple[float, float, list[float], float]:
    """Wall seconds, the peak RSS (MB) of the process, those of its worker processes
    (descendants above 60 MB: the multiprocessing resource tracker is not a worker), and the
    CPU seconds of the process and its workers (less sensitive to a busy machine)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks: dict[int, float] = {}
    done = threading.Event()

    def sample():
        while not done.is_set():
            for p in {proc.pid, *descendants(proc.pid)}:
                rss = peak_rss_mb(p)
                if rss is not None:
                    peaks[p] = max(peaks.get(p, 0.0), rss)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    peaks[proc.pid] = max(peaks.get(proc.pid, 0.0), usage.ru_maxrss / 1024)
    if status != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:5])} failed: {proc.stderr.read().decode()[-400:]}")
    main_rss = peaks.pop(proc.pid)
    cpu = usage.ru_utime + usage.ru_stime
    return wall, main_rss, sorted(v for v in peaks.values() if v > 60), cpu


def logscan(inputs: list[Path], out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "zephyr_logscan.cli", "ingest", *map(str, inputs), "-q",
            "-o", str(out), *extra]  # fmt: skip


def side_by_side(commands: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each command, run in turn round after round (so that a
    change in the machine's load touches them all alike)."""
    walls: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(runs):
        for label, cmd in commands.items():
            wall, _, _, cpu = run(cmd)
            walls[label].append(wall)
            cpus[label].append(cpu)
    out = {}
    for label in commands:
        w, c = statistics.median(walls[label]), statistics.median(cpus[label])
        runs_ = ", ".join(f"{x:.2f}" for x in walls[label])
        print(f"  {label:34s} median {w:6.2f}s wall [{runs_}], CPU {c:6.2f}s")
        out[label] = (w, c)
    return out


def session_folder(log: Path, root: Path, files: int = 2000, total: int = 1 << 30) -> int:
    """Ten node folders of worker-*.out files cut from ``log`` at line breaks, plus the reference
    session's files; returns the bytes written."""
    real = sorted(p for p in SESSION.rglob("*") if p.is_file()) if SESSION.is_dir() else []
    body = log.read_bytes()
    size = max(1, (total - sum(p.stat().st_size for p in real)) // (files - len(real)))
    written, pos = 0, 0
    for k in range(files - len(real)):
        node = root / f"node-{k % 10:02d}" / "logs"
        node.mkdir(parents=True, exist_ok=True)
        end = body.find(b"\n", pos + size)
        end = len(body) if end < 0 else end + 1
        piece = body[pos:end]
        (node / f"worker-{k:08x}{k * 7919:08x}-01000000-{10_000 + k}.out").write_bytes(piece)
        written += len(piece)
        pos = 0 if end >= len(body) else end
    for p in real:
        dest = root / "node-00" / "logs" / p.relative_to(SESSION)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dest)
        written += p.stat().st_size
    return written


def same_tables(a: Path, b: Path) -> bool:
    import polars as pl

    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    for m in (ma, mb):
        m.pop("seconds"), m.pop("created")
    return ma == mb and all(
        pl.read_parquet(a / f"{t}.parquet").equals(pl.read_parquet(b / f"{t}.parquet"))
        for t in ma["tables"]
    )


def ceiling(wall: float, cpu: float, goal: str, goal_wall: float) -> str:
    """What this machine's cores allow: a run of the same work on every core takes at least its
    CPU time divided by the cores (a parallel run only adds CPU: imports, the results' transfer,
    the merge), whatever the number of processes."""
    cores = os.cpu_count() or 1
    return (
        f"  --jobs 1 keeps {cpu / wall:.2f} cores busy ({cpu:.2f}s CPU in {wall:.2f}s): on {cores} "
        f"cores no run is faster than {cpu / cores:.2f}s ({wall * cores / cpu:.2f}x --jobs 1) "
        f"without less CPU; {goal} ({goal_wall:.2f}s) needs at most "
        f"{goal_wall * cores:.2f}s of CPU on {cores} cores"
    )


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--big-runs", type=int, default=1)
    ap.add_argument("--skip-1gb", action="store_true")
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--big-files", type=int, default=2000, help="files in the big folder")
    ap.add_argument("--big-bytes", type=int, default=1 << 30, help="bytes in the big folder")
    args = ap.parse_args()
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)"
    )
    work = Path(tempfile.mkdtemp(prefix="logscan-bench-parallel-"))
    try:
        log = work / "full_log.txt"
        truth = synthesize(log, SynthConfig())
        print(f"100 MB synth log: {truth['bytes'] / 1e6:.1f} MB, {truth['lines_total']:,} lines")
        timed = side_by_side(
            {
                "bare 7-regex loop (counts only)": [
                    sys.executable, str(ROOT / "bench" / "regex_baseline.py"), str(log)
                ],
                "logscan ingest --jobs 1": logscan([log], work / "j1", "--jobs", "1"),
                "logscan ingest --jobs 2": logscan([log], work / "j2", "--jobs", "2"),
            },
            args.runs,
        )  # fmt: skip
        (base, _), (j1, c1), (j2, c2) = timed.values()
        print(f"  jobs=2 / regex loop = {j2 / base:.2f}x (target <= 0.6x); jobs=1 / regex loop = {j1 / base:.2f}x; "
              f"jobs=1 / jobs=2 = {j1 / j2:.2f}x; CPU jobs=2 / jobs=1 = {c2 / c1:.2f}x; "
              f"tables equal: {same_tables(work / 'j1', work / 'j2')}")  # fmt: skip
        print(ceiling(j1, c1, "0.6x of the loop", 0.6 * base))
        print(f"  load average now {os.getloadavg()[0]:.1f}")
        if args.skip_1gb:
            return
        folder = work / "incident"
        size = session_folder(log, folder, args.big_files, args.big_bytes)
        n = sum(1 for p in folder.rglob("*") if p.is_file())
        print(f"big folder: {n} session-style files, {size / 1e9:.2f} GB")
        res = {}
        for jobs in (1, 2):
            runs = [
                run(logscan([folder], work / f"big{jobs}", "--jobs", str(jobs)))
                for _ in range(args.big_runs)
            ]
            res[jobs] = (
                statistics.median(r[0] for r in runs),
                max(r[1] for r in runs),
                runs[-1][2],
                statistics.median(r[3] for r in runs),
            )
        (w1, main1, _, cpu1), (w2, main2, workers, cpu2) = res[1], res[2]
        print(
            f"  --jobs 1: {w1:6.1f}s ({size / 1e6 / w1:.0f} MB/s, CPU {cpu1:.1f}s), peak RSS {main1:.0f} MB"
        )
        print(f"  --jobs 2: {w2:6.1f}s ({size / 1e6 / w2:.0f} MB/s, CPU {cpu2:.1f}s), main process {main2:.0f} MB, "
              f"workers {', '.join(f'{v:.0f}' for v in workers)} MB (single-process figure {main1:.0f} MB)")  # fmt: skip
        print(
            f"  speed-up jobs=2 vs jobs=1: {w1 / w2:.2f}x (target >= 1.7x); "
            f"tables equal: {same_tables(work / 'big1', work / 'big2')}"
        )
        print(ceiling(w1, cpu1, "1.7x --jobs 1's speed", w1 / 1.7))
        print(f"  load average now {os.getloadavg()[0]:.1f}")
        if args.skip_ray:
            return
        ray_bench(folder, work, size)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ray_bench(folder: Path, work: Path, size: int):
    """Ray tasks against worker processes, both timed in this process, on the same folder."""
    import ray

    from zephyr_logscan.ingest import ingest

    os.environ.pop("RAY_ADDRESS", None)
    t0 = time.perf_counter()
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=False,
    )
    start_s = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        ingest([str(folder)], work / "ray", ray_address="auto")
        ray_s = time.perf_counter() - t0
    finally:
        ray.shutdown()
    t0 = time.perf_counter()
    ingest([str(folder)], work / "local2", jobs=2)
    local_s = time.perf_counter() - t0
    print(f"Ray (private local instance, 2 CPUs; start-up {start_s:.1f}s not counted): {ray_s:.1f}s "
          f"({size / 1e6 / ray_s:.0f} MB/s) vs --jobs 2 in-process {local_s:.1f}s: overhead {ray_s / local_s - 1:+.0%}; "
          f"tables equal: {same_tables(work / 'local2', work / 'ray')}")  # fmt: skip


if __name__ == "__main__":
    main()
