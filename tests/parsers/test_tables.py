"""Vectorised classification: the same tables and rules as the per-message reference."""

from __future__ import annotations

import re

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.rules import RULES
from parsers.tables import (
    PIPELINE,
    PIPELINE_START,
    TRAILER,
    TRAILER_NAMES,
    classify,
    classify_records,
    pipelines_named,
    trailer_fields,
)


def test_vectorised_classification_agrees_with_the_reference():
    messages = [s for r in RULES for s in r.samples]
    records = pl.DataFrame(
        {
            "message": messages,
            "head": [m.split("\n")[0] for m in messages],
            "repeat": [1] * len(messages),
        }
    )
    records = records.with_columns(pid=pl.lit(9, pl.Int64), ip=pl.lit("10.0.0.2"))
    tables, classified = classify_records(records)
    for i, message in enumerate(messages):
        found = classify(message, {"pid": 9, "ip": "10.0.0.2"})
        want = {t: rule.id for t, (rule, _) in found.items() if t != "events"}
        subjects = {t: v["subject"] for t, (_, v) in found.items() if t != "events"}
        got_subjects = {
            t: df.filter(pl.col("rid") == i)["subject"][0]
            for t, df in tables.items()
            if t != "events" and (df["rid"] == i).any()
        }
        assert got_subjects == subjects, message[:80]
        got = {
            t: df.filter(pl.col("rid") == i)["rule"].to_list()
            for t, df in tables.items()
            if t != "events"
        }
        got = {t: ids[0] for t, ids in got.items() if ids}
        assert got == want, message[:80]
        assert classified[i] == bool(found)


def test_subjects_name_the_happening_not_the_record():
    """One node death reported by the driver banner, the GCS health check and the GCS removal
    carries one subject; records without an id carry none."""
    node = "afb628fb112c8d4b8e7b70d4c7541e9d6b0c40b3be3fa79b08d7bbd3"
    wordings = [
        f"(raylet) The node with node id: {node} and address: 127.0.0.2 and node name: 127.0.0.2 has been marked dead because the detector has missed too many heartbeats from it.",
        f"[2026-11-28 11:04:23,768 W 1 1] (gcs_server) gcs_health_check_manager.cc:147: Node is dead because the health check failed. node_id={node}",
        f"[2026-11-28 11:04:23,769 I 1 1] (gcs_server) gcs_node_manager.cc:316: , death reason = UNEXPECTED_TERMINATION, death message = health check failed node_id={node} node_name=127.0.0.2",
    ]
    records = pl.DataFrame({"message": wordings, "head": wordings, "repeat": [1] * 3})
    tables, _ = classify_records(records)
    assert tables["node_deaths"]["subject"].to_list() == [f"node:{node}"] * 3
    assert tables["events"]["subject"].to_list() == [f"node:{node}"] * 3
    none = classify("Starting zephyr pipeline: x-1a2b3c4d (attempt 0)")["pipeline_attempts"][1]
    assert none["subject"] is None


def test_process_subject_without_ip_is_the_drivers_node():
    status = "[stage0-Map] 1/2 complete, 1 in-flight, 0 queued, 1/1 workers alive, 0 dead"
    assert classify(status, {"pid": 7, "ip": None})["worker_status"][1]["subject"] == "process:7@"
    assert classify(status, {"pid": None, "ip": None})["worker_status"][1]["subject"] is None


TRAILED = st.builds(
    lambda text, pairs: text + "".join(f" {k}={v}" for k, v in pairs),
    st.text(max_size=30).filter(lambda s: "\n" not in s),
    st.lists(
        st.tuples(
            st.sampled_from(TRAILER_NAMES),
            st.text("abcdef0123456789=.:", min_size=1, max_size=12),
        ),
        max_size=3,
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(TRAILED, max_size=12))
def test_trailers_of_mixed_heads_are_those_of_each_head_alone(heads):
    """Heads with and without a trailer, in any order: each row's map is its own trailer's."""
    fields = trailer_fields(pl.Series(heads, dtype=pl.String)).to_pylist()
    for head, row in zip(heads, fields, strict=True):
        m = TRAILER.search(head)
        pairs = re.findall(r"[A-Za-z_]\w*=\S+", m.group(0)) if m else []
        assert row == [tuple(p.split("=", 1)) for p in pairs], head


WORD = st.sampled_from(["tok", "v2.1", "x_y", "dedup", "é", "p1", "a2", "coord"])
ACTOR = st.builds(
    lambda words, p, a, role, k: f"zephyr-{'-'.join(words)}{p}{a}-{role}-{k}",
    st.lists(WORD, min_size=1, max_size=3), st.sampled_from(["", "-p0", "-p12", "-p"]),
    st.sampled_from(["", "-a1", "-a"]),
    st.sampled_from(["coord", "workers", "worker", "workers-a0", "coord-a"]),
    st.sampled_from(["0", "17", ""]),
)  # fmt: skip
# Messages that name pipelines (actor names, pipeline starts, both, several) and near misses.
NAMING = st.lists(
    st.one_of(
        ACTOR, WORD, st.sampled_from([" ", "-", "[w] ", "\n", "zephyr-", "(", ")", ":0", ","]),
        st.builds("Starting zephyr pipeline: {}".format, WORD),
        st.builds("Coordinator job starting: name={}".format, WORD),
    ),
    max_size=6,
).map("".join)  # fmt: skip


def named_by_re(message: str) -> str | None:
    """The pipeline a message names, by Python's ``re``, one message at a time."""
    for pattern in (PIPELINE_START, PIPELINE):
        m = pattern.search(message)
        if m:
            return m["p"]
    return None


@settings(max_examples=200, deadline=None)
@given(st.lists(NAMING, max_size=40))
def test_pipelines_named_are_those_of_each_message_alone(messages):
    # Each distinct actor name is parsed once for the chunk: a name repeated, or parsed apart
    # from its message, must still give each message its own pipeline.
    messages = messages + messages[: len(messages) // 2]
    got = pipelines_named(pl.Series(messages, dtype=pl.String)).to_list()
    assert got == [named_by_re(m) for m in messages]
