"""``zephyr_logscan.load(DIR)``: an ingest output folder as lazy polars tables, for notebooks.

>>> t = load("full_log.txt.logscan")
>>> t.manifest["tables"]["node_deaths"]["events"]
74
>>> t.node_deaths.group_by_dynamic("ts", every="1m").agg(pl.col("repeat").sum()).collect()
>>> t.sql("SELECT pipeline, count(*) FROM heartbeat_failures GROUP BY 1").collect()

Nothing is read until a frame is collected: each table is a ``polars.scan_parquet`` of its file,
so a filter or a column selection reads only what it needs.

Schema (every table but ``templates`` has the common columns; README, "logscan ingest"):

- common: ``file`` str, ``line`` i64 (the record's first line in its file), ``lines`` i32,
  ``ts`` datetime[ms, UTC], ``ts_inferred`` bool, ``level`` str, ``source`` str, ``pid`` i64,
  ``ip`` str, ``repeat`` i32 (Ray's dedup count: events = sum(repeat)), ``pipeline`` str,
  ``rule`` str (the catalog rule id), ``message`` str (all lines of the record),
  ``fields`` map[str, str] (``key=value`` trailers and JSON event labels);
- plus each table's own columns (``parsers/tables.py``, ``EXTRA``), e.g. ``node_deaths``:
  ``node_id, node_ip, node_name, reason``; ``heartbeat_failures``: ``worker_id, silence_s``;
- ``templates``: ``template, records, events, first_file, first_line, sample``.

``Tables.schemas()`` gives every table's exact polars schema without reading any rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import polars as pl


class LoadError(Exception):
    """A folder that is not a readable ingest output: the message is one line for the user."""


class Tables(Mapping):
    """The manifest plus one ``polars.LazyFrame`` per table, by name (``t["events"]`` or
    ``t.events``)."""

    def __init__(self, folder: Path, manifest: dict, frames: dict[str, pl.LazyFrame]):
        self.folder = folder
        self.manifest = manifest
        self.frames = frames

    def __getitem__(self, name: str) -> pl.LazyFrame:
        return self.frames[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    def __getattr__(self, name: str) -> pl.LazyFrame:
        frames = self.__dict__.get("frames", {})
        if name in frames:
            return frames[name]
        raise AttributeError(name)

    def __dir__(self):
        return [*super().__dir__(), *self.frames]

    def __repr__(self) -> str:
        rows = ", ".join(f"{t}={c['rows']}" for t, c in self.manifest.get("tables", {}).items())
        return f"<Tables {self.folder}: {rows}>"

    def schemas(self) -> dict[str, pl.Schema]:
        """Every table's columns and types (read from the Parquet footers only)."""
        return {name: frame.collect_schema() for name, frame in self.frames.items()}

    def sql(self, query: str) -> pl.LazyFrame:
        """Run polars SQL with every table registered under its name."""
        return pl.SQLContext(frames=self.frames).execute(query, eager=False)


def load(folder: str | Path) -> Tables:
    """Open an ingest output folder (``manifest.json`` + one Parquet file per table)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    names = list(manifest["tables"])
    frames = {}
    for name in names:
        table = folder / f"{name}.parquet"
        if not table.is_file():
            raise LoadError(
                f"{folder}: table {name} is in the manifest but {table.name} is missing"
            )
        frames[name] = pl.scan_parquet(table)
    return Tables(folder, manifest, frames)


def read_manifest(folder: Path) -> dict:
    """The manifest of an ingest output folder, with its ``tables`` entry (table name ->
    counts); or what is wrong with it, in one line (every command reads it here)."""
    path = folder / "manifest.json"
    if not path.is_file():
        raise LoadError(
            f"{folder}: not an ingest output (no manifest.json); run `logscan ingest` first"
        )
    try:
        manifest = json.loads(path.read_text())
    except OSError as e:
        raise LoadError(f"{path}: cannot read it ({e.strerror or e})") from None
    except ValueError as e:  # (not JSON, or not UTF-8)
        raise LoadError(f"{path}: not a readable manifest (not JSON: {e})") from None
    if not isinstance(manifest, dict):
        raise LoadError(
            f"{path}: not a readable manifest (a JSON {json_kind(manifest)}, not an object)"
        )
    if "tables" not in manifest:
        raise LoadError(
            f'{path}: not a readable manifest (no "tables" entry, which lists the tables an '
            "ingest wrote): run `logscan ingest` again"
        )
    tables = manifest["tables"]
    if not isinstance(tables, dict):
        raise LoadError(
            f'{path}: not a readable manifest ("tables" is a JSON {json_kind(tables)}, not an '
            "object of table names)"
        )
    return manifest


def json_kind(value) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")
