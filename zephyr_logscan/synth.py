"""``logscan synth``: a realistic zephyr incident driver log with an exact ground-truth file.

Three parts: the story (``synth_story``: pipelines, faults and noise, kept as fault schedules),
the wordings (``synth_text``: the exact Ray and zephyr text) and the writer (``synth_writer``:
bytes out, truth counted record by record). The generator knows what every record it writes is,
so it counts the truth as it writes: records and events per table (the counting contract of
shared/DESIGN.md), distinct ids, unmatched records, and the window of every planted pattern; and
it writes its story as fault schedules (``FILE.schedule.json``), which ``derive`` must find again
in the tables. Memory stays flat: only the current tick's text is held.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from zephyr_logscan.schedule import save as save_schedules
from zephyr_logscan.synth_story import Story, SynthConfig
from zephyr_logscan.synth_writer import LogWriter, Truth, truth_document

__all__ = ["SynthConfig", "parse_size", "synthesize"]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?i?B?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 10**3, "M": 10**6, "G": 10**9}


def parse_size(text: str) -> int:
    """``"100MB"`` -> 100_000_000; accepts B, KB, MB, GB (and KiB, MiB, GiB)."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 100MB, 1GB, 500KB)")
    unit = (m.group(2) or "").upper()
    binary = "I" in unit
    base = _UNITS[unit[:1] if unit[:1] in "KMG" else ""]
    if binary:
        base = {1: 1, 10**3: 2**10, 10**6: 2**20, 10**9: 2**30}[base]
    return int(float(m.group(1)) * base)


def synthesize(path: str | os.PathLike, cfg: SynthConfig | None = None) -> dict:
    """Write the incident log to ``path`` and its truth to ``path + ".truth.json"``.

    >>> truth = synthesize("/tmp/full_log.txt", SynthConfig(size=2_000_000, workers=64))
    >>> truth["tables"]["node_deaths"]["events"] > 0
    True
    """
    cfg = cfg or SynthConfig()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    truth = Truth()
    with open(tmp, "wb", buffering=1 << 20) as fh:
        out = LogWriter(fh, truth)
        story = Story(cfg, out)
        story.run()
    doc = truth_document(cfg, out, truth)
    save_schedules([told.schedule(truth.oom_kills) for told in story.told],
                   path.with_name(path.name + ".schedule.json"))  # fmt: skip
    truth_tmp = path.with_name(path.name + ".truth.json.tmp")
    truth_tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)
    os.replace(truth_tmp, path.with_name(path.name + ".truth.json"))
    return doc
