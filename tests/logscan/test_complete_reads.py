"""Every input is read in full or the run fails naming it: compressed files, pipes, FIFOs,
stdin, logs with NUL runs, giant lines (real files, the real ``logscan`` in a subprocess)."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import subprocess
import sys
import threading

import pytest
import zstandard

from .safety import ROOT, leftovers, logscan, manifest, one_line_error, snapshot

COMPRESS = {
    "gz": gzip.compress,
    "zst": lambda b: zstandard.ZstdCompressor().compress(b),
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


@pytest.fixture(scope="module")
def plain(tiny_log, tmp_path_factory):
    """The small synth log and its ingest manifest, the reference of every other reading."""
    out = tmp_path_factory.mktemp("plain") / "t"
    assert logscan("ingest", tiny_log[0], "-o", out, "-q").returncode == 0
    return tiny_log[0].read_bytes(), manifest(out)


def same_tables(m: dict, ref: dict, same_bytes: bool = True):
    assert m["lines_total"] == ref["lines_total"] and m["tables"] == ref["tables"]
    if same_bytes:  # every byte read, none lost to a sniff or a short read
        got, want = m["inputs"][0], ref["inputs"][0]
        assert (got["bytes"], got["sha256"]) == (want["bytes"], want["sha256"])


@pytest.mark.parametrize("fmt", sorted(COMPRESS))
@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_compressed_input_is_an_error_naming_it(plain, tmp_path, fmt, damage):
    packed = bytearray(COMPRESS[fmt](plain[0]))
    if damage == "truncated":
        packed = packed[: len(packed) * 2 // 3]
    else:
        for at in range(len(packed) // 3, len(packed) * 2 // 3, 997):
            packed[at] ^= 0x55
    src = tmp_path / f"app.log.{fmt}"
    src.write_bytes(bytes(packed))
    before = snapshot(tmp_path)
    res = logscan("ingest", src, "-o", tmp_path / "t")
    one_line_error(res, 2, str(src), "cannot read")
    assert snapshot(tmp_path) == before and not leftovers(tmp_path), "no partial tables"


@pytest.mark.parametrize("fmt", sorted(COMPRESS))
def test_multi_part_compressed_input_is_read_in_full(plain, tmp_path, fmt):
    data = plain[0]
    cut = data.index(b"\n", len(data) // 2) + 1
    src = tmp_path / f"app.log.{fmt}"  # two gzip members, zstd frames, bz2/xz streams
    src.write_bytes(COMPRESS[fmt](data[:cut]) + COMPRESS[fmt](data[cut:]))
    res = logscan("ingest", src, "-o", tmp_path / "t", "-q")
    assert res.returncode == 0, res.stderr
    same_tables(manifest(tmp_path / "t"), plain[1])


def feed(path, data: bytes):
    """Write ``data`` into a FIFO from a thread (the reader decides when it opens)."""

    def run():
        with open(path, "wb") as f:
            f.write(data)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("packed", ["plain", "gz"])
def test_a_fifo_is_read_in_full(plain, tmp_path, packed):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = feed(fifo, plain[0] if packed == "plain" else gzip.compress(plain[0]))
    res = logscan("ingest", fifo, "-o", tmp_path / "t", "-q")
    writer.join(5)
    assert res.returncode == 0, res.stderr
    same_tables(manifest(tmp_path / "t"), plain[1])


def test_process_substitution_is_read_in_full(tiny_log, plain, tmp_path):
    cmd = f"{sys.executable} -m zephyr_logscan ingest <(cat {tiny_log[0]}) -o {tmp_path / 't'} -q"
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    m = manifest(tmp_path / "t")
    same_tables(m, plain[1])
    assert m["inputs"][0]["bytes"] == len(plain[0])


def test_stdin_pipe_is_read_in_full(tiny_log, plain, tmp_path):
    with open(tiny_log[0], "rb") as f:
        cat = subprocess.Popen(["cat"], stdin=f, stdout=subprocess.PIPE)
        res = logscan("ingest", "-", "-o", tmp_path / "t", "-q", stdin=cat.stdout)
        cat.wait()
    assert res.returncode == 0, res.stderr
    same_tables(manifest(tmp_path / "t"), plain[1])


def test_closed_stdin_is_a_one_line_error(tmp_path):
    res = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m zephyr_logscan ingest - -o {tmp_path / 't'} <&-"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    one_line_error(res, 2, "stdin is closed")
    assert not (tmp_path / "t").exists() and not leftovers(tmp_path)


def test_a_log_with_nul_runs_is_read_and_the_runs_counted(plain, tmp_path):
    data = plain[0]
    a, b = data.index(b"\n", 1000) + 1, data.index(b"\n", len(data) // 2) + 1
    holed = b"\0" * 9000 + data[:a] + b"\0" * 4096 + data[a:b] + b"\0" * 70000 + data[b:]
    src = tmp_path / "crashed.log"
    src.write_bytes(holed)
    res = logscan("ingest", src, "-o", tmp_path / "t", "-q")
    assert res.returncode == 0, res.stderr
    m = manifest(tmp_path / "t")
    same_tables(m, plain[1], same_bytes=False)
    assert (m["inputs"][0]["nul_runs"], m["inputs"][0]["nul_bytes"]) == (3, 83096)


def test_binary_content_is_judged_by_its_share(tmp_path):
    blob = tmp_path / "core.bin"
    blob.write_bytes(bytes(range(256)) * 256)
    one_line_error(logscan("ingest", blob, "-o", tmp_path / "t"), 2, "not text (binary")
    latin = tmp_path / "latin1.log"  # a stray non-UTF-8 byte now and then is still text
    latin.write_bytes(("2026-02-21 12:00:00,000 INFO caf\xe9 ok\n" * 500).encode("latin-1"))
    assert logscan("ingest", latin, "-o", tmp_path / "l", "-q").returncode == 0
    assert not leftovers(tmp_path) and not (tmp_path / "t").exists()


def peak_rss_mb(args) -> float:
    proc = subprocess.Popen(
        [sys.executable, "-m", "zephyr_logscan", *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    assert status == 0, proc.stderr.read()
    return usage.ru_maxrss / 1024


def test_a_giant_line_keeps_a_bounded_prefix_and_memory_stays_normal(small_log, tmp_path):
    giant = tmp_path / "giant.log"
    with open(giant, "wb") as f:
        f.write(b"2026-02-21 12:00:00,000 INFO start\n")
        f.write(b"2026-02-21 12:00:01,000 ERROR " + b"x" * (50 << 20) + b"\n")
        f.write(b"2026-02-21 12:00:02,000 INFO end\n")
    normal = peak_rss_mb(["ingest", small_log[0], "-o", tmp_path / "n", "-q"])
    big = peak_rss_mb(["ingest", giant, "-o", tmp_path / "t", "-q"])
    m = manifest(tmp_path / "t")
    assert m["lines_total"] == 3
    assert m["inputs"][0]["truncated_lines"] == 1
    assert m["inputs"][0]["truncated_bytes"] == 30 + (50 << 20) - (1 << 20)
    assert big < normal * 1.25, (
        f"peak RSS {big:.0f} MB for one 50 MB line, {normal:.0f} MB normally"
    )
