"""The report's schedule section: each pipeline's fault schedule as ``derive`` takes it out of the
tables, in clock time beside the timeline, and the outcome of ``logscan replay`` when the folder
holds one (``replay.json``, written by the replay of that folder)."""

from __future__ import annotations

import html
import json
from pathlib import Path

REPLAY_FILE = "replay.json"


def schedule_section(folder: str | Path, incident: list[str] | tuple = ()) -> str:
    """The section; the replayed pipeline first, then the ``incident`` ones (those with a critical
    finding), then the others in log order (the incident's schedule came last, under seven
    pipelines' lists, in the demo)."""
    from zephyr_logscan.derive import derive
    from zephyr_logscan.replay import log_story

    folder = Path(folder)
    try:
        schedules = derive(folder)
    except Exception as e:  # noqa: BLE001 - the report is written even when derive cannot run
        return _section(f"<p>The schedule could not be derived: {_esc(e)}</p>")
    replayed = _replay(folder)
    if not schedules:
        return _section("<p>No pipeline and no fault in these logs.</p>")
    blocks = []
    order = sorted(
        schedules.values(),
        key=lambda s: (
            replayed is None or s.pipeline != replayed.get("pipeline"),
            s.pipeline not in incident,
        ),
    )
    for s in order:
        faults = s.faults()
        head = (f"<b>{_esc(s.pipeline)}</b>: {s.workers or '?'} workers, {s.shards or '?'} shards, "
                f"{len(s.attempts)} attempt{'s' if len(s.attempts) != 1 else ''}, outcome {_esc(s.outcome)}"
                + ("" if faults else " · no faults"))  # fmt: skip
        story = "".join(f"<li>{_esc(line)}</li>" for line in log_story(s)) if faults else ""
        engine = ""
        if replayed and replayed.get("pipeline") == s.pipeline and replayed.get("engine"):
            engine = _engine(replayed)
        blocks.append(f'<div class=schedule data-pipeline="{_esc(s.pipeline)}"><p>{head}</p>'
                      f"{f'<ol>{story}</ol>' if story else ''}{engine}</div>")  # fmt: skip
    note = ("Each pipeline's fault schedule as <code>zephyr_logscan.derive</code> reads it from the tables "
            "(times UTC). <code>logscan replay</code> plays one against the corrected engine"
            + ("; its last outcome for this folder is shown with its pipeline." if replayed else "."))  # fmt: skip
    return _section(f"<p class=note>{note}</p>" + "".join(blocks))


def _engine(replayed: dict) -> str:
    o = replayed["engine"]
    steps = "".join(
        f"<li>+{st['at']:.2f}s {_esc(st['label'] + ' → ' if st['label'] else '')}{_esc(st['did'])}</li>"
        for st in sorted(o["steps"], key=lambda x: x["at"])
    )
    verdict = "ok" if o["ok"] else "VIOLATED: " + "; ".join(o["violations"])
    p = replayed.get("plan", {})
    return (f"<p id=replay-outcome><b>Replay</b> ({p.get('workers')} workers, {p.get('shards')} shards, "
            f"log time ×{p.get('time_scale', 0):.4g}): <b>{_esc(o['result'])}</b> — {_esc(o['detail'])} "
            f"in {o['seconds']:.1f}s; guarantees <b>{_esc(verdict)}</b></p><ol>{steps}</ol>")  # fmt: skip


def _replay(folder: Path) -> dict | None:
    try:
        doc = json.loads((folder / REPLAY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("engine"), dict) else None


def _section(inner: str) -> str:
    return f'<section id="section-schedule"><h2>Fault schedule</h2>{inner}</section>'


def _esc(text) -> str:
    return html.escape(str(text), quote=True)
