"""The user API: a ``Dataset`` is a source plus a chain of operations, built lazily.

>>> ds = Dataset.from_list([1, 2, 3]).map(lambda x: x * 10).filter(lambda x: x > 10)
>>> # ZephyrContext().execute(ds).results == [20, 30]
"""

from __future__ import annotations

import glob as glob_mod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Op:
    """One operation; ``kind`` is its name, the rest its arguments."""

    kind: str  # map filter flat_map map_shard load_jsonl load_parquet reshard group_by reduce count write_jsonl write_parquet
    fn: Callable | None = None
    reducer: Callable | None = None
    n: int | None = None
    initial: Any = None
    pattern: str | None = None


@dataclass(frozen=True)
class Source:
    items: tuple
    num_shards: int | None = None


@dataclass(frozen=True)
class ShardInfo:
    shard: int
    total: int
    stage: str


@dataclass(frozen=True)
class Dataset:
    source: Source
    ops: tuple[Op, ...] = field(default_factory=tuple)

    # --- sources ---------------------------------------------------------------------------------

    @staticmethod
    def from_list(items: Iterable, num_shards: int | None = None) -> Dataset:
        """One shard per item by default (as upstream), else ``num_shards`` contiguous shards."""
        return Dataset(Source(tuple(items), num_shards))

    @staticmethod
    def from_iterable(items: Iterable, num_shards: int | None = None) -> Dataset:
        return Dataset.from_list(items, num_shards)

    @staticmethod
    def from_files(pattern: str) -> Dataset:
        """One shard per file matching ``pattern``; follow with ``load_jsonl``/``load_parquet``."""
        files = sorted(glob_mod.glob(pattern, recursive=True))
        if not files:
            raise FileNotFoundError(f"no files match {pattern!r}")
        return Dataset(Source(tuple(files)))

    # --- per-item operations (fused into one stage) ---------------------------------------------

    def _then(self, op: Op) -> Dataset:
        return Dataset(self.source, (*self.ops, op))

    def map(self, fn: Callable) -> Dataset:
        return self._then(Op("map", fn))

    def filter(self, fn: Callable) -> Dataset:
        return self._then(Op("filter", fn))

    def flat_map(self, fn: Callable) -> Dataset:
        return self._then(Op("flat_map", fn))

    def map_shard(self, fn: Callable) -> Dataset:
        """``fn(items_iterator, shard_info) -> iterable`` over one whole shard."""
        return self._then(Op("map_shard", fn))

    def load_jsonl(self) -> Dataset:
        return self._then(Op("load_jsonl"))

    def load_parquet(self) -> Dataset:
        return self._then(Op("load_parquet"))

    # --- shuffles (stage boundaries) -------------------------------------------------------------

    def reshard(self, n: int) -> Dataset:
        if n < 1:
            raise ValueError("reshard needs at least one shard")
        return self._then(Op("reshard", n=n))

    def group_by(
        self, key_fn: Callable, reducer: Callable, num_output_shards: int | None = None
    ) -> Dataset:
        """Group items by ``key_fn(item)``; each group becomes ``reducer(key, items)``."""
        return self._then(Op("group_by", fn=key_fn, reducer=reducer, n=num_output_shards))

    def reduce(self, fn: Callable, initial: Any) -> Dataset:
        """Fold every item into one value: ``fn(acc, item)`` from ``initial``, in shard order."""
        return self._then(Op("reduce", fn=fn, initial=initial))

    def count(self) -> Dataset:
        return self._then(Op("count"))

    # --- writers ---------------------------------------------------------------------------------

    def write_jsonl(self, pattern: str) -> Dataset:
        """One JSON-lines file per shard; ``pattern`` takes ``{shard}`` and ``{total}`` and must
        give each shard its own path (checked now, and for the real shard count by the plan)."""
        return self._then(Op("write_jsonl", pattern=check_writer_pattern(pattern, 2)))

    def write_parquet(self, pattern: str) -> Dataset:
        return self._then(Op("write_parquet", pattern=check_writer_pattern(pattern, 2)))


def check_writer_pattern(pattern: str, shards: int) -> str:
    """``pattern`` must make ``shards`` distinct paths; otherwise shards would overwrite each
    other's output (upstream wrote 10 of 40 rows, without an error, for a pattern lacking
    ``{shard}``). Raises ``ValueError`` saying why."""
    if not isinstance(pattern, str):
        raise ValueError(f"writer pattern must be a string, got {type(pattern).__name__}")
    try:
        paths = {pattern.format(shard=i, total=shards) for i in range(shards)}
    except (KeyError, IndexError, ValueError) as e:
        raise ValueError(
            f"writer pattern {pattern!r} cannot be formatted ({type(e).__name__}: {e}); it may use "
            "only {shard} and {total}"
        ) from None
    if len(paths) < shards:
        raise ValueError(
            f"writer pattern {pattern!r} gives {len(paths)} distinct path(s) for {shards} shards; "
            "every shard needs its own file: put {shard} in it, e.g. 'out/part-{shard:05d}.jsonl'"
        )
    return pattern
