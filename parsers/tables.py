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

# The keys of Ray's C++ ``key=value`` trailers (``... node_id=9426f4... node_name=10.0.0.1``).
TRAILER_NAMES = (
    "node_id", "actor_id", "job_id", "worker_id", "task_id", "lease_id", "node_name",
    "node_address", "placement_group_id", "object_id", "owner_id",
)  # fmt: skip
TRAILER = re.compile(r"(?: (?:" + "|".join(TRAILER_NAMES) + r")=\S+)+$")
TRAILER_KEYS = [f" {name}=" for name in TRAILER_NAMES]  # a trailer holds one of these
# Actor names: ``zephyr-{pipeline}[-p{n}][-a{n}]-coord-0`` and ``...-workers-{i}`` on Ray; on Iris
# the attempt follows the role (``zephyr-{pipeline}-p0-workers-a1-16``, a slot as ``:0`` after it).
PIPELINE = re.compile(
    r"zephyr-(?P<p>[\w.]+(?:-[\w.]+)*?)(?:-p\d+)?(?:-a\d+)?-(?:coord|workers)(?:-a\d+)?-\d+"
)
# A pipeline's start: zephyr's own line, or an Iris coordinator job's (``Coordinator job starting:
# name=dedup-260eaf74, execution_id=..., pipeline=0``).
PIPELINE_START = re.compile(
    r"(?:Starting zephyr pipeline: |Coordinator job starting: name=)(?P<p>[^\s,]+)"
)


def pipelines_named(messages: pl.Series) -> pl.Series:
    """The pipeline each message names (null if none): the ``Starting zephyr pipeline:`` name,
    else that of the first zephyr actor name in it.

    Actor names are found by a plain scan (no capture groups: several times faster), and each
    distinct one is parsed once: a chunk repeats a few hundred names over tens of thousands of
    messages. A name parsed alone gives the same groups as in its message: the pattern has no
    anchor or word boundary that its surroundings could change.
    """
    actor = messages.str.extract_all(PIPELINE.pattern).list.first()
    names = actor.drop_nulls().unique()
    of_actor = actor.replace_strict(names, names.str.extract(PIPELINE.pattern, 1), default=None)
    return pl.select(
        pl.coalesce(messages.str.extract(PIPELINE_START.pattern, 1), of_actor)
    ).to_series()


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
    found = indexed.select(
        "rid", lit=pl.col("message").str.extract_many(LITERALS, overlapping=True)
    )
    hits = found.filter(pl.col("lit").list.len() > 0).explode("lit").unique(maintain_order=True)
    by_literal = {
        key[0]: frame["rid"] for key, frame in hits.partition_by("lit", as_dict=True).items()
    }
    message = records["message"]
    claimed: dict[str, pl.Series] = {}
    wins: list[tuple[int, pl.DataFrame]] = []
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
        wins.append((k, _matched(indexed.gather(rows), rule)))
    tables: dict[str, list[pl.DataFrame]] = {}
    for k, rows in wins:
        if RULES[k].table != "events":
            tables.setdefault(RULES[k].table, []).append(rows)
    tables = {
        t: pl.concat(frames, how="diagonal_relaxed").sort("rid") if len(frames) > 1 else frames[0]
        for t, frames in tables.items()
    }
    tables["events"] = _events(indexed, wins)
    classified = indexed["rid"].is_in(tables["events"]["rid"].implode())
    return tables, classified


def _events(indexed: pl.DataFrame, wins: list[tuple[int, pl.DataFrame]]) -> pl.DataFrame:
    """Every classified record once: its first rule in catalog order, the tables it went to, and
    the first subject in catalog order that one of its rules found."""
    if not wins:
        return indexed.head(0).with_columns(
            rule=pl.lit(None, pl.String), kinds=pl.lit([], pl.List(pl.String)),
            subject=pl.lit(None, pl.String),
        )  # fmt: skip
    pairs = pl.concat(
        rows.select("rid", "subject", k=pl.lit(k, pl.Int32)) for k, rows in wins
    ).sort("rid", "k")
    first = pairs.unique("rid", keep="first", maintain_order=True)
    subject = pairs.drop_nulls("subject").unique("rid", keep="first", maintain_order=True)
    # Most records are in one table: the name list is built per record only for the others.
    kinds = (
        pairs.filter(pl.col("k").is_in(TABLE_RULES.implode()))
        .with_columns(t=pl.col("k").replace_strict(RULE_TABLE_ORDER, return_dtype=pl.Int32))
        .sort("rid", "t")
        .group_by("rid", maintain_order=True)
        .agg(kinds=pl.col("t").replace_strict(TABLE_NAMES, return_dtype=pl.String))
    )
    per_record = first.select("rid", "k").join(kinds, on="rid", how="left", maintain_order="left")
    per_record = per_record.join(
        subject.select("rid", "subject"), on="rid", how="left", maintain_order="left"
    )
    return indexed.gather(per_record["rid"]).with_columns(
        rule=RULE_IDS.gather(per_record["k"]),
        kinds=per_record["kinds"].fill_null(pl.lit([], pl.List(pl.String))),
        subject=per_record["subject"],
    )


