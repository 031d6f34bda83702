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
MAX_SEARCH = 64 << 20  # give up on a cut after this many bytes without a record start


def certain_starts(block: bytes, tz: str = "UTC") -> list[int]:
    """Offsets (in ``block``, which starts at a line start) of lines that certainly start a
    record: timestamped with a parseable time, not indented, no NUL byte. The last line counts
    only when it ends with a line break (a cut line is judged whole)."""
    lines = block.split(b"\n")
    lines.pop()  # the part after the last line break is not a whole line
    if not lines:
        return []
    feat = line_features(split_lines(b"\n".join(lines) + b"\n"), tz)
    ok = (feat["timestamped"] & ~feat["indented"] & feat["ts"].is_not_null()).to_list()
    out, pos = [], 0
    for line, good in zip(lines, ok, strict=True):
        if good and b"\0" not in line:
            out.append(pos)
        pos += len(line) + 1
    return out


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
    cuts = [0]
    with open(path, "rb") as fh:
        for k in range(1, parts):
            target = size * k // parts
            if target <= cuts[-1]:
                continue
            cut = find_cut(fh, target, size, tz)
            if cut is None:
                break  # no record starts after the target: the rest is one range
            if cut > cuts[-1]:
                cuts.append(cut)
    cuts.append(size)
    return list(zip(cuts, cuts[1:], strict=False))
