"""``logscan synth``: the truth file agrees with independent counts over the generated text."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import pytest

from zephyr_logscan.synth import SynthConfig, parse_size, synthesize

REPEAT = re.compile(rb"\[repeated (\d+)x across cluster\]")


def fold_check(shared_dir, path) -> dict:
    """Counts by shared/tools/fold_check.py, the plain reference of the folding rule."""
    tool = shared_dir / "tools" / "fold_check.py"
    out = subprocess.run(
        [sys.executable, str(tool), str(path), "--json"], capture_output=True, check=True
    )
    return json.loads(out.stdout)[0]


def lines_with(path, needle: bytes) -> int:
    with open(path, "rb") as f:
        return sum(needle in line for line in f)


def test_truth_matches_fold_check_reference(small_log, shared_dir):
    path, truth = small_log
    ref = fold_check(shared_dir, path)
    keys, tables = ref["keys"], truth["tables"]
    assert ref["lines_total"] == truth["lines_total"]
    for key, table in [
        ("failed to heartbeat within timeout", "heartbeat_failures"),
        ("re-registering (likely reconstructed)", "reregistrations"),
        ("registered, total:", "registrations"),
    ]:
        assert (keys[key]["records"], keys[key]["events"]) == (
            tables[table]["rows"],
            tables[table]["events"],
        ), key
    status = ref["extra"]["worker_status(any wording)"]
    assert (status["records"], status["events"]) == (
        tables["worker_status"]["rows"],
        tables["worker_status"]["events"],
    )


def test_node_death_events_are_banners_plus_gcs_verdicts(small_log, shared_dir):
    path, truth = small_log
    banners = fold_check(shared_dir, path)["keys"]["has been marked dead because the detector"]
    gcs = sum(
        lines_with(path, s)
        for s in (b"Node is dead because the health check failed.", b"death reason = UNEXPECTED_TERMINATION",
                  b"death reason = AUTOSCALER_DRAIN_PREEMPTED")
    )  # fmt: skip
    assert truth["tables"]["node_deaths"]["rows"] == banners["records"] + gcs
    assert truth["tables"]["node_deaths"]["events"] == banners["events"] + gcs
    assert banners["events"] > banners["records"], "waves are deduplicated by Ray"


def test_dedup_suffix_sums_equal_truth_events(small_log):
    path, truth = small_log
    events = 0
    with open(path, "rb") as f:
        for line in f:
            if b"Delete runtime env failed" in line:
                m = REPEAT.search(line)
                events += int(m.group(1)) if m else 1
    vfio_and_others = truth["tables"]["warnings"]["events"] - events
    assert events > truth["tables"]["warnings"]["rows"] // 2
    assert vfio_and_others >= 0


def test_line_and_byte_totals(small_log):
    path, truth = small_log
    data = path.read_bytes()
    assert truth["bytes"] == len(data)
    assert truth["lines_total"] == data.count(b"\n")
    assert truth["lines_unmatched"] < truth["lines_total"]


def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    cfg = SynthConfig(size=1_000_000, workers=32, seed=11)
    synthesize(a, cfg)
    synthesize(b, cfg)
    synthesize(c, SynthConfig(size=1_000_000, workers=32, seed=12))
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b, c)]
    assert digest[0] == digest[1] != digest[2]
    assert (tmp_path / "a.txt.truth.json").read_text() == (
        tmp_path / "b.txt.truth.json"
    ).read_text()


def test_clean_log_has_no_incident(clean_log):
    path, truth = clean_log
    t = truth["tables"]
    for table in (
        "node_deaths",
        "heartbeat_failures",
        "reregistrations",
        "actor_already_exists",
        "oom_kills",
        "actor_deaths",
    ):
        assert t[table]["rows"] == 0, table
    assert truth["windows"] == []
    for needle in (
        b"has been marked dead",
        b"failed to heartbeat",
        b"is already taken",
        b"0 workers alive",
        b"vfio",
    ):
        assert lines_with(path, needle) == 0, needle
    assert t["registrations"]["rows"] > 0 and t["worker_status"]["rows"] > 0


def test_incident_story_is_planted(small_log):
    path, truth = small_log
    patterns = {w["pattern"] for w in truth["windows"]}
    assert {"ZL01", "ZL02", "ZL03", "ZL04", "ZL07", "ZL09", "ZL12"} <= patterns
    zl01 = next(w for w in truth["windows"] if w["pattern"] == "ZL01")
    assert zl01["pipeline"] == "tokenize-train-b160eb54"
    assert zl01["start"] < "2026-02-21T13:00" and zl01["end"] > "2026-02-21T14:20"
    assert lines_with(path, b"0/64 workers alive, 64 dead") > 900  # 80+ minutes at 5 s


# One literal per wording family of shared/log-formats.md and its references.
FAMILIES = [
    "complete, 0 in-flight", "workers alive,", "; items=", "] [stage0",
    "failed to heartbeat within timeout (", "registered, total: ",
    "re-registering (likely reconstructed), updating handle", "re-registering (likely reconstructed)\n",
    "tasks completed", "Starting stage stage0", "] Starting stage stage0",
    "Starting zephyr pipeline: ", "(attempt 1)", "(pipeline 0, attempt 0)",
    "Pipeline attempt 2/3 failed, retrying with fresh coordinator: ",
    "Coordinator initialized", "All workers are dead/failed", "No workers available yet",
    "Coordinator aborted: ", "Removed task (ShardTask(", "had an in-flight task, re-queuing",
    "Ignoring stale result", "pull_task failed (coordinator may be dead)", "] Heartbeat failed: ",
    "] Heartbeat failed (2/5)", "consecutive heartbeat failures", "Received SHUTDOWN",
    "Executing task for shard",
    "and address: ", "and ip: ", "(OOM, preempted node, etc.)", "\t(2) raylet has lagging heartbeats",
    "Node is dead because the health check failed. node_id=", "death reason = UNEXPECTED_TERMINATION",
    "death reason = AUTOSCALER_DRAIN_PREEMPTED", "death reason = EXPECTED_TERMINATION",
    "Node is dead, marking all jobs",
    "ValueError: The name ", "ray.exceptions.ActorAlreadyExistsError: The name ", "already exists in the namespace",
    "The actor died unexpectedly before finishing this task.", "is unavailable: The actor is temporarily unavailable",
    "Actor is failed on worker", "The actor is dead because its worker process has died. Worker exit type:",
    "The actor died because its node has died. Node Id: ", "RayTask ID: ", "Lease ID: ",
    "Task was killed due to the node running low on memory.", "worker(s) were killed due to the node running low on memory.",
    "Workers (tasks / actors) killed due to memory pressure (OOM)", "GB used / ", "OOM kill reason: ",
    "has constructor arguments in the object store", "Warning: The following resource request cannot be scheduled",
    "No available node types can fulfill resource request", "Delete runtime env failed",
    "open(/dev/vfio/0): Device or resource busy", "The TPU is already in use by process with pid",
    "Health check failed for node ", "[Timeout] Exiting because this node manager has mistakenly been marked as dead",
    "Raylet is terminated. Termination is unexpected.",
    "\x1b[36m(", "\x1b[33m(raylet", " [repeated ", "(Ray deduplicates logs by default.", "(autoscaler +",
    "(pid=gcs_server) ", "\tINFO worker.py:", "] (raylet) ",
]  # fmt: skip


@pytest.mark.parametrize("literal", FAMILIES)
def test_every_wording_family_appears(small_log, literal):
    path, _ = small_log
    text = path.read_bytes().decode("utf-8", "replace")
    assert literal in text


def test_uncoloured_prefixes_and_bad_bytes_appear(small_log):
    data = small_log[0].read_bytes()
    assert re.search(rb"^\(_RayActorHost pid=\d+", data, re.M), (
        "a stretch without RAY_COLOR prefixes"
    )
    assert re.search(rb"^\(_RayActorHost pid=\d+\) ", data, re.M), (
        "lines without ip= (the head node)"
    )
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


@pytest.mark.slow
def test_default_log_is_incident_sized(full_log):
    path, truth = full_log
    assert 90e6 <= truth["bytes"] <= 110e6
    assert 600_000 <= truth["lines_total"] <= 700_000
    t = truth["tables"]
    assert t["heartbeat_failures"]["events"] == 12_732
    assert t["reregistrations"]["events"] == 1_618
    assert 60 <= t["node_deaths"]["events"] <= 90


@pytest.mark.parametrize(
    ("text", "value"), [("100MB", 100_000_000), ("1GB", 10**9), ("512KiB", 524_288), ("2000", 2000)]
)
def test_parse_size(text, value):
    assert parse_size(text) == value
