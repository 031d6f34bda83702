"""Fixtures of the ingest safety tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from zephyr_logscan.synth import SynthConfig, synthesize

from .safety import can_run_unprivileged


@pytest.fixture(scope="session")
def tiny_log(tmp_path_factory):
    """A 300 KB incident log: enough for the safety tests, which check files, not counts."""
    path = tmp_path_factory.mktemp("tiny") / "app.log"
    return path, synthesize(path, SynthConfig(size=300_000, workers=16, seed=3))


@pytest.fixture
def open_tmp():
    """A temporary folder every user can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="logscan-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    for dirpath, dirs, _ in os.walk(path):
        for d in dirs:
            Path(dirpath, d).chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def nobody():
    why = can_run_unprivileged()
    if why:
        pytest.skip(why)
    return "nobody"
