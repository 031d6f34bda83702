"""Lines -> records, by the folding rule of shared/DESIGN.md (exactly).

A record is a head line plus its continuation lines. Most lines decide themselves: a body that
starts with a timestamp and is not indented is always a head (rules 1-4 all need the opposite).
Only the other lines go through the rule's state machine, in Python; everything else is
vectorised. The folder keeps the last, still open record of a chunk and prepends it to the next
chunk, so a record split across a read chunk is still one record.
"""

from __future__ import annotations

import polars as pl

from parsers.lines import TRACEBACK, is_exception_line, is_timestamped, line_features

SEVERE = frozenset(("WARNING", "ERROR", "FATAL"))
_NO_RECORD = object()  # fold state before the first line


def find_heads(feat: pl.DataFrame, starts: frozenset[int] = frozenset((0,))) -> pl.Series:
    """A bool per line: does it start a record? The first line always does, and so does each
    of ``starts`` (the first lines of the files of a batch: no record spans two files)."""
    decided = feat["timestamped"] & ~feat["indented"]
    undecided = (~decided).arg_true().to_list()
    if not undecided:
        return decided
    # Gather only what the state machine needs: the undecided lines and the line before each.
    need = sorted(set(undecided) | {i - 1 for i in undecided if i > 0})
    sub = feat[need].select("prefix", "level", "mbody", "indented")
    at = {i: k for k, i in enumerate(need)}
    new_heads = []
    prefix, level, mbody, indented = (
        sub[c].to_list() for c in ("prefix", "level", "mbody", "indented")
    )
    cur_prefix, cur_level, tb_open, last, had_exc = _NO_RECORD, None, False, "other", False
    done = -2
    for i in undecided:
        if i in starts:  # a file's first line: nothing before it
            cur_prefix, cur_level, tb_open, last, had_exc = _NO_RECORD, None, False, "other", False
        elif i - 1 != done:  # the line before is a timestamped head: the state restarts there
            k = at[i - 1]
            cur_prefix, cur_level, tb_open, last, had_exc = (
                prefix[k],
                level[k],
                False,
                "other",
                False,
            )
        done = i
        k = at[i]
        p, body, indent = prefix[k], mbody[k], indented[k]
        if cur_prefix is not _NO_RECORD and (p is None or p == cur_prefix):
            if indent:  # rule 1
                last = "indent"
                continue
            if tb_open and not is_timestamped(body):  # rule 2
                if is_exception_line(body):  # the exception line closes the traceback
                    tb_open, last, had_exc = False, "exc", True
                else:
                    last = "other"
                continue
            if body == TRACEBACK and cur_level in SEVERE:  # rule 3
                tb_open, last = True, "other"
                continue
            if (
                had_exc
                and last in ("exc", "indent")
                and not body.startswith("Traceback")
                and not is_timestamped(body)
            ):
                last = "exc"  # rule 4; its lines chain
                continue
        new_heads.append(i)
        cur_prefix, cur_level = p, level[k]
        tb_open, last, had_exc = body == TRACEBACK, "other", False
        if not tb_open:
            if indent:
                last = "indent"
            elif is_exception_line(body):  # not timestamped here, so the check is the rule's
                last, had_exc = "exc", True
    return decided.scatter(new_heads, True) if new_heads else decided


def to_records(feat: pl.DataFrame, heads: pl.Series, first_line: int) -> pl.DataFrame:
    """Lines with their head flags -> one row per record (head fields, message, lines, repeat).

    Most records are one line; only the others are grouped to join their lines.
    """
    starts = heads.arg_true()
    lines = (
        starts.append(pl.Series([feat.height], dtype=starts.dtype)).diff().slice(1).cast(pl.Int32)
    )
    records = feat.filter(heads).select(
        pl.int_range(first_line, first_line + feat.height, dtype=pl.Int64).filter(heads).alias("line"),
        "prefix", "source", "pid", "ip", "ts", "level",
        pl.lit(lines).alias("lines"),
        pl.col("body").alias("head"),
        pl.col("body").alias("message"),
        pl.col("repeat").fill_null(1),
    )  # fmt: skip
    multi = (lines > 1).arg_true()
    if len(multi) == 0:
        return records
    rid = heads.cast(pl.Int32).cum_sum() - 1
    grouped = (
        feat.select("body", "repeat", rid=rid)
        .filter(pl.col("rid").is_in(multi.cast(pl.Int32).implode()))
        .group_by("rid", maintain_order=True)
        .agg(pl.col("body").str.join("\n"), pl.col("repeat").drop_nulls().first().fill_null(1))
    )
    return records.with_columns(
        message=records["message"].scatter(multi, grouped["body"]),
        repeat=records["repeat"].scatter(multi, grouped["repeat"]),
    )


def fold_files(lines: pl.Series, starts: list[int], tz: str = "UTC") -> pl.DataFrame:
    """Records of several whole files given as one series of lines (``starts``: the index of
    each file's first line, ascending): one pass for them all. No record spans two files;
    ``line`` counts within each file and ``part`` is the file's position in ``starts``."""
    feat = line_features(lines.rename("text"), tz)
    records = to_records(feat, find_heads(feat, frozenset(starts)), 0)
    begin = pl.Series(starts, dtype=pl.Int64)
    part = (begin.search_sorted(records["line"], side="right") - 1).cast(pl.Int32)
    return records.with_columns(line=records["line"] - begin.gather(part) + 1, part=part)


class RecordFolder:
    """Folds the lines of one file into records, chunk by chunk.

    >>> f = RecordFolder()
    >>> f.feed(pl.Series(["a", "Traceback (most recent call last):", "  x", "E: y", "b"]))["line"].to_list()
    [1, 2]
    >>> f.close()["line"].to_list()
    [5]
    """

    def __init__(self, tz: str = "UTC"):
        self.tz = tz
        self.carry = pl.Series("text", [], dtype=pl.String)
        self.next_line = 1  # file line number of the first carried (or next) line

    def feed(self, lines: pl.Series, final: bool = False) -> pl.DataFrame:
        """Records that these lines close (the last record stays open for the next call, unless
        these are the file's ``final`` lines: one pass instead of a feed and a close)."""
        lines = self.carry.append(lines.rename("text")) if len(self.carry) else lines.rename("text")
        feat = line_features(lines, self.tz)
        heads = find_heads(feat)
        if final:
            self.carry = self.carry.clear()
            records = to_records(feat, heads, self.next_line)
            self.next_line += len(lines)
            return records
        starts = heads.arg_true()
        last = int(starts[-1]) if len(starts) else 0
        self.carry = lines.slice(last)
        records = to_records(feat.slice(0, last), heads[:last], self.next_line)
        self.next_line += last
        return records

    def close(self) -> pl.DataFrame:
        return self.feed(self.carry.clear(), final=True)
