"""``logscan replay``: the incident's fault schedule played against the corrected engine.

Every replay runs under a deadline (``within``), so a hang fails the test instead of blocking it.
"""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import copy_tables
from tests.ray_support import driver_env
from zephyr_engine import NoAliveWorkersError
from zephyr_logscan import replay as rp
from zephyr_logscan import schedule as sc
from zephyr_logscan.cli import main
from zephyr_logscan.derive import derive

INCIDENT = "tokenize-train-b160eb54"
DEADLINE = 90  # seconds for any one replay (each takes about 5-10 s)


def within(seconds, fn, *args, **kw):
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(fn, *args, **kw).result(timeout=seconds)
    finally:
        pool.shutdown(wait=False)


@pytest.fixture(scope="module")
def tables(small_ingest, tmp_path_factory):
    return copy_tables(small_ingest, tmp_path_factory.mktemp("replay"))


@pytest.fixture(scope="module")
def incident(tables) -> sc.Schedule:
    return derive(tables)[INCIDENT]


def fast(s: sc.Schedule, last_fault_at: float = 4.0) -> rp.Plan:
    """The plan with the last fault ``last_fault_at`` seconds into the run."""
    last = max(w.at for w in s.waves)
    return rp.plan(s, time_scale=last_fault_at / last)


def test_plan_scales_workers_and_time(incident):
    p = rp.plan(incident)
    assert p.workers == 64 and p.shards <= 4 * 64
    assert max(f.at for f in p.faults) == pytest.approx(rp.TARGET, abs=0.01)
    kills = [f for f in p.faults if f.kind == "kill_workers"]
    assert [len(f.kill) + len(f.restart) for f in kills] == [
        w.killed for w in incident.waves if w.kind == "node_loss"
    ]
    assert p.expect == "NoAliveWorkersError"
    big = rp.plan(incident, workers=8)
    assert (
        big.workers == 8
        and [len(f.kill) + len(f.restart) for f in big.faults if f.kind == "kill_workers"][-1] > 0
    )


def test_incident_replay_fails_fast_with_no_alive_workers(incident):
    p = fast(incident)
    o = within(DEADLINE, rp.run, p)
    assert o.result == "NoAliveWorkersError", o.detail
    assert o.ok and o.names_fresh and o.violations == []
    assert o.attempts == 2  # the coordinator loss costs one attempt; the held name none
    assert o.seconds < 4.0 + rp.ENGINE["heartbeat_timeout"] + rp.ENGINE["no_workers_timeout"] + 5
    text = rp.render(incident, p, o)
    assert "nobody came back" in text and "NoAliveWorkersError" in text and "result: ok" in text


def test_edited_so_the_restarts_return_completes_exactly(incident):
    edited = sc.from_dict(json.loads(incident.to_json()))
    last = edited.waves[-1]
    last.returned_workers, last.returned, last.returned_at = (
        list(last.workers),
        last.killed,
        last.at + 15,
    )
    p = fast(edited)
    assert p.expect == "exact output"
    o = within(DEADLINE, rp.run, p)
    assert o.result == "exact output", o.detail
    assert o.ok and o.names_fresh


def test_a_hang_is_a_violation(incident, monkeypatch):
    # The upstream defect put back: no deadline on "no alive workers", so the run waits forever.
    monkeypatch.setitem(rp.ENGINE, "no_workers_timeout", 3600.0)
    o = within(DEADLINE, rp.run, fast(incident), deadline=10.0)
    assert o.result == "hang" and not o.ok
    assert any("hang" in v for v in o.violations)


