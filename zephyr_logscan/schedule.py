"""A pipeline's fault schedule: what happened to its workers and coordinator, and when.

One model serves both directions: ``logscan synth`` tells its story as schedules (and renders
them into log text), ``derive`` (zephyr_logscan/derive.py) takes them back out of an ingest
output, and ``logscan replay`` plays one against the corrected engine.

Times are seconds after ``start`` (the pipeline's first start record), as the log shows them:
an event is at its first record. Workers are numbered as the log numbers them (the ``-N`` of
``zephyr-...-workers-N``; in order of first appearance when the ids carry no number).

JSON form (version 1), hand-editable; ``load`` checks every field and names the first bad one::

    {"version": 1, "pipeline": "tokenize-train-b160eb54", "start": "2026-02-21T11:40:01.000Z",
     "workers": 1024, "shards": 6144,
     "stages": [{"name": "stage0-Map → Write", "tasks": 6144, "at": 146.2}],
     "registered": {"count": 1024, "first": 94.0, "last": 145.2},
     "attempts": [{"at": 0.0, "cause": "coordinator_lost", "collided": null},
                  {"at": 39.0, "cause": "name_collision", "collided": "zephyr-...-coord-0"},
                  {"at": 84.0, "cause": null, "collided": null}],
     "outcome": "open",
     "coordinator_restarts": [21.0],
     "waves": [{"at": 4530.1, "kind": "node_loss", "nodes": 40, "nodes_at": 4493.0,
                "killed": 638, "workers": [0, 1, ...], "returned": 55, "returned_workers": [...],
                "returned_at": 4545.1}],
     "oom_kills": [], "status_stalls": [],
     "last_status": {"at": 9627.9, "completed": 5000, "total": 6144, "alive": 0, "dead": 1024},
     "all_dead_since": 4700.0}

``cause`` of an attempt: ``coordinator_lost``, ``name_collision``, ``oom``, ``error`` (any other),
or null for an attempt the log shows no end of. ``outcome``: ``failed`` (a final failure record),
``completed`` (the last status shows every shard done, or the last stage logged its final
``N/N tasks completed``) or ``open`` (the log shows no end).
A wave's ``kind`` is ``node_loss`` when node deaths precede the workers' heartbeat failures,
``false_death`` when the status line still counts the workers alive after their heartbeat failures
(a heartbeat storm: declared dead while working), else ``process_kill``; ``killed`` can exceed ``len(workers)`` when the log counts deaths it does not
name (Ray's own ``A worker died`` lines); ``returned`` likewise.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

VERSION = 1
CAUSES = ("coordinator_lost", "name_collision", "oom", "error")
OUTCOMES = ("open", "failed", "completed")
KINDS = ("node_loss", "process_kill", "false_death")
CLUSTER = "(cluster)"  # the schedule of faults no pipeline can be tied to


class ScheduleError(ValueError):
    """A schedule file that is not a valid schedule; the message names the field."""


@dataclass
class Stage:
    name: str
    tasks: int
    at: float


@dataclass
class Registered:
    count: int
    first: float
    last: float


@dataclass
class Attempt:
    at: float
    cause: str | None = None
    collided: str | None = None


@dataclass
class Wave:
    at: float
    kind: str
    killed: int
    workers: list[int] = field(default_factory=list)
    nodes: int = 0
    nodes_at: float | None = None
    returned: int = 0
    returned_workers: list[int] = field(default_factory=list)
    returned_at: float | None = None


@dataclass
class OomKill:
    at: float
    node_ip: str | None = None


@dataclass
class Collision:
    at: float
    name: str


@dataclass
class Stall:
    at: float
    seconds: float


@dataclass
class Status:
    at: float
    completed: int
    total: int
    alive: int | None
    dead: int | None


@dataclass
class Schedule:
    pipeline: str
    start: str
    workers: int = 0
    shards: int = 0
    stages: list[Stage] = field(default_factory=list)
    registered: Registered | None = None
    attempts: list[Attempt] = field(default_factory=list)
    outcome: str = "open"
    coordinator_restarts: list[float] = field(default_factory=list)
    waves: list[Wave] = field(default_factory=list)
    oom_kills: list[OomKill] = field(default_factory=list)
    status_stalls: list[Stall] = field(default_factory=list)
    coordinator_losses: list[float] = field(default_factory=list)
    collisions: list[Collision] = field(default_factory=list)
    last_status: Status | None = None
    all_dead_since: float | None = None
    version: int = VERSION

    def faults(self) -> list[str]:
        """One phrase per fault, empty for a healthy pipeline."""
        out = [f"{a.cause} (attempt {i})" for i, a in enumerate(self.attempts) if a.cause]
        out += [f"coordinator restarted at {t:.1f}s" for t in self.coordinator_restarts]
        out += [f"coordinator lost at {t:.1f}s" for t in self.coordinator_losses]
        out += [f"{w.kind} of {w.killed} at {w.at:.1f}s" for w in self.waves]
        out += [f"OOM kill at {k.at:.1f}s" for k in self.oom_kills]
        out += [f"status stalled {s.seconds:.0f}s at {s.at:.1f}s" for s in self.status_stalls]
        out += [f"name collision on {c.name} at {c.at:.1f}s" for c in self.collisions]
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        return {"version": d.pop("version"), **_rounded(d)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False)


def _rounded(value):
    """Times to the millisecond: the resolution of the logs they come from."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def kill_kind(status: list[tuple[float, int | None]], first: float, last: float, pool: int) -> str:
    """How a burst of heartbeat failures (``first`` .. ``last``) looks in the status line.

    ``false_death`` when the status line counts as many workers alive after the failures as before
    them (the whole ``pool`` when no status line came before): declared dead, yet still counted
    alive. ``process_kill`` otherwise, or when the status line does not show who is alive.
    """
    before = [a for ts, a in status if ts < first] or [pool]
    after = [a for ts, a in status if ts > last]
    known = after and before[-1] is not None and after[0] is not None
    return "false_death" if known and after[0] >= before[-1] else "process_kill"


