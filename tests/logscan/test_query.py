"""``zephyr_logscan.load`` and ``logscan query``: real ingest output, real files read back."""

from __future__ import annotations

import io
import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
from datetime import timedelta

import polars as pl
import pytest

from tests.conftest import copy_tables
from zephyr_logscan import load
from zephyr_logscan.load import LoadError
from zephyr_logscan.query import EXAMPLES, QueryError, render_table, run_query


@pytest.fixture(scope="module")
def tables_dir(small_ingest, tmp_path_factory):
    return copy_tables(small_ingest, tmp_path_factory.mktemp("query"))


def logscan(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "zephyr_logscan.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- load ---------------------------------------------------------------------------------------


def test_load_gives_the_manifest_and_a_lazy_frame_per_table(tables_dir):
    t = load(tables_dir)
    manifest = json.loads((tables_dir / "manifest.json").read_text())
    assert t.manifest == manifest
    assert list(t) == list(manifest["tables"]) and len(t) == len(manifest["tables"])
    for name in t:
        assert isinstance(t[name], pl.LazyFrame)
        got = t[name].collect()
        assert got.equals(pl.read_parquet(tables_dir / f"{name}.parquet")), name
        assert got.height == manifest["tables"][name]["rows"], name
    assert t.node_deaths.collect().equals(t["node_deaths"].collect())
    assert t.schemas()["heartbeat_failures"]["silence_s"] == pl.Float64
    assert t.schemas()["events"]["ts"] == pl.Datetime("ms", "UTC")
    with pytest.raises(AttributeError):
        _ = t.no_such_table


def test_load_sql_joins_tables(tables_dir):
    t = load(tables_dir)
    got = t.sql(
        "SELECT count(*) AS n FROM heartbeat_failures h JOIN reregistrations r "
        "ON h.worker_id = r.worker_id"
    ).collect()
    want = t.heartbeat_failures.join(t.reregistrations, on="worker_id").collect().height
    assert got["n"][0] == want > 0


def test_load_refuses_what_is_not_an_ingest_output(tables_dir, tmp_path):
    with pytest.raises(LoadError, match="no manifest.json"):
        load(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(LoadError, match="not a readable manifest .not JSON: Expecting"):
        load(tmp_path)
    # each says what is missing or wrong, in one line
    for text, words in (
        ("{}", 'no "tables" entry'),
        ('{"tables": ["events"]}', '"tables" is a JSON array, not an object'),
        ("[1, 2]", "a JSON array, not an object"),
        ("null", "a JSON null, not an object"),
    ):
        (tmp_path / "manifest.json").write_text(text)
        with pytest.raises(LoadError, match="not a readable manifest") as e:
            load(tmp_path)
        assert words in str(e.value) and "\n" not in str(e.value), (text, str(e.value))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text((tables_dir / "manifest.json").read_text())
    with pytest.raises(LoadError, match="events.parquet is missing"):
        load(broken)


# --- the examples answer what they say ----------------------------------------------------------


def test_example_death_waves_per_minute(tables_dir):
    got = run_query(tables_dir, EXAMPLES["death waves per minute"])
    deaths = pl.read_parquet(tables_dir / "node_deaths.parquet")
    want = (
        deaths.group_by(pl.col("ts").dt.truncate("1m").alias("minute"))
        .agg(pl.col("repeat").sum().alias("deaths"))
        .sort("minute")
    )
    assert got["minute"].to_list() == want["minute"].to_list()
    assert got["deaths"].to_list() == want["deaths"].to_list()
    assert int(got["deaths"].sum()) == load(tables_dir).manifest["tables"]["node_deaths"]["events"]


def test_example_heartbeat_failures_per_node(tables_dir):
    got = run_query(tables_dir, EXAMPLES["heartbeat failures per node"])
    hb = pl.read_parquet(tables_dir / "heartbeat_failures.parquet")
    assert int(got["failures"].sum()) == int(hb["repeat"].sum()) > 0
    assert got["failures"].is_sorted(descending=True)


def test_example_workers_that_never_came_back(tables_dir):
    got = run_query(tables_dir, EXAMPLES["workers that never came back"])
    hb = pl.read_parquet(tables_dir / "heartbeat_failures.parquet")
    rr = pl.read_parquet(tables_dir / "reregistrations.parquet")
    back = dict(rr.group_by("worker_id").agg(pl.col("ts").max()).iter_rows())
    last = hb.group_by("worker_id").agg(pl.col("ts").max())
    want = {w for w, ts in last.iter_rows() if back.get(w) is None or back[w] < ts}
    assert set(got["worker_id"]) == want and 0 < len(want) < last.height


def test_example_longest_stall_per_pipeline(tables_dir):
    got = run_query(tables_dir, EXAMPLES["longest stall per pipeline"])
    sp = pl.read_parquet(tables_dir / "stage_progress.parquet").drop_nulls("pipeline")
    for pipeline, stall in got.iter_rows():
        ts = sorted(sp.filter(pl.col("pipeline") == pipeline)["ts"])
        gaps = [(b - a) / timedelta(seconds=1) for a, b in zip(ts, ts[1:], strict=False)]
        assert stall == (pytest.approx(max(gaps)) if gaps else None), pipeline
    assert set(got["pipeline"]) == set(sp["pipeline"])


# --- output -------------------------------------------------------------------------------------


def test_text_table_is_aligned(tables_dir):
    df = run_query(tables_dir, "SELECT rule, line, message FROM node_deaths ORDER BY line")
    lines = render_table(df).splitlines()
    assert lines[-1] == f"({df.height} rows)"
    header, rule, *rows = lines[:-1]
    spans = [m.span() for m in re.finditer(r"-+", rule)]  # one run of dashes per column
    assert len(spans) == df.width and len(rows) == df.height > 0

    def cells(line):
        return [line[a:b] for a, b in spans]

    assert [c.strip() for c in cells(header)] == df.columns
    for row, want in zip(rows, df.iter_rows(), strict=True):
        rule_id, line_no, message = cells(row)
        assert rule_id == want[0].ljust(len(rule_id))  # text left-aligned
        assert line_no == str(want[1]).rjust(len(line_no))  # numbers right-aligned
        flat = want[2].replace("\r", "").replace("\n", "\\n").replace("\t", " ")
        assert message.rstrip() == (flat if len(flat) <= 80 else flat[:79] + "…")  # one line
        assert len(row) <= len(rule)


def test_formats_round_trip(tables_dir, tmp_path):
    sql = "SELECT worker_id, silence_s, ts, fields FROM heartbeat_failures ORDER BY line LIMIT 50"
    want = run_query(tables_dir, sql)
    for fmt in ("csv", "json", "parquet"):
        out = tmp_path / f"r.{fmt}"
        res = logscan("query", str(tables_dir), sql, "-o", str(out))  # format from the suffix
        assert res.returncode == 0, res.stderr
        if fmt == "parquet":
            assert pl.read_parquet(out).equals(want)
        elif fmt == "csv":
            got = pl.read_csv(out)
            assert got["worker_id"].to_list() == want["worker_id"].to_list()
            assert got["silence_s"].to_list() == want["silence_s"].to_list()
            assert got["ts"][0] == want["ts"][0].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        else:
            rows = json.loads(out.read_text())
            assert [r["worker_id"] for r in rows] == want["worker_id"].to_list()
            assert all(isinstance(r["fields"], dict) for r in rows)
    res = logscan("query", str(tables_dir), sql, "--format", "csv")
    assert res.returncode == 0
    assert (
        pl.read_csv(io.StringIO(res.stdout))["worker_id"].to_list() == want["worker_id"].to_list()
    )
    leftovers = [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert leftovers == []


def test_nested_columns_become_json_text_in_csv(tables_dir, tmp_path):
    out = tmp_path / "k.csv"
    res = logscan(
        "query", str(tables_dir), "SELECT kinds, fields FROM events WHERE rule LIKE 'gcs.%'",
        "-o", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    got = pl.read_csv(out)
    assert got.height > 0
    assert all(isinstance(json.loads(k), list) for k in got["kinds"])


@pytest.mark.parametrize(
    "sql, says",
    [
        ("SELECT * FROM no_such_table", "relation 'no_such_table' was not found"),
        ("SELEC * FROM events", "sql parser error"),
        ("SELECT no_such_column FROM events", 'unable to find column "no_such_column"'),
    ],
)
def test_bad_sql_is_one_line_and_exit_2(tables_dir, tmp_path, sql, says):
    keep = tmp_path / "keep.csv"
    keep.write_text("an earlier result\n")
    res = logscan("query", str(tables_dir), sql, "-o", str(keep))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("logscan: error: query failed")
    assert says in res.stderr and "Traceback" not in res.stderr
    assert keep.read_text() == "an earlier result\n"  # a failed query leaves the file alone


def test_query_errors_on_folders_and_outputs(tables_dir, tmp_path):
    res = logscan("query", str(tmp_path), "SELECT 1")
    assert res.returncode == 2 and "no manifest.json" in res.stderr
    res = logscan("query", str(tables_dir), "SELECT 1 AS x", "-o", str(tmp_path / "no" / "x.csv"))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "cannot write" in res.stderr
    with pytest.raises(QueryError):
        run_query(tables_dir, "SELECT")


def test_query_without_sql_lists_tables(tables_dir):
    res = logscan("query", str(tables_dir))
    assert res.returncode == 0, res.stderr
    names = [line.split(" ")[0] for line in res.stdout.splitlines()]
    assert names == list(load(tables_dir).manifest["tables"])
    assert "silence_s float64" in res.stdout


def test_output_file_is_replaced_only_when_complete(tables_dir, tmp_path, monkeypatch):
    from zephyr_logscan import query

    target = tmp_path / "r.csv"
    target.write_text("an earlier result\n")
    df = run_query(tables_dir, "SELECT * FROM node_deaths")

    def half_then_fail(df, fmt, fh):
        fh.write(b"file,line\n")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(query, "_emit", half_then_fail)
    with pytest.raises(QueryError, match="No space left"):
        query.write_result(df, "csv", str(target))
    assert target.read_text() == "an earlier result\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]  # no temporary file left behind


def test_output_that_is_a_link_or_a_pipe_is_never_replaced(tables_dir, tmp_path):
    """``-o`` renames a new file over the old one: over a symlink or a device that would
    replace the link or the device itself (it replaced a machine's /dev/full)."""
    target = tmp_path / "target.csv"
    target.write_text("kept\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for out in (link, fifo):
        r = logscan("query", tables_dir, "SELECT * FROM node_deaths", "-o", out)
        assert r.returncode == 2 and "not a regular file" in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert link.is_symlink() and target.read_text() == "kept\n"
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_reader_that_stops_early_is_no_error(tables_dir):
    """``logscan query ... | head -1``: the closed pipe ends the output quietly, whatever the
    format (polars' own CSV and Parquet writers say so in an error of their own)."""
    for fmt in ("table", "csv", "json", "parquet"):
        cmd = [sys.executable, "-m", "zephyr_logscan", "query", str(tables_dir)]
        cmd += ["SELECT * FROM events", "--format", fmt]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.read(10)
        proc.stdout.close()  # as `head -c 10` does
        _, err = proc.communicate(timeout=120)
        assert b"Traceback" not in err and err == b"", (fmt, err[-500:])


def test_a_write_that_fails_midway_is_one_line(tables_dir, tmp_path):
    """The disk fills up under polars' own Parquet writer (here a file size limit: the same
    failed write): one line, and no half file left behind."""

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    for fmt in ("parquet", "csv"):
        out = tmp_path / f"events.{fmt}"
        r = subprocess.run(
            [sys.executable, "-m", "zephyr_logscan.cli", "query", str(tables_dir)]
            + ["SELECT * FROM events", "-o", str(out)],
            capture_output=True, text=True, timeout=120, preexec_fn=small_files,
        )  # fmt: skip
        assert r.returncode != 0 and r.stderr.startswith("logscan: "), (fmt, r.stderr[-800:])
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr[-800:]
        assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["query"], ["diagnose"], ["report", "-o", "r.html"]])
def test_a_damaged_table_is_one_line_not_a_traceback(tables_dir, tmp_path, command):
    damaged = copy_tables(tables_dir, tmp_path)
    (damaged / "events.parquet").write_bytes(b"junk\n")
    r = subprocess.run(
        [sys.executable, "-m", "zephyr_logscan.cli", command[0], str(damaged), *command[1:]],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-800:]
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("logscan: error: "), r.stderr
    assert "parquet" in r.stderr.lower() and not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    "command", [["query"], ["diagnose"], ["report", "-o", "r.html"], ["replay", "--json"]]
)
def test_a_damaged_manifest_is_one_line_for_every_command(tables_dir, tmp_path, command):
    """Every command reads the manifest the way ``load`` does: a manifest without its tables is
    one line naming what is missing, exit 2."""
    damaged = copy_tables(tables_dir, tmp_path)
    (damaged / "manifest.json").write_text("{}")
    r = subprocess.run(
        [sys.executable, "-m", "zephyr_logscan.cli", command[0], str(damaged), *command[1:]],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-800:]
    assert r.stderr.count("\n") == 1 and 'no "tables" entry' in r.stderr, r.stderr
    assert not (tmp_path / "r.html").exists()
