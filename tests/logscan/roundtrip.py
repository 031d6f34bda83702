"""Compare two schedules field by field: counts exactly, times within the log's resolution."""

from __future__ import annotations

TIME_TOL = 0.0015  # seconds: both sides are printed timestamps (1 ms), relative to a printed start
INFERRED_TOL = (
    10.0  # seconds: node-death banners carry no timestamp; ingest takes the last one before
)
TIME_KEYS = {"at", "first", "last", "returned_at", "all_dead_since", "seconds"}


def differences(a, b, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _field(k, a.get(k), b.get(k), f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def _field(key, a, b, path):
    if key in TIME_KEYS or key == "nodes_at" or (isinstance(a, float) and isinstance(b, float)):
        if a is None or b is None:
            return [] if a is b else [f"{path}: {a!r} != {b!r}"]
        if isinstance(a, list):
            return differences(a, b, path)
        tol = INFERRED_TOL if key == "nodes_at" else TIME_TOL
        return [] if abs(a - b) <= tol else [f"{path}: {a} != {b}"]
    return differences(a, b, path)
