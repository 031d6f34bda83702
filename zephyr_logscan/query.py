"""``logscan query DIR "SQL"``: polars SQL over an ingest output, printed or written to a file.

Every table of the folder is registered under its name. The result is an aligned text table
(for reading on a terminal), or CSV, JSON or Parquet (for other tools); a file is written
atomically (a temporary file renamed into place), so a failed query never leaves half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

import polars as pl

from zephyr_logscan.load import load

FORMATS = ("table", "csv", "json", "parquet")
CELL = 80  # characters of one text-table cell; longer values end in "…"

# The README and `logscan query --help` show these; a test runs every one on a real ingest.
EXAMPLES = {
    "death waves per minute": (
        "SELECT date_trunc('minute', ts) AS minute, count(*) AS records, sum(repeat) AS deaths "
        "FROM node_deaths GROUP BY minute ORDER BY minute"
    ),
    "heartbeat failures per node": (
        "SELECT coalesce(ip, 'head node') AS node, count(DISTINCT worker_id) AS workers, "
        "sum(repeat) AS failures FROM heartbeat_failures GROUP BY node ORDER BY failures DESC"
    ),
    "workers that never came back": (
        "SELECT f.worker_id, f.pipeline, f.last_failure, r.last_reregistration "
        "FROM (SELECT worker_id, pipeline, max(ts) AS last_failure FROM heartbeat_failures "
        "GROUP BY worker_id, pipeline) AS f "
        "LEFT JOIN (SELECT worker_id, max(ts) AS last_reregistration FROM reregistrations "
        "GROUP BY worker_id) AS r ON f.worker_id = r.worker_id "
        "WHERE r.last_reregistration IS NULL OR r.last_reregistration < f.last_failure "
        "ORDER BY f.last_failure"
    ),
    "longest stall per pipeline": (
        "SELECT pipeline, max(gap_s) AS longest_stall_s FROM ("
        "SELECT pipeline, EXTRACT(EPOCH FROM ts) - EXTRACT(EPOCH FROM LAG(ts) OVER "
        "(PARTITION BY pipeline ORDER BY ts)) AS gap_s FROM stage_progress "
        "WHERE pipeline IS NOT NULL) GROUP BY pipeline ORDER BY longest_stall_s DESC NULLS LAST"
    ),
}


class QueryError(Exception):
    """Bad SQL, an unknown table or column, or an unwritable output: one line for the user."""


def run_query(folder: str | Path, sql: str) -> pl.DataFrame:
    """The result of ``sql`` over the tables of ``folder``."""
    tables = load(folder)
    try:
        return tables.sql(sql).collect()
    except (pl.exceptions.PolarsError, ValueError, TypeError) as e:
        raise QueryError(f"query failed: {first_line(e)}") from None


def first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def describe(folder: str | Path) -> str:
    """What can be queried: each table with its rows and columns."""
    tables = load(folder)
    out = []
    for name, schema in tables.schemas().items():
        rows = tables.manifest["tables"].get(name, {}).get("rows", "?")
        cols = ", ".join(f"{c} {_dtype_name(t)}" for c, t in schema.items())
        out.append(f"{name} ({rows} rows): {cols}")
    return "\n".join(out) + "\n"


def _dtype_name(dtype: pl.DataType) -> str:
    return str(dtype).replace("Datetime(time_unit='ms', time_zone='UTC')", "datetime[UTC]").lower()


# --- text: cells that read well on a terminal ----------------------------------------------------


def _plain(value):
    """A cell value -> JSON-ready: maps (polars reads them as key/value lists) become objects."""
    if isinstance(value, list):
        if value and all(isinstance(v, dict) and set(v) == {"key", "value"} for v in value):
            return {v["key"]: _plain(v["value"]) for v in value}
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def _when(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return value.isoformat()


def _cell(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        text = json.dumps(_plain(value), ensure_ascii=False, default=str)
    elif isinstance(value, datetime | date | time):
        text = _when(value)
    else:
        text = str(value)
    text = text.replace("\r", "").replace("\n", "\\n").replace("\t", " ")
    return text if len(text) <= CELL else text[: CELL - 1] + "…"


def render_table(df: pl.DataFrame) -> str:
    """Columns padded to their widest cell, numbers right-aligned, then the row count."""
    cells = [[_cell(v) for v in df[c].to_list()] for c in df.columns]
    right = [df[c].dtype.is_numeric() for c in df.columns]
    widths = [max([len(c), *map(len, col)]) for c, col in zip(df.columns, cells, strict=True)]

    def line(values):
        return "  ".join(
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ).rstrip()

    out = [line(df.columns), line(["-" * w for w in widths])]
    out += [line(row) for row in zip(*cells, strict=True)] if df.height else []
    out.append(f"({df.height} row{'s' if df.height != 1 else ''})")
    return "\n".join(out) + "\n"


def flat(df: pl.DataFrame) -> pl.DataFrame:
    """Nested columns (lists, maps, structs) as JSON text: CSV has no place for them."""
    nested = [c for c, t in df.schema.items() if t.is_nested()]
    if not nested:
        return df
    return df.with_columns(
        pl.Series(
            c,
            [
                None if v is None else json.dumps(_plain(v), ensure_ascii=False, default=str)
                for v in df[c].to_list()
            ],
            dtype=pl.String,
        )
        for c in nested
    )


# --- output -------------------------------------------------------------------------------------


def format_for(fmt: str | None, output: str | None) -> str:
    """The format asked for, else the output file's suffix, else the text table."""
    if fmt:
        return fmt
    suffix = Path(output).suffix.lstrip(".").lower() if output else ""
    return suffix if suffix in FORMATS[1:] else "table"


def write_result(df: pl.DataFrame, fmt: str, output: str | None) -> None:
    """Write ``df`` as ``fmt`` to the file ``output`` (atomically) or to stdout."""
    if output is None:
        if fmt == "parquet" and sys.stdout.isatty():
            raise QueryError("Parquet is binary: write it to a file with -o FILE")
        try:
            _emit(df, fmt, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        except (OSError, pl.exceptions.PolarsError) as e:
            if not (isinstance(e, BrokenPipeError) or "Broken pipe" in str(e)):
                raise QueryError(f"cannot write the result: {first_line(e)}") from None
            # `| head`: the reader has all it wants
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    target = Path(output)
    if target.is_symlink() or (target.exists() and not target.is_file()):
        # A file is replaced by renaming a new one over it: that would replace the link or
        # the device itself, not write through it.
        raise QueryError(
            f"cannot write {output}: not a regular file (a link, device or pipe is never "
            "replaced; leave out -o to write to stdout)"
        )
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            _emit(df, fmt, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as e:
        raise QueryError(f"cannot write {output}: {e.strerror or e}") from None
    except pl.exceptions.PolarsError as e:  # polars' own writers (Parquet, CSV) on a full disk
        raise QueryError(f"cannot write {output}: {first_line(e)}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _emit(df: pl.DataFrame, fmt: str, fh) -> None:
    if fmt == "table":
        fh.write(render_table(df).encode())
    elif fmt == "csv":
        flat(df).write_csv(fh, datetime_format="%Y-%m-%dT%H:%M:%S%.3fZ")
    elif fmt == "json":
        rows = [{k: _plain(v) for k, v in row.items()} for row in df.iter_rows(named=True)]
        fh.write((json.dumps(rows, ensure_ascii=False, default=str) + "\n").encode())
    elif fmt == "parquet":
        df.write_parquet(fh, compression="zstd")
    else:  # the CLI only offers FORMATS
        raise QueryError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
