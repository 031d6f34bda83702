"""Physical lines: what is cut off a line before it is read (parsers/lines.py)."""

from __future__ import annotations

import json

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.lines import JSON_CONTEXT, line_features, split_lines
from parsers.records import RecordFolder
from parsers.tables import classify_records, to_arrow
from tests.strategies import JSON_VALUES


def lines_of(*texts: str) -> list[str]:
    return split_lines(("\n".join(texts) + "\n").encode()).to_list()


def test_a_collectors_time_of_day_is_cut_and_the_programs_line_read():
    """Iris's log streamer glues its time of day before every line (marin#4093, marin#5890):
    the program's own line is what follows."""
    assert lines_of(
        "02:22:00.525syncing deps",
        "02:22:07.294I20260324 09:22:03 zephyr.execution Loading coordinator config",
        "02:22:07.294 2026-03-24 09:22:03,120 INFO zephyr.execution -- started",
        "02:22:07.294\t[2026-03-24 09:22:03,120 E 12 12] raylet.cc:1] lost",
    ) == [
        "syncing deps",
        "I20260324 09:22:03 zephyr.execution Loading coordinator config",
        "2026-03-24 09:22:03,120 INFO zephyr.execution -- started",
        "[2026-03-24 09:22:03,120 E 12 12] raylet.cc:1] lost",
    ]


def test_a_programs_own_time_of_day_stays():
    """A time of day, a blank and text is how some programs stamp their lines: it is all the
    time those lines have, and cutting it would make every line an indented continuation."""
    texts = ["12:34:56.789 starting", "12:34:57.001  two blanks", "12:34:56.7891 more digits"]
    assert lines_of(*texts) == texts
    feat = line_features(pl.Series(lines_of(*texts)))
    assert not feat["indented"].any()


def test_lines_streamed_by_a_collector_are_timed_and_fold_as_written():
    f = RecordFolder()
    lines = split_lines(
        b"20:30:28.807E20260521 03:30:26 zephyr.execution Coordinator loop crashed\n"
        b"20:30:28.807Traceback (most recent call last):\n"
        b'20:30:28.807  File "execution.py", line 480, in _check_worker_group\n'
        b"20:30:28.807zephyr.execution.ZephyrWorkerError: Worker job terminated permanently\n"
        b"20:30:28.900I20260521 03:30:27 zephyr.execution next\n"
    )
    recs = pl.concat([f.feed(lines), f.close()])
    assert recs["lines"].to_list() == [4, 1]
    assert recs["level"].to_list() == ["ERROR", "INFO"]
    assert [t.isoformat() for t in recs["ts"]] == [
        "2026-05-21T03:30:26+00:00",
        "2026-05-21T03:30:27+00:00",
    ]


def test_json_encoded_records_read_as_ray_prints_them_in_text():
    """Ray's JSON encoding (``ray.LoggingConfig(encoding="JSON")``) and its event lines pasted
    into a text log: time, level, process and source come from the record's own fields."""
    feat = line_features(
        pl.Series([
            '{"asctime": "2026-11-30 20:38:33,710", "levelname": "WARNING", "message": "Zephyr '
            'worker w-1 failed", "filename": "x.py", "lineno": 21, "process": 5744, "job_id": '
            '"01000000", "actor_name": "zephyr-demo-p0-a0-coord-0", "timestamp_ns": 1}',
            '{"levelname": "ERROR", "message": "Task failed", "exc_text": "Traceback (most recent'
            ' call last):\\nKeyError: \'shard\'", "timestamp_ns": 1796071024811208804}',
            '{"label": "RAY_NODE_REMOVED", "message": "Node is dead.", "pid": "32516", '
            '"severity": "ERROR", "source_type": "GCS", "timestamp": 1796060576}',
            '{"message": {"not": "a log record"}, "timestamp": 1796060576}',
            '{"message": "unterminated',
            '{"message": "far", "timestamp": 1e15}',
        ])
    )  # fmt: skip
    assert feat["body"].to_list() == [
        "2026-11-30 20:38:33,710 WARNING x.py:21 -- Zephyr worker w-1 failed "
        "actor_name=zephyr-demo-p0-a0-coord-0 job_id=01000000",
        "2026-11-30T20:37:04.811Z ERROR -- Task failed\nTraceback (most recent call last):\n"
        "KeyError: 'shard'",
        "2026-11-30T17:42:56.000Z ERROR -- Node is dead. label=RAY_NODE_REMOVED",
        '{"message": {"not": "a log record"}, "timestamp": 1796060576}',
        '{"message": "unterminated',
        "-- far",
    ]
    assert [t and t.isoformat() for t in feat["ts"]] == [
        "2026-11-30T20:38:33.710000+00:00", "2026-11-30T20:37:04.811000+00:00",
        "2026-11-30T17:42:56+00:00", None, None, None,
    ]  # fmt: skip
    assert feat["level"].to_list() == ["WARNING", "ERROR", "ERROR", None, None, None]
    assert feat["pid"].to_list() == [5744, None, 32516, None, None, None]
    assert feat["source"].to_list() == [None, None, "GCS", None, None, None]


