"""Physical lines -> per-line features, vectorised over a chunk with polars.

For every line: its Ray prefix (source, pid, ip), its body, the dedup count, the body's own
timestamp and level, and whether it is indented. The same patterns serve polars (vectorised) and
Python's ``re`` (the fold's per-line checks).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import polars as pl

ANSI = r"\x1b\[[0-9;]*m"
# Ray's prefix of a line a process printed: ``(raylet)``, ``(autoscaler +1m2s)``, ``(Coordinator
# pid=123, ip=10.0.0.2)``; and Iris's (``iris job logs``): ``task=/user/job/0 attempt=0 | ``, once
# its time of day is cut (``COLLECTOR_STAMP``).
PREFIX = (
    r"^(?P<pfx>\((?:(?P<raylet>raylet)(?:, ip=(?P<rip>[^\s)]+))?"
    r"|(?P<auto>autoscaler) \+(?:\d+h)?(?:\d+m)?(?:\d+s)?"
    r"|(?:(?P<name>.*?) )?pid=(?P<pid>\w+)(?:, ip=(?P<pip>[^\s)]+))?)\)(?: |$)"
    r"|task=(?P<task>\S+) attempt=\S+ \|(?: |$))"
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


def split_lines(chunk: bytes) -> pl.Series:
    """One chunk of whole lines -> its lines, decoded with replacement, ANSI codes and a
    trailing ``\\r`` removed."""
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
    return cut_collector_stamp(lines)


# A log collector's time of day put before each line it streams (Iris: ``02:22:07.294I20260324
# 09:22:03 zephyr.execution ...``, ``02:22:00.525syncing deps``): the program's line follows it
# glued, or after a blank when the program's own timestamp follows. It has no date and says
# when the collector saw the line, so it is cut (like ANSI codes) and the line read as the
# program wrote it. A time of day followed by a blank and text is left alone: that is how
# some programs stamp their own lines (``12:34:56.789 starting``), and nothing else dates them.
# Iris's CLI puts ``[09:22:03] `` before the task that printed a line (``iris job logs``: ``[09:22:03]
# task=/user/job/0 attempt=0 | I20260324 09:22:03 zephyr.execution ...``): cut too; the task is
# the line's ``PREFIX``.
_DAY_TIME = r"\d{2}:\d{2}:\d{2}\.\d{3}"
_OWN_STAMP = (
    r"(?:\d{4}-\d{2}-\d{2}[ T]\d{2}:|\[\d{4}-|[DIWECF]\d{8} )"  # how TIMESTAMP's forms begin
)
COLLECTOR_STAMP = rf"^{_DAY_TIME}(?:[^\s\d.:,]|[ \t]?{_OWN_STAMP})"
IRIS_TASK_STAMP = r"^\[\d{2}:\d{2}:\d{2}\] task=\S+ attempt=\S+ \| "


def cut_collector_stamp(lines: pl.Series) -> pl.Series:
    """Lines without a collector's time of day (``COLLECTOR_STAMP``, ``IRIS_TASK_STAMP``);
    others unchanged."""
    # Only a line whose first colon is its third (or, bracketed, fourth) character can begin with
    # a time of day: a literal search rules out nearly every line at a third of a regex's cost.
    rows = lines.str.find(":", literal=True).is_in([2, 3]).arg_true()
    if len(rows) == 0:
        return lines
    sub = lines.gather(rows)
    glued = sub.str.contains(COLLECTOR_STAMP)
    bracketed = sub.str.contains(IRIS_TASK_STAMP)
    if not (glued.any() or bracketed.any()):
        return lines
    cut = (
        pl.when(pl.lit(glued))
        .then(pl.lit(sub).str.slice(12).str.strip_prefix(" ").str.strip_prefix("\t"))
        .when(pl.lit(bracketed))
        .then(pl.lit(sub).str.slice(11))
        .otherwise(pl.lit(sub))
    )
    return lines.clone().scatter(rows, pl.select(cut).to_series())


def where_holds(
    texts: pl.Series, literal: str, parse: Callable[[pl.Series], pl.Series], dtype: pl.DataType
) -> pl.Series:
    """``parse`` applied only to the texts that hold ``literal`` (null elsewhere): a regex run
    over the few rows it can match instead of all of them."""
    rows = texts.str.contains(literal, literal=True).arg_true()
    out = pl.repeat(None, len(texts), dtype=dtype, eager=True)
    return out.scatter(rows, parse(texts.gather(rows))) if len(rows) else out


def _ms(date: pl.Expr, ms: pl.Expr, fmt: str) -> pl.Expr:
    """Whole seconds parsed with ``fmt``, plus the first three digits of the fraction."""
    seconds = date.str.to_datetime(fmt, time_unit="ms", strict=False)
    return seconds + pl.duration(
        milliseconds=ms.fill_null("0").str.slice(0, 3).str.pad_end(3, "0").cast(pl.Int64)
    )


PY_TIMESTAMP = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}"  # the bulk: Python logging
PY_LEVEL = r"^[ \t]+(" + _LVL + r")\b"  # on the 12 characters after the timestamp
OTHER_TIMESTAMP = (
    r"^(?:\[\d|[DIWECF]\d|\d{4}-\d{2}-\d{2}T)"  # C++, glog, ISO: matched in full below
)


def line_features(lines: pl.Series, tz: str = "UTC") -> pl.DataFrame:
    """Lines -> one row per line: prefix, source, pid, ip, body, mbody (the body without its
    dedup suffix), repeat, ts (the body's own timestamp, UTC), level, timestamped, indented."""
    # Cutting the prefix off (a plain regex find) is much faster than capturing it.
    df = pl.DataFrame({"text": lines}).with_columns(body=pl.col("text").str.replace(PREFIX, ""))
    cut = pl.col("text").str.strip_suffix(pl.col("body"))  # "" where no prefix was cut
    df = df.with_columns(prefix=pl.when(cut != "").then(cut.str.strip_chars_end(" ")))
    df = df.join(_prefix_parts(df["prefix"]), on="prefix", how="left", maintain_order="left")
    body = df["body"]
    # The dedup suffix is looked for only in lines that hold its words.
    repeat = where_holds(
        body, "[repeated ", lambda s: s.str.extract(REPEAT, 1).cast(pl.Int32), pl.Int32
    )
    deduped = repeat.is_not_null().arg_true()
    # (scatter writes into the series it is called on: each is called on a copy)
    mbody = (
        body.clone().scatter(deduped, body.gather(deduped).str.replace(DEDUP_TAIL, ""))
        if len(deduped)
        else body
    )
    source, pid = df["source"], df["pid"]
    encoded = mbody.str.starts_with('{"').arg_true()
    if len(encoded):  # JSON-encoded records, read as Ray's TEXT encoding prints them
        sub = json_records_as_text(mbody.gather(encoded))
        # (the dedup suffix, if any, stays after the record)
        tail = body.gather(encoded).str.slice(mbody.gather(encoded).str.len_chars())
        body = body.clone().scatter(encoded, sub["text"] + tail)
        mbody = mbody.clone().scatter(encoded, sub["text"])
        own_pid, own_source = pid.gather(encoded), source.gather(encoded)
        pid = pid.clone().scatter(encoded, own_pid.zip_with(own_pid.is_not_null(), sub["pid"]))
        source = source.clone().scatter(
            encoded, own_source.zip_with(own_source.is_not_null(), sub["source"])
        )
    ts, level, timestamped = _timestamps(mbody, tz)
    return df.select("prefix").with_columns(
        source=source, pid=pid, ip=df["ip"], body=body, mbody=mbody, repeat=repeat, ts=ts,
        level=level, timestamped=timestamped, indented=mbody.str.contains(r"^[ \t]"),
    )  # fmt: skip


# The Ray context a JSON-encoded record carries, printed after its message as Ray's TEXT encoding
# prints it (``key=value``); the ids among them become the record's ``fields`` (tables.TRAILER).
JSON_CONTEXT = ("actor_name", "task_name", "label", "job_id", "worker_id", "node_id", "actor_id",
                "task_id")  # fmt: skip


MAX_MS = 253402300799999  # 9999-12-31T23:59:59.999Z: a time beyond is no time


def json_records_as_text(texts: pl.Series) -> pl.DataFrame:
    """JSON-encoded log records -> (text, pid, source): each as Ray's TEXT encoding prints the
    same record (``2026-11-30 20:37:04,912 WARNING x.py:21 -- message key=value ...``, and the
    exception's traceback on the lines after), its process id and source. Ray writes these with
    ``ray.LoggingConfig(encoding="JSON")`` (``asctime``, ``levelname``, ``message``,
    ``exc_text``, ``process``, ``timestamp_ns``, the Ray context) and in its event files
    (``timestamp`` in seconds, ``severity``, ``source_type``, ``label``), which users paste into
    text logs. A text that is no JSON object with a string ``message`` is left as it is."""
    frame = texts.to_frame("j")

    def get(key: str) -> pl.Expr:
        return pl.col("j").str.json_path_match(f"$.{key}")

    epoch_ms = pl.coalesce(
        get("timestamp_ns").cast(pl.Int64, strict=False) // 1_000_000,
        (get("timestamp").cast(pl.Float64, strict=False) * 1000).cast(pl.Int64, strict=False),
    )
    utc = pl.from_epoch(pl.when(epoch_ms.is_between(0, MAX_MS)).then(epoch_ms), "ms").dt.strftime(
        "%Y-%m-%dT%H:%M:%S%.3fZ"
    )
    head = pl.concat_str(
        [
            pl.coalesce(get("asctime"), utc),
            pl.coalesce(get("levelname"), get("severity")),
            pl.concat_str([get("filename"), pl.lit(":"), get("lineno")]),
            pl.lit("--"),
            get("message"),
        ],
        separator=" ", ignore_nulls=True,
    )  # fmt: skip
    context = [pl.lit(f" {key}=") + get(key) for key in JSON_CONTEXT]
    text = pl.concat_str([head, *context, pl.lit("\n") + get("exc_text")], ignore_nulls=True)
    # (a message that is not a string: json_path_match gives its JSON; such a record is no log's)
    is_record = get("message").is_not_null() & pl.col("j").str.contains(r'"message"\s*:\s*"')
    return frame.select(
        text=pl.when(is_record).then(text).otherwise(pl.col("j")),
        pid=pl.when(is_record).then(
            pl.coalesce(get("process"), get("pid"), get("source_pid")).cast(pl.Int64, strict=False)
        ),
        source=pl.when(is_record).then(get("source_type")),
    )


def _prefix_parts(prefix: pl.Series) -> pl.DataFrame:
    """source, pid, ip of each distinct prefix (a chunk holds few distinct ones)."""
    uniq = prefix.drop_nulls().unique().to_frame()
    parts = uniq.with_columns(g=pl.col("prefix").str.extract_groups(PREFIX)).unnest("g")
    return parts.select(
        "prefix",
        source=pl.coalesce(
            "raylet",
            "auto",
            "name",
            pl.when(~pl.col("pid").str.contains(r"^\d+$")).then("pid"),
            "task",
        ),
        pid=pl.col("pid").cast(pl.Int64, strict=False),
        ip=pl.coalesce("rip", "pip"),
    )


def _timestamps(mbody: pl.Series, tz: str) -> tuple[pl.Series, pl.Series, pl.Series]:
    """(ts in UTC, level, timestamped) per body. Python-logging stamps are parsed by position;
    the rarer forms go through the full pattern on their rows only."""
    is_py = mbody.str.contains(PY_TIMESTAMP)
    frame = mbody.to_frame("m")
    py = frame.select(
        # (The pattern holds exactly three digits of milliseconds: added as an integer.)
        ts=pl.when(is_py).then(
            (
                pl.col("m")
                .str.slice(0, 19)
                .str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="ms", strict=False)
                .cast(pl.Int64)
                + pl.col("m").str.slice(20, 3).cast(pl.Int64, strict=False)
            ).cast(pl.Datetime("ms"))
        ),
        level=pl.when(is_py).then(pl.col("m").str.slice(23, 12).str.extract(PY_LEVEL, 1)),
    )
    naive, level, timestamped = py["ts"], py["level"], is_py
    others = (~is_py & mbody.str.contains(OTHER_TIMESTAMP)).arg_true()
    aware = pl.Series([None] * len(mbody), dtype=pl.Datetime("ms", "UTC"))
    if len(others):
        g = mbody.gather(others).str.extract_groups(TIMESTAMP).struct.unnest()
        sub = g.select(
            naive=pl.coalesce(
                _ms(pl.col("cpp"), pl.col("cppms"), "%Y-%m-%d %H:%M:%S"),
                _ms(pl.col("gl"), pl.col("glms"), "%Y%m%d %H:%M:%S"),
                _ms(pl.when(pl.col("isotz").is_null()).then("iso"), pl.col("isoms"), "%Y-%m-%dT%H:%M:%S"),
            ),
            aware=_ms(
                pl.concat_str([pl.col("iso"), pl.col("isotz").str.replace("Z", "+00:00").str.replace(":", "")]),
                pl.col("isoms"), "%Y-%m-%dT%H:%M:%S%z",
            ).dt.convert_time_zone("UTC"),
            level=pl.coalesce("cpplvl", "gllvl", "isolvl"),
            timestamped=pl.any_horizontal(pl.col(c).is_not_null() for c in ("cpp", "gl", "iso")),
        )  # fmt: skip
        naive = naive.scatter(others, sub["naive"])
        aware = aware.scatter(others, sub["aware"])
        level = level.scatter(others, sub["level"])
        timestamped = timestamped.scatter(others, sub["timestamped"])
    local = naive.dt.replace_time_zone(
        tz, ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone("UTC")
    ts = pl.select(pl.coalesce(pl.lit(local), pl.lit(aware))).to_series()
    return ts, level.replace_strict(LEVELS, default=None), timestamped
