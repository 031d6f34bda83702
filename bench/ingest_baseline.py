"""The straightforward baseline: a per-line Python loop applying the catalog's regexes.

It reads line by line, tests every rule's literals and regex on each line (no folding), and
writes the same tables with pyarrow at the end. `bench/ingest.py` times it beside `logscan ingest`.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from parsers.rules import RULES


def main(path: str, out: str):
    rows = defaultdict(lambda: defaultdict(list))
    with open(path, encoding="utf-8", errors="replace") as f:
        for no, line in enumerate(f, 1):
            for rule in RULES:
                values = rule.extract(line)
                if values is not None:
                    cols = rows[rule.table]
                    cols["line"].append(no)
                    cols["rule"].append(rule.id)
                    cols["message"].append(line)
                    for k, v in values.items():
                        cols[k].append(str(v))
    Path(out).mkdir(parents=True, exist_ok=True)
    for table, cols in rows.items():
        n = len(cols["line"])
        data = {k: pa.array(v + [None] * (n - len(v))) for k, v in cols.items()}
        pq.write_table(pa.table(data), f"{out}/{table}.parquet", compression="zstd")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
