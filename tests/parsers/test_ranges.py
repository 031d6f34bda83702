"""``parsers.ranges``: byte ranges cut only where a record certainly starts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.ranges import certain_starts, find_cut, split_ranges

HEAD = b"2026-02-20 21:40:15,049 ERROR worker.py:12 -- task failed\n"
TRACEBACK = (
    b"Traceback (most recent call last):\n"
    b'  File "x.py", line 1, in <module>\n'
    b"    raise ValueError(1)\n"
    b"ValueError: 1\n"
)


def test_certain_starts_are_timestamped_unindented_lines_with_a_real_time():
    block = (
        HEAD  # 0: yes
        + TRACEBACK  # no: continuation lines
        + b"(pid=12, ip=10.0.0.1) 2026-02-20 21:40:16,000 INFO a.py:1 -- x [repeated 3x across cluster]\n"
        + b"  2026-02-20 21:40:16,000 INFO indented\n"  # indented: a continuation may look so
        + b"2026-13-45 99:99:99,000 INFO no such time\n"  # timestamped, but no time to carry on
        + b"2026-02-20 21:40:16,500 INFO a \0 in it\n"  # a hole: the reader removes NUL bytes
        + b"[2026-02-20 21:39:00,120 W 1234 1234] (gcs_server) x.cc:1: y\n"
        + b"2026-02-20 21:40:17,000 INFO cut short"  # no line break: not judged
    )
    starts = certain_starts(block)
    lines = {block[s : block.index(b"\n", s)] for s in starts}
    assert len(starts) == 3
    assert HEAD.rstrip(b"\n") in lines
    assert any(line.startswith(b"(pid=12") for line in lines)
    assert any(line.startswith(b"[2026-02-20 21:39") for line in lines)


def test_find_cut_steps_over_tracebacks_to_the_next_record(tmp_path):
    path = tmp_path / "log.txt"
    body = HEAD + TRACEBACK * 50 + HEAD
    path.write_bytes(body)
    with open(path, "rb") as fh:
        cut = find_cut(fh, len(HEAD) + 10, len(body))
    assert cut == len(body) - len(HEAD)
    with open(path, "rb") as fh:
        assert find_cut(fh, len(body) - len(HEAD) + 1, len(body)) is None  # nothing after it
        assert find_cut(fh, 0, len(body)) == 0


def test_find_cut_skips_a_line_longer_than_its_window(tmp_path):
    path = tmp_path / "log.txt"
    body = HEAD + b"x" * 300_000 + b"\n" + HEAD
    path.write_bytes(body)
    with open(path, "rb") as fh:
        assert find_cut(fh, 100, len(body)) == len(body) - len(HEAD)


def test_split_ranges_cover_the_file_and_start_at_record_starts(tmp_path):
    path = tmp_path / "log.txt"
    body = (HEAD + TRACEBACK * 3) * 2000
    path.write_bytes(body)
    ranges = split_ranges(path, 7)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(body)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert len(ranges) == 7
    for start, _ in ranges:
        assert body[start:].startswith(HEAD) and body[start - 1 : start] in (b"", b"\n")


def test_split_ranges_without_any_cut_is_one_range(tmp_path):
    path = tmp_path / "log.txt"
    body = HEAD + b"  indented continuation\n" * 50_000
    path.write_bytes(body)
    assert split_ranges(path, 4) == [(0, len(body))]


def cut_by_cut(path, parts: int) -> list[tuple[int, int]]:
    """The ranges as a window-by-window search from every target finds them (the reference of
    ``split_ranges``' one-pass look near all targets)."""
    size = path.stat().st_size
    cuts = [0]
    with open(path, "rb") as fh:
        for k in range(1, parts):
            target = size * k // parts
            if target <= cuts[-1]:
                continue
            cut = find_cut(fh, target, size)
            if cut is None:
                break
            if cut > cuts[-1]:
                cuts.append(cut)
    return list(zip(cuts, [*cuts[1:], size], strict=True))


@settings(max_examples=25, deadline=None)
@given(
    records=st.lists(
        st.sampled_from(["head", "traceback", "long", "untimed", "nul", "ray", "badtime"]),
        min_size=1,
        max_size=60,
    ),
    parts=st.integers(2, 40),
)
def test_split_ranges_finds_the_cuts_a_window_by_window_search_finds(
    tmp_path_factory, records, parts
):
    pieces = {
        "head": HEAD,
        "traceback": HEAD + TRACEBACK * 20,
        "long": HEAD.rstrip(b"\n") + b" " + b"x" * 9_000 + b"\n",  # longer than the first look
        "untimed": b"a line without a time " + b"y" * 5_000 + b"\n",
        "nul": b"2026-02-20 21:40:15,049 INFO a hole \0 in it\n",
        "ray": b"(pid=7, ip=10.0.0.2) 2026-02-20 21:40:15,049 INFO x [repeated 2x across cluster]\n",
        "badtime": b"2026-13-45 99:99:99,000 INFO no such time\n",
    }
    path = tmp_path_factory.mktemp("ranges") / "log.txt"
    path.write_bytes(b"".join(pieces[r] for r in records))
    assert split_ranges(path, parts) == cut_by_cut(path, parts)