# --- reading (strict: a hand-edited file gets a one-line error naming the field) -------------------


def from_dict(doc: object, where: str = "schedule") -> Schedule:
    d = _obj(doc, where)
    version = d.get("version")
    if version != VERSION:
        raise ScheduleError(f"{where}.version: expected {VERSION}, got {version!r}")
    s = Schedule(pipeline=_str(d, "pipeline", where), start=_str(d, "start", where))
    s.workers = _int(d, "workers", where, default=0)
    s.shards = _int(d, "shards", where, default=0)
    s.stages = [
        Stage(_str(x, "name", w), _int(x, "tasks", w), _time(x, "at", w))
        for w, x in _items(d, "stages", where)
    ]
    if d.get("registered") is not None:
        r, w = _obj(d["registered"], f"{where}.registered"), f"{where}.registered"
        s.registered = Registered(_int(r, "count", w), _time(r, "first", w), _time(r, "last", w))
    s.attempts = [
        Attempt(
            _time(x, "at", w),
            _choice(x, "cause", w, CAUSES, optional=True),
            _str(x, "collided", w, optional=True),
        )
        for w, x in _items(d, "attempts", where)
    ]
    s.outcome = _choice(d, "outcome", where, OUTCOMES, default="open")
    s.coordinator_restarts = _times(d, "coordinator_restarts", where)
    s.coordinator_losses = _times(d, "coordinator_losses", where)
    s.collisions = [
        Collision(_time(x, "at", w), _str(x, "name", w)) for w, x in _items(d, "collisions", where)
    ]
    s.waves = [_wave(x, w, s.workers) for w, x in _items(d, "waves", where)]
    s.oom_kills = [
        OomKill(_time(x, "at", w), _str(x, "node_ip", w, optional=True))
        for w, x in _items(d, "oom_kills", where)
    ]
    s.status_stalls = [
        Stall(_time(x, "at", w), _time(x, "seconds", w))
        for w, x in _items(d, "status_stalls", where)
    ]
    if d.get("last_status") is not None:
        x, w = _obj(d["last_status"], f"{where}.last_status"), f"{where}.last_status"
        s.last_status = Status(
            _time(x, "at", w),
            _int(x, "completed", w),
            _int(x, "total", w),
            _int(x, "alive", w, optional=True),
            _int(x, "dead", w, optional=True),
        )
    s.all_dead_since = _time(d, "all_dead_since", where, optional=True)
    known = {f.name for f in fields(Schedule)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ScheduleError(f"{where}: unknown field {unknown[0]!r}")
    return s


def _wave(x: dict, w: str, workers: int) -> Wave:
    wave = Wave(
        at=_time(x, "at", w),
        kind=_choice(x, "kind", w, KINDS),
        killed=_int(x, "killed", w, default=None),
        workers=_indices(x, "workers", w, workers),
        nodes=_int(x, "nodes", w, default=0),
        nodes_at=_time(x, "nodes_at", w, optional=True),
        returned=_int(x, "returned", w, default=None),
        returned_workers=[],
        returned_at=_time(x, "returned_at", w, optional=True),
    )
    # "returned_workers": "all" brings back every worker this wave killed (handy when editing).
    if x.get("returned_workers") == "all":
        wave.returned_workers = list(wave.workers)
        if x.get("returned") is not None and x["returned"] != len(wave.workers):
            wave.returned = None
    else:
        wave.returned_workers = _indices(x, "returned_workers", w, workers)
    # Hand edits may give only the lists; the counts follow them.
    if wave.killed is None:
        wave.killed = len(wave.workers)
    if wave.returned is None:
        wave.returned = max(
            len(wave.returned_workers), wave.killed if x.get("returned_workers") == "all" else 0
        )
    if wave.killed < len(wave.workers):
        raise ScheduleError(
            f"{w}.killed: {wave.killed} is less than the {len(wave.workers)} workers listed"
        )
    if wave.returned > wave.killed:
        raise ScheduleError(
            f"{w}.returned: {wave.returned} workers cannot come back of {wave.killed} killed"
        )
    if wave.returned and wave.returned_at is None:
        raise ScheduleError(f"{w}.returned_at: needed when workers return")
    return wave


def loads(text: str, where: str = "schedule") -> dict[str, Schedule]:
    """A schedule file holds one schedule or ``{"schedules": [...]}``; returns them by pipeline."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ScheduleError(
            f"{where}: not JSON ({e.msg} at line {e.lineno} column {e.colno})"
        ) from None
    if isinstance(doc, dict) and "schedules" in doc:
        items = doc["schedules"]
        if not isinstance(items, list):
            raise ScheduleError(f"{where}.schedules: expected a list")
        out = [from_dict(x, f"{where}.schedules[{i}]") for i, x in enumerate(items)]
    else:
        out = [from_dict(doc, where)]
    return {s.pipeline: s for s in out}


def load(path: str | Path) -> dict[str, Schedule]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScheduleError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    return loads(text, str(path))


def dumps(schedules: dict[str, Schedule] | list[Schedule]) -> str:
    items = list(schedules.values()) if isinstance(schedules, dict) else list(schedules)
    if len(items) == 1:
        return items[0].to_json() + "\n"
    return (
        json.dumps({"schedules": [s.to_dict() for s in items]}, indent=1, ensure_ascii=False) + "\n"
    )


def save(schedules: dict[str, Schedule] | list[Schedule], path: str | Path) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(schedules), encoding="utf-8")
    tmp.replace(path)


# --- field checks ----------------------------------------------------------------------------------


def _obj(x, where: str) -> dict:
    if not isinstance(x, dict):
        raise ScheduleError(f"{where}: expected an object, got {type(x).__name__}")
    return x


def _raw_items(d: dict, key: str, where: str):
    value = d.get(key, [])
    if not isinstance(value, list):
        raise ScheduleError(f"{where}.{key}: expected a list, got {type(value).__name__}")
    return [(f"{where}.{key}[{i}]", x) for i, x in enumerate(value)]


def _items(d: dict, key: str, where: str):
    return [(w, _obj(x, w)) for w, x in _raw_items(d, key, where)]


def _str(d: dict, key: str, where: str, optional: bool = False):
    value = d.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ScheduleError(f"{where}.{key}: expected a non-empty string, got {value!r}")
    return value


_MISSING = object()


def _int(d: dict, key: str, where: str, default=_MISSING, optional: bool = False):
    value = d.get(key, _MISSING)
    if value is _MISSING or (value is None and optional):
        if default is _MISSING and not optional:
            raise ScheduleError(f"{where}.{key}: missing")
        return None if optional and default is _MISSING else default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ScheduleError(f"{where}.{key}: expected a whole number >= 0, got {value!r}")
    return value


def _time(d: dict, key: str, where: str, optional: bool = False):
    value = d.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScheduleError(f"{where}.{key}: expected seconds (a number), got {value!r}")
    return float(value)


def _times(d: dict, key: str, where: str) -> list[float]:
    return [_time({"at": x}, "at", w) for w, x in _raw_items(d, key, where)]


def _choice(d: dict, key: str, where: str, choices, optional: bool = False, default=None):
    value = d.get(key, default)
    if value is None and (optional or default is not None):
        return default
    if value not in choices:
        raise ScheduleError(f"{where}.{key}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def _indices(d: dict, key: str, where: str, workers: int) -> list[int]:
    """Worker numbers; ``"all"`` stands for every worker of the pool (handy when editing)."""
    value = d.get(key, [])
    if value == "all":
        return list(range(workers))
    if not isinstance(value, list):
        raise ScheduleError(f'{where}.{key}: expected a list of worker numbers or "all"')
    out = []
    for i, x in enumerate(value):
        if isinstance(x, bool) or not isinstance(x, int) or x < 0:
            raise ScheduleError(f"{where}.{key}[{i}]: expected a worker number, got {x!r}")
        out.append(x)
    return sorted(set(out))
