"""Every scenario fails on each upstream defect it guards: the proof that it tests the fix.

A mutant puts one defect back (``mutants.py``); its scenario must then report failure within
its deadline. A scenario that passes on a mutant proves nothing, and this test fails.
"""

from __future__ import annotations

import re

import pytest

from tests.regression.mutants import MUTANTS
from zephyr_engine import scenarios

DEFECTS_TABLE_ROWS = range(1, 15)  # shared/engine-defects.md


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_the_scenario_fails_on_the_defect_it_guards(mutant, monkeypatch):
    mutant.apply(monkeypatch)
    outcome = scenarios.run(mutant.scenario)
    assert not outcome.ok, (
        f"{mutant.scenario} passed with the defect '{mutant.defect}' put back: {outcome.detail}"
    )
    print(f"{mutant.id}: {mutant.scenario} fails after {outcome.seconds:.1f}s: {outcome.detail}")


def test_every_scenario_and_every_defect_row_has_a_mutant(shared_dir):
    assert {m.scenario for m in MUTANTS} == set(scenarios.ALL)
    rows = {r for m in MUTANTS for r in m.rows}
    assert rows == set(DEFECTS_TABLE_ROWS)
    table = (shared_dir / "engine-defects.md").read_text()
    listed = {int(n) for n in re.findall(r"^\| (\d+) \|", table, flags=re.M)}
    assert listed == rows, "engine-defects.md has rows without a mutant"
    for m in MUTANTS:
        pattern = (
            re.search(rf"^\| {m.rows[0]} \|.*\| (ZL\d\d) \|", table, flags=re.M) if m.rows else None
        )
        if pattern and m.scenario != "ZL07":
            assert pattern.group(1) == m.scenario, (
                f"{m.id}: row {m.rows[0]} belongs to {pattern.group(1)}"
            )
