"""The bare baseline: a per-line Python loop applying seven regexes, counting matches only.

One regex per incident family (the first catalog rule of node_deaths, heartbeat_failures,
registrations, reregistrations, actor_already_exists, worker_status and stage_progress), each
searched on every line: no folding, no prefilter, no tables. `bench/parallel.py` times
`logscan ingest` against it in the same run.

    python bench/regex_baseline.py LOG
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parsers.rules import RULES  # noqa: E402

FAMILIES = (
    "node_deaths", "heartbeat_failures", "registrations", "reregistrations",
    "actor_already_exists", "worker_status", "stage_progress",
)  # fmt: skip
REGEXES = [re.compile(next(r.regex for r in RULES if r.table == t)) for t in FAMILIES]


def main(path: str) -> dict[str, int]:
    counts = [0] * len(REGEXES)
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            for i, rx in enumerate(REGEXES):
                if rx.search(line):
                    counts[i] += 1
    return dict(zip(FAMILIES, counts, strict=True))


if __name__ == "__main__":
    print(main(sys.argv[1]))
