"""group_by routes keys consistently with equality: keys equal in Python are one group."""

from __future__ import annotations

import datetime as dt
import enum
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.bounded import outcome_within, result_within
from zephyr_engine import Dataset, ShardFailedError, ZephyrContext
from zephyr_engine.keys import canonical, route


class Level(enum.IntEnum):
    ONE = 1


def test_equal_numbers_of_every_type_are_one_group():
    items = [1, 1.0, True, Fraction(1), Decimal(1), complex(1, 0), Level.ONE, 2, 2.0, "1"] * 3
    ds = Dataset.from_list(items).group_by(lambda x: x, lambda k, v: len(v), num_output_shards=16)
    with ZephyrContext(max_workers=3, heartbeat_interval=0.1) as ctx:
        sizes = sorted(result_within(ctx, ds, 30).results)
    assert sizes == sorted(len(g) for g in _python_groups(items).values())
    assert sizes == [3, 6, 21]


def _python_groups(items):
    groups: dict = {}
    for x in items:
        groups.setdefault(x, []).append(x)
    return groups


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
    st.binary(max_size=5), st.fractions(), st.decimals(allow_nan=False, allow_infinity=False),
)  # fmt: skip
keys = st.recursive(scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
                    max_leaves=6)  # fmt: skip


@settings(max_examples=60)
@given(keys, keys)
def test_keys_that_compare_equal_route_to_the_same_shard(a, b):
    if a == b:
        assert route(a, 97) == route(b, 97)
    assert route(a, 97) == route(a, 97)


@given(st.integers(-(10**30), 10**30))
def test_an_integer_and_its_exact_float_and_fraction_route_alike(n):
    twins = [n, Fraction(n), Decimal(n)] + ([float(n)] if float(n) == n else [])
    assert len({route(t, 1009) for t in twins}) == 1


def test_routes_are_the_same_in_another_process():
    sample = ["text", b"raw", 7, 2.5, (1, "a"), None, dt.date(2026, 2, 20)]
    here = [route(k, 1009) for k in sample]
    code = (
        "import datetime; from zephyr_engine.keys import route; "
        f"print([route(k, 1009) for k in {sample!r}])"
    )
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=60, check=True, env={"PYTHONHASHSEED": "123"}).stdout  # fmt: skip
    assert there.strip() == repr(here)


def test_aware_datetimes_for_the_same_instant_route_alike():
    utc = dt.datetime(2026, 2, 20, 12, tzinfo=dt.UTC)
    paris = utc.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert utc == paris and canonical(utc) == canonical(paris)


def test_an_unsupported_key_type_fails_its_shard_with_a_clear_error():
    class Point:
        pass

    ds = Dataset.from_list([1, 2]).group_by(lambda x: Point(), lambda k, v: v)
    with ZephyrContext(max_workers=2, heartbeat_interval=0.1, max_shard_failures=1) as ctx:
        outcome = outcome_within(ctx, ds, 30)
    assert isinstance(outcome, ShardFailedError)
    assert "group_by key of type" in str(outcome) and "Point" in str(outcome)
    with pytest.raises(TypeError, match="use None, bool, int"):
        canonical(object())
