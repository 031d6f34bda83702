"""Physical lines -> per-line features, vectorised over a chunk with polars.

For every line: its Ray prefix (source, pid, ip), its body, the dedup count, the body's own
timestamp and level, and whether it is indented. The same patterns serve polars (vectorised) and
Python's ``re`` (the fold's per-line checks).
"""

from __future__ import annotations

import io
import re

import polars as pl

ANSI = r"\x1b\[[0-9;]*m"
PREFIX = (
    r"^(?P<pfx>\((?:(?P<raylet>raylet)(?:, ip=(?P<rip>[^\s)]+))?"
    r"|(?P<auto>autoscaler) \+(?:\d+h)?(?:\d+m)?(?:\d+s)?"
    r"|(?:(?P<name>.*?) )?pid=(?P<pid>\w+)(?:, ip=(?P<pip>[^\s)]+))?)\)(?: |$))"
)
REPEAT = r"\[repeated (\d+)x across cluster\]"
DEDUP_TAIL = r"\s*\[repeated \d+x across cluster\].*$"
_LVL = r"(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)"
TIMESTAMP = (
    r"^(?:(?P<py>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(?P<pyms>\d{3})(?:[ \t]+(?P<pylvl>"
    + _LVL
    + r")\b)?"
    r"|\[(?P<cpp>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(?P<cppms>\d{3}) (?P<cpplvl>[DIWECFT]) -?\d+ -?\d+\]"
    r"|(?P<gllvl>[DIWECF])(?P<gl>\d{8} \d{2}:\d{2}:\d{2})(?:\.(?P<glms>\d+))?\b"
    r"|(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:[.,](?P<isoms>\d+))?(?P<isotz>Z|[+-]\d{2}:?\d{2})?"
    r"(?:[ \t]+(?P<isolvl>" + _LVL + r")\b)?)"
)
LEVELS = {
    "T": "DEBUG", "D": "DEBUG", "I": "INFO", "W": "WARNING", "E": "ERROR", "C": "FATAL", "F": "FATAL",
    "DEBUG": "DEBUG", "INFO": "INFO", "WARN": "WARNING", "WARNING": "WARNING", "ERROR": "ERROR",
    "CRITICAL": "FATAL", "FATAL": "FATAL",
}  # fmt: skip


TRACEBACK = "Traceback (most recent call last):"
EXCEPTION_NAME = re.compile(
    r"(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning|Failure)(?:\([\w.]*\))?"
)
_TIMESTAMP = re.compile(TIMESTAMP)


def is_timestamped(body: str) -> bool:
    return _TIMESTAMP.match(body) is not None


def is_exception_line(body: str) -> bool:
    """``ValueError: bad``, ``ray.exceptions.RayTaskError(ActorDiedError): ...``, ``KeyboardInterrupt``.

    The name is matched on a bounded prefix: on a single 50 MB line an unbounded ``\\w*`` would
    backtrack for hours.
    """
    m = EXCEPTION_NAME.match(body[:512])
    if m is None:
        return False
    rest = body[m.end() :]
    return rest == "" or rest == ":" or rest.startswith(": ")


# Ray's own colour codes: removed from the bytes with plain replaces (fast), the rest by pattern.
COMMON_ANSI = (b"\x1b[0m", b"\x1b[36m", b"\x1b[33m", b"\x1b[32m", b"\x1b[39m")


def split_lines(chunk: bytes) -> pl.Series:
    """One chunk of whole lines -> its lines, decoded with replacement, ANSI codes and a
    trailing ``\\r`` removed."""
    if b"\x1b" in chunk:
        for code in COMMON_ANSI:
            chunk = chunk.replace(code, b"")
    if b"\0" in chunk:  # NUL is the reader's column separator below: split in Python instead
        text = chunk.decode("utf-8", "replace")
        parts = text.split("\n")
        if text.endswith("\n"):
            parts.pop()
        lines = pl.Series("text", parts, dtype=pl.String).str.strip_suffix("\r")
    else:
        # polars' CSV reader, with no quoting and a separator the chunk does not hold, is the
        # fastest line splitter at hand (native, lossy UTF-8, drops the \r of \r\n).
        lines = pl.read_csv(
            io.BytesIO(chunk), has_header=False, separator="\0", quote_char=None,
            schema={"text": pl.String}, encoding="utf8-lossy",
        )["text"].fill_null("")  # fmt: skip
    if b"\x1b" in chunk:
        lines = lines.str.replace_all(ANSI, "")
    return lines


