"""Shared fixtures: synth logs made once per run, and the shared/ reference folder."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from pathlib import Path

import pytest

from zephyr_logscan.synth import SynthConfig, synthesize

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_itemcollected(item):
    """Under ``make test`` (``pytest -n 2 --dist loadgroup``) the Ray tests run in one worker
    process, one after the other: one private cluster for all of them (a session fixture is per
    worker process), never two clusters' start-ups and node losses competing for two cores."""
    if item.get_closest_marker("ray"):
        item.add_marker(pytest.mark.xdist_group("ray"))


UNGROUPED = pytest.StashKey[bool]()


@pytest.hookimpl(trylast=True)  # after pytest-xdist has named each test's group
def pytest_collection_modifyitems(config, items):
    """pytest-xdist groups tests by a suffix of their node ids. Where that does not take (pytest
    9.2 with pytest-xdist 3.8), the Ray tests would spread over both workers, each starting its
    own cluster: they fail at once with the reason instead."""
    if getattr(config.option, "loadgroup", False):
        for item in items:
            if item.get_closest_marker("ray") and "@" not in item.nodeid:
                item.stash[UNGROUPED] = True


def pytest_runtest_setup(item):
    if item.stash.get(UNGROUPED, False):
        pytest.fail(
            "pytest-xdist did not keep the Ray tests in one worker (its loadgroup does not work "
            "with this pytest): run them without -n, or install the test extra's pytest",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared reference folder not found at {SHARED}")
    return SHARED


def once_per_run(tmp_path_factory, name: str, make):
    """``make(folder)`` once for the whole run: under pytest-xdist the worker processes share its
    result (the first to ask makes it under a file lock; the others wait, then read it)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above each worker's own
    made = base / f"once-{name}.pickle"
    with open(base / f"once-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not made.exists():
            folder = base / f"once-{name}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            made.write_bytes(pickle.dumps(make(folder)))
    return pickle.loads(made.read_bytes())


def _make(tmp_path_factory, name: str, **kw) -> tuple[Path, dict]:
    def make(folder: Path):
        path = folder / "full_log.txt"
        return path, synthesize(path, SynthConfig(**kw))

    return once_per_run(tmp_path_factory, name, make)


@pytest.fixture(scope="session")
def small_log(tmp_path_factory):
    """A 3 MB incident log with 64 workers: every wording, every table, in a second."""
    return _make(tmp_path_factory, "small", size=3_000_000, workers=64, seed=7)


@pytest.fixture(scope="session")
def small_ingest(small_log, tmp_path_factory) -> Path:
    """``small_log`` ingested once for the run. Never written to: replays and reports write
    into a tables folder, so a test takes its own copy (``small_tables``, ``copy_tables``)."""
    from zephyr_logscan.ingest import ingest

    def make(folder: Path) -> Path:
        return ingest([str(small_log[0])], folder / "tables").out_dir

    return once_per_run(tmp_path_factory, "small-ingest", make)


def copy_tables(tables: Path, folder: Path) -> Path:
    return Path(shutil.copytree(tables, folder / "tables"))


@pytest.fixture
def small_tables(small_ingest, tmp_path) -> Path:
    """This test's own copy of ``small_ingest`` (``tmp_path / "tables"``)."""
    return copy_tables(small_ingest, tmp_path)


@pytest.fixture(scope="session")
def clean_log(tmp_path_factory):
    return _make(tmp_path_factory, "clean", size=3_000_000, workers=64, seed=7, clean=True)


@pytest.fixture(scope="session")
def full_log(tmp_path_factory):
    """The default 100 MB, 1,024-worker incident log (about 5 s to write)."""
    return _make(tmp_path_factory, "full")


@pytest.fixture(scope="session")
def ray_cluster():
    """One private Ray cluster for every Ray test (its own ports and temp dir), stopped at the end.
    Tests that drive Ray from this process connect to it themselves (and disconnect)."""
    pytest.importorskip("ray")
    from tests.ray_support import SYSTEM_CONFIG
    from zephyr_engine.backends.ray_cluster import LocalRayCluster

    os.environ.pop("RAY_ADDRESS", None)  # never someone else's cluster
    cluster = LocalRayCluster(num_cpus=8, system_config=SYSTEM_CONFIG)
    try:
        yield cluster
    finally:
        cluster.stop()
