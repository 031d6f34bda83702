"""The user API: every operation, every result kind, on the local backend."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from zephyr_engine import Dataset, ZephyrContext
from zephyr_engine.plan import compute_plan


def read_lines(path):
    with open(path) as f:
        return f.readlines()


@pytest.fixture
def ctx():
    with ZephyrContext(max_workers=3, heartbeat_interval=0.1) as c:
        yield c


def test_defaults_just_work():
    with ZephyrContext() as c:
        assert c.execute(Dataset.from_list([1, 2])).results == [1, 2]


def test_per_item_ops_fuse_into_one_stage():
    plan = compute_plan(
        Dataset.from_list(range(4)).map(str).filter(bool).flat_map(list).write_jsonl("x-{shard}")
    )
    assert [s.name for s in plan.stages] == ["stage0-Map → Filter → FlatMap → Write"]


def test_map_filter_flat_map_map_shard(ctx):
    ds = (
        Dataset.from_list(range(6), num_shards=2)
        .map(lambda x: x + 1)
        .filter(lambda x: x % 2 == 0)
        .flat_map(lambda x: [x, -x])
        .map_shard(lambda items, info: [(info.shard, info.total, x) for x in items])
    )
    assert ctx.execute(ds).results == [
        (0, 2, 2),
        (0, 2, -2),
        (1, 2, 4),
        (1, 2, -4),
        (1, 2, 6),
        (1, 2, -6),
    ]


def test_from_list_defaults_to_one_shard_per_item():
    assert compute_plan(Dataset.from_list("abc")).stages[0].num_shards == 3


def test_group_by_reduce_count(ctx):
    words = ["a", "bb", "cc", "d", "eee", "ff"]
    grouped = ctx.execute(
        Dataset.from_list(words, num_shards=3).group_by(len, lambda k, v: (k, sorted(v)), 2)
    )
    assert sorted(grouped.results) == [(1, ["a", "d"]), (2, ["bb", "cc", "ff"]), (3, ["eee"])]
    assert ctx.execute(Dataset.from_list(words).count()).results == [6]
    assert ctx.execute(Dataset.from_list(range(5)).reduce(lambda a, x: a + x, 100)).results == [110]


def test_reshard(ctx):
    ds = Dataset.from_list(range(10), num_shards=5).reshard(2).map_shard(lambda it, info: [sum(it)])
    assert sum(ctx.execute(ds).results) == 45 and len(ctx.execute(ds).results) == 2


def test_writers_and_loaders_round_trip(ctx, tmp_path):
    rows = [{"id": i, "text": f"doc {i}"} for i in range(7)]
    paths = ctx.execute(
        Dataset.from_list(rows, num_shards=3).write_jsonl(
            str(tmp_path / "j-{shard}-of-{total}.jsonl")
        )
    ).results
    assert [p.rsplit("/", 1)[1] for p in paths] == [
        "j-0-of-3.jsonl",
        "j-1-of-3.jsonl",
        "j-2-of-3.jsonl",
    ]
    assert [json.loads(line) for p in paths for line in read_lines(p)] == rows
    back = ctx.execute(Dataset.from_files(str(tmp_path / "j-*.jsonl")).load_jsonl()).results
    assert back == rows
    pq_paths = ctx.execute(
        Dataset.from_list(rows, num_shards=2).write_parquet(str(tmp_path / "p-{shard}.parquet"))
    ).results
    assert sum(pq.read_table(p).num_rows for p in pq_paths) == 7
    assert (
        ctx.execute(Dataset.from_files(str(tmp_path / "p-*.parquet")).load_parquet()).results
        == rows
    )
    assert not list(tmp_path.glob("*.tmp-*")), "no temporary files left"


def test_empty_input(ctx):
    assert ctx.execute(Dataset.from_list([])).results == []


def test_user_error_is_not_retried_and_names_the_shard(ctx):
    from zephyr_engine import ShardFailedError

    def boom(x):
        raise KeyError("missing field")

    with pytest.raises(ShardFailedError) as e:
        ctx.execute(Dataset.from_list([1]).map(boom))
    assert e.value.shard == 0 and "KeyError" in str(e.value)


def test_context_cleans_up_actors_and_chunks():
    ctx = ZephyrContext(max_workers=2)
    ctx.execute(Dataset.from_list(range(4)).map(str))
    storage = ctx.chunk_storage
    ctx.shutdown()
    assert ctx.backend.names() == []
    assert not storage.exists()


def test_writer_must_be_last():
    with pytest.raises(ValueError):
        compute_plan(Dataset.from_list([1]).write_jsonl("x-{shard}").map(str))


def test_shared_values_are_read_lazily_inside_tasks(ctx):
    from zephyr_engine import ShardFailedError, ZephyrError, get_shared

    ctx.put("vocab", {"a": 1, "b": 2})
    ds = Dataset.from_list(["a", "b", "a"]).map(lambda w: get_shared("vocab")[w])
    assert ctx.execute(ds).results == [1, 2, 1]
    with pytest.raises(ZephyrError):
        get_shared("vocab")  # not inside a task
    with pytest.raises(ShardFailedError, match="no shared value named 'nope'"):
        ctx.execute(Dataset.from_list([1]).map(lambda x: get_shared("nope")))


@pytest.mark.parametrize(
    "pattern, why",
    [
        ("out/all.jsonl", "distinct path"),  # every shard would write the same file
        ("out/part-{total}.jsonl", "distinct path"),
        ("out/{part}.jsonl", "cannot be formatted"),
        ("out/{shard:q}.jsonl", "cannot be formatted"),
    ],
)
def test_a_writer_pattern_without_one_path_per_shard_is_rejected_when_built(pattern, why):
    with pytest.raises(ValueError, match=why):
        Dataset.from_list(range(40), num_shards=4).write_jsonl(pattern)
    with pytest.raises(ValueError, match=why):
        Dataset.from_list(range(40), num_shards=4).write_parquet(pattern)


def test_a_pattern_that_collides_only_at_the_real_shard_count_is_rejected_before_running():
    ds = Dataset.from_list(range(40), num_shards=20).write_jsonl("out/p-{shard!s:.1}.jsonl")
    with pytest.raises(ValueError, match="gives 10 distinct path"):
        compute_plan(ds)
    with ZephyrContext(max_workers=2) as c, pytest.raises(ValueError):
        c.execute(ds)
    assert c.backend.created == [], "no actor was created for a rejected pipeline"
