"""Shared fixtures: synth logs made once per session, and the shared/ reference folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from zephyr_logscan.synth import SynthConfig, synthesize

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared reference folder not found at {SHARED}")
    return SHARED


def _make(tmp_path_factory, name: str, **kw) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp(name) / "full_log.txt"
    return path, synthesize(path, SynthConfig(**kw))


@pytest.fixture(scope="session")
def small_log(tmp_path_factory):
    """A 3 MB incident log with 64 workers: every wording, every table, in a second."""
    return _make(tmp_path_factory, "small", size=3_000_000, workers=64, seed=7)


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
    import os

    from tests.ray_support import SYSTEM_CONFIG
    from zephyr_engine.backends.ray_cluster import LocalRayCluster

    os.environ.pop("RAY_ADDRESS", None)  # never someone else's cluster
    cluster = LocalRayCluster(num_cpus=8, system_config=SYSTEM_CONFIG)
    try:
        yield cluster
    finally:
        cluster.stop()
