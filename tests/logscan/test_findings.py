"""``logscan diagnose``: the planted incident windows are found, and nothing in a healthy log."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest

from zephyr_engine import scenarios
from zephyr_logscan.findings import DETECTORS, PATTERNS, diagnose
from zephyr_logscan.ingest import ingest
from zephyr_logscan.synth import SynthConfig, synthesize

# Records with no timestamp of their own (raylet banners, autoscaler lines) take the previous
# record's time, so window edges may differ from the writer's clock by up to one status tick.
TOLERANCE_S = 10


def windows(findings) -> list[tuple]:
    return [(f.pattern, f.pipeline, f.start, f.end) for f in findings]


def assert_same_windows(got: list[tuple], want: list[dict]):
    def at(s):
        return datetime.fromisoformat(s.replace("Z", "+00:00"))

    def close(g, w):
        return (g[0], g[1]) == (w["pattern"], w["pipeline"]) and all(
            abs((at(a) - at(b)).total_seconds()) <= TOLERANCE_S
            for a, b in ((g[2], w["start"]), (g[3], w["end"]))
        )

    missing = [w for w in want if not any(close(g, w) for g in got)]
    extra = [g for g in got if not any(close(g, w) for w in want)]
    assert not missing and not extra, f"missing {missing[:3]}, extra {extra[:3]}"


def test_small_log_findings_equal_the_planted_windows(small_log, small_tables):
    assert_same_windows(windows(diagnose(small_tables)), small_log[1]["windows"])


def test_another_seed(tmp_path):
    path = tmp_path / "log.txt"
    truth = synthesize(path, SynthConfig(size=1_500_000, workers=48, seed=3, pipelines=5))
    out = ingest([str(path)], tmp_path / "t").out_dir
    assert_same_windows(windows(diagnose(out)), truth["windows"])


def test_clean_log_has_no_findings(clean_log, tmp_path):
    out = ingest([str(clean_log[0])], tmp_path / "t").out_dir
    assert diagnose(out) == []


def test_finished_pipelines_are_not_silent_without_their_shutdown_lines(clean_log, tmp_path):
    """Pipelines end with `N/N tasks completed`, the next pipeline's start and the workers'
    `Received SHUTDOWN`: without the last, the others still show that every pipeline ended."""
    path = tmp_path / "no_shutdown.txt"
    with open(clean_log[0], "rb") as src, open(path, "wb") as dst:
        removed = 0
        for line in src:
            if b"Received SHUTDOWN" in line:
                removed += 1
                continue
            dst.write(line)
    assert removed >= 7
    out = ingest([str(path)], tmp_path / "t").out_dir
    assert [f for f in diagnose(out) if f.pattern == "ZL10"] == []


@pytest.mark.slow
def test_default_log_findings(full_log, tmp_path):
    path, truth = full_log
    out = ingest([str(path)], tmp_path / "t").out_dir
    found = diagnose(out)
    assert_same_windows(windows(found), truth["windows"])
    zl01 = next(f for f in found if f.pattern == "ZL01")
    assert (
        zl01.pipeline == "tokenize-train-b160eb54"
        and zl01.events > 900
        and zl01.severity == "critical"
    )


def test_every_pattern_has_a_detector_and_a_scenario():
    assert set(PATTERNS) == set(scenarios.ALL) and len(DETECTORS) == len(PATTERNS)


def test_engine_evidence_lost_shard_and_silent_loop(tmp_path):
    """Detectors that the synth does not plant, on hand-written upstream-style logs."""
    lines = []
    status = "(_RayActorHost pid=9) 2026-03-01 10:{m:02d}:00,000 INFO zephyr.execution:341 [stage0-Map] 99/100 complete, 1 in-flight, 0 queued, 8/8 workers alive, 0 dead"
    lines.append(
        "(_RayActorHost pid=9) 2026-03-01 10:00:00,000 INFO zephyr.execution:281 Worker zephyr-p-1a2b3c4d-workers-3 re-registering (likely reconstructed), updating handle"
    )
    lines += [
        status.format(m=m) for m in range(1, 16)
    ]  # 14 minutes with nothing queued, no progress
    lines.append(
        "(_RayActorHost pid=9) 2026-03-01 10:16:00,000 INFO zephyr.execution:341 [stage0-Map] 50/100 complete, 5 in-flight, 45 queued, 8/8 workers alive, 0 dead"
    )
    lines.append(
        "(raylet, ip=10.0.0.5) [2026-03-01 10:40:00,000 E 1 1] (raylet) worker_pool.cc:1624: Delete runtime env failed"
    )
    log = tmp_path / "l.txt"
    log.write_text("\n".join(lines) + "\n")
    found = {f.pattern for f in diagnose(ingest([str(log)], tmp_path / "t").out_dir)}
    assert {"ZL05", "ZL10"} <= found  # stalled after re-registration; then the status line stopped


def test_cli_diagnose_json_and_fail_on(small_tables):
    out = small_tables
    run = [sys.executable, "-m", "zephyr_logscan.cli", "diagnose", str(out)]
    res = subprocess.run([*run, "--json", "--param", "stall_min=5"], capture_output=True, text=True)
    doc = json.loads(res.stdout)
    assert res.returncode == 0 and {f["pattern"] for f in doc["findings"]} >= {"ZL01", "ZL07"}
    assert doc["params"]["stall_min"] == 5 and doc["params"]["wave_nodes"] == 3
    assert doc["summary"][0]["severity"] == "critical"  # critical groups first
    assert subprocess.run([*run, "--fail-on", "critical"], capture_output=True).returncode == 1
    bad = subprocess.run([*run, "--param", "no_such=1"], capture_output=True, text=True)
    assert (
        bad.returncode == 2 and "unknown parameter" in bad.stderr and "Traceback" not in bad.stderr
    )


def test_cli_diagnose_text_opens_with_the_summary(small_tables):
    out = small_tables
    run = [sys.executable, "-m", "zephyr_logscan.cli", "diagnose", str(out)]
    text = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    lines = text.splitlines()
    assert lines[0].startswith("Incident summary") and lines[1] == "Critical:"
    chain = text.split("Chain of events, in time order:\n", 1)[1].split("\n\n", 1)[0]
    assert "ZL07" in chain and "ZL01" in chain and chain.index("ZL07") < chain.index("ZL01")
    assert "covered by scenario ZL01" in text and "proven fixed" not in text
    assert "ZL04 heartbeat-storm [warning]" in text and " findings, " in text  # one group, a count