def logscan(*args, timeout=DEADLINE):
    return subprocess.run([sys.executable, "-m", "zephyr_logscan.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def logscan_here(capsys, *args) -> tuple[int, str, str]:
    """The CLI in this process (for errors that end before any replay starts)."""
    with pytest.raises(SystemExit) as ended:
        within(DEADLINE, main, [str(a) for a in args])
    out = capsys.readouterr()
    return ended.value.code, out.out, out.err


def test_cli_saved_schedule_edited_by_hand_replays(tables, tmp_path):
    saved = tmp_path / "incident.json"
    first = logscan(
        "replay", tables, "--save-schedule", saved, "--workers", "16", "--time-scale", "0.001"
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"replay: {INCIDENT}") and "engine:" in first.stdout
    text = saved.read_text()
    doc = json.loads(text)
    assert doc["version"] == 1 and doc["pipeline"] == INCIDENT
    # By hand: the last wave's workers all come back 20 s later.
    last = doc["waves"][-1]
    edited = text.replace('"returned_at": null', f'"returned_at": {last["at"] + 20}')
    edited = edited.replace('"returned_workers": []', '"returned_workers": "all"')
    saved.write_text(edited)
    again = logscan(
        "replay", "--schedule", saved, "--workers", "16", "--time-scale", "0.001", "--json"
    )
    assert again.returncode == 0, again.stderr
    out = json.loads(again.stdout)
    assert out["ok"] is True and out["engine"]["result"] == "exact output"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('{"version": 2, "pipeline": "p", "start": "x"}', "version: expected 1"),
        ('{"version": 1, "pipeline": "p", "start": "x", "waves": [{"at": 1, "kind": "meteor", "killed": 1}]}',
         "waves[0].kind: expected one of"),
        ('{"version": 1, "pipeline": "p", "start": "x", "waves": [{"at": "soon", "kind": "node_loss"}]}',
         "waves[0].at: expected seconds"),
    ],
)  # fmt: skip
def test_cli_malformed_schedule_is_a_one_line_error(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, out, err = logscan_here(capsys, "replay", "--schedule", bad)
    assert code == 2
    assert out == "" and err.count("\n") == 1 and message in err, err


def test_cli_bad_usage(tables, tmp_path):
    for args in (["replay"], ["replay", tmp_path], ["replay", tables, "--pipeline", "nope"],
                 ["replay", tables, "--save-schedule", tmp_path / "a", "--schedule", tmp_path / "b"]):  # fmt: skip
        r = logscan(*args)
        assert (
            r.returncode == 2
            and r.stderr.startswith("logscan: error:")
            and r.stderr.count("\n") == 1
        ), (args, r.stderr)


@pytest.mark.ray  # on the session's private cluster when Ray is there
def test_cli_ray_backend_absent_or_present(tables, capsys, request):
    try:
        import zephyr_engine.backends.ray  # noqa: F401
    except ImportError:
        code, _, err = logscan_here(capsys, "replay", tables, "--backend", "ray")
        assert code == 2 and "Ray backend is not part of this build" in err and err.count("\n") == 1
    else:
        # The command joins the cluster RAY_ADDRESS names (Ray's convention): the session's
        # own, already running. (Starting a private instance is test_ray_backend's.)
        cluster = request.getfixturevalue("ray_cluster")
        env = {**driver_env(), "RAY_ADDRESS": cluster.address}
        r = subprocess.run([sys.executable, "-m", "zephyr_logscan.cli", "replay", str(tables), "--backend", "ray",
                            "--workers", "4"], capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
        if "the Ray backend did not start" in r.stderr:  # an overloaded machine, not the replay
            pytest.skip(r.stderr.strip())
        assert r.returncode == 0, r.stderr
        assert "result: ok" in r.stdout and "engine:" in r.stdout


def test_judge_catches_reused_names_and_a_false_no_alive_error():
    p = rp.Plan(
        "p",
        4,
        4,
        16,
        16,
        0.1,
        1.0,
        [rp.Fault(0.0, "hold_name", "collision", name="zephyr-p-coord-0")],
        "exact output",
    )
    player = SimpleNamespace(
        names_by_attempt={0: ["a", "b"], 1: ["a", "c"]}, all_dead_at=None, steps=[]
    )
    reused = rp._judge(p, player, {"result": [1], "t": 1.0}, [1], 1.0, False, 10.0, {})
    assert not reused.ok and not reused.names_fresh
    player = SimpleNamespace(names_by_attempt={0: ["zephyr-p-coord-0"]}, all_dead_at=None, steps=[])
    held = rp._judge(p, player, {"result": [1], "t": 1.0}, [1], 1.0, False, 10.0, {})
    assert not held.names_fresh
    player = SimpleNamespace(names_by_attempt={0: ["a"]}, all_dead_at=None, steps=[])
    early = rp._judge(
        p, player, {"error": NoAliveWorkersError("x"), "t": 1.0}, [1], 1.0, False, 10.0, {}
    )
    assert not early.ok and "left alive" in early.violations[0]
    wrong = rp._judge(p, player, {"result": [2], "t": 1.0}, [1], 1.0, False, 10.0, {})
    assert wrong.result == "wrong output" and not wrong.ok


def test_a_status_stall_is_played_as_status_line_failures():
    s = sc.Schedule(pipeline="p", start="2026-03-01T10:00:00.000Z", workers=4, shards=16,
                    status_stalls=[sc.Stall(55.0, 305.0)])  # fmt: skip
    p = rp.plan(s, time_scale=0.01)
    assert [(f.kind, round(f.at, 2), round(f.seconds, 2)) for f in p.faults] == [
        ("status_stall", 0.55, 3.05)
    ]
    o = within(DEADLINE, rp.run, p)
    assert o.ok and o.result == "exact output", o.detail
    assert o.engine_log["status failures"] > 0  # the loop went on through them


def test_a_collision_on_this_engines_own_name_is_not_held():
    # A log written by this engine names its per-attempt actors; holding one would only make the
    # first attempt collide. The replay says so and still checks that no name is reused.
    s = sc.Schedule(pipeline="dedup-1a2b3c4d", start="2026-03-01T10:00:00.000Z", workers=4, shards=16,
                    attempts=[sc.Attempt(0.0, "name_collision", "zephyr-dedup-1a2b3c4d-p0-a0-coord-0"),
                              sc.Attempt(1.0)])  # fmt: skip
    o = within(DEADLINE, rp.run, rp.plan(s, time_scale=1.0))
    assert o.ok and o.names_fresh and o.result == "exact output", o.detail
    assert any("not held" in st.did for st in o.steps)


def test_the_default_pipeline_is_the_zephyr_one_of_a_real_ray_run(tmp_path):
    """tests/data/ray-scenarios/ZL07 read whole: Ray's own view of the node loss (the GCS's actor
    failures) makes a `(cluster)` schedule with more faults than the pipeline; a replay without
    --pipeline plays the zephyr pipeline (it played `(cluster)`). A plain Ray log still gives
    `(cluster)`."""
    from zephyr_logscan.ingest import ingest

    data = Path(__file__).resolve().parents[1] / "data"
    capture = data / "ray-scenarios" / "ZL07"
    inputs = [capture / "driver.log", *sorted((capture / "session").glob("*/logs"))]
    schedules = derive(ingest([str(p) for p in inputs], tmp_path / "zl07").out_dir)
    assert len(schedules[sc.CLUSTER].faults()) > len(schedules["zephyr-b09deafb"].faults()) > 0
    assert rp.pick(schedules, None).pipeline == "zephyr-b09deafb"
    plain = derive(ingest([str(data / "ray" / "raylet-sigkill")], tmp_path / "plain").out_dir)
    assert rp.pick(plain, None).pipeline == sc.CLUSTER
