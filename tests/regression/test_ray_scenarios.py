"""The pattern scenarios on real Ray, closed loop: each runs in its own driver process against the
session's private cluster (real SIGKILLs, a real node loss); its driver output and session logs
are then read by ``logscan ingest`` and ``logscan diagnose``."""

from __future__ import annotations

import pytest

from tests.ray_support import diagnose_capture, finding_problems, run_captured
from zephyr_engine import scenarios

pytestmark = pytest.mark.ray


# ZL10 runs on Ray too (its capture is kept); left out here to keep the Ray tests short.
TESTED = tuple(p for p in scenarios.RAY if p != "ZL10")


@pytest.mark.parametrize("pattern", TESTED)
def test_scenario_on_ray_and_its_logs_diagnosed(ray_cluster, tmp_path, pattern):
    outcome = run_captured(ray_cluster, pattern, tmp_path / pattern, timeout=300)
    assert outcome["ok"], f"{pattern} on Ray: {outcome['detail']}"
    findings = diagnose_capture(tmp_path / pattern, tmp_path / "tables")
    assert not finding_problems(pattern, findings), finding_problems(pattern, findings)
    if pattern == "ZL06":  # the retried pull failures, logged inside the workers
        assert (
            "pull_task failed (coordinator may be dead)"
            in (tmp_path / pattern / "driver.log").read_text()
        )
    if pattern == "ZL09":  # Ray warns when constructor arguments live in the object store
        text = (tmp_path / pattern / "driver.log").read_text()
        assert "53727" not in text and "constructor arguments in the object store" not in text
