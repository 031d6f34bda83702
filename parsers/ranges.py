"""One large log file -> byte ranges that can be parsed apart and give the same records.

A range may start only where a record certainly starts: at a line whose body (after the Ray
prefix and the dedup suffix) starts with a timestamp that parses, and that is not indented. The
folding rule makes such a line a record head whatever came before it, so the records of the
ranges, put end to end, are the records of the file. Its timestamp is a real one, so inferring
the time of the records that follow never needs the range before.

What does cross a cut is the pipeline a process named last: the parser of a range leaves such
records unresolved and the merge fills them in (``zephyr_logscan.parallel``).
"""

from __future__ import annotations

import os
from pathlib import Path

from parsers.lines import line_features, split_lines

WINDOW = 1 << 16  # bytes read at a time while looking for a cut
QUICK = 1 << 12  # bytes after each target looked at first, all targets in one pass
MAX_SEARCH = 64 << 20  # give up on a cut after this many bytes without a record start


def certain_starts(block: bytes, tz: str = "UTC") -> list[int]:
    """Offsets (in ``block``, which starts at a line start) of lines that certainly start a
    record: timestamped with a parseable time, not indented, no NUL byte. The last line counts
    only when it ends with a line break (a cut line is judged whole)."""
    return certain_starts_of([block], tz)[0]


def certain_starts_of(blocks: list[bytes], tz: str = "UTC") -> list[list[int]]:
    """``certain_starts`` of each block, in one vectorised pass over them all."""
    whole = []
    for block in blocks:
        lines = block.split(b"\n")
        lines.pop()  # the part after the last line break is not a whole line
        whole.append(lines)
    flat = [line for lines in whole for line in lines]
    if not flat:
        return [[] for _ in blocks]
    feat = line_features(split_lines(b"\n".join(flat) + b"\n"), tz)
    ok = iter((feat["timestamped"] & ~feat["indented"] & feat["ts"].is_not_null()).to_list())
    out = []
    for lines in whole:
        starts, pos = [], 0
        for line, good in zip(lines, ok, strict=False):
            if good and b"\0" not in line:
                starts.append(pos)
            pos += len(line) + 1
        out.append(starts)
    return out


def first_line_start(fh, offset: int) -> tuple[int | None, bytes]:
    """The first line that starts at or after ``offset`` and the ``QUICK`` bytes from it (None
    when no line starts within that many bytes: ``find_cut`` takes over)."""
    if offset <= 0:
        fh.seek(0)
        return 0, fh.read(QUICK)
    fh.seek(offset - 1)
    head = fh.read(QUICK)
    nl = head.find(b"\n")
    if nl < 0:
        return None, b""
    return offset + nl, head[nl + 1 :] + fh.read(nl + 1)


def find_cut(fh, offset: int, limit: int, tz: str = "UTC") -> int | None:
    """The first certain record start at or after ``offset`` and before ``limit``, or None."""
    if offset <= 0:
        return 0
    fh.seek(offset - 1)
    pos = offset - 1
    first = fh.read(WINDOW)
    nl = first.find(b"\n")
    while nl < 0:  # inside a very long line: skip to its end
        pos += len(first)
        if not first or pos - offset > MAX_SEARCH or pos >= limit:
            return None
        first = fh.read(WINDOW)
        nl = first.find(b"\n")
    start = pos + nl + 1  # the first line that starts at or after offset
    fh.seek(start)
    while start < limit and start - offset <= MAX_SEARCH:
        block = fh.read(WINDOW)
        if not block:
            return None
        found = certain_starts(block, tz)
        if found:
            cut = start + found[0]
            return cut if cut < limit else None
        last_nl = block.rfind(b"\n")
        if last_nl < 0:  # one line longer than the window: step over it whole
            start += len(block)
            fh.seek(start)
            rest = fh.read(WINDOW)
            while rest and b"\n" not in rest:
                start += len(rest)
                rest = fh.read(WINDOW)
            if not rest:
                return None
            start += rest.find(b"\n") + 1
        else:
            start += last_nl + 1
        fh.seek(start)
    return None


def split_ranges(path: str | os.PathLike, parts: int, tz: str = "UTC") -> list[tuple[int, int]]:
    """``[start, end)`` byte ranges covering the file, at most ``parts`` of them, cut only at
    certain record starts (fewer ranges when the file offers no cut near a target)."""
    size = Path(path).stat().st_size
    if parts <= 1 or size == 0:
        return [(0, size)]
    targets = [size * k // parts for k in range(1, parts)]
    cuts = [0]
    with open(path, "rb") as fh:
        # Most targets have a record start within a few lines: one pass finds them all (a
        # pass has a fixed cost); the others are searched on, window by window.
        near = [first_line_start(fh, target) for target in targets]
        found = certain_starts_of([block for _, block in near], tz)
        for target, (start, _), starts in zip(targets, near, found, strict=True):
            if target <= cuts[-1]:
                continue
            cut = start + starts[0] if start is not None and starts else None
            if cut is None:
                cut = find_cut(fh, target, size, tz)
            if cut is None or cut >= size:
                break  # no record starts after the target: the rest is one range
            if cut > cuts[-1]:
                cuts.append(cut)
    cuts.append(size)
    return list(zip(cuts, cuts[1:], strict=False))
