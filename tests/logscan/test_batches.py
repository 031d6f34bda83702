"""Small files parsed together in one pass (``Ingest.read``) give the tables each file gives
alone: no record spans two files, and neither an inferred time nor a process's pipeline is
carried from one file into the next."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.logscan.test_parallel import assert_same_tables, straddling_log
from zephyr_logscan.ingest import ingest

INGEST = sys.modules["zephyr_logscan.ingest"]  # (the package's `ingest` is the function)


def streamed_and_batched(folder: Path, out: Path, monkeypatch, **kw) -> tuple[Path, Path]:
    """The folder ingested with every file streamed alone, then with the default batches."""
    with monkeypatch.context() as m:
        m.setattr(INGEST, "BATCH_FILE_BYTES", -1)
        alone = ingest([str(folder)], out / "alone", **kw).out_dir
    return alone, ingest([str(folder)], out / "batched", **kw).out_dir


def cut_into_files(folder: Path, body: bytes, cuts: list[int]):
    """``body`` cut at byte positions (inside lines too) into files of one folder."""
    folder.mkdir(parents=True)
    bounds = [0, *sorted(set(cuts)), len(body)]
    for k, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        (folder / f"worker-{k:04d}.out").write_bytes(body[a:b])


def test_files_that_begin_inside_a_record(tmp_path, monkeypatch):
    """Each file after the first begins with a traceback's continuation lines, an exception
    line, an indented line or an untimed line of a process that named its pipeline in the
    file before; the first file ends inside a traceback without a final line break."""
    files = {
        "a.out": b"2026-02-20 21:40:00,000 INFO x:1 -- Starting zephyr pipeline: batch-a\n"
        b"(pid=7, ip=10.0.0.1) 2026-02-20 21:40:01,000 INFO x -- Starting zephyr pipeline: batch-b\n"
        b"2026-02-20 21:40:02,000 ERROR x:2 -- Coordinator loop crashed, aborting pipeline\n"
        b"Traceback (most recent call last):\n"
        b'  File "/app/a.py", line 1, in run',
        "b.out": b'  File "/app/b.py", line 2, in run\n'
        b"RuntimeError: boom\n"
        b"(pid=7, ip=10.0.0.1) [w-1] Heartbeat failed: Socket closed\n",
        "c.out": b"ValueError: the exception line of a traceback in b.out\n"
        b"    an indented line\n"
        b"Coordinator initialized\n",
        "d.out": b"",
        "e.out": b"(pid=7, ip=10.0.0.1) Traceback (most recent call last):\n"
        b"(pid=7, ip=10.0.0.1) ConnectionError: Socket closed\n",
    }
    folder = tmp_path / "logs"
    folder.mkdir()
    for name, body in files.items():
        (folder / name).write_bytes(body)
    alone, batched = streamed_and_batched(folder, tmp_path, monkeypatch)
    assert_same_tables(alone, batched)
    events = pl.read_parquet(batched / "events.parquet")
    assert sorted(events["file"].unique()) == ["logs/a.out", "logs/b.out", "logs/c.out"]
    beat = events.filter(pl.col("file") == "logs/b.out").row(0, named=True)
    assert beat["pipeline"] is None and beat["ts"] is None  # nothing carried from a.out


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    units=st.integers(1, 12),
    seed=st.integers(0, 3),
    cuts=st.lists(st.floats(0, 1), min_size=1, max_size=12),
)
def test_any_cut_into_files_gives_the_tables_of_the_files_alone(
    tmp_path_factory, monkeypatch, units, seed, cuts
):
    body = straddling_log(units, seed)
    work = tmp_path_factory.mktemp("batches")
    cut_into_files(work / "logs", body, [int(c * len(body)) for c in cuts])
    alone, batched = streamed_and_batched(work / "logs", work, monkeypatch)
    assert_same_tables(alone, batched)


def test_batches_end_at_their_size(tmp_path, monkeypatch):
    """Several batches in one run (a small batch size) give the same tables too."""
    body = straddling_log(40)
    cut_into_files(tmp_path / "logs", body, list(range(0, len(body), 1_500)))
    monkeypatch.setattr(INGEST, "BATCH_BYTES", 10_000)
    alone, batched = streamed_and_batched(tmp_path / "logs", tmp_path, monkeypatch)
    assert_same_tables(alone, batched)


def test_a_time_window_over_batches(tmp_path, monkeypatch):
    """--since/--until keep the same records, and count the same lines outside, in batches."""
    body = straddling_log(30)
    cut_into_files(tmp_path / "logs", body, list(range(0, len(body), 2_000)))
    window = {"since": "2026-02-20T21:41:00.010", "until": "2026-02-20T21:41:00.020"}
    alone, batched = streamed_and_batched(tmp_path / "logs", tmp_path, monkeypatch, **window)
    assert_same_tables(alone, batched)
    manifest = json.loads((batched / "manifest.json").read_text())
    assert 0 < manifest["lines_outside_window"] < manifest["lines_total"]


def test_a_compressed_file_larger_than_it_looked_is_streamed(tmp_path, monkeypatch):
    """A small .gz that holds more than a batched file may: read in chunks like a large file,
    between batches of the files around it, with the same tables."""
    body = straddling_log(30)
    cut_into_files(tmp_path / "logs", body[:2_000], [500, 1_000, 1_500])
    (tmp_path / "logs" / "worker-0001.out.gz").write_bytes(gzip.compress(body))
    (tmp_path / "logs" / "worker-0001.out").unlink()
    monkeypatch.setattr(INGEST, "BATCH_FILE_BYTES", max(len(gzip.compress(body)), 600))
    assert len(body) > INGEST.BATCH_FILE_BYTES
    held = []  # the bytes of each file a batch holds in memory
    parse_batch = INGEST.Ingest.parse_batch

    def spy(self, batch):
        held.extend(sum(map(len, chunks)) for _, chunks in batch)
        return parse_batch(self, batch)

    monkeypatch.setattr(INGEST.Ingest, "parse_batch", spy)
    alone, batched = streamed_and_batched(tmp_path / "logs", tmp_path, monkeypatch)
    assert held and max(held) <= INGEST.BATCH_FILE_BYTES
    assert_same_tables(alone, batched)
    files = pl.read_parquet(batched / "events.parquet")["file"].unique().to_list()
    assert "logs/worker-0001.out.gz" in files and len(files) == 4
