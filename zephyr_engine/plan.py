"""Dataset -> stages. Consecutive per-item operations fuse into one stage; shuffles
(``reshard``, ``group_by``, ``reduce``, ``count``) put stage boundaries; a writer ends the plan.

>>> plan = compute_plan(Dataset.from_list(range(4)).map(str).group_by(len, lambda k, v: k))
>>> [s.name for s in plan.stages]
['stage0-Map → Scatter', 'stage1-Reduce']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zephyr_engine.dataset import Dataset, Op, check_writer_pattern

PER_ITEM = {
    "map",
    "filter",
    "flat_map",
    "map_shard",
    "load_jsonl",
    "load_parquet",
    "fold",
    "count_shard",
    "sum",
}
WRITERS = {"write_jsonl", "write_parquet"}
LABELS = {
    "map": "Map", "filter": "Filter", "flat_map": "FlatMap", "map_shard": "MapShard",
    "load_jsonl": "LoadJsonl", "load_parquet": "LoadParquet", "fold": "Fold", "count_shard": "Count",
    "sum": "Sum",
}  # fmt: skip


@dataclass(frozen=True)
class Stage:
    index: int
    input: str  # source | chunks | groups (items are (key, item) pairs to reduce)
    ops: tuple[Op, ...]
    output: str  # keep | spread | scatter | write_jsonl | write_parquet
    num_shards: int  # shards this stage runs
    out_shards: int  # shards it produces
    reducer: Callable | None = None
    key_fn: Callable | None = None
    pattern: str | None = None

    @property
    def name(self) -> str:
        parts = (["Reduce"] if self.input == "groups" else []) + [
            LABELS[op.kind] for op in self.ops
        ]
        parts += {"scatter": ["Scatter"], "write_jsonl": ["Write"], "write_parquet": ["Write"]}.get(
            self.output, []
        )
        if self.output == "spread" and not parts:
            parts = ["Reshard"]
        return f"stage{self.index}-{' → '.join(parts or ['Collect'])}"


@dataclass(frozen=True)
class Plan:
    source_shards: tuple[tuple[Any, ...], ...]
    stages: tuple[Stage, ...]
    result: str  # rows | paths | value


def compute_plan(ds: Dataset) -> Plan:
    shards = _split(ds.source.items, ds.source.num_shards)
    stages: list[Stage] = []
    ops: list[Op] = []
    state = {"input": "source", "n": len(shards), "reducer": None}
    result = "rows"

    def close(output: str, out_shards: int, **kw):
        stages.append(Stage(len(stages), state["input"], tuple(ops), output, state["n"], out_shards,
                            reducer=state["reducer"], **kw))  # fmt: skip
        ops.clear()
        state.update(input="chunks", n=out_shards, reducer=None)

    for k, op in enumerate(ds.ops):
        if result == "paths":
            raise ValueError("a writer must be the last operation")
        if op.kind in PER_ITEM:
            ops.append(op)
        elif op.kind == "reshard":
            close("spread", op.n)
        elif op.kind == "group_by":
            close("scatter", op.n or max(1, state["n"]), key_fn=op.fn)
            state.update(input="groups", reducer=op.reducer)
        elif op.kind == "reduce":
            close("spread", 1)
            ops.append(Op("fold", fn=op.fn, initial=op.initial))
            result = "value"
        elif op.kind == "count":
            ops.append(Op("count_shard"))
            close("spread", 1)
            ops.append(Op("sum"))
            result = "value"
        elif op.kind in WRITERS:
            check_writer_pattern(op.pattern, state["n"])
            close(op.kind, state["n"], pattern=op.pattern)
            result = "paths"
        else:
            raise ValueError(f"unknown operation {op.kind!r} at position {k}")
    if result != "paths" and (ops or not stages or state["input"] == "groups"):
        close("keep", state["n"])
    return Plan(tuple(shards), tuple(stages), result)


def _split(items: tuple, num_shards: int | None) -> list[tuple]:
    if num_shards is None:
        return [(item,) for item in items]
    n = max(1, min(num_shards, len(items))) if items else 0
    size, extra = divmod(len(items), n) if n else (0, 0)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(tuple(items[start:end]))
        start = end
    return out
