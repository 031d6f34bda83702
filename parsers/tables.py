"""Records -> typed rows of the tables of shared/DESIGN.md, with their Arrow schemas."""

from __future__ import annotations

import re
from collections import defaultdict

import pyarrow as pa

from parsers.records import Record
from parsers.rules import RULES, TABLES, Rule

COMMON = [
    ("file", pa.string()), ("line", pa.int64()), ("lines", pa.int32()),
    ("ts", pa.timestamp("ms", tz="UTC")), ("ts_inferred", pa.bool_()), ("level", pa.string()),
    ("source", pa.string()), ("pid", pa.int64()), ("ip", pa.string()), ("repeat", pa.int32()),
    ("pipeline", pa.string()), ("rule", pa.string()), ("message", pa.string()),
    ("fields", pa.map_(pa.string(), pa.string())),
]  # fmt: skip
EXTRA = {
    "events": ["kinds"],
    "node_deaths": ["node_id", "node_ip", "node_name", "reason"],
    "heartbeat_failures": ["worker_id", "silence_s"],
    "registrations": ["worker_id", "total"],
    "reregistrations": ["worker_id"],
    "actor_already_exists": ["actor_name", "namespace"],
    "worker_status": ["execution_id", "stage", "completed", "total", "in_flight", "queued", "alive", "workers", "dead"],
    "stage_progress": ["stage", "completed", "total"],
    "pipeline_attempts": ["attempt", "max_attempts", "error"],
    "actor_deaths": ["actor_name", "actor_id", "class_name", "node_id", "exit_type", "cause", "will_restart"],
    "oom_kills": ["node_ip", "node_id", "workers_killed", "used_gb", "limit_gb"],
    "warnings": ["code", "detail"],
}  # fmt: skip
INT_COLUMNS = {"total", "completed", "in_flight", "queued", "alive", "workers", "dead", "attempt",
               "max_attempts", "workers_killed", "records", "events", "first_line"}  # fmt: skip
FLOAT_COLUMNS = {"silence_s", "used_gb", "limit_gb"}


def _type(col: str) -> pa.DataType:
    if col in INT_COLUMNS:
        return pa.int64()
    if col in FLOAT_COLUMNS:
        return pa.float64()
    if col == "will_restart":
        return pa.bool_()
    if col == "kinds":
        return pa.list_(pa.string())
    return pa.string()


SCHEMAS = {t: pa.schema(COMMON + [(c, _type(c)) for c in EXTRA[t]]) for t in ("events", *TABLES)}
SCHEMAS["templates"] = pa.schema([
    ("template", pa.string()), ("records", pa.int64()), ("events", pa.int64()),
    ("first_file", pa.string()), ("first_line", pa.int64()), ("sample", pa.string()),
])  # fmt: skip
ALL_TABLES = ("events", *TABLES, "templates")

TRAILER = re.compile(
    r"(?: (?:node_id|actor_id|job_id|worker_id|task_id|lease_id|node_name|node_address|"
    r"placement_group_id|object_id|owner_id)=\S+)+$"
)
PIPELINE = re.compile(
    r"zephyr-(?P<p>[\w.]+(?:-[\w.]+)*?)(?:-p\d+)?(?:-a\d+)?-(?:coord|workers)-\d+"
)
PIPELINE_START = re.compile(r"Starting zephyr pipeline: (?P<p>\S+)")
IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")

# The prefilter: one alternation of every rule's first literal; a hit makes that rule a candidate.
_BY_LITERAL: dict[str, list[Rule]] = defaultdict(list)
for _rule in RULES:
    _BY_LITERAL[_rule.literals[0]].append(_rule)
PREFILTER = re.compile(
    "|".join(re.escape(lit) for lit in sorted(_BY_LITERAL, key=len, reverse=True))
)


def classify(message: str) -> dict[str, tuple[Rule, dict]]:
    """The tables a record's message lands in: table -> (first matching rule, its fields)."""
    hits = set(PREFILTER.findall(message))
    if not hits:
        return {}
    found: dict[str, tuple[Rule, dict]] = {}
    for rule in RULES:  # catalog order decides between rules of one table
        if rule.literals[0] in hits and rule.table not in found:
            values = rule.extract(message)
            if values is not None:
                found[rule.table] = (rule, values)
    return found


def fields_of(record: Record) -> dict[str, str]:
    """Ray C++ ``key=value`` trailers of the head line (``node_id=...``)."""
    head = record.bodies[0]
    if "=" not in head:
        return {}
    m = TRAILER.search(head)
    if not m:
        return {}
    return dict(kv.split("=", 1) for kv in m.group(0).split())


def pipeline_named(message: str) -> str | None:
    m = PIPELINE_START.search(message) if "Starting zephyr pipeline" in message else None
    if m:
        return m.group("p")
    m = PIPELINE.search(message) if "zephyr-" in message else None
    return m.group("p") if m else None


def convert(col: str, value):
    if value is None:
        return None
    if col in INT_COLUMNS:
        return int(value)
    if col in FLOAT_COLUMNS:
        return float(value)
    return value


def derive(table: str, values: dict) -> dict:
    """Columns computed from others, the same for every rule of a table."""
    if table == "node_deaths" and not values.get("node_ip"):
        name = values.get("node_name") or values.get("old_name")
        if name and IPV4.match(name):
            values["node_ip"] = name  # on GCE/TPU VMs the node name is its IP
    elif table == "actor_deaths" and "need_reschedule" in values:
        values["will_restart"] = (
            values["need_reschedule"] == "1" and values.get("remaining_restarts") != "0"
        )
    return values


class TableBuffers:
    """Column lists per table for the current chunk, turned into Arrow batches on flush."""

    def __init__(self):
        self.cols = {t: defaultdict(list) for t in ("events", *TABLES)}
        self.rows = defaultdict(int)
        self.events = defaultdict(int)

    def add(self, table: str, common: list, extra: dict):
        cols = self.cols[table]
        for (name, _), value in zip(COMMON, common, strict=True):
            cols[name].append(value)
        for col in EXTRA[table]:
            cols[col].append(convert(col, extra.get(col)))
        self.rows[table] += 1
        self.events[table] += common[9]

    def batches(self):
        """Yield (table, RecordBatch) for every table with rows, and clear."""
        for table, cols in self.cols.items():
            if not cols:
                continue
            schema = SCHEMAS[table]
            arrays = [pa.array(cols[f.name], type=f.type) for f in schema]
            yield table, pa.RecordBatch.from_arrays(arrays, schema=schema)
            cols.clear()
