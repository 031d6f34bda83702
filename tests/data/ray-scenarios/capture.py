"""Refresh the kept Ray captures: each scenario runs on a private Ray cluster (ZL07 adds and loses
a second raylet) in its own driver process; its driver output and its part of the session
folders are written to tests/data/ray-scenarios/<ZLxx>/, with the findings of logscan diagnose.

    .venv/bin/python tests/data/ray-scenarios/capture.py [ZL01 ZL05 ...]
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.ray_support import SYSTEM_CONFIG, diagnose_capture, run_captured  # noqa: E402
from zephyr_engine import scenarios  # noqa: E402
from zephyr_engine.backends.ray_cluster import LocalRayCluster  # noqa: E402


def main(patterns: list[str]) -> int:
    here = Path(__file__).resolve().parent
    failed = 0
    with LocalRayCluster(num_cpus=8, system_config=SYSTEM_CONFIG) as cluster:
        for pattern in patterns or scenarios.RAY:
            out = here / pattern
            shutil.rmtree(out, ignore_errors=True)
            outcome = run_captured(cluster, pattern, out)
            findings = diagnose_capture(out, Path(cluster.temp_dir) / f"tables-{pattern}")
            (out / "findings.json").write_text(json.dumps(findings, indent=1) + "\n")
            found = sorted({f["pattern"] for f in findings})
            print(
                f"{pattern}: ok={outcome['ok']} {outcome['seconds']:.1f}s findings={found}",
                flush=True,
            )
            failed += not outcome["ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
