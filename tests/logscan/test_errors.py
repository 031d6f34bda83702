"""Every failure is one line with the documented exit code, and leaves nothing half-written:
real permissions (as an unprivileged user), a real full disk (a small tmpfs), real renames."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .safety import leftovers, logscan, manifest, one_line_error, snapshot


@pytest.fixture
def log(tiny_log, open_tmp) -> Path:
    """The small synth log where the unprivileged user can read it."""
    path = open_tmp / "app.log"
    path.write_bytes(tiny_log[0].read_bytes())
    path.chmod(0o644)
    return path


def test_unreadable_input_file(log, open_tmp, nobody):
    log.chmod(0o600)
    out = open_tmp / "out"
    out.mkdir()
    out.chmod(0o777)
    before = snapshot(open_tmp)
    res = logscan("ingest", log, "-o", out / "t", user=nobody)
    one_line_error(res, 2, str(log), "Permission denied")
    assert snapshot(open_tmp) == before and not leftovers(open_tmp)


def test_unwritable_output(log, open_tmp, nobody):
    before = snapshot(open_tmp)  # open_tmp belongs to root, mode 755
    res = logscan("ingest", log, "-o", open_tmp / "t", user=nobody)
    one_line_error(res, 1, "cannot write", "Permission denied")
    assert snapshot(open_tmp) == before and not leftovers(open_tmp)


def folder_input(log: Path, root: Path) -> Path:
    logs = root / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "locked").mkdir()
    shutil.copy(log, logs / "a.log")
    shutil.copy(log, logs / "sub" / "b.log")
    shutil.copy(log, logs / "locked" / "c.log")
    for p in (logs, logs / "sub", logs / "locked"):
        p.chmod(0o755)
    for p in logs.rglob("*.log"):
        p.chmod(0o644)
    out = root / "out"
    out.mkdir()
    out.chmod(0o777)
    return logs


def test_unreadable_file_inside_a_folder_is_skipped_and_reported(log, open_tmp, nobody):
    logs = folder_input(log, open_tmp)
    (logs / "sub" / "b.log").chmod(0o600)
    before = snapshot(logs)
    res = logscan("ingest", logs, "-o", open_tmp / "out" / "t", user=nobody)
    assert res.returncode == 0, res.stderr
    m = manifest(open_tmp / "out" / "t")
    assert [i["path"] for i in m["inputs"]] == ["logs/a.log", "logs/locked/c.log"]
    assert m["skipped"] == [{"path": "logs/sub/b.log", "why": "Permission denied"}]
    assert "skipped logs/sub/b.log: Permission denied" in res.stdout
    assert snapshot(logs) == before and not leftovers(open_tmp)


def test_unreadable_subfolder_is_skipped_and_reported(log, open_tmp, nobody):
    logs = folder_input(log, open_tmp)
    (logs / "locked").chmod(0o700)
    before = snapshot(logs)
    res = logscan("ingest", logs, "-o", open_tmp / "out" / "t", user=nobody)
    assert res.returncode == 0, res.stderr
    m = manifest(open_tmp / "out" / "t")
    assert [i["path"] for i in m["inputs"]] == ["logs/a.log", "logs/sub/b.log"]
    assert m["skipped"] == [
        {"path": "logs/locked", "why": "folder not readable (Permission denied)"}
    ]
    assert "skipped logs/locked: folder not readable (Permission denied)" in res.stdout
    assert snapshot(logs) == before and not leftovers(open_tmp)


def test_a_failed_rename_keeps_the_previous_output(log, open_tmp, nobody):
    # A sticky folder (like /tmp): the unprivileged user may create its temporary folder there
    # but may not rename root's previous output away.
    shared = open_tmp / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    out = shared / "t"
    assert logscan("ingest", log, "-o", out, "-q").returncode == 0
    for p in [out, *out.iterdir()]:
        p.chmod(0o777 if p.is_dir() else 0o666)
    before = snapshot(open_tmp)
    res = logscan("ingest", log, "-o", out, user=nobody)
    one_line_error(res, 1, f"cannot replace {out}", "Operation not permitted")
    assert snapshot(open_tmp) == before and not leftovers(open_tmp)


@pytest.fixture
def small_disk():
    """A 128 KB tmpfs (the small log's tables take 500 KB), or a skip saying why there is none."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path = Path(tempfile.mkdtemp(prefix="logscan-full-"))
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        path.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    yield path
    subprocess.run(["umount", str(path)], check=True)
    path.rmdir()


def test_disk_full(log, small_disk):
    (small_disk / "keep.txt").write_text("precious\n")
    before = snapshot(small_disk, log)
    res = logscan("ingest", log, "-o", small_disk / "t")
    one_line_error(res, 1, f"cannot write {small_disk / 't'}", "No space left on device")
    assert snapshot(small_disk, log) == before and not leftovers(small_disk)


def test_since_after_until_is_a_usage_error_before_anything_is_written(log, open_tmp):
    before = snapshot(open_tmp)
    res = logscan(
        "ingest", log, "-o", open_tmp / "t", "--since", "2026-02-21T13:00", "--until", "12:00"
    )
    one_line_error(res, 2, "not a time")
    res = logscan(
        "ingest", log, "-o", open_tmp / "t", "--since", "2026-02-21T13:00",
        "--until", "2026-02-21T12:00",
    )  # fmt: skip
    one_line_error(res, 2, "--since 2026-02-21T13:00 is after --until 2026-02-21T12:00")
    assert snapshot(open_tmp) == before and not leftovers(open_tmp)
