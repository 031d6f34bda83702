"""The kept Ray captures (tests/data/ray-scenarios/<ZLxx>/: real Ray 2.60 output of each engine
scenario) read back: driver log and session folders parse, and diagnose names what each run
caused, nothing else. Refresh them with tests/data/ray-scenarios/capture.py."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.ray_support import capture_sources, finding_problems
from zephyr_logscan.findings import diagnose
from zephyr_logscan.ingest import ingest

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "ray-scenarios"
PATTERNS = sorted(p.name for p in CAPTURES.glob("ZL*") if p.is_dir())


def test_one_capture_per_ray_scenario():
    from zephyr_engine import scenarios

    assert sorted(scenarios.RAY) == PATTERNS


@pytest.mark.parametrize("pattern", PATTERNS)
def test_capture_parses_and_diagnoses_as_its_scenario(tmp_path, pattern):
    capture = CAPTURES / pattern
    findings = []
    for source, inputs in capture_sources(capture).items():
        out = tmp_path / source
        ingest([str(p) for p in inputs], out)
        findings += [{**f.__dict__, "source": source} for f in diagnose(out)]
        # the engine's own lines, forwarded by Ray or in worker-*.err, are read as zephyr records
        events = pl.read_parquet(out / "events.parquet")
        assert events.height > 0, f"{pattern}/{source}: no engine event parsed"
    assert not finding_problems(pattern, findings), finding_problems(pattern, findings)