def _ms(date: pl.Expr, ms: pl.Expr, fmt: str) -> pl.Expr:
    """Whole seconds parsed with ``fmt``, plus the first three digits of the fraction."""
    seconds = date.str.to_datetime(fmt, time_unit="ms", strict=False)
    return seconds + pl.duration(
        milliseconds=ms.fill_null("0").str.slice(0, 3).str.pad_end(3, "0").cast(pl.Int64)
    )


def line_features(lines: pl.Series, tz: str = "UTC") -> pl.DataFrame:
    """Lines -> one row per line: prefix, source, pid, ip, body, repeat, ts, level, timestamped,
    indented (``ts`` is the body's own timestamp, in UTC)."""
    df = (
        pl.DataFrame({"text": lines})
        .with_columns(g=pl.col("text").str.extract_groups(PREFIX))
        .unnest("g")
    )
    df = df.with_columns(
        prefix=pl.col("pfx").str.strip_chars_end(" "),
        body=pl.col("text").str.slice(pl.col("pfx").str.len_chars().fill_null(0)),
        ip=pl.coalesce("rip", "pip"),
        source=pl.coalesce(
            "raylet", "auto", "name", pl.when(~pl.col("pid").str.contains(r"^\d+$")).then("pid")
        ),
    )
    df = df.with_columns(repeat=pl.col("body").str.extract(REPEAT, 1).cast(pl.Int32))
    df = df.with_columns(
        mbody=pl.when(pl.col("repeat").is_not_null())
        .then(pl.col("body").str.replace(DEDUP_TAIL, ""))
        .otherwise(pl.col("body"))
    )
    df = df.with_columns(t=pl.col("mbody").str.extract_groups(TIMESTAMP)).unnest("t")
    # Python and Ray C++ timestamps share one layout: parse them as one column.
    naive = pl.coalesce(
        _ms(pl.coalesce("py", "cpp"), pl.coalesce("pyms", "cppms"), "%Y-%m-%d %H:%M:%S"),
        _ms(pl.col("gl"), pl.col("glms"), "%Y%m%d %H:%M:%S"),
        _ms(pl.when(pl.col("isotz").is_null()).then("iso"), pl.col("isoms"), "%Y-%m-%dT%H:%M:%S"),
    )
    aware = _ms(
        pl.concat_str(
            [pl.col("iso"), pl.col("isotz").str.replace("Z", "+00:00").str.replace(":", "")]
        ),
        pl.col("isoms"),
        "%Y-%m-%dT%H:%M:%S%z",
    )
    ts = pl.coalesce(
        naive.dt.replace_time_zone(
            tz, ambiguous="earliest", non_existent="null"
        ).dt.convert_time_zone("UTC"),
        aware.dt.convert_time_zone("UTC"),
    )
    timestamped = pl.any_horizontal(pl.col(c).is_not_null() for c in ("py", "cpp", "gl", "iso"))
    level = pl.coalesce("pylvl", "cpplvl", "gllvl", "isolvl").replace_strict(LEVELS, default=None)
    return df.select(
        "prefix", "source", pl.col("pid").cast(pl.Int64, strict=False), "ip", "body", "mbody", "repeat",
        ts.alias("ts"), level.alias("level"), timestamped.alias("timestamped"),
        pl.col("mbody").str.contains(r"^[ \t]").alias("indented"),
    )  # fmt: skip
