"""Each detector on minimal tables: one that triggers it, one that almost does and must not, and
one where the same happening is witnessed by several files (or processes) and counts once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from parsers.tables import ALL_TABLES, SCHEMAS
from zephyr_logscan.findings import PATTERNS, happenings, parameters, run_detectors

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
P = "tok-1a2b3c4d"
NODE = "ab" * 28
W = [f"zephyr-{P}-workers-{i}" for i in range(8)]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def tables(**given: list[dict]) -> dict[str, pl.DataFrame]:
    """The ingest tables holding exactly ``given`` rows (missing columns null); every row of a
    specific table is also an ``events`` row, as in the ingest."""
    given = {k: list(v) for k, v in given.items()}
    for name in list(given):
        if name != "events":
            given.setdefault("events", []).extend(given[name])
    out, line = {}, 0
    for name in ALL_TABLES:
        schema = pl.from_arrow(SCHEMAS[name].empty_table()).schema
        rows = []
        for row in given.get(name, []):
            line += 1
            base = {"file": "driver.log", "line": line, "lines": 1, "ts_inferred": False, "repeat": 1,
                    "message": "", "rule": None}  # fmt: skip
            rows.append({k: v for k, v in {**base, **row}.items() if k in schema})
        out[name] = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    return out


def witnessed(row: dict, *files: str, **changes) -> list[dict]:
    """One happening as several files report it."""
    return [{**row, "file": f, **changes} for f in files]


def found(t: dict, pattern: str, **params) -> list:
    return [f for f in run_detectors(t, {**parameters(), **params}) if f.pattern == pattern]


def start(s, pipeline=P, file="driver.log"):
    return {"ts": at(s), "pipeline": pipeline, "rule": "zephyr.pipeline_start", "file": file,
            "message": f"Starting zephyr pipeline: {pipeline} (attempt 0)"}  # fmt: skip


def status(s, completed, total, alive, queued=0, pid=9, file="driver.log"):
    return {"ts": at(s), "pipeline": P, "pid": pid, "subject": f"process:{pid}@", "file": file,
            "stage": "stage0-Map", "completed": completed, "total": total, "alive": alive,
            "workers": 8, "queued": queued, "rule": "zephyr.status",
            "message": f"[stage0-Map] {completed}/{total} complete, 0 in-flight, {queued} queued, {alive}/8 workers alive"}  # fmt: skip


def heartbeat(s, i, file="driver.log", pipeline=P):
    return {"ts": at(s), "pipeline": pipeline, "worker_id": W[i], "subject": f"worker:{W[i]}",
            "file": file, "rule": "zephyr.heartbeat_timeout",
            "message": f"Zephyr worker {W[i]} failed to heartbeat within timeout (30.4s)"}  # fmt: skip


def registered(s, i, pipeline=P):
    return {"ts": at(s), "pipeline": pipeline, "worker_id": W[i], "subject": f"worker:{W[i]}",
            "rule": "zephyr.registered", "message": f"Worker {W[i]} registered, total: {i + 1}"}  # fmt: skip


def node_death(s, node, file="driver.log", **kw):
    return {"ts": at(s), "node_id": node, "subject": f"node:{node}", "file": file,
            "rule": "gcs.health_check_dead", "message": f"Node is dead because the health check failed. node_id={node}", **kw}  # fmt: skip


def last_line(s):
    """Something later in the log (so that the log does not end right after a status line)."""
    return {
        "ts": at(s),
        "rule": "ray.runtime_env_delete_failed",
        "message": "Delete runtime env failed",
    }


# --- ZL01 ----------------------------------------------------------------------------------------


def test_zl01_is_no_wait_for_workers_that_never_registered():
    """`0/0 workers alive` for 15 minutes: no worker registered (ZL11's wait, with the resource
    request unschedulable), so none died: no ZL01, which said the coordinator waited at 0/0."""
    waiting = [{**status(60 * m, 0, 10, alive=0), "workers": 0} for m in range(15)]
    assert found(tables(worker_status=waiting), "ZL01") == []
    dead = [status(60 * m, 0, 10, alive=0) for m in range(15)]  # 0 of 8 registered alive
    assert len(found(tables(worker_status=waiting[:2] + dead), "ZL01")) == 1


def test_zl01_all_workers_dead():
    stuck = [status(60 * m, 5, 10, alive=0) for m in range(12)]
    assert len(found(tables(worker_status=stuck), "ZL01")) == 1
    short = [status(60 * m, 5, 10, alive=0) for m in range(9)]
    assert found(tables(worker_status=short), "ZL01") == []
    twice = [r for row in stuck for r in witnessed(row, "driver.log", "logs/worker-9.out")]
    (f,) = found(tables(worker_status=twice), "ZL01")
    assert f.events == 12


# --- ZL02 ----------------------------------------------------------------------------------------

FAILED = {"ts": at(10), "pipeline": P, "rule": "zephyr.attempt_failed", "attempt": 1, "max_attempts": 3,
          "message": "Pipeline attempt 1/3 failed, retrying with fresh coordinator: x"}  # fmt: skip
TAKEN = {"pipeline": P, "actor_name": f"zephyr-{P}-coord-0", "subject": f"actor:zephyr-{P}-coord-0",
         "rule": "ray.name_taken", "message": f"The name zephyr-{P}-coord-0 (namespace=None) is already taken."}  # fmt: skip


def test_zl02_name_collision_on_retry():
    assert (
        len(
            found(
                tables(pipeline_attempts=[FAILED], actor_already_exists=[{**TAKEN, "ts": at(20)}]),
                "ZL02",
            )
        )
        == 1
    )
    before = tables(pipeline_attempts=[FAILED], actor_already_exists=[{**TAKEN, "ts": at(5)}])
    assert found(before, "ZL02") == []
    both = witnessed({**TAKEN, "ts": at(20)}, "driver.log", "logs/gcs_server.out")
    (f,) = found(tables(pipeline_attempts=[FAILED], actor_already_exists=both), "ZL02")
    assert f.events == 1 and len(f.evidence) == 2


# --- ZL03 ----------------------------------------------------------------------------------------


def init(s, pipeline=P, pid=9, file="driver.log"):
    return {"ts": at(s), "pipeline": pipeline, "pid": pid, "subject": None, "file": file,
            "rule": "lifecycle.coordinator_initialized", "message": "Coordinator initialized"}  # fmt: skip


def test_zl03_restarted_coordinator():
    t = tables(pipeline_attempts=[start(0)], events=[init(1), init(300, pid=10)])
    assert len(found(t, "ZL03")) == 1
    retried = tables(pipeline_attempts=[start(0), start(200)], events=[init(1), init(201, pid=10)])
    assert found(retried, "ZL03") == []  # one init per attempt
    other = tables(pipeline_attempts=[start(0), start(100, "other-5e6f7a8b", file="driver2.log")],
                   events=[init(1), init(101, None, pid=10)])  # fmt: skip
    assert found(other, "ZL03") == []  # a nameless init while two pipelines run is not counted
    copies = tables(
        pipeline_attempts=[start(0)],
        events=[init(1), *witnessed(init(300, pid=None), "driver.log", "logs/worker-10.err")],
    )
    (f,) = found(copies, "ZL03")
    assert f.events == 1


# --- ZL04 ----------------------------------------------------------------------------------------


def test_zl04_heartbeat_storm():
    regs = [registered(0, i) for i in range(8)]
    storm = [heartbeat(100 + 0.1 * i, i) for i in range(4)]
    assert len(found(tables(registrations=regs, heartbeat_failures=storm), "ZL04")) == 1
    assert found(tables(registrations=regs, heartbeat_failures=storm[:3]), "ZL04") == []
    # Two workers, each reported twice: 4 records, 2 happenings.
    doubled = [r for row in storm[:2] for r in witnessed(row, "driver.log", "logs/worker-9.err")]
    assert found(tables(registrations=regs, heartbeat_failures=doubled), "ZL04") == []
    quad = [r for row in storm for r in witnessed(row, "driver.log", "logs/worker-9.err")]
    (f,) = found(tables(registrations=regs, heartbeat_failures=quad), "ZL04")
    assert f.events == 4


def test_a_witness_reporting_a_subject_again_reports_another_happening():
    """A worker that failed its heartbeat, re-registered and failed again 20 s later (within
    witness_gap_s) failed twice; the coordinator's copy of each line in its worker-*.err is no
    third (both were one happening)."""
    again = [heartbeat(100, 1), heartbeat(120, 1)]
    rows = [r for row in again for r in witnessed(row, "driver.log", "logs/worker-9.err")]
    found_ = happenings(tables(heartbeat_failures=rows)["heartbeat_failures"], 120)
    assert found_["ts"].to_list() == [at(100), at(120)]
    assert found_["evidence"].list.len().to_list() == [2, 2]


def test_zl04_and_zl07_count_workers_not_failures():
    """Two workers that each failed twice in one burst are two silent workers, not a storm of
    four; nor are they the three workers a preemption wave must silence."""
    regs = [registered(0, i) for i in range(8)]
    twice = [heartbeat(100 + 20 * k + i, i) for k in range(2) for i in range(2)]
    assert found(tables(registrations=regs, heartbeat_failures=twice), "ZL04") == []
    nodes = [f"{k:02x}" * 28 for k in range(3)]
    deaths = [node_death(90 + k, n) for k, n in enumerate(nodes)]
    assert found(tables(node_deaths=deaths, heartbeat_failures=twice), "ZL07") == []
    (f,) = found(tables(node_deaths=deaths, heartbeat_failures=[*twice, heartbeat(130, 2)]), "ZL07")
    assert "then 3 workers missed their heartbeats" in f.explanation


def worker_died(s, pid, repeat=1):
    return {"ts": at(s), "subject": f"process:{pid}@10.0.0.5", "file": "driver.log", "rule": "ray.worker_died",
            "repeat": repeat, "message": f"A worker died or was killed while executing a task by an unexpected system "
            f"error. Worker PID: {pid} Worker exit type: SYSTEM_ERROR"}  # fmt: skip


def test_zl04_workers_whose_processes_died_were_not_falsely_marked_dead():
    """Workers OOM-killed by the kernel or SIGKILLed (Ray: `A worker died or was killed`, the GCS:
    `Actor is failed`) then miss their heartbeats: no storm. Each death explains one failure
    within death_before_s after it; a death after the failure explains nothing."""
    regs = [registered(0, i) for i in range(8)]
    silent = [heartbeat(100 + 0.1 * i, i) for i in range(8)]
    assert len(found(tables(registrations=regs, heartbeat_failures=silent), "ZL04")) == 1
    died = [worker_died(70 + i, 900 + i) for i in range(8)]
    assert (
        found(tables(registrations=regs, heartbeat_failures=silent, actor_deaths=died), "ZL04")
        == []
    )
    folded = [
        worker_died(70, 900),
        worker_died(71, 901, repeat=7),
    ]  # "[repeated 7x across cluster]"
    assert (
        found(tables(registrations=regs, heartbeat_failures=silent, actor_deaths=folded), "ZL04")
        == []
    )
    (f,) = found(
        tables(registrations=regs, heartbeat_failures=silent, actor_deaths=died[:3]), "ZL04"
    )
    assert f.events == 5 and f.explanation.startswith("5 workers were marked dead")
    after = [worker_died(101 + i, 900 + i) for i in range(8)]  # consequences, not causes
    assert (
        len(
            found(tables(registrations=regs, heartbeat_failures=silent, actor_deaths=after), "ZL04")
        )
        == 1
    )
    kills = [{**oom(80 + i, 900 + i), "pipeline": None} for i in range(8)]
    assert (
        found(tables(registrations=regs, heartbeat_failures=silent, oom_kills=kills), "ZL04") == []
    )


def test_zl04_only_the_silent_workers_nodes_explain_a_storm():
    regs = [registered(0, i) for i in range(8)]
    storm = [heartbeat(100 + 0.1 * i, i) for i in range(4)]
    own = [{"ts": at(50), "pipeline": P, "pid": 20 + i, "ip": "10.0.0.5", "subject": f"worker:{W[i]}",
            "rule": "lifecycle.executing_shard", "message": f"[{W[i]}] Executing task for shard {i} (attempt 0)"}
           for i in range(4)]  # fmt: skip
    there = node_death(90, NODE, node_ip="10.0.0.5")
    elsewhere = node_death(90, "cd" * 28, node_ip="10.0.0.6")
    hosted = tables(registrations=regs, heartbeat_failures=storm, events=own, node_deaths=[there])
    assert found(hosted, "ZL04") == []
    unrelated = tables(
        registrations=regs, heartbeat_failures=storm, events=own, node_deaths=[elsewhere]
    )
    assert len(found(unrelated, "ZL04")) == 1
    unknown = tables(registrations=regs, heartbeat_failures=storm, node_deaths=[elsewhere])
    assert found(unknown, "ZL04") == []  # the log does not say where they ran: any death explains


# --- ZL05 ----------------------------------------------------------------------------------------

REREG = {"ts": at(0), "pipeline": P, "worker_id": W[3], "subject": f"worker:{W[3]}", "rule": "zephyr.reregistering",
         "message": f"Worker {W[3]} re-registering (likely reconstructed)"}  # fmt: skip


def test_zl05_lost_shard():
    stalled = [status(60 + 60 * m, 99, 100, alive=8) for m in range(12)]
    assert len(found(tables(reregistrations=[REREG], worker_status=stalled), "ZL05")) == 1
    assert found(tables(reregistrations=[REREG], worker_status=stalled[:9]), "ZL05") == []
    assert found(tables(worker_status=stalled), "ZL05") == []  # no re-registration
    copies = [r for row in stalled for r in witnessed(row, "driver.log", "logs/worker-9.out")]
    assert len(found(tables(reregistrations=[REREG], worker_status=copies), "ZL05")) == 1


# --- ZL06 ----------------------------------------------------------------------------------------


def pull_failed(s, i):
    return {"ts": at(s), "pipeline": P, "subject": f"worker:{W[i]}", "rule": "lifecycle.pull_task_failed",
            "message": f"[{W[i]}] pull_task failed (coordinator may be dead): RpcError"}  # fmt: skip


def test_zl06_zombie_worker():
    assert (
        len(
            found(tables(events=[pull_failed(0, 1)], heartbeat_failures=[heartbeat(30, 1)]), "ZL06")
        )
        == 1
    )
    assert (
        found(tables(events=[pull_failed(0, 1)], heartbeat_failures=[heartbeat(90, 1)]), "ZL06")
        == []
    )
    assert (
        found(tables(events=[pull_failed(0, 2)], heartbeat_failures=[heartbeat(30, 1)]), "ZL06")
        == []
    )
    both = witnessed(heartbeat(30, 1), "driver.log", "logs/worker-9.err")
    (f,) = found(tables(events=[pull_failed(0, 1)], heartbeat_failures=both), "ZL06")
    assert f.events == 1


# --- ZL07 ----------------------------------------------------------------------------------------


def test_zl07_counts_distinct_nodes():
    nodes = [f"{k:02x}" * 28 for k in range(3)]
    deaths = [node_death(10 * k, n) for k, n in enumerate(nodes)]
    lost = [heartbeat(60 + i, i) for i in range(3)]
    (f,) = found(tables(node_deaths=deaths, heartbeat_failures=lost), "ZL07")
    assert f.events == 3
    # One node loss reported by five records (banner, GCS health check, GCS removal, event file,
    # the spot node's own log): one death, not a wave.
    one = [*witnessed(node_death(0, NODE), "driver.log", "logs/gcs_server.out", "logs/events/event_GCS.log"),
           node_death(15, NODE, file="logs/gcs_server.out", rule="gcs.node_removed"),
           {**node_death(-15, NODE), "ts_inferred": True, "subject": None, "node_id": None, "node_ip": "10.0.0.5"}]  # fmt: skip
    ips = [
        {
            "ts": at(0),
            "node_id": NODE,
            "node_ip": "10.0.0.5",
            "subject": f"node:{NODE}",
            "rule": "ray.node_marked_dead",
        }
    ]
    assert found(tables(node_deaths=one + ips, heartbeat_failures=lost), "ZL07") == []
    thrice = [
        r
        for row in deaths
        for r in witnessed(row, "driver.log", "logs/gcs_server.out", "logs/events/event_GCS.log")
    ]
    (f,) = found(tables(node_deaths=thrice, heartbeat_failures=lost), "ZL07")
    assert f.events == 3


def test_a_node_reported_again_by_one_witness_is_one_death():
    """Three tasks that ran on one node each fail with a NodeDiedError the driver logs, 30 s
    apart: one node death, not three (a node, like a process, dies once). A late report of a
    node already dead in a wave is no other node: two nodes lost are no wave of three."""
    nodes = [f"{k:02x}" * 28 for k in range(3)]
    errors = [node_death(s, nodes[0], rule="ray.node_died_error") for s in (0, 30, 60)]
    assert happenings(tables(node_deaths=errors)["node_deaths"], 120).height == 1
    lost = [heartbeat(70 + i, i) for i in range(3)]
    assert found(tables(node_deaths=errors, heartbeat_failures=lost), "ZL07") == []
    two = [node_death(0, nodes[0], file="logs/gcs_server.out"), node_death(10, nodes[1], file="logs/gcs_server.out"),
           node_death(200, nodes[0], rule="ray.node_died_error")]  # fmt: skip
    assert (
        found(
            tables(node_deaths=two, heartbeat_failures=[heartbeat(210 + i, i) for i in range(3)]),
            "ZL07",
        )
        == []
    )
    three = [*two, node_death(20, nodes[2], file="logs/gcs_server.out")]
    (f,) = found(
        tables(node_deaths=three, heartbeat_failures=[heartbeat(210 + i, i) for i in range(3)]),
        "ZL07",
    )
    assert f.events == 3


def test_a_happening_takes_the_earliest_own_timestamp():
    nodes = [f"{k:02x}" * 28 for k in range(3)]
    deaths = [node_death(100 + k, n) for k, n in enumerate(nodes)]
    early = {**deaths[0], "ts": at(85), "ts_inferred": True, "file": "driver.log"}  # borrowed time
    lost = [heartbeat(160 + i, i) for i in range(3)]
    (f,) = found(tables(node_deaths=[early, *deaths], heartbeat_failures=lost), "ZL07")
    assert f.start == "2026-03-01T10:01:40.000Z"


# --- ZL08 ----------------------------------------------------------------------------------------


def oom(s, pid, task="hog", file="logs/raylet.out"):
    return {"ts": at(s), "node_ip": "10.0.0.5", "subject": f"process:{pid}@10.0.0.5", "file": file, "rule": "ray.oom_kill",
            "message": f"1 worker(s) were killed due to the node running low on memory.\nSelected to kill: (Task: job ID=01000000, "
                       f"task name={task}, required resources={{CPU: 1}}, pid={pid}, actual memory used=0.7GB)"}  # fmt: skip


def test_zl08_the_same_task_killed_repeatedly():
    kills = [oom(30 * k, 100 + k) for k in range(3)]
    (f,) = found(tables(oom_kills=kills), "ZL08")
    assert f.events == 3 and "hog" in f.explanation
    assert (
        found(tables(oom_kills=[oom(0, 100, "a"), oom(30, 101, "b"), oom(60, 102, "c")]), "ZL08")
        == []
    )
    # One kill as the raylet, the event file and the driver report it: not a poison shard.
    one = witnessed(oom(0, 100), "logs/raylet.out", "logs/events/event_RAYLET.log", "driver.log")
    assert found(tables(oom_kills=one), "ZL08") == []
    thrice = [
        r
        for row in kills
        for r in witnessed(row, "logs/raylet.out", "logs/events/event_RAYLET.log", "driver.log")
    ]
    (f,) = found(tables(oom_kills=thrice), "ZL08")
    assert f.events == 3


def test_zl08_attempts_ended_by_oom_kills_and_the_budget_error():
    kills = [{"ts": at(90 * k), "node_ip": "10.0.0.5", "node_id": f"{k:02x}" * 28, "subject": f"node:{k:02x}" + "0" * 54,
              "rule": "ray.oom_summary", "message": "1 Workers (tasks / actors) killed due to memory pressure (OOM)"} for k in range(3)]  # fmt: skip
    ends = [{**FAILED, "ts": at(90 * k + 5), "attempt": k + 1} for k in range(3)]
    assert len(found(tables(oom_kills=kills, pipeline_attempts=ends), "ZL08")) == 1
    assert found(tables(oom_kills=kills, pipeline_attempts=ends[:2]), "ZL08") == []
    budget = {
        "ts": at(0),
        "pipeline": P,
        "rule": None,
        "message": "ShardFailedError: Shard 3 has failed 3 times",
    }
    (f,) = found(tables(events=witnessed(budget, "driver.log", "logs/worker-9.err")), "ZL08")
    assert f.events == 1


# --- ZL09 ----------------------------------------------------------------------------------------


def test_zl09_only_for_zephyr_actors():
    warning = {"ts": at(0), "pipeline": P, "code": "object_store_args", "subject": "actor:" + "c" * 32,
               "rule": "ray.object_store_args", "message": "Actor with class name: 'W' ... has constructor arguments in the object store"}  # fmt: skip
    assert len(found(tables(warnings=[warning]), "ZL09")) == 1
    assert found(tables(warnings=[{**warning, "pipeline": None}]), "ZL09") == []
    (f,) = found(
        tables(warnings=witnessed(warning, "driver.log", "logs/python-core-driver-01_9.log")),
        "ZL09",
    )
    assert f.events == 1


# --- ZL10 ----------------------------------------------------------------------------------------


def test_zl10_silent_status_loop():
    lines = [status(60 * m, 5, 10, alive=8, queued=5) for m in range(3)]
    assert len(found(tables(worker_status=lines, warnings=[last_line(60 * 30)]), "ZL10")) == 1
    done = {"ts": at(150), "pipeline": P, "stage": "stage0-Map", "completed": 10, "total": 10,
            "rule": "zephyr.tasks_completed", "message": "[stage0-Map] 10/10 tasks completed"}  # fmt: skip
    assert (
        found(
            tables(worker_status=lines, stage_progress=[done], warnings=[last_line(1800)]), "ZL10"
        )
        == []
    )
    shutdown = {
        "ts": at(151),
        "pipeline": P,
        "rule": "lifecycle.coordinator_shutdown",
        "message": "Coordinator shutdown complete",
    }
    assert (
        found(tables(worker_status=lines, events=[shutdown], warnings=[last_line(1800)]), "ZL10")
        == []
    )
    nxt = tables(
        worker_status=lines,
        pipeline_attempts=[start(-10), start(200, "next-9a8b7c6d")],
        warnings=[last_line(1800)],
    )
    assert found(nxt, "ZL10") == []  # the driver went on to its next pipeline
    assert (
        found(tables(worker_status=lines, warnings=[last_line(300)]), "ZL10") == []
    )  # the log ends soon after
    copies = [r for row in lines for r in witnessed(row, "driver.log", "logs/worker-9.out")]
    (f,) = found(tables(worker_status=copies, warnings=[last_line(1800)]), "ZL10")
    assert f.events == 1


# --- ZL11 ----------------------------------------------------------------------------------------

INFEASIBLE = {"code": "infeasible_request", "rule": "ray.pending_request", "source": "autoscaler",
              "message": "Warning: The following resource request cannot be scheduled right now: {'TPU': 4.0}"}  # fmt: skip


def test_zl11_only_a_started_pipeline_whose_workers_never_registered():
    asked = {**INFEASIBLE, "ts": at(5)}
    (f,) = found(tables(pipeline_attempts=[start(0)], warnings=[asked]), "ZL11")
    assert f.pipeline == P
    assert found(tables(warnings=[asked]), "ZL11") == []  # no zephyr pipeline at all
    assert (
        found(
            tables(
                pipeline_attempts=[start(0)], warnings=[asked], registrations=[registered(20, 0)]
            ),
            "ZL11",
        )
        == []
    )
    other = tables(
        pipeline_attempts=[start(0)],
        warnings=[asked],
        registrations=[registered(20, 0, pipeline="b-00000000")],
    )
    assert len(found(other, "ZL11")) == 1  # another pipeline's workers are not this one's
    (f,) = found(
        tables(
            pipeline_attempts=[start(0)],
            warnings=witnessed(asked, "driver.log", "logs/monitor.log"),
        ),
        "ZL11",
    )
    assert f.events == 1


# --- ZL12 ----------------------------------------------------------------------------------------


def test_zl12_retries_exhausted():
    final = {**FAILED, "ts": at(100), "attempt": 3, "max_attempts": 3}
    assert len(found(tables(pipeline_attempts=[FAILED, final]), "ZL12")) == 1
    assert found(tables(pipeline_attempts=[FAILED, {**final, "attempt": 2}]), "ZL12") == []
    copies = witnessed(final, "driver.log", "logs/python-core-driver-01_9.log")
    assert len(found(tables(pipeline_attempts=[FAILED, *copies]), "ZL12")) == 1


def test_every_pattern_has_a_test_here():
    names = {n for n in globals() if n.startswith("test_zl")}
    assert {p.lower() for p in PATTERNS} <= {n[5:9] for n in names}


def test_parameters_are_named_and_checked():
    assert parameters({"stall_min": "30"})["stall_min"] == 30
    for bad in ({"nope": "1"}, {"stall_min": "x"}, {"stall_min": "-1"}):
        with pytest.raises(ValueError):
            parameters(bad)
    stuck = [status(60 * m, 5, 10, alive=0) for m in range(12)]
    assert found(tables(worker_status=stuck), "ZL01", stall_min=30) == []
