"""Ingest never destroys data: it replaces only folders it wrote, refuses outputs that overlap
the inputs, and reads every file once (real files, the real ``logscan`` in a subprocess)."""

from __future__ import annotations

import os
import shutil

import pytest

from .safety import leftovers, logscan, manifest, one_line_error, snapshot


@pytest.fixture
def case(tiny_log, tmp_path):
    """A working folder: app.log, a foreign file beside it, and logs/app.log."""
    (tmp_path / "app.log").write_bytes(tiny_log[0].read_bytes())
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "logs").mkdir()
    shutil.copy(tmp_path / "app.log", tmp_path / "logs" / "app.log")
    return tmp_path


def test_output_that_holds_the_input_is_refused(case):
    before = snapshot(case)
    res = logscan("ingest", case / "app.log", "-o", case)
    one_line_error(res, 2, "inside the output folder")
    assert snapshot(case) == before and not leftovers(case)


def test_output_equal_to_the_input_folder_is_refused(case):
    before = snapshot(case)
    one_line_error(logscan("ingest", case / "logs", "-o", case / "logs"), 2, "inside the input")
    assert snapshot(case) == before and not leftovers(case)


def test_output_inside_the_input_folder_is_refused(case):
    before = snapshot(case)
    res = logscan("ingest", case / "logs", "-o", case / "logs" / "tables")
    one_line_error(res, 2, "inside the input folder")
    assert snapshot(case) == before and not leftovers(case)


def test_a_foreign_folder_is_refused_and_force_keeps_its_files(case):
    out = case / "mine"
    out.mkdir()
    (out / "keep.txt").write_text("precious\n")
    before = snapshot(case)
    one_line_error(logscan("ingest", case / "app.log", "-o", out), 2, "--force", "keep.txt")
    assert snapshot(case) == before and not leftovers(case)
    res = logscan("ingest", case / "app.log", "-o", out, "--force", "-q")
    assert res.returncode == 0, res.stderr
    assert (out / "keep.txt").read_text() == "precious\n"
    assert manifest(out)["lines_total"] > 0 and not leftovers(case)


def test_force_never_replaces_a_foreign_file_with_a_logscan_name(case):
    out = case / "mine"
    out.mkdir()
    (out / "events.parquet").write_bytes(b"someone else's table")
    before = snapshot(case)
    res = logscan("ingest", case / "app.log", "-o", out, "--force")
    one_line_error(res, 2, "events.parquet", "did not write")
    assert snapshot(case) == before and not leftovers(case)


def test_a_logscan_output_with_foreign_files_needs_force_which_keeps_them(case):
    out = case / "tables"
    assert logscan("ingest", case / "app.log", "-o", out, "-q").returncode == 0
    (out / "report.html").write_text("an old report of ours\n")
    (out / "analysis.ipynb").write_text("{}\n")
    before = snapshot(case)
    one_line_error(logscan("ingest", case / "app.log", "-o", out), 2, "analysis.ipynb")
    assert snapshot(case) == before and not leftovers(case)
    assert logscan("ingest", case / "app.log", "-o", out, "--force", "-q").returncode == 0
    assert (out / "analysis.ipynb").read_text() == "{}\n"
    assert not (out / "report.html").exists(), "our stale report went with the old tables"
    assert not leftovers(case)


def test_output_inside_an_earlier_output_is_refused(case):
    """Tables written inside an earlier output would be foreign files there: its next run
    would refuse it. Refused before anything is written, with --force too."""
    out = case / "tables"
    assert logscan("ingest", case / "app.log", "-o", out, "-q").returncode == 0
    before = snapshot(case)
    for extra in ([], ["--force"]):
        res = logscan("ingest", case / "app.log", "-o", out / "sub", *extra)
        one_line_error(res, 2, "inside the logscan output folder", str(out))
        assert snapshot(case) == before and not leftovers(case)
    assert logscan("ingest", case / "app.log", "-o", out, "-q").returncode == 0


def test_a_logscan_output_is_replaced_whole(case):
    out = case / "tables"
    assert logscan("ingest", case / "app.log", "-o", out, "-q").returncode == 0
    first = manifest(out)
    (out / "report.html").write_text("ours\n")
    res = logscan("ingest", case / "logs", "-o", out, "-q")
    assert res.returncode == 0, res.stderr
    assert manifest(out)["lines_total"] == first["lines_total"]
    assert manifest(out)["inputs"][0]["path"] == "logs/app.log"
    assert not (out / "report.html").exists() and not leftovers(case)


@pytest.mark.parametrize("spelling", ["logs", "logs/", "logs/."])
def test_default_output_of_a_folder_is_its_sibling(case, spelling):
    before = snapshot(case / "logs")
    for _ in range(2):  # the second run must not read the first run's files
        res = logscan("ingest", spelling, "-q", cwd=case)
        assert res.returncode == 0, res.stderr
        m = manifest(case / "logs.logscan")
        assert [i["path"] for i in m["inputs"]] == ["logs/app.log"] and m["skipped"] == []
    assert snapshot(case / "logs") == before and not leftovers(case)


def test_a_folder_holding_a_logscan_manifest_is_never_read(case):
    # what older versions wrote for `logscan ingest logs/`: the output inside the input
    assert (
        logscan("ingest", case / "app.log", "-o", case / "logs" / ".logscan", "-q").returncode == 0
    )
    res = logscan("ingest", case / "logs", "-o", case / "t", "-q")
    assert res.returncode == 0, res.stderr
    m = manifest(case / "t")
    assert [i["path"] for i in m["inputs"]] == ["logs/app.log"]
    assert m["skipped"] == [{"path": "logs/.logscan", "why": "a logscan output folder, not logs"}]
    assert m["lines_total"] == manifest(case / "logs" / ".logscan")["lines_total"]
    one_line_error(logscan("ingest", case / "t", "-o", case / "u"), 2, "logscan output folder")
    assert not (case / "u").exists() and not leftovers(case)


def test_the_same_file_given_twice_is_read_once(case):
    os.link(case / "app.log", case / "hard.log")
    res = logscan(
        "ingest", "app.log", "./app.log", "hard.log", case / "app.log", "-o", "t", "-q", cwd=case
    )
    assert res.returncode == 0, res.stderr
    m = manifest(case / "t")
    single = logscan("ingest", "app.log", "-o", "one", "-q", cwd=case)
    assert single.returncode == 0
    assert [i["path"] for i in m["inputs"]] == ["app.log"]
    assert m["lines_total"] == manifest(case / "one")["lines_total"]
    assert m["tables"] == manifest(case / "one")["tables"]
    assert [s["why"] for s in m["skipped"]] == ["same file as app.log (read once)"] * 3
