"""Helpers of the ingest safety tests: run the real ``logscan`` in a subprocess (as an
unprivileged user when asked), check its one-line error, and prove files untouched."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def logscan(*args, stdin=None, user: str | None = None, timeout: float = 300, **kw):
    """Run ``python -m zephyr_logscan ARGS``; ``user="nobody"`` runs it unprivileged."""
    cmd = [sys.executable, "-m", "zephyr_logscan", *map(str, args)]
    if user == "nobody" and os.geteuid() == 0:
        # One process: worker processes start sys.executable again, and a virtual environment
        # made by root may point at an interpreter under /root that uid 65534 cannot run.
        cmd = NOBODY + cmd + (["--jobs", "1"] if args[0] == "ingest" else [])
    kw.setdefault("cwd", ROOT)
    return subprocess.run(cmd, stdin=stdin, capture_output=True, text=True, timeout=timeout, **kw)


def error_within(deadline: float, fn: Callable[[], object]) -> BaseException | None:
    """What ``fn()`` raised (None if it returned), run in a daemon thread: a hang fails the
    test after ``deadline`` seconds instead of hanging the suite."""
    raised: list[BaseException] = []

    def run():
        try:
            fn()
        except BaseException as e:
            raised.append(e)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(deadline)
    assert not runner.is_alive(), f"still running after {deadline} s: it hung"
    return raised[0] if raised else None


def one_line_error(res, code: int, *words: str) -> str:
    """The run failed with ``code`` and one line on stderr naming ``words``, no traceback."""
    assert res.returncode == code, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr, res.stderr
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("logscan: "), res.stderr
    for w in words:
        assert w in res.stderr, (w, res.stderr)
    return res.stderr.strip()


def snapshot(*roots: Path) -> dict:
    """Every file and folder under ``roots``, with its content hash and mode."""
    seen = {}
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            for name in dirs + files:
                p = Path(dirpath, name)
                st = p.lstat()
                digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
                seen[str(p)] = (digest, st.st_mode)
        if root.is_file():
            seen[str(root)] = (hashlib.sha256(root.read_bytes()).hexdigest(), root.stat().st_mode)
    return seen


def leftovers(folder: Path) -> list[str]:
    """Temporary or set-aside folders of a run, anywhere under ``folder``."""
    return sorted(str(p) for p in folder.rglob("*") if ".tmp-" in p.name or ".old-" in p.name)


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def can_run_unprivileged() -> str | None:
    """Why the permission tests cannot run here, or None."""
    if os.geteuid() != 0:
        return None  # already unprivileged: permissions apply as they are
    if shutil.which("setpriv") is None:
        return "running as root without setpriv: cannot drop privileges"
    probe = subprocess.run(
        [*NOBODY, sys.executable, "-c", "import zephyr_logscan.cli"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if probe.returncode != 0:
        return f"the package is not readable by uid 65534: {probe.stderr.strip()[-200:]}"
    return None


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found
