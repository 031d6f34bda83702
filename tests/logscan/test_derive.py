"""``derive``: the fault schedule taken back out of the tables equals the one synth told."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.logscan.roundtrip import differences
from zephyr_logscan import schedule as sc
from zephyr_logscan.derive import DeriveError, derive
from zephyr_logscan.ingest import ingest
from zephyr_logscan.synth import SynthConfig, synthesize


def round_trip(tmp_path, **cfg) -> tuple[dict, dict]:
    log = tmp_path / "full_log.txt"
    synthesize(log, SynthConfig(**cfg))
    ingest([str(log)], str(tmp_path / "tables"))
    return sc.load(tmp_path / "full_log.txt.schedule.json"), derive(tmp_path / "tables")


@pytest.mark.parametrize(
    ("seed", "size", "workers"), [(7, 3_000_000, 64), (3, 2_000_000, 32), (11, 5_000_000, 128)]
)
def test_derive_equals_the_told_schedule(tmp_path, seed, size, workers):
    told, got = round_trip(tmp_path, seed=seed, size=size, workers=workers)
    assert list(told) == [name for name in got if name != sc.CLUSTER]
    for name, schedule in told.items():
        assert differences(schedule.to_dict(), got[name].to_dict()) == [], name
    incident = got["tokenize-train-b160eb54"]
    kinds = [w.kind for w in incident.waves]
    # Startup heartbeat storms: the status line still counts those workers alive.
    assert kinds[-2:] == ["node_loss", "node_loss"] and set(kinds[:-2]) == {"false_death"}
    assert incident.waves[-1].returned == 0 and incident.last_status.alive == 0
    assert [a.cause for a in incident.attempts] == ["coordinator_lost", "name_collision", None]
    assert len(incident.coordinator_restarts) == 1


def test_clean_log_has_empty_schedules(tmp_path):
    told, got = round_trip(tmp_path, seed=7, size=2_000_000, workers=32, clean=True)
    assert sc.CLUSTER not in got
    assert list(told) == list(got)
    for name, schedule in got.items():
        assert schedule.faults() == [], name
        assert differences(told[name].to_dict(), schedule.to_dict()) == [], name
        assert schedule.workers > 0 and schedule.shards > 0


def test_a_wave_without_node_deaths_is_a_process_kill(small_tables):
    got = derive(small_tables)
    first = got[next(iter(got))]
    assert first.waves and all(w.kind == "process_kill" and w.nodes == 0 for w in first.waves)


def test_real_ray_capture_gives_a_cluster_schedule(shared_dir, tmp_path):
    ingest([str(shared_dir / "samples" / "ray-2.60-faults" / "driver.log")], str(tmp_path / "t"))
    got = derive(tmp_path / "t")
    assert list(got) == [sc.CLUSTER]  # no zephyr pipeline ran in that capture
    cluster = got[sc.CLUSTER]
    # TRUTH.md: 13 unexpected worker deaths (4 lines with dedup), 1 node lost, the coordinator
    # SIGKILLed once, collisions on `registry` and `coordinator`, one OOM kill.
    assert sum(w.killed for w in cluster.waves) == 13
    assert sum(w.nodes for w in cluster.waves) == 1
    assert len(cluster.coordinator_losses) == 1
    assert sorted(c.name for c in cluster.collisions) == ["coordinator", "registry"]
    assert len(cluster.oom_kills) == 1


def test_not_an_ingest_output(tmp_path):
    with pytest.raises(DeriveError, match="not an ingest output"):
        derive(tmp_path)


def test_real_ray_capture_with_its_session_logs(shared_dir, tmp_path):
    sample = shared_dir / "samples" / "ray-2.60-faults"
    ingest([str(sample / "driver.log"), str(sample / "session1_logs")], str(tmp_path / "t"))
    cluster = derive(tmp_path / "t")[sc.CLUSTER]
    # TRUTH.md: wave 1 at 11:03:01 (4 kills), wave 2 at 11:03:08 (8 kills), all restarted; the
    # GCS lines (own timestamps, one per actor death) count them, not the driver's dedup lines.
    first, second = cluster.waves[:2]
    assert (first.killed, first.returned, second.killed, second.returned) == (4, 4, 8, 8)
    start = datetime.fromisoformat(cluster.start.replace("Z", "+00:00"))
    assert (start + timedelta(seconds=first.at)).strftime("%H:%M:%S") == "11:03:01"
    assert (start + timedelta(seconds=second.at)).strftime("%H:%M:%S") == "11:03:08"
    assert len(cluster.coordinator_losses) == 1


def test_raylet_sigkill_capture_is_one_node_loss(tmp_path):
    capture = Path(__file__).resolve().parents[1] / "data" / "ray" / "raylet-sigkill"
    ingest([str(capture)], str(tmp_path / "t"))
    (wave,) = derive(tmp_path / "t")[sc.CLUSTER].waves
    # README there: one node lost; two restartable actors and one that is not were on it.
    assert (wave.kind, wave.nodes, wave.killed, wave.returned) == ("node_loss", 1, 3, 2)


def test_kill_kind_reads_the_status_line():
    status = [(0.0, 64), (10.0, 64), (20.0, 40), (30.0, 64)]
    assert sc.kill_kind(status, 5.0, 6.0, 64) == "false_death"  # 64 alive before and after
    assert sc.kill_kind(status, 15.0, 16.0, 64) == "process_kill"  # 64 -> 40
    assert sc.kill_kind([(20.0, 64)], 5.0, 6.0, 64) == "false_death"  # no status before: the pool
    assert sc.kill_kind([(0.0, None), (20.0, None)], 5.0, 6.0, 64) == "process_kill"  # old wording
    assert sc.kill_kind([(0.0, 64)], 5.0, 6.0, 64) == "process_kill"  # nothing after: unknown


def test_status_stall_from_a_hand_written_log(tmp_path):
    """A status line that stops for 5 minutes with work left, then resumes, is a stall."""
    from zephyr_engine import logs as zl

    def line(sec: int, msg: str) -> str:
        return f"(_RayActorHost pid=7) 2026-03-01 10:{sec // 60:02d}:{sec % 60:02d},000 INFO zephyr.execution:341 {msg}"

    name = "tokenize-x-1a2b3c4d"
    rows = ["2026-03-01 10:00:00,000\tINFO execution.py:1121 -- " + zl.PIPELINE_START % (name, 0)]
    rows += [line(1 + i, zl.REGISTERED % (zl.worker_name(name, i), i + 1)) for i in range(4)]
    times = [10 + 5 * k for k in range(10)] + [360 + 5 * k for k in range(10)]
    rows += [
        line(s, zl.STATUS % ("stage0", k, 40, 4, 36 - k, 4, 4, 0)) for k, s in enumerate(times)
    ]
    (tmp_path / "log.txt").write_text("\n".join(rows) + "\n")
    ingest([str(tmp_path / "log.txt")], str(tmp_path / "t"))
    s = derive(tmp_path / "t")[name]
    assert [(x.at, x.seconds) for x in s.status_stalls] == [(55.0, 305.0)]
    assert s.workers == 4 and s.faults() == ["status stalled 305s at 55.0s"]


def test_a_real_ray_run_gives_one_schedule_whatever_is_ingested(tmp_path):
    """A zephyr pipeline on a real Ray cluster that lost a node and completed
    (tests/data/ray-scenarios/ZL07): the driver log, the session folders and both together give
    one schedule. Read together, the coordinator's init and first stage line are in two files
    (the driver's copy and the coordinator's worker-*.err): that was a coordinator restart and a
    second stage; the first stage (logged before the coordinator named its pipeline) was lost
    from the session folders' schedule; and the run, whose last status line came before its
    final `N/N tasks completed`, was open."""
    capture = Path(__file__).resolve().parents[1] / "data" / "ray-scenarios" / "ZL07"
    sessions = sorted((capture / "session").glob("*/logs"))
    seen = []
    for name, inputs in {"driver": [capture / "driver.log"], "session": sessions,
                         "both": [capture / "driver.log", *sessions]}.items():  # fmt: skip
        (pipeline,) = [s for n, s in derive(ingest([str(p) for p in inputs], tmp_path / name).out_dir).items()
                       if n != sc.CLUSTER]  # fmt: skip
        got = (pipeline.coordinator_restarts, [(st.name, st.tasks) for st in pipeline.stages],
               pipeline.shards, pipeline.outcome, len(pipeline.waves))  # fmt: skip
        seen.append(got)
    assert seen[0] == ([], [("stage0-MapShard → Map", 30)], 30, "completed", 1)
    assert seen[0] == seen[1] == seen[2]


def test_lines_a_coordinator_logged_before_naming_its_pipeline_are_its_pipelines(tmp_path):
    """tests/data/ray/zephyr-on-ray: a real coordinator's worker-*.err, whose init and first
    `Starting stage ... with 300 tasks` precede every line that names the pipeline: the schedule
    has that stage and its 300 shards (it had only the 1-task last stage)."""
    logs = Path(__file__).resolve().parents[1] / "data" / "ray" / "zephyr-on-ray" / "logs"
    (pipeline,) = derive(ingest([str(logs)], tmp_path / "t").out_dir).values()
    assert pipeline.pipeline == "trial-pipe" and pipeline.shards == 300
    assert [(st.name, st.tasks) for st in pipeline.stages] == [
        ("stage0-Map → Count", 300),
        ("stage1-Sum", 1),
    ]
    assert (pipeline.outcome, pipeline.coordinator_restarts) == ("completed", [])


def test_a_pipeline_whose_coordinator_gave_up_failed(tmp_path):
    """tests/data/ray-scenarios/ZL01 (real Ray): its first pipeline's workers are killed for good
    and the coordinator logs `Coordinator aborted: No alive workers for 2.0s` (the engine raises
    NoAliveWorkersError without a retry, so no `failed after N attempts` line follows). The
    schedule was `open` ("no end in the log" in replay), the attempt's end placed at its start,
    and the wait at 0/4 alive printed as "0 min"."""
    from zephyr_logscan.replay import log_story

    log = Path(__file__).resolve().parents[1] / "data" / "ray-scenarios" / "ZL01" / "driver.log"
    gave_up = derive(ingest([str(log)], tmp_path / "t").out_dir)["zephyr-2c03b0a7"]
    assert gave_up.outcome == "failed"
    assert [a.cause for a in gave_up.attempts] == ["error"]  # it was not lost: it gave up
    story = log_story(gave_up)
    assert story[-1] == "→ coordinator waited 1 s at 0/4 alive → failed after 1 attempt"
    (failed,) = [line for line in story if "attempt 0 failed" in line]
    assert failed.split()[0] == "09:39:01"  # after its last status line, not at its start


def test_an_oom_kill_is_at_its_own_time_in_its_pipeline_only(tmp_path):
    """tests/data/ray/oom-actor (real Ray memory monitor): the kill of the zephyr pipeline's
    coordinator and worker at 20:29:53.643 (raylet, GCS, the owner's log) reaches the driver as
    a line that borrows the time of the pipeline's start line before it (20:29:51.524) and is the
    only report naming the pipeline. The schedule put the kill at 20:29:51 and the `(cluster)`
    schedule had it again at 20:29:53."""
    data = Path(__file__).resolve().parents[1] / "data" / "ray" / "oom-actor"
    schedules = derive(ingest([str(data)], tmp_path / "t").out_dir)

    def clock(s) -> list[str]:
        t0 = datetime.fromisoformat(s.start.replace("Z", "+00:00"))
        return [(t0 + timedelta(seconds=o.at)).strftime("%H:%M:%S.%f")[:-3] for o in s.oom_kills]

    assert clock(schedules["oom-pipe"]) == ["20:29:53.643"]
    assert "20:29:53.643" not in clock(schedules[sc.CLUSTER])