def test_a_deduplicated_lines_body_keeps_its_suffix_and_mbody_drops_it():
    feat = line_features(
        pl.Series([
            "(raylet) a worker died [repeated 3x across cluster]",
            '{"asctime": "2026-11-30 20:38:33,710", "message": "m"} [repeated 2x across cluster]',
            "plain",
        ])
    )  # fmt: skip
    assert feat["body"].to_list() == [
        "a worker died [repeated 3x across cluster]",
        "2026-11-30 20:38:33,710 -- m [repeated 2x across cluster]",
        "plain",
    ]
    assert feat["mbody"].to_list() == ["a worker died", "2026-11-30 20:38:33,710 -- m", "plain"]
    assert feat["repeat"].to_list() == [3, 2, None]


LOG_KEYS = ("asctime", "levelname", "message", "filename", "lineno", "process", "exc_text",
            "timestamp_ns", "timestamp", "severity", "pid", "source_pid", "source_type",
            *JSON_CONTEXT)  # fmt: skip
RECORDS = st.dictionaries(st.sampled_from(LOG_KEYS) | st.text(max_size=6), JSON_VALUES, max_size=7)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(RECORDS.map(json.dumps), st.text(max_size=60)), min_size=1, max_size=8))
def test_json_lines_of_any_shape_give_records_never_an_exception(texts):
    """Whatever a JSON line holds (any key, any value, nested, invalid), the text log it is in
    folds and classifies; a record with a string message keeps that message whole."""
    lines = split_lines(
        ("\n".join(t.replace("\n", " ").replace("\r", " ") for t in texts) + "\n").encode()
    )
    f = RecordFolder()
    recs = pl.concat([f.feed(lines), f.close()])
    assert int(recs["lines"].sum()) == len(lines)
    recs = recs.with_columns(
        file=pl.lit("x.log"), ts_inferred=pl.lit(False), pipeline=pl.lit(None, pl.String)
    )
    tables, _ = classify_records(recs)
    for name, rows in tables.items():
        to_arrow(name, rows)
    messages = "\n".join(recs["message"])
    for text in texts:
        try:
            record = json.loads(text.replace("\n", " ").replace("\r", " "))
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("message"), str):
            assert record["message"].replace("\r", "") in messages.replace("\r", "")


def test_iris_cli_lines_are_their_tasks_and_fold_per_task():
    """``iris job logs`` prints ``[HH:MM:SS] task=T attempt=A | line`` (marin's
    lib/iris/src/iris/cli/logs.py): the time of day is the CLI's, the task attempt is the process
    that printed the line, and a task's traceback folds into its record."""
    f = RecordFolder()
    lines = split_lines(
        b"[03:30:26] task=/u/job/workers/3 attempt=1 | I20260521 03:30:26 zephyr.execution [w-3] pulled\n"
        b"[03:30:26] task=/u/job/coord/0 attempt=0 | E20260521 03:30:26 zephyr.execution loop crashed\n"
        b"[03:30:26] task=/u/job/coord/0 attempt=0 | Traceback (most recent call last):\n"
        b'[03:30:26] task=/u/job/coord/0 attempt=0 |   File "execution.py", line 480, in loop\n'
        b"[03:30:26] task=/u/job/coord/0 attempt=0 | RuntimeError: boom\n"
        b"[03:30:27] task=/u/job/workers/3 attempt=1 | I20260521 03:30:27 zephyr.execution [w-3] done\n"
    )  # fmt: skip
    recs = pl.concat([f.feed(lines), f.close()])
    assert recs["line"].to_list() == [1, 2, 6]
    assert recs["lines"].to_list() == [1, 4, 1]
    assert recs["source"].to_list() == ["/u/job/workers/3", "/u/job/coord/0", "/u/job/workers/3"]
    assert recs["message"][1].endswith("RuntimeError: boom")
    assert [t.strftime("%H:%M:%S") for t in recs["ts"]] == ["03:30:26", "03:30:26", "03:30:27"]