# Rules of the typed tables (not the events-only lifecycle rules), by catalog index.
TABLE_RULES = pl.Series([k for k, r in enumerate(RULES) if r.table != "events"], dtype=pl.Int32)
RULE_TABLE_ORDER = {k: TABLE_ORDER[r.table] for k, r in enumerate(RULES) if r.table != "events"}
TABLE_NAMES = dict(enumerate(TABLES))
# Named groups some tables derive columns from (``_derive``), beyond the table's own columns.
DERIVED_FROM = ("need_reschedule", "remaining_restarts", "node_name", "old_name")


def _matched(sub: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """The records a rule won, with its fields (its named groups, then its extra regexes' for
    fields still empty, then its constants: typed by ``_derive``) and ``subject`` (the
    vectorised ``Rule.subject_of``: the first template whose ids are all present). Each regex
    is matched once for both."""
    cols = set(EXTRA[rule.table]) | set(DERIVED_FROM) if rule.table != "events" else set()
    wanted = {n for t in rule.subject for n, _ in SUBJECT_NAME.findall(t)}
    values: dict[str, pl.Expr] = {}
    for rx in (rule.regex, *rule.extra):
        names = [n for n in re.compile(rx).groupindex if n in cols or n in wanted]
        if names:
            groups = pl.col("message").str.extract_groups(rx)
            for n in names:
                expr = groups.struct.field(n)
                values[n] = pl.coalesce(values[n], expr) if n in values else expr
    for k, v in rule.set.items():
        values[k] = pl.lit(v)
    fields = {n: e for n, e in values.items() if n in cols}
    out = sub.with_columns(rule=pl.lit(rule.id), subject=_subject(rule, values, sub), **fields)
    return _derive(rule.table, out) if rule.table != "events" else out


def _subject(rule: Rule, values: dict[str, pl.Expr], sub: pl.DataFrame) -> pl.Expr:
    if not rule.subject:
        return pl.lit(None, pl.String)
    options = []
    for template in rule.subject:
        parts, at = [], 0
        for m in SUBJECT_NAME.finditer(template):
            name = m[1]
            if name in values:
                value = values[name].cast(pl.String)
            elif name in sub.columns:  # a record column (pid, ip)
                value = pl.col(name).cast(pl.String)
            else:
                value = pl.lit(None, pl.String)
            parts.append(pl.lit(template[at : m.start()]))
            value = pl.when(value != "").then(value)
            parts.append(value.fill_null("") if m[2] else value)
            at = m.end()
        parts.append(pl.lit(template[at:]))
        options.append(pl.concat_str(parts))  # null when a required id is missing
    return pl.coalesce(options)


POLARS_TYPES = {
    col: pl.from_arrow(pa.array([], type=_type(col))).dtype
    for cols in EXTRA.values()
    for col in cols
}


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
        dtype = POLARS_TYPES[col]
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
    if labels is None:
        # Most lines hold no trailer key at all: the trailer is looked for only where one is.
        rows = heads.str.contains_any(TRAILER_KEYS).arg_true()
        if len(rows) < len(heads):
            sub = trailer_fields(heads.gather(rows)) if len(rows) else None
            counts = pl.zeros(len(heads), pl.Int32, eager=True)
            if sub is not None:
                counts = counts.scatter(
                    rows, pl.from_arrow(sub.offsets).diff().slice(1).cast(pl.Int32)
                )
            offsets = pl.concat([pl.Series([0], dtype=pl.Int32), counts.cum_sum()]).to_arrow()
            if sub is None:
                return pa.MapArray.from_arrays(
                    offsets, pa.array([], pa.string()), pa.array([], pa.string())
                )
            return pa.MapArray.from_arrays(offsets, sub.keys, sub.items)
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
