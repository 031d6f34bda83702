"""Real Ray output, not written by this project's synthesizer: every capture ingests without an
error and gives exactly the findings it really holds (tests/data/ray/README.md says what each
one holds; ../shared/samples/ray-2.60-faults/TRUTH.md for the shared sample)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zephyr_logscan.findings import diagnose, happenings
from zephyr_logscan.ingest import ingest

DATA = Path(__file__).resolve().parents[1] / "data" / "ray"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "ray-2.60-faults"

# capture -> {part: the findings it holds, as (pattern, pipeline)}; "all" is every part at once.
# None of these runs a zephyr pipeline: the only finding any of them holds is oom-kills' task
# hog_thrice, OOM-killed three times (ZL08). The driver's copy of each kill splits the kill line
# from the "Selected to kill: (... task name=...)" lines, so the driver log alone cannot tell
# which task was killed: no finding there (a miss, never a false finding).
CAPTURES = {
    "json-logging": {"driver.log": []},
    "oom-kills": {"all": [("ZL08", None)], "session": [("ZL08", None)], "driver.log": []},
    "actor-faults": {"all": [], "session": [], "driver.log": []},
    "raylet-sigkill": {"all": [], "session": [], "session-spot-node": [], "driver.log": []},
}


def patterns(inputs: list[Path], tmp_path) -> list[tuple]:
    out = ingest([str(p) for p in inputs], tmp_path / "tables").out_dir
    return sorted((f.pattern, f.pipeline) for f in diagnose(out))


@pytest.mark.parametrize(
    ("capture", "part"), [(c, p) for c, parts in CAPTURES.items() for p in parts]
)
def test_capture_holds_exactly_its_findings(capture, part, tmp_path):
    folder = DATA / capture
    inputs = sorted(
        p for p in folder.iterdir() if p.name in CAPTURES[capture] or p.name == "driver.log"
    )
    if part != "all":
        inputs = [folder / part]
    assert all(p.exists() for p in inputs)
    assert patterns(inputs, tmp_path) == CAPTURES[capture][part]


@pytest.mark.parametrize("excerpt", sorted(p.name for p in (DATA / "public-issues").glob("*.log")))
def test_public_issue_excerpt_gives_no_finding(excerpt, tmp_path):
    """Log text users posted in public issues (links in public-issues/README.md): node deaths of
    other clusters, OOM summaries, an ActorDiedError, two zephyr heartbeat failures; none is a
    zephyr incident pattern."""
    assert patterns([DATA / "public-issues" / excerpt], tmp_path) == []


@pytest.mark.parametrize("part", ["driver.log", "session1_logs"])
def test_shared_ray_260_sample_gives_no_finding(part, tmp_path):
    """The shared real Ray 2.60 capture (TRUTH.md): actor kills, a name collision, one OOM kill,
    one node loss; no zephyr pipeline."""
    if not SHARED.is_dir():
        pytest.skip(f"shared sample not found at {SHARED}")
    assert patterns([SHARED / part], tmp_path) == []


def test_one_node_loss_is_one_happening_at_the_gcs_time(tmp_path):
    """raylet-sigkill: the driver banner (its time borrowed from the line before), the event file
    and three GCS lines report one node death; it happened when the GCS says."""
    import polars as pl

    from zephyr_logscan.findings import happenings

    folder = DATA / "raylet-sigkill"
    parts = [folder / "driver.log", folder / "session", folder / "session-spot-node"]
    out = ingest([str(p) for p in parts], tmp_path / "t").out_dir
    deaths = pl.read_parquet(out / "node_deaths.parquet")
    assert deaths.height >= 4 and deaths["ts_inferred"].any()
    (death,) = happenings(deaths, 120).iter_rows(named=True)
    own = deaths.filter(~pl.col("ts_inferred"))["ts"].min()
    assert death["ts"] == own and death["events"] == 1


def test_each_oom_kill_is_one_happening(tmp_path):
    """oom-kills: four kills (one of hog_once, three of hog_thrice), each reported by several
    files, are four process subjects."""
    import polars as pl

    out = ingest([str(DATA / "oom-kills" / "session")], tmp_path / "t").out_dir
    kills = pl.read_parquet(out / "oom_kills.parquet")
    subjects = kills["subject"].drop_nulls()
    assert subjects.n_unique() == 4 and len(subjects) > 4


@pytest.mark.parametrize(
    ("inputs", "kills"),
    [
        (["oom-kills"], 4), (["oom-kills/session"], 4),
        (["oom-actor"], 3), (["oom-actor/session"], 3), (["oom-actor/driver.log"], 2),
    ],
)  # fmt: skip
def test_each_memory_monitor_kill_is_one_happening_whoever_reports_it(inputs, kills, tmp_path):
    """Real kills of Ray's memory monitor (oom-kills: four kills of tasks; oom-actor: an actor
    killed twice and called three times, one kill of two workers): the raylet's `Killing N
    worker(s)`, each GCS worker exit, the JSON event, the owner's task errors and the driver's
    OutOfMemoryError quote the node's memory reading the monitor killed on, and name no killed
    process in their own record, so they were a happening each (20 for oom-kills' 4 kills). One
    reading is one kill, however many workers it took and however often the owner reports it."""
    import polars as pl

    out = ingest([str(DATA / p) for p in inputs], tmp_path / "t").out_dir
    found = happenings(pl.read_parquet(out / "oom_kills.parquet"), 120)
    assert found.height == kills
    assert found["subject"].str.starts_with("oom:").all()


def test_workers_ray_reports_dead_are_no_heartbeat_storm(tmp_path):
    """tests/data/ray-scenarios/ZL07 read whole (driver log and both nodes' session folders):
    a raylet SIGKILLed, its zephyr workers' actors reported failed by the GCS and restarted, two
    bursts of heartbeat failures. The deaths explain the failures: no ZL04, which said they were
    "falsely marked dead ... the coordinator was too busy"."""
    capture = DATA.parent / "ray-scenarios" / "ZL07"
    inputs = [capture / "driver.log", *sorted((capture / "session").glob("*/logs"))]
    assert "ZL04" not in {pattern for pattern, _ in patterns(inputs, tmp_path)}


def test_workers_killed_for_good_are_no_heartbeat_storm(tmp_path):
    """tests/data/ray-scenarios/ZL01 read whole (real Ray): the scenario kills its 4 workers with
    `ray.kill(no_restart=True)`; the GCS logs `Destroying actor, force_kill=1 ... actor_id=...`
    for each (the only record of those deaths: no `Actor is failed`, no `A worker died`). ZL04
    said "4 workers were marked dead ... while none of their nodes or processes died"."""
    capture = DATA.parent / "ray-scenarios" / "ZL01"
    inputs = [capture / "driver.log", *sorted((capture / "session").glob("*/logs"))]
    assert "ZL04" not in {pattern for pattern, _ in patterns(inputs, tmp_path)}


def test_a_tasks_node_died_error_is_a_node_death(tmp_path):
    """The owner's report of a node death in a task's error (public-issues/ray-58638-...): one
    row of node_deaths with the node's id and IP (it was an unmatched line)."""
    import polars as pl

    log = DATA / "public-issues" / "ray-58638-node-died-error.log"
    out = ingest([str(log)], tmp_path / "t").out_dir
    (death,) = pl.read_parquet(out / "node_deaths.parquet").iter_rows(named=True)
    assert (death["node_ip"], death["subject"]) == (
        "127.0.0.1",
        "node:e55b8ca03ebf3f7418f51533d8d55abeaab75fa9b29e2e6282b47646",
    )


def test_a_pipeline_whose_workers_never_registered_is_no_all_dead_hang(tmp_path):
    """tests/data/ray-scenarios/ZL11 read whole: the workers' resource request cannot be met, the
    coordinator prints `0/4 complete ... 0/0 workers alive` until it gives up. ZL11 only, even
    with the stall threshold under that wait (ZL01 said it waited at 0/0 alive, critical)."""
    capture = DATA.parent / "ray-scenarios" / "ZL11"
    inputs = [capture / "driver.log", *sorted((capture / "session").glob("*/logs"))]
    out = ingest([str(p) for p in inputs], tmp_path / "t").out_dir
    found = diagnose(out, {"stall_min": 0.01})
    assert sorted({f.pattern for f in found}) == ["ZL11"]


def test_an_actor_died_error_copied_with_spaces_names_its_actor(tmp_path):
    """public-issues/agent-r1-33: an ActorDiedError pasted from a terminal, its details indented
    with spaces instead of Ray's tabs: the row names the actor and its class (they were null, so
    the GCS's report of the same death could not be matched to it)."""
    import polars as pl

    out = ingest(
        [str(DATA / "public-issues" / "agent-r1-33-actor-died.log")], tmp_path / "t"
    ).out_dir
    (death,) = pl.read_parquet(out / "actor_deaths.parquet").iter_rows(named=True)
    assert death["subject"] == "actor:8d1498767d305748d59d87da01000000"
    assert (death["class_name"], death["exit_type"]) == ("TaskRunner", "SYSTEM_ERROR")


# What an actor's own process logs when `ray.kill` ends it (Ray 2.60, the engine's shutdown in my
# zephyr-on-ray capture): the kill request, then its disconnect.
KILLED = (
    "[2026-11-30 17:43:34,232 I {pid} 692] core_worker.cc:4630: Force kill actor request has received. exiting "
    "immediately... The actor is dead because it was killed by `ray.kill`.\n"
    "[2026-11-30 17:43:34,240 I {pid} 692] raylet_ipc_client.cc:133: RayletIpcClient::Disconnect, "
    "exit_type=INTENDED_SYSTEM_EXIT, exit_detail=Worker exits because the actor is killed. The actor is dead "
    "because it was killed by `ray.kill`., has creation_task_exception_pb_bytes=0\n"
)  # fmt: skip


def test_a_killed_actors_own_two_lines_are_one_death(tmp_path):
    """Each killed actor's core-worker log says it died twice: one death per process (the
    report's actor-death strip showed two for every actor the engine's shutdown killed)."""
    import polars as pl

    from zephyr_logscan.findings import happenings

    logs = tmp_path / "logs"
    logs.mkdir()
    for pid in (677, 472):
        (logs / f"python-core-worker-{pid:056x}_{pid}.log").write_text(KILLED.format(pid=pid))
    deaths = pl.read_parquet(ingest([str(logs)], tmp_path / "t").out_dir / "actor_deaths.parquet")
    assert deaths.height == 4
    assert sorted(happenings(deaths, 120)["subject"].to_list()) == ["process:472@", "process:677@"]


def test_status_lines_printed_before_the_pipeline_was_named_are_no_silent_loop(tmp_path):
    """tests/data/ray/zephyr-on-ray: the coordinator printed `0/300 complete ... 0/0 workers
    alive` before any worker registered (so before any of its lines named the pipeline), then
    ran a minute more and completed. No ZL10 on those unnamed lines however small the stall
    threshold (it said, critical: the status line stopped at 0/300, for pipeline '-')."""
    logs = DATA / "zephyr-on-ray" / "logs"
    out = ingest([str(logs)], tmp_path / "t").out_dir
    assert diagnose(out, {"stall_min": 0.5}) == []


def test_zephyr_lines_streamed_from_iris_have_their_times_and_pipelines(tmp_path):
    """public-issues/marin-*-iris-*: zephyr on Iris, as its log streamer printed it (a time of
    day glued before each line, the attempt after the role in actor names). The records had no
    time, no level and no pipeline."""
    import json

    import polars as pl

    from parsers.tables import pipelines_named

    shutdowns = DATA / "public-issues" / "marin-5890-iris-worker-shutdowns.log"
    out = ingest([str(shutdowns)], tmp_path / "a").out_dir
    events = pl.read_parquet(out / "events.parquet")
    assert events["rule"].unique().to_list() == ["lifecycle.received_shutdown"]
    assert [t.strftime("%H:%M:%S") for t in events["ts"]] == [
        "03:30:26", "03:30:28", "03:30:31", "03:30:33",
    ]  # fmt: skip
    assert set(events["level"]) == {"INFO"}
    assert set(events["pipeline"]) == {"embed-luxical-main-11c40c4c"}

    start = DATA / "public-issues" / "marin-4093-iris-coordinator-start.log"
    out = ingest([str(start)], tmp_path / "b").out_dir
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["first_ts"], manifest["last_ts"]) == (
        "2026-03-24T09:22:03.000+00:00",
        "2026-03-24T09:22:10.000+00:00",
    )
    named = pipelines_named(pl.Series(start.read_text().splitlines()[-2:])).to_list()
    assert named == [None, "exact-para-dedup-260eaf74"]
    starting = [line for line in start.read_text().splitlines() if "job starting" in line]
    assert pipelines_named(pl.Series(starting)).to_list() == ["exact-para-dedup-260eaf74"]


def test_records_in_rays_json_encoding_have_their_times_processes_and_pipelines(tmp_path):
    """json-logging/: a real driver log under ``ray.LoggingConfig(encoding="JSON")``. Every
    record was untimed, without a level or a process, and the actor's lines named no pipeline
    (Ray forwards JSON records without the ``(pid=...)`` prefix)."""
    import json

    import polars as pl

    log = DATA / "json-logging" / "driver.log"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    out = ingest([str(log)], tmp_path / "t").out_dir
    events = pl.read_parquet(out / "events.parquet")
    for row in events.iter_rows(named=True):
        own = records[row["line"] - 1]
        assert row["ts"].strftime("%Y-%m-%d %H:%M:%S,%f")[:-3] == own["asctime"]
        assert (row["level"], row["pid"]) == (own["levelname"], own["process"])
        assert row["pipeline"] == "demo-1a2b3c4d"
    assert events["rule"].to_list() == [
        "zephyr.pipeline_start", "zephyr.heartbeat_timeout", "zephyr.status_with_execution",
        "zephyr.attempt_failed",
    ]  # fmt: skip
    (failure,) = pl.read_parquet(out / "heartbeat_failures.parquet").iter_rows(named=True)
    assert dict(failure["fields"])["worker_id"] == records[4]["worker_id"]
    (status,) = pl.read_parquet(out / "worker_status.parquet").iter_rows(named=True)
    assert (status["stage"], status["alive"], status["dead"]) == ("stage0-Map → Write", 0, 2)
    # The task's exception: one record, its traceback in the message, the template of its head.
    (template,) = (
        pl.read_parquet(out / "templates.parquet")
        .filter(pl.col("sample").str.contains("Task for shard"))
        .iter_rows(named=True)
    )
    assert template["first_line"] == 4 and template["sample"].startswith(records[3]["asctime"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["lines_total"], manifest["lines_unmatched"]) == (7, 3)


def test_a_node_drained_as_the_cluster_stops_is_no_node_death(tmp_path):
    """pool-loss (real Ray 2.60): both worker nodes of a zephyr pipeline SIGKILLed (two deaths),
    then the cluster stopped: `ray start` on the head got SIGTERM, so the GCS logged the head
    drained (`AUTOSCALER_DRAIN_PREEMPTED, death message = Node received SIGTERM; draining before
    shutdown.`) half a second before `GCS server received SIGTERM`. That drain was a third node
    death: ZL07 "a preemption wave killed 3 nodes", a third death in the report's strip and
    replay's schedule. The same drain with the GCS living on (a spot VM's shutdown, a deleted
    pod) is a node lost."""
    import shutil

    from reports import timeline
    from zephyr_logscan.derive import derive

    logs = DATA / "pool-loss" / "logs"
    out = ingest([str(logs)], tmp_path / "t").out_dir
    assert diagnose(out) == []
    strip = timeline.event_bins(timeline.load(out), 3600)["node deaths"]
    assert strip["events"].sum() == 2
    schedules = derive(out)  # the pipeline lost its 2 nodes; no "(cluster)" node loss at the stop
    assert list(schedules) == ["pool-loss"]
    assert [(w.kind, w.nodes, w.killed) for w in schedules["pool-loss"].waves] == [
        ("node_loss", 2, 4)
    ]
    lives_on = shutil.copytree(logs, tmp_path / "logs")
    gcs = lives_on / "gcs_server.out"
    kept = [line for line in gcs.read_text().splitlines(keepends=True) if "GCS server" not in line]
    gcs.write_text("".join(kept))
    out = ingest([str(lives_on)], tmp_path / "t2").out_dir
    assert timeline.event_bins(timeline.load(out), 3600)["node deaths"]["events"].sum() == 3


def test_the_owners_report_of_a_call_to_a_dead_actor_is_a_witness_of_its_death(tmp_path):
    """actor-kills (real Ray 2.60): `solo` killed with `ray.kill(no_restart=True)`, `twice`
    (max_restarts=1) SIGKILLed twice, `rk` (max_restarts=1) `ray.kill`ed twice, `rr` killed
    with `ray.kill(no_restart=True)`: six deaths, each called once after. The owner's
    core-driver log reports each failed call (`Task attempt <task id ending with the actor id>
    failed with error ACTOR_DIED ... error_message: "..."`) and echoes the error message after
    the closing brace, a record of its own. Both were subject-less actor deaths of their own:
    10 happenings for 6 deaths."""
    import polars as pl

    out = ingest([str(DATA / "actor-kills" / "logs")], tmp_path / "t").out_dir
    deaths = pl.read_parquet(out / "actor_deaths.parquet")
    calls = deaths.filter(pl.col("rule") == "ray.actor_call_failed")
    assert calls["actor_name"].to_list() == ["solo", "twice", "rk", "rr"]
    assert deaths["subject"].null_count() == 0
    found = happenings(deaths, 120)["subject"].value_counts().sort("subject")
    assert dict(found.iter_rows()) == {
        "actor:74c88ab93fc48d2cb75fa09e01000000": 1,  # rr
        "actor:b173098678c132dddde9938501000000": 2,  # twice
        "actor:c5d6795b0a4a28afe9a5794f01000000": 1,  # solo
        "actor:f029a3191ebb9e7a5372675001000000": 2,  # rk
    }


@pytest.mark.parametrize("capture", ["actor-faults", "raylet-sigkill"])
def test_an_actor_died_errors_last_line_is_no_death_of_its_own(capture, tmp_path):
    """The driver prints an ActorDiedError's details tab-indented, then its cause unindented
    (`The actor is dead because ...`, `The actor died because its node has died. ...`): the
    folding rule makes that last line a record of its own, with no id and the error's borrowed
    time. It was one more actor death (the shared Ray 2.60 sample's driver log: 14 happenings
    where 11 remain)."""
    import polars as pl

    out = ingest([str(DATA / capture / "driver.log")], tmp_path / "t").out_dir
    found = happenings(pl.read_parquet(out / "actor_deaths.parquet"), 120)
    assert found.filter(pl.col("subject").str.starts_with("text:")).height == 0
    assert found["subject"].str.contains(r"^(?:actor|process):").all()
