"""Routing ``group_by`` keys to reduce shards consistently with Python equality.

A reducer groups by ``==`` (a dict), so every key equal to another must reach the same shard:
``1``, ``1.0``, ``True`` and ``Fraction(1)`` are one group in Python and one group here. The
route hashes a canonical form, never ``repr`` (``repr(1) != repr(1.0)``) and never ``hash()`` of
text (salted per process). Numbers use Python's numeric hash, which is defined by value and
equal for equal numbers of any type, and is not salted.

Supported keys: ``None``, numbers (``bool``, ``int``, ``float``, ``complex``, ``Fraction``,
``Decimal``), ``str``, ``bytes``, dates and times, enum members, and tuples and frozensets of
these. Anything else raises ``TypeError`` naming the type: its equality is the class's own, and
no canonical form could be trusted to agree with it.

>>> route(1, 8) == route(1.0, 8) == route(True, 8)
True
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import numbers
import zlib
from decimal import Decimal

SUPPORTED = (
    "None, bool, int, float, complex, Fraction, Decimal, str, bytes, date, time, datetime, "
    "timedelta, Enum members, and tuples or frozensets of these"
)


def route(key, shards: int) -> int:
    """The reduce shard of ``key`` (stable across processes and runs)."""
    return zlib.crc32(repr(canonical(key)).encode()) % shards


def canonical(key):
    """A value built from ``str``, ``int`` and tuples, equal for keys that compare equal."""
    if key is None:
        return ("none",)
    if isinstance(key, numbers.Number):  # before Enum: an IntEnum member equals its int
        return _number(key)
    if isinstance(key, str):
        return ("s", key)
    if isinstance(key, bytes | bytearray):
        return ("b", bytes(key))
    if isinstance(key, enum.Enum):
        return ("e", type(key).__module__, type(key).__qualname__, key.name)
    if isinstance(key, dt.datetime):
        if key.utcoffset() is not None:  # aware: equal when they are the same instant
            return ("dt", key.astimezone(dt.UTC).replace(tzinfo=None).isoformat(), "utc")
        return ("dt", key.isoformat())
    if isinstance(key, dt.date | dt.time | dt.timedelta):
        return (type(key).__name__, str(key))
    if isinstance(key, tuple):
        return ("t", tuple(canonical(k) for k in key))
    if isinstance(key, frozenset):
        return ("f", tuple(sorted(repr(canonical(k)) for k in key)))
    raise TypeError(
        f"group_by key of type {type(key).__qualname__} cannot be routed consistently with its "
        f"equality; use {SUPPORTED} (e.g. a tuple of its fields)"
    )


def _number(x):
    if isinstance(x, Decimal) and x.is_nan() or isinstance(x, float | complex) and _nan(x):
        return ("nan",)  # NaN equals nothing, but one NaN key must still route one way
    return ("n", hash(x))


def _nan(x) -> bool:
    return math.isnan(x.real) or math.isnan(x.imag) if isinstance(x, complex) else math.isnan(x)
