"""The kept Ray captures (tests/data/ray-scenarios/<ZLxx>/: real Ray 2.60 output of each engine
scenario) read back: driver log and session folders parse, and diagnose names what each run
caused, nothing else. Refresh them with tests/data/ray-scenarios/capture.py."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.ray_support import capture_sources, finding_problems
from zephyr_logscan.findings import diagnose, happenings, parameters
from zephyr_logscan.ingest import ingest

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "ray-scenarios"
PATTERNS = sorted(p.name for p in CAPTURES.glob("ZL*") if p.is_dir())


def test_one_capture_per_ray_scenario():
    from zephyr_engine import scenarios

    assert sorted(scenarios.RAY) == PATTERNS


@pytest.mark.parametrize("pattern", PATTERNS)
def test_capture_parses_and_diagnoses_as_its_scenario(tmp_path, pattern):
    capture = CAPTURES / pattern
    findings, starts = [], {}
    for source, inputs in capture_sources(capture).items():
        out = tmp_path / source
        ingest([str(p) for p in inputs], out)
        findings += [{**f.__dict__, "source": source} for f in diagnose(out)]
        # the engine's own lines, forwarded by Ray or in worker-*.err, are read as zephyr records
        events = pl.read_parquet(out / "events.parquet")
        assert events.height > 0, f"{pattern}/{source}: no engine event parsed"
        inits = events.filter(pl.col("rule") == "lifecycle.coordinator_initialized")
        starts[source] = int(happenings(inits, parameters()["witness_gap_s"])["events"].sum())
    assert not finding_problems(pattern, findings), finding_problems(pattern, findings)
    # Each coordinator started once, whatever is read: a driver line Ray folded ("[repeated Nx
    # across cluster]") stands for lines the worker-*.err files hold one by one.
    assert starts["combined"] == starts["driver"] > 0, starts


def test_captures_hold_coordinator_starts_folded_by_rays_dedup():
    """What the count above is about: kept in at least one capture (a refresh may lose it)."""
    folded = [
        p for p in PATTERNS
        if any("Coordinator initialized" in line and "[repeated" in line
               for line in (CAPTURES / p / "driver.log").read_text().splitlines())
    ]  # fmt: skip
    assert folded, "no capture folds coordinator starts"
