"""Records -> typed rows of the tables of shared/DESIGN.md, with their Arrow schemas."""

from __future__ import annotations

import re

import polars as pl
import pyarrow as pa

from parsers.rules import RULES, SUBJECT_NAME, TABLES, Rule

COMMON = [
    ("file", pa.string()), ("line", pa.int64()), ("lines", pa.int32()),
    ("ts", pa.timestamp("ms", tz="UTC")), ("ts_inferred", pa.bool_()), ("level", pa.string()),
    ("source", pa.string()), ("pid", pa.int64()), ("ip", pa.string()), ("repeat", pa.int32()),
    ("pipeline", pa.string()), ("rule", pa.string()), ("message", pa.string()),
    ("fields", pa.map_(pa.string(), pa.string())), ("subject", pa.string()),
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


def classify(message: str, record: dict | None = None) -> dict[str, tuple[Rule, dict]]:
    """The tables one message lands in: table -> (first matching rule, its fields).

    The fields include ``subject`` (None when the wording carries no id); ``record`` gives the
    record's ``pid`` and ``ip``. The per-message reference of ``classify_records`` (which the
    ingest uses).
    """
    found: dict[str, tuple[Rule, dict]] = {}
    for rule in RULES:  # catalog order decides between rules of one table
        if rule.table not in found:
            values = rule.extract(message)
            if values is not None:
                found[rule.table] = (rule, {**values, "subject": rule.subject_of(values, record)})
    return found


LITERALS = sorted({lit for rule in RULES for lit in rule.literals})
RULE_IDS = pl.Series("rule", [rule.id for rule in RULES])
TABLE_ORDER = {t: k for k, t in enumerate(TABLES)}


def classify_records(records: pl.DataFrame) -> tuple[dict[str, pl.DataFrame], pl.Series]:
    """Vectorised ``classify``: table -> its rows (the record's columns, ``rule`` and the
    table's extra columns, typed), and a bool per record: was it classified at all?

    One Aho-Corasick pass finds every literal in every message; then, rule by rule in catalog
    order, the rows whose literals (and regex) match and whose table no earlier rule took.
    """
    for col in ("pid", "ip"):  # the record columns a subject may name
        if col not in records.columns:
            records = records.with_columns(pl.lit(None, pl.String).alias(col))
    indexed = records.with_row_index("rid")
    hits = (
        indexed.select("rid", lit=pl.col("message").str.extract_many(LITERALS, overlapping=True))
        .explode("lit")
        .drop_nulls("lit")
        .unique()
    )
    by_literal = {
        key[0]: frame["rid"] for key, frame in hits.partition_by("lit", as_dict=True).items()
    }
    message = records["message"]
    claimed: dict[str, pl.Series] = {}
    wins: list[tuple[int, pl.Series]] = []
    for k, rule in enumerate(RULES):
        rows = by_literal.get(rule.literals[0])
        for lit in rule.literals[1:]:
            if rows is not None:
                rows = (
                    rows.filter(rows.is_in(by_literal[lit].implode()))
                    if lit in by_literal
                    else None
                )
        if rows is None or len(rows) == 0:
            continue
        if rule.table in claimed:
            rows = rows.filter(~rows.is_in(claimed[rule.table].implode()))
        if rule.regex != re.escape(rule.literals[0]):  # the regex says more than the literal
            rows = rows.filter(message.gather(rows).str.contains(rule.regex))
        if len(rows) == 0:
            continue
        rows = rows.sort()
        claimed[rule.table] = (
            pl.concat([claimed[rule.table], rows]) if rule.table in claimed else rows
        )  # (append would modify in place)
        wins.append((k, rows, _subject(indexed.gather(rows), rule)))
    tables: dict[str, pl.DataFrame] = {}
    for k, rows, subject in wins:
        rule = RULES[k]
        if rule.table != "events":
            sub = indexed.gather(rows).with_columns(subject=subject)
            tables.setdefault(rule.table, []).append(_fields(sub, rule))
    tables = {
        t: pl.concat(frames, how="diagonal_relaxed").sort("rid") for t, frames in tables.items()
    }
    tables["events"] = _events(indexed, wins)
    classified = indexed["rid"].is_in(tables["events"]["rid"].implode())
    return tables, classified


def _events(indexed: pl.DataFrame, wins: list[tuple[int, pl.Series, pl.Series]]) -> pl.DataFrame:
    """Every classified record once: its first rule in catalog order, the tables it went to, and
    the first subject in catalog order that one of its rules found."""
    if not wins:
        return indexed.head(0).with_columns(
            rule=pl.lit(None, pl.String), kinds=pl.lit([], pl.List(pl.String)),
            subject=pl.lit(None, pl.String),
        )  # fmt: skip
    pairs = pl.concat(
        pl.DataFrame({"rid": rows, "subject": subject}).with_columns(
            k=pl.lit(k, pl.Int32), t=pl.lit(TABLE_ORDER.get(RULES[k].table, -1), pl.Int32), name=pl.lit(RULES[k].table)
        )
        for k, rows, subject in wins
    )  # fmt: skip
    per_record = (
        pairs.sort("k")
        .group_by("rid")
        .agg(pl.col("k").min(), kinds=pl.col("name").filter(pl.col("t") >= 0).sort_by(pl.col("t").filter(pl.col("t") >= 0)),
             subject=pl.col("subject").drop_nulls().first())
        .sort("rid")
    )  # fmt: skip
    return indexed.gather(per_record["rid"]).with_columns(
        rule=RULE_IDS.gather(per_record["k"]), kinds=per_record["kinds"],
        subject=per_record["subject"],
    )  # fmt: skip


def _subject(sub: pl.DataFrame, rule: Rule) -> pl.Series:
    """The vectorised ``Rule.subject_of``: the first template whose ids are all present."""
    if not rule.subject or sub.height == 0:
        return pl.Series("subject", [None] * sub.height, dtype=pl.String)
    wanted = {n for t in rule.subject for n, _ in SUBJECT_NAME.findall(t)}
    values: dict[str, pl.Expr] = {}
    for rx in (rule.regex, *rule.extra):
        names = [n for n in re.compile(rx).groupindex if n in wanted]
        if names:
            groups = pl.col("message").str.extract_groups(rx)
            for n in names:
                expr = groups.struct.field(n)
                values[n] = pl.coalesce(values[n], expr) if n in values else expr
    for n in wanted:
        if n in rule.set:
            values[n] = pl.lit(str(rule.set[n]))
        elif n not in values:  # a record column (pid, ip)
            values[n] = pl.col(n).cast(pl.String) if n in sub.columns else pl.lit(None, pl.String)
    options = []
    for template in rule.subject:
        parts, at = [], 0
        for m in SUBJECT_NAME.finditer(template):
            parts.append(pl.lit(template[at : m.start()]))
            value = pl.when(values[m[1]] != "").then(values[m[1]])
            parts.append(value.fill_null("") if m[2] else value)
            at = m.end()
        parts.append(pl.lit(template[at:]))
        options.append(pl.concat_str(parts))  # null when a required id is missing
    return sub.select(pl.coalesce(options).alias("subject")).to_series()


def _fields(sub: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """The rule's named groups (then its extra regexes', for fields still empty) and constants."""
    cols = EXTRA[rule.table]
    values: dict[str, pl.Expr] = {}
    for rx in (rule.regex, *rule.extra):
        names = [
            n
            for n in re.compile(rx).groupindex
            if n in cols or n in ("need_reschedule", "remaining_restarts", "node_name", "old_name")
        ]
        if not names:
            continue
        groups = pl.col("message").str.extract_groups(rx)
        for n in names:
            expr = groups.struct.field(n)
            values[n] = pl.coalesce(values[n], expr) if n in values else expr
    for k, v in rule.set.items():
        values[k] = pl.lit(v)
    out = sub.with_columns(rule=pl.lit(rule.id), **values)
    return _derive(rule.table, out)


def _derive(table: str, df: pl.DataFrame) -> pl.DataFrame:
    """Columns computed from others, the same for every rule of a table; then the types."""
    if table == "node_deaths":
        name = (
            pl.coalesce(*(pl.col(c) for c in ("node_name", "old_name") if c in df.columns))
            if ("node_name" in df.columns or "old_name" in df.columns)
            else pl.lit(None, pl.String)
        )
        ip = pl.when(name.str.contains(r"^\d{1,3}(?:\.\d{1,3}){3}$")).then(name)
        df = df.with_columns(
            node_ip=pl.coalesce(pl.col("node_ip"), ip) if "node_ip" in df.columns else ip
        )
    elif table == "actor_deaths" and "need_reschedule" in df.columns:
        df = df.with_columns(
            will_restart=pl.when(pl.col("need_reschedule").is_not_null()).then(
                (pl.col("need_reschedule") == "1") & (pl.col("remaining_restarts") != "0")
            )
        )
    casts = {}
    for col in EXTRA[table]:
        dtype = pl.from_arrow(pa.array([], type=_type(col))).dtype
        casts[col] = (
            pl.col(col).cast(dtype, strict=False) if col in df.columns else pl.lit(None, dtype)
        )
    return df.with_columns(**casts)


def to_arrow(table: str, df: pl.DataFrame) -> pa.Table:
    """Rows of one table -> an Arrow table with exactly the table's schema."""
    schema = SCHEMAS[table]
    fields = trailer_fields(df["head"], df["label"] if "label" in df.columns else None)
    columns = []
    for f in schema:
        if f.name == "fields":
            columns.append(fields)
        else:
            columns.append(df[f.name].to_arrow().cast(f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def trailer_fields(heads: pl.Series, labels: pl.Series | None = None) -> pa.Array:
    """Ray C++ ``key=value`` trailers of each head line (and the ``label`` of a JSON event), as a
    map column (empty when none).

    Defensive by construction: only ``word=value`` pairs are taken from a trailer, and a label is
    one value whatever it holds (spaces, ``=``, newlines), so no key is ever null.
    """
    pairs = heads.str.extract(TRAILER.pattern, 0).str.extract_all(r"[A-Za-z_]\w*=\S+")
    items = pl.DataFrame({"pairs": pairs}).select(
        pl.col("pairs").fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )
    if labels is not None:
        label = pl.Series("label", labels).cast(pl.String)
        items = items.with_columns(label=label).select(
            pairs=pl.when(pl.col("label").is_not_null())
            .then(pl.concat_list([pl.lit("label=") + pl.col("label"), pl.col("pairs")]))
            .otherwise(pl.col("pairs"))
        )
    counts = items["pairs"].list.len().cast(pl.Int32)
    offsets = pl.concat([pl.Series([0], dtype=pl.Int32), counts.cum_sum()])
    flat = items["pairs"].explode().drop_nulls()
    keys = flat.str.extract(r"(?s)^([^=]*)=", 1)
    values = flat.str.extract(r"(?s)^[^=]*=(.*)$", 1)
    return pa.MapArray.from_arrays(
        offsets.to_arrow(), keys.to_arrow().cast(pa.string()), values.to_arrow().cast(pa.string())
    )
