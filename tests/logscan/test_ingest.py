"""``logscan ingest``: exact agreement with the synth truth, the reference folder and real Ray output."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.rules import RULES
from zephyr_logscan.ingest import MASK, IngestError, ingest, templates_of
from zephyr_logscan.synth import SynthConfig, synthesize

from .test_synth import fold_check


def assert_matches_truth(out, truth):
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["lines_total"] == truth["lines_total"]
    assert manifest["lines_unmatched"] == truth["lines_unmatched"]
    assert manifest["tables"]["templates"]["records"] == truth["unmatched"]["records"]
    for table, want in truth["tables"].items():
        got = manifest["tables"][table]
        assert (got["rows"], got["events"]) == (want["rows"], want["events"]), table
        df = pl.read_parquet(out / f"{table}.parquet")
        assert df.height == want["rows"] and int(df["repeat"].sum() or 0) == want["events"], table
        for col, n in want["distinct"].items():
            assert df[col].drop_nulls().n_unique() == n, f"{table}.{col}"


def test_small_log_equals_truth(small_log, tmp_path):
    path, truth = small_log
    assert_matches_truth(ingest([str(path)], tmp_path / "t").out_dir, truth)


@pytest.mark.parametrize("seed", [3, 11])
def test_other_seeds_equal_truth(tmp_path, seed):
    path = tmp_path / "log.txt"
    truth = synthesize(path, SynthConfig(size=1_500_000, workers=48, seed=seed, pipelines=5))
    assert_matches_truth(ingest([str(path)], tmp_path / "t").out_dir, truth)


def test_clean_log_equals_truth(clean_log, tmp_path):
    path, truth = clean_log
    assert_matches_truth(ingest([str(path)], tmp_path / "t").out_dir, truth)


@pytest.mark.slow
def test_default_log_equals_truth(full_log, tmp_path):
    path, truth = full_log
    assert_matches_truth(ingest([str(path)], tmp_path / "t").out_dir, truth)


def key_counts(out, table, needle):
    df = pl.read_parquet(out / "events.parquet").filter(
        pl.col("message").str.contains(needle, literal=True)
    )
    return df.height, int(df["repeat"].sum() or 0)


@pytest.mark.parametrize("which", ["synth", "sample"])
def test_key_counts_agree_with_fold_check(which, small_log, shared_dir, tmp_path):
    path = (
        small_log[0]
        if which == "synth"
        else shared_dir / "samples" / "ray-2.60-faults" / "driver.log"
    )
    out = ingest([str(path)], tmp_path / "t").out_dir
    ref = fold_check(shared_dir, path)
    events = pl.read_parquet(out / "events.parquet")
    templates = pl.read_parquet(out / "templates.parquet")
    for key, want in ref["keys"].items():
        hit = events.filter(pl.col("message").str.contains(key, literal=True))
        got = (hit.height, int(hit["repeat"].sum() or 0))
        unmatched = templates.filter(pl.col("sample").str.contains(key, literal=True))[
            "records"
        ].sum()
        assert got == (want["records"], want["events"]) or unmatched, key
    assert json.loads((out / "manifest.json").read_text())["lines_total"] == ref["lines_total"]


def test_real_ray_sample_facts(shared_dir, tmp_path):
    base = shared_dir / "samples" / "ray-2.60-faults"
    out = ingest([str(base / "driver.log")], tmp_path / "t").out_dir
    deaths = pl.read_parquet(out / "actor_deaths.parquet")
    died = deaths.filter(
        pl.col("message").str.contains("A worker died or was killed", literal=True)
    )
    assert (died.height, died["repeat"].sum()) == (4, 13)
    names = set(pl.read_parquet(out / "actor_already_exists.parquet")["actor_name"].drop_nulls())
    assert names == {"registry", "coordinator"}
    assert "192.0.2.2" in pl.read_parquet(out / "oom_kills.parquet")["node_ip"].to_list()
    nodes = pl.read_parquet(out / "node_deaths.parquet")
    assert nodes.filter(pl.col("node_ip") == "127.0.0.2")["node_id"].to_list() == [
        "afb628fb112c8d4b8e7b70d4c7541e9d6b0c40b3be3fa79b08d7bbd3"
    ]


def test_session_folder(shared_dir, tmp_path):
    out = ingest(
        [str(shared_dir / "samples" / "ray-2.60-faults" / "session1_logs")], tmp_path / "t"
    ).out_dir
    gcs = pl.read_parquet(out / "actor_deaths.parquet").filter(
        pl.col("file").str.ends_with("gcs_server.out")
    )
    failed = gcs.filter(pl.col("message").str.contains("Actor is failed on worker", literal=True))
    assert failed.height == 15 and failed["will_restart"].sum() == 12
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["inputs"]) > 100 and manifest["lines_total"] == sum(
        i["lines"] for i in manifest["inputs"]
    )


def test_compressed_and_stdin_inputs_give_the_same_tables(small_log, tmp_path):
    path, truth = small_log
    gz = tmp_path / "log.txt.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    zst = tmp_path / "log.txt.zst"
    import zstandard

    zst.write_bytes(zstandard.ZstdCompressor().compress(path.read_bytes()))
    for src in (gz, zst):
        assert_matches_truth(ingest([str(src)], tmp_path / f"{src.name}.out").out_dir, truth)
    with open(path, "rb") as stdin:
        res = subprocess.run(
            [sys.executable, "-m", "zephyr_logscan.cli", "ingest", "-", "-o", str(tmp_path / "stdin"), "-q"],
            stdin=stdin, capture_output=True,
        )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert_matches_truth(tmp_path / "stdin", truth)


def test_crlf_gives_the_same_tables(small_log, tmp_path):
    path, truth = small_log
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert_matches_truth(ingest([str(crlf)], tmp_path / "t").out_dir, truth)


def test_tz_shifts_naive_timestamps(tmp_path):
    log = tmp_path / "l.txt"
    log.write_text(
        "2026-02-21 12:00:00,000 WARNING zephyr.execution:402 Zephyr worker w-1 failed to heartbeat within timeout (30.4s)\n"
    )
    from zoneinfo import ZoneInfo

    out = ingest([str(log)], tmp_path / "t", tz=ZoneInfo("America/New_York")).out_dir
    ts = pl.read_parquet(out / "heartbeat_failures.parquet")["ts"][0]
    assert ts.hour == 17


def run_cli(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "zephyr_logscan.cli", *args],
        capture_output=True,
        text=True,
        stdin=stdin,
    )


@pytest.mark.parametrize(
    ("name", "content", "ok"),
    [
        ("empty.log", b"", True),
        ("garbage.bin", bytes(range(256)) * 64, False),
        ("invalid_utf8.log", b"caf\xe9 \xff\xfe\n2026-02-21 12:00:00,000 INFO x \xc3\n", True),
        ("long_line.log", b"x" * (50 << 20) + b"\n", True),
        ("truncated.log.gz", gzip.compress(b"line\n" * 100000)[:-200], False),
    ],
    # Named by file: ids from the contents would hold 50 MB, and the gzip header's time, which
    # differs between pytest-xdist's workers (they must collect the same ids).
    ids=["empty.log", "garbage.bin", "invalid_utf8.log", "long_line.log", "truncated.log.gz"],
)
def test_bad_input_is_a_result_or_one_line_error(tmp_path, name, content, ok):
    src = tmp_path / name
    src.write_bytes(content)
    out = tmp_path / "out"
    res = run_cli("ingest", str(src), "-o", str(out), "-q")
    assert "Traceback" not in res.stderr
    if ok:
        assert res.returncode == 0, res.stderr
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["lines_total"] == content.count(b"\n") + (
            0 if content.endswith(b"\n") or not content else 1
        )
    else:
        assert res.returncode == 2 and res.stderr.count("\n") == 1
        assert not out.exists() and not list(tmp_path.glob("out.tmp-*")), "no partial output"


def test_missing_path_and_empty_folder_are_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    for args in (
        ["ingest", str(tmp_path / "nope.log")],
        ["ingest", str(tmp_path / "empty")],
        ["ingest", "x", "--tz", "Mars/Base"],
    ):
        res = run_cli(*args)
        assert (
            res.returncode == 2
            and res.stderr.startswith("logscan: error:")
            and res.stderr.count("\n") == 1
        )


def test_unwritable_output_is_one_line_error(small_log, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = run_cli("ingest", str(small_log[0]), "-o", str(blocker / "sub"))
    assert res.returncode == 2 and res.stderr.count("\n") == 1


def test_rerun_replaces_output_atomically(small_log, tmp_path):
    out = tmp_path / "t"
    ingest([str(small_log[0])], out)
    (out / "templates.parquet").unlink()  # a file of ours that the rerun writes again
    ingest([str(small_log[0])], out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{t}.parquet" for t in json.loads((out / "manifest.json").read_text())["tables"]]
        + ["manifest.json"]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"], "nothing left beside it"


def test_since_until_window(small_log, tmp_path):
    out = ingest(
        [str(small_log[0])],
        tmp_path / "t",
        since="2026-02-21T12:50:00",
        until="2026-02-21T13:00:00",
    ).out_dir
    m = json.loads((out / "manifest.json").read_text())
    assert m["lines_outside_window"] > 0
    ts = pl.read_parquet(out / "events.parquet")["ts"]
    assert str(ts.min()) >= "2026-02-21 12:50" and str(ts.max()) <= "2026-02-21 13:00:00.000+00:00"


def test_ingest_error_for_bad_time(small_log, tmp_path):
    with pytest.raises(IngestError):
        ingest([str(small_log[0])], tmp_path / "t", since="yesterday")


def test_json_event_files_keep_label_time_and_level(tmp_path):
    logs = tmp_path / "session_x" / "logs"
    (logs / "events").mkdir(parents=True)
    (logs / "raylet.out").write_text(
        "[2026-02-21 12:55:00,000 I 1 1] (raylet) node_manager.cc:1: Actor is failed on worker "
        + "a" * 56
        + " at node "
        + "b" * 56
        + ", need_reschedule = 1, death context type = ActorDiedErrorContext, "
        "remaining_restarts = -1 job_id=01000000 actor_id=" + "c" * 32 + "\n"
    )
    message = ("The node with node id: " + "d" * 56 + " and address: 10.0.0.7 and node name: 10.0.0.7 has been marked "
               "dead because the detector has missed too many heartbeats from it.")  # fmt: skip
    event = {
        "label": "RAY_NODE_REMOVED",
        "message": message,
        "severity": "ERROR",
        "timestamp": 1771678500,
        "pid": "65",
    }
    (logs / "events" / "event_GCS.log").write_text(json.dumps(event) + "\n")
    out = ingest([str(logs)], tmp_path / "t").out_dir
    node = pl.read_parquet(out / "node_deaths.parquet").row(0, named=True)
    assert node["file"] == "logs/events/event_GCS.log" and node["level"] == "ERROR"
    assert node["node_ip"] == "10.0.0.7" and dict(node["fields"]) == {"label": "RAY_NODE_REMOVED"}
    assert node["ts"].isoformat().startswith("2026-02-21T12:55:00")
    actor = pl.read_parquet(out / "actor_deaths.parquet").row(0, named=True)
    assert dict(actor["fields"]) == {"job_id": "01000000", "actor_id": "c" * 32}
    assert actor["will_restart"] is True


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab9é٣ .:/=-_(),\t", max_size=60))
def test_template_mask_is_the_one_pass_word_mask(text):
    """The template mask (a lazy first class, for speed) replaces exactly what the plain
    pattern does: every word with a digit (Unicode letters and digits too) becomes <*>."""
    plain = re.sub(r"[\w.:/=-]*\d[\w.:/=-]*", "<*>", text)
    assert pl.Series([text]).str.replace_all(MASK, "<*>")[0] == plain


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(alphabet="ab19é٣ .:/=-_(),\t", max_size=40), st.integers(0, 420)),
        max_size=30,
    )
)
def test_templates_are_each_heads_own_mask(pieces):
    """Heads are masked once per shape (digits read as 0): each still gets the template of its
    own first 400 characters, cut at 300, whatever the other heads of its chunk."""
    heads = [text + "x" * pad + text for text, pad in pieces]
    heads += [h.replace("1", "9") for h in heads]  # same shapes, other values
    plain = [re.sub(r"[\w.:/=-]*\d[\w.:/=-]*", "<*>", h[:400])[:300] for h in heads]
    assert templates_of(pl.Series(heads, dtype=pl.String)).to_list() == plain


def test_an_error_in_a_stage_thread_fails_the_run_and_leaves_nothing(tmp_path, monkeypatch):
    """Classifying runs in a thread of its own: its error is the run's, raised, with no output."""
    module = sys.modules["zephyr_logscan.ingest"]
    logs = tmp_path / "logs"
    logs.mkdir()
    for k in range(6):
        (logs / f"worker-{k}.out").write_text(
            f"2026-02-20 21:40:0{k},000 INFO zephyr.execution:233 Coordinator initialized\n"
        )
    monkeypatch.setattr(module, "BATCH_BYTES", 1)  # a pass per file
    calls = []
    classify_records = module.classify_records

    def failing(records):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom in the classify thread")
        return classify_records(records)

    monkeypatch.setattr(module, "classify_records", failing)
    with pytest.raises(RuntimeError, match="boom in the classify thread"):
        ingest([str(logs)], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["logs"]


def test_the_time_range_is_that_of_every_record_read_matched_or_not(tmp_path):
    """The manifest's (and the command's) time range spans the log, not only the lines a rule
    matched: a log's first and last lines are rarely incidents."""
    matched = next(r.samples[0] for r in RULES if r.table == "heartbeat_failures")
    log = tmp_path / "log.txt"
    log.write_text(
        "2020-01-02 03:04:05,678\tINFO run.py:1 -- job starting\n"
        f"{matched}\n"
        "2030-06-07 08:09:10,111\tINFO run.py:2 -- job done\n"
    )
    out = ingest([str(log)], tmp_path / "t").out_dir
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tables"]["heartbeat_failures"]["rows"] == 1
    assert manifest["lines_unmatched"] == 2
    assert (manifest["first_ts"], manifest["last_ts"]) == (
        "2020-01-02T03:04:05.678+00:00",
        "2030-06-07T08:09:10.111+00:00",
    )


def test_an_iris_task_attempt_is_a_process_its_lines_inherit_its_pipeline(tmp_path):
    """``iris job logs`` output (``[HH:MM:SS] task=T attempt=A | line``, marin's
    lib/iris/src/iris/cli/logs.py): a task attempt's status line inherits the pipeline that
    attempt named before, and only that attempt's: another task's line stays without one."""
    log = tmp_path / "iris.log"
    log.write_text(
        "[03:30:20] task=/u/run/zephyr-emb-11c40c4c-p0-a0/0 attempt=0 | I20260521 03:30:20 "
        "zephyr.execution Worker zephyr-emb-11c40c4c-p0-workers-a0-1 registered, total: 1\n"
        "[03:30:21] task=/u/run/other/0 attempt=0 | I20260521 03:30:21 other [stage0-Map] "
        "1/4 complete, 0 in-flight, 3 queued, 1/1 workers alive, 0 dead\n"
        "[03:30:22] task=/u/run/zephyr-emb-11c40c4c-p0-a0/0 attempt=0 | I20260521 03:30:22 "
        "zephyr.execution [stage0-Map] 1/4 complete, 1 in-flight, 2 queued, 1/1 workers alive, 0 dead\n"
    )  # fmt: skip
    out = ingest([str(log)], tmp_path / "t").out_dir
    status = pl.read_parquet(out / "worker_status.parquet")
    assert status.select("line", "pipeline").rows() == [(2, None), (3, "emb-11c40c4c")]
    assert status["source"].to_list() == ["/u/run/other/0", "/u/run/zephyr-emb-11c40c4c-p0-a0/0"]
    assert [t.strftime("%H:%M:%S") for t in status["ts"]] == ["03:30:21", "03:30:22"]
