"""Every incident pattern's scenario, run against the corrected engine (local backend)."""

from __future__ import annotations

import sys

import pytest

from zephyr_engine import scenarios


def check(pattern: str):
    outcome = scenarios.run(pattern)
    assert outcome.ok, f"{pattern} ({scenarios.TITLES[pattern]}): {outcome.detail}"
    return outcome


def test_zl01():
    assert "NoAliveWorkersError" in check("ZL01").detail


def test_zl02():
    assert "attempts [0, 1]" in check("ZL02").detail


def test_zl03():
    assert "went ['alive -> dead']" in check("ZL03").detail


def test_zl04():
    assert " 0 heartbeat failures" in check("ZL04").detail


def test_zl05():
    assert "rows exact: True" in check("ZL05").detail


def test_zl06():
    check("ZL06")


def test_zl07():
    assert "equals the fault-free run" in check("ZL07").detail


def test_zl08():
    assert "ShardFailedError(3)" in check("ZL08").detail


def test_zl09():
    check("ZL09")


def test_zl10():
    assert "loop crashed" in check("ZL10").detail


def test_zl11():
    assert "TPU" in check("ZL11").detail


def test_zl12():
    assert check("ZL12").detail.count("CoordinatorLostError") == 4


def test_every_pattern_has_a_scenario_and_a_test():
    module = sys.modules[__name__]
    assert tuple(f"ZL{i:02d}" for i in range(1, 13)) == scenarios.ALL
    for pattern in scenarios.ALL:
        assert pattern in scenarios.SCENARIOS, f"{pattern} has no scenario"
        assert callable(getattr(module, f"test_{pattern.lower()}", None)), f"{pattern} has no test"


def test_unknown_pattern_is_an_error():
    with pytest.raises(ValueError):
        scenarios.run("ZL99")
