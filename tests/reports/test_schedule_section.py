"""The report's fault-schedule section: the derived schedule beside the timeline, and the replay
outcome when the folder holds one."""

from __future__ import annotations

import concurrent.futures
import json
import re

import pytest

from reports.schedule import schedule_section
from tests.conftest import copy_tables
from zephyr_logscan import replay as rp
from zephyr_logscan.derive import derive

INCIDENT = "tokenize-train-b160eb54"


@pytest.fixture(scope="module")
def tables(small_ingest, tmp_path_factory):
    return copy_tables(small_ingest, tmp_path_factory.mktemp("report-schedule"))


def test_section_lists_each_pipeline_and_the_incident_story(tables):
    html = schedule_section(tables)
    assert html.startswith('<section id="section-schedule">')
    for name in derive(tables):
        assert f'data-pipeline="{name}"' in html
    assert "node loss" in html and "nobody came back" in html and "coordinator waited" in html
    assert "replay-outcome" not in html  # no replay was run for this folder


def test_section_shows_the_replay_outcome_when_present(tables):
    s = derive(tables)[INCIDENT]
    p = rp.plan(s, workers=8, time_scale=2.0 / max(w.at for w in s.waves))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        o = pool.submit(rp.run, p).result(timeout=90)
    rp.save_outcome(rp.as_dict(s, p, o), tables)
    try:
        html = schedule_section(tables)
        assert (
            "replay-outcome" in html
            and "NoAliveWorkersError" in html
            and "guarantees <b>ok" in html
        )
        # The incident comes first, with its replay.
        assert (
            html.index(f'data-pipeline="{INCIDENT}"')
            < html.index("data-pipeline=", html.index("<div") + 5) + 1
        )
    finally:
        (tables / "replay.json").unlink()


def test_replay_text_from_the_folder_is_escaped(tables):
    doc = {"pipeline": INCIDENT, "plan": {"workers": 1, "shards": 1, "time_scale": 1.0},
           "engine": {"ok": False, "violations": ["<script>alert(1)</script>"], "result": "<b>x</b>",
                      "detail": "<img src=x onerror=alert(1)>", "seconds": 1.0,
                      "steps": [{"at": 0.0, "label": "<i>", "did": "</ol><script>"}]}}  # fmt: skip
    (tables / "replay.json").write_text(json.dumps(doc))
    try:
        html = schedule_section(tables)
        assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
    finally:
        (tables / "replay.json").unlink()


def test_a_folder_derive_cannot_read_still_gives_a_section(tmp_path):
    assert "could not be derived" in schedule_section(tmp_path)


def test_the_incidents_schedule_comes_first(tables):
    """The pipelines with a critical finding come first, the others after them in log order (the
    incident's schedule was the last of eight, below the fold of a long section)."""
    first = ["tokenize-train-b160eb54"]
    html = schedule_section(tables, first)
    names = re.findall(r'data-pipeline="([^"]+)"', html)
    assert names[0] == INCIDENT and sorted(names) == sorted(derive(tables))
    assert names[1:] == [n for n in derive(tables) if n != INCIDENT]
    assert re.findall(r'data-pipeline="([^"]+)"', schedule_section(tables))[0] != INCIDENT
