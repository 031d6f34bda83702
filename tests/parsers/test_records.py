"""The folding rule of shared/DESIGN.md, case by case."""

from __future__ import annotations

from types import SimpleNamespace

import polars as pl

from parsers.records import RecordFolder


def fold(lines):
    """Records as objects with .line, .lines, .repeat, .level, fed in one chunk."""
    f = RecordFolder()
    frame = pl.concat([f.feed(pl.Series(lines)), f.close()])
    return [SimpleNamespace(**row) for row in frame.iter_rows(named=True)]


def test_dedup_suffix_counts_as_n_events():
    (rec,) = fold(["(raylet) A worker died or was killed ... [repeated 8x across cluster]"])
    assert rec.repeat == 8


def test_node_dead_banner_second_line_continues_and_carries_the_count():
    recs = fold([
        "(raylet) The node with node id: ab has been marked dead because the detector ... (OOM, etc.) ",
        "\t(2) raylet has lagging heartbeats due to slow network or busy workload. [repeated 7x across cluster]",
        "(raylet) next",
    ])  # fmt: skip
    assert [r.lines for r in recs] == [2, 1] and recs[0].repeat == 7


def test_logger_exception_traceback_and_actor_died_details_fold_into_one_record():
    recs = fold([
        "2026-02-20 10:00:00,000\tERROR x.py:1 -- failed",
        "Traceback (most recent call last):",
        '  File "a.py", line 1, in f',
        "ray.exceptions.RayTaskError(ActorDiedError): ray::A.f() (pid=1, ip=1.2.3.4)",
        "ray.exceptions.ActorDiedError: The actor died unexpectedly before finishing this task.",
        "\tclass_name: A",
        "The actor is dead because its worker process has died.",
        "2026-02-20 10:00:01,000\tINFO x.py:1 -- next",
    ])  # fmt: skip
    assert [r.lines for r in recs] == [7, 1]
    assert recs[0].level == "ERROR" and recs[1].line == 8


def test_traceback_under_info_head_is_its_own_record():
    recs = fold(
        [
            "2026-02-20 10:00:00,000\tINFO x.py:1 -- note",
            "Traceback (most recent call last):",
            "  x",
            "E: y",
        ]
    )
    assert [r.lines for r in recs] == [1, 3]


def test_other_prefix_never_continues():
    # The open record is the most recent one of the file: after B's line, A's indented line is a head.
    recs = fold(
        ["(A pid=1) Traceback (most recent call last):", "(B pid=2)   File x", "(A pid=1)   File y"]
    )
    assert [r.lines for r in recs] == [1, 1, 1]


def test_timestamped_line_ends_a_truncated_traceback():
    recs = fold(["Traceback (most recent call last):", "  x", "2026-02-20 10:00:00,000 INFO next"])
    assert [r.lines for r in recs] == [2, 1]


def test_bare_warning_word_is_not_an_exception_line():
    recs = fold(["Warning: disk", "more text"])
    assert [r.lines for r in recs] == [1, 1]


def test_record_split_across_feeds_is_one_record():
    f = RecordFolder()
    head = ["2026-02-20 10:00:00,000\tERROR x.py:1 -- boom", "Traceback (most recent call last):"]
    out = [f.feed(pl.Series(head)), f.feed(pl.Series(["  File y", "ValueError: z"])), f.close()]
    assert pl.concat(out)["lines"].to_list() == [4]


def test_first_line_of_a_file_may_be_a_continuation_shape():
    lines = [
        "Traceback (most recent call last):",
        "  x",
        "ValueError: y",
        "more",
        "2026-02-20 10:00:00,000 INFO z",
    ]
    assert [r.lines for r in fold(lines)] == [4, 1]
