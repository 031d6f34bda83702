"""JSON event files and C++ trailers of any shape: a result, never an exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.sources import Source
from parsers.tables import ALL_TABLES, SCHEMAS, classify_records, to_arrow, trailer_fields
from tests.strategies import JSON_VALUES
from zephyr_logscan.ingest import Ingest, ingest

EVENT_KEYS = ("label", "message", "timestamp", "severity", "levelname", "pid", "source_pid",
              "source_type", "custom_fields")  # fmt: skip
EVENTS = st.dictionaries(st.sampled_from(EVENT_KEYS) | st.text(max_size=8), JSON_VALUES, max_size=6)
# A Ray wording with a trailer, so that the trailer parser runs on the arbitrary text.
NODE_DEATH = "Node is dead because the health check failed."
LINES = st.one_of(
    EVENTS.map(json.dumps),
    st.builds(lambda e, t: json.dumps({**e, "message": f"{NODE_DEATH} node_id={'a' * 56}{t}"}), EVENTS, st.text(max_size=30)),
    st.text(max_size=80).filter(lambda s: "\n" not in s and "\r" not in s),
)  # fmt: skip
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tables_of(lines: list[str]) -> dict[str, pa.Table]:
    """The event lines as the ingest reads them, classified and converted to Arrow."""
    src = Source("events/event_X.log", None, json_events=True)
    recs = Ingest.json_events(src, ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
    recs = recs.with_columns(
        file=pl.lit(src.label), ts_inferred=pl.lit(False), pipeline=pl.lit(None, pl.String)
    )
    tables, _ = classify_records(recs)
    return {name: to_arrow(name, rows) for name, rows in tables.items()}  # fmt: skip


@SETTINGS
@given(st.lists(LINES, min_size=1, max_size=6))
def test_any_event_line_gives_rows_never_an_exception(lines):
    for name, table in tables_of(lines).items():
        assert table.schema == SCHEMAS[name]
        keys = pa.concat_arrays([c.keys for c in table.column("fields").chunks])
        assert keys.null_count == 0


@SETTINGS
@given(st.lists(st.tuples(st.text(max_size=60), st.none() | st.text(max_size=30)), max_size=8))
def test_any_trailer_and_label_gives_a_map_with_keys(pairs):
    heads = pl.Series([h for h, _ in pairs], dtype=pl.String)
    labels = pl.Series([lab for _, lab in pairs], dtype=pl.String)
    fields = trailer_fields(heads, labels)
    assert len(fields) == len(pairs) and fields.keys.null_count == 0
    for (_, label), row in zip(pairs, fields.to_pylist(), strict=True):
        assert (label is None) or ("label", label) in row


def test_out_of_memory_event_with_spaces_in_its_label_ingests(tmp_path):
    """The known crash: a raylet OOM event, label "Out of Memory" (Ray 2.x)."""
    logs = tmp_path / "logs"
    (logs / "events").mkdir(parents=True)
    event = {
        "event_id": "4d3a", "source_type": "RAYLET", "source_hostname": "h", "source_pid": 10571,
        "severity": "ERROR", "label": "Out of Memory", "timestamp": 1764500000,
        "message": "1 worker(s) were killed due to the node running low on memory. Memory on the node "
                   "(IP: 10.0.0.2, ID: " + "b" * 56 + ") was 3.26GB used / 23.54GB limit (0.138432)",
        "custom_fields": {"node_id": "b" * 56},
    }  # fmt: skip
    (logs / "events" / "event_RAYLET.log").write_text(json.dumps(event) + "\n")
    out = ingest([str(logs)], tmp_path / "t").out_dir
    oom = pl.read_parquet(out / "oom_kills.parquet").row(0, named=True)
    assert dict(oom["fields"]) == {"label": "Out of Memory"} and oom["node_ip"] == "10.0.0.2"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.lists(LINES, min_size=1, max_size=4))
def test_a_session_folder_of_arbitrary_events_ingests(tmp_path, lines):
    logs = tmp_path / "logs"
    (logs / "events").mkdir(parents=True, exist_ok=True)
    (logs / "events" / "event_GCS.log").write_text("\n".join(lines) + "\n", errors="surrogatepass")
    out = ingest([str(logs)], tmp_path / "t").out_dir
    assert {p.stem for p in out.glob("*.parquet")} == set(ALL_TABLES)


# A node death as Ray 2.60's GCS wrote it to logs/events/event_GCS.log (a second raylet SIGKILLed
# in a private local cluster).
NODE_REMOVED = (
    '{"custom_fields":{"ip":"192.0.2.2","node_id":"dd7db080c5301510301f8baf851b2b1eaed7299323ded5d1cb764018"},'
    '"event_id":"8aa631859209846c8e4506d9f527ac21eb9b","host_name":"vm","label":"RAY_NODE_REMOVED",'
    '"message":"The node with node id: dd7db080c5301510301f8baf851b2b1eaed7299323ded5d1cb764018 and address: '
    "192.0.2.2 and node name: 192.0.2.2 has been marked dead because the detector has missed too many "
    "heartbeats from it. This can happen when a \\t(1) raylet crashes unexpectedly (OOM, etc.) \\\\n\\t(2) "
    'raylet has lagging heartbeats due to slow network or busy workload.","pid":"32516","severity":"ERROR",'
    '"source_type":"GCS","timestamp":1796060576}'
)  # fmt: skip


def test_event_files_are_json_events_whatever_folder_is_given(tmp_path):
    """Ray's temp folder (``/tmp/ray``: session_*/logs/events/), a folder of several nodes' logs,
    the events folder itself and the file by name all read the event as an event: its own time
    and its label (they were read as text lines without a time when events/ was not directly
    under the folder given)."""
    events = tmp_path / "ray" / "session_2026-11-30_17-42-19_278833_32505" / "logs" / "events"
    events.mkdir(parents=True)
    (events / "event_GCS.log").write_text(NODE_REMOVED + "\n")
    for n, where in enumerate([tmp_path / "ray", events.parents[1], events.parent, events,
                               events / "event_GCS.log"]):  # fmt: skip
        out = ingest([str(where)], tmp_path / f"t{n}").out_dir
        death = pl.read_parquet(out / "node_deaths.parquet").row(0, named=True)
        assert death["ts"] == datetime(2026, 11, 30, 17, 42, 56, tzinfo=UTC), where
        assert dict(death["fields"]) == {"label": "RAY_NODE_REMOVED"}, where
        assert (death["source"], death["level"]) == ("GCS", "ERROR"), where


def test_a_log_named_like_an_event_file_elsewhere_is_text(tmp_path):
    """Only event_* files in an events folder are JSON events: a text log is folded as text."""
    log = tmp_path / "event_notes.log"
    log.write_text("2026-11-30 17:42:56,000 ERROR x.py:1 -- boom\nTraceback (most recent call last):\n"
                   '  File "x.py", line 1, in <module>\nValueError: no\n')  # fmt: skip
    out = ingest([str(log)], tmp_path / "t").out_dir
    assert pl.read_parquet(out / "templates.parquet")["records"].sum() == 1  # one record of 4 lines
