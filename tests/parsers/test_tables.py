"""Vectorised classification: the same tables and rules as the per-message reference."""

from __future__ import annotations

import polars as pl

from parsers.rules import RULES
from parsers.tables import classify, classify_records


def test_vectorised_classification_agrees_with_the_reference():
    messages = [s for r in RULES for s in r.samples]
    records = pl.DataFrame(
        {
            "message": messages,
            "head": [m.split("\n")[0] for m in messages],
            "repeat": [1] * len(messages),
        }
    )
    tables, classified = classify_records(records)
    for i, message in enumerate(messages):
        found = classify(message)
        want = {t: rule.id for t, (rule, _) in found.items() if t != "events"}
        got = {
            t: df.filter(pl.col("rid") == i)["rule"].to_list()
            for t, df in tables.items()
            if t != "events"
        }
        got = {t: ids[0] for t, ids in got.items() if ids}
        assert got == want, message[:80]
        assert classified[i] == bool(found)
