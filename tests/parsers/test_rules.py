"""The rule catalog: every rule's sample lines go through the catalog into the rule's table."""

from __future__ import annotations

import pytest

from parsers.rules import RULES
from parsers.tables import classify


def test_rule_ids_are_unique_and_every_rule_has_two_samples():
    assert len({r.id for r in RULES}) == len(RULES)
    assert all(len(r.samples) >= 2 for r in RULES)


@pytest.mark.parametrize(
    ("rule", "sample"),
    [(r, s) for r in RULES for s in r.samples],
    ids=lambda x: getattr(x, "id", ""),
)
def test_sample_is_classified_by_its_rule(rule, sample):
    assert rule.extract(sample) is not None, f"{rule.id} does not match its own sample"
    found = classify(sample)
    assert rule.table in found, f"{rule.id}: sample lands in {sorted(found)}"


def test_fields_are_extracted():
    node = classify(RULES[0].samples[0])["node_deaths"][1]
    assert node["node_id"].startswith("9426f445") and node["node_ip"] == "10.130.0.113"
    status = classify(
        "[stage0-Map \u2192 Write] 4211/8840 complete, 0 in-flight, 4629 queued, 0/1024 workers alive, 1024 dead"
    )["worker_status"][1]
    assert (status["stage"], status["alive"], status["workers"], status["dead"]) == (
        "stage0-Map \u2192 Write",
        "0",
        "1024",
        "1024",
    )
    old = classify("[stage0-Map] 0/4839 complete, 0 in-flight, 4839 queued, 488 workers")[
        "worker_status"
    ][1]
    assert "alive" not in old and old["workers"] == "488"


def test_oom_advice_alone_is_not_an_oom_kill():
    advice = "Refer to the documentation on how to address the out of memory issue: https://docs.ray.io/en/latest/ray-core/scheduling/ray-oom-prevention.html."
    assert classify(advice) == {}


def test_record_with_two_facts_lands_in_both_tables():
    msg = (
        "Pipeline attempt 2/3 failed, retrying with fresh coordinator: ray.exceptions.ActorAlreadyExistsError: "
        "The name zephyr-x-coord-0 (namespace=None) is already taken."
    )
    assert {"pipeline_attempts", "actor_already_exists"} <= set(classify(msg))
