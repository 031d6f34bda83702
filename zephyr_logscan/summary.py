"""The incident summary: the findings told as a story, for ``diagnose`` and the report.

Findings of one pattern and pipeline are one group (30 heartbeat storms are one row with a count,
their list expandable). The summary names the critical groups first, then walks every group in
time order: the causal chain. Each group says which scenario covers it, or, after ``--verify``,
how its scenario ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from zephyr_logscan.findings import SEVERITY, Finding


@dataclass
class Group:
    pattern: str
    title: str
    severity: str
    pipeline: str | None
    findings: list[Finding]

    @property
    def start(self) -> str:
        return min(f.start for f in self.findings)

    @property
    def end(self) -> str:
        return max(f.end for f in self.findings)

    @property
    def count(self) -> int:
        return len(self.findings)

    @property
    def when(self) -> str:
        """``12:54``, ``12:54 and 12:57`` or ``11:45-12:50 (30 times)``, in UTC."""
        starts = sorted(_hm(f.start) for f in self.findings)
        if self.count == 1:
            a, b = _hm(self.start), _hm(self.end)
            return a if a == b else f"{a}-{b}"
        if self.count == 2:
            return f"{starts[0]} and {starts[1]}"
        return f"{starts[0]}-{_hm(self.end)} ({self.count} times)"

    @property
    def story(self) -> str:
        """What happened, in one line."""
        first = self.findings[0].headline or self.title
        return first if self.count == 1 else f"{self.count} times, first: {first}"

    @property
    def proof(self) -> str:
        """``covered by scenario ZL07`` unless ``--verify`` ran it: then how it ran."""
        verified = [f.verified for f in self.findings if f.verified]
        if not verified:
            return f"covered by scenario {self.pattern}"
        v = verified[0]
        return f"verified: {'passed' if v['ok'] else 'FAILED'} in {v['seconds']:.1f} s"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _hm(iso: str) -> str:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%H:%M:%S")


def groups(findings: list[Finding]) -> list[Group]:
    """One group per pattern and pipeline, in time order of their first finding."""
    by: dict[tuple, Group] = {}
    for f in sorted(findings, key=lambda f: (f.start, f.pattern)):
        key = (f.pattern, f.pipeline)
        if key not in by:
            by[key] = Group(f.pattern, f.title, f.severity, f.pipeline, [])
        by[key].findings.append(f)
    return sorted(by.values(), key=lambda g: (g.start, g.pattern))


def critical_first(gs: list[Group]) -> list[Group]:
    return sorted(gs, key=lambda g: (-SEVERITY[g.severity], g.start, g.pattern))


def as_dict(g: Group) -> dict:
    return {
        "pattern": g.pattern, "title": g.title, "severity": g.severity, "pipeline": g.pipeline,
        "start": g.start, "end": g.end, "count": g.count, "when": g.when, "story": g.story,
        "proof": g.proof,
    }  # fmt: skip


def text(findings: list[Finding]) -> list[str]:
    """The summary as lines of text (the first thing ``logscan diagnose`` prints)."""
    gs = groups(findings)
    if not gs:
        return ["Incident summary: no known failure pattern in these logs."]
    critical = [g for g in critical_first(gs) if g.severity == "critical"]
    first, last = min(f.start for f in findings)[:10], max(f.end for f in findings)[:10]
    day = first if first == last else f"{first} to {last}"
    lines = [
        f"Incident summary ({day}, UTC): {plural(len(findings), 'finding')} in {plural(len(gs), 'group')}, "
        f"{sum(g.count for g in critical)} critical"
    ]
    if critical:
        lines.append("Critical:")
        lines += [
            f"  {g.pattern} {g.title} [{g.pipeline or '-'}] {g.when}: {g.story} ({g.proof})"
            for g in critical
        ]
    chain, rest = chain_and_rest(gs)
    lines.append("Chain of events, in time order:")
    for k, g in enumerate(chain):
        arrow = "  " if k == 0 else "  -> "
        lines.append(f"{arrow}{g.when}: {g.pattern} {g.story} [{g.pipeline or 'cluster'}]")
    if rest:
        lines.append("Also, in pipelines with no critical finding: " + also(rest))
    return lines


def chain_and_rest(gs: list[Group]) -> tuple[list[Group], list[Group]]:
    """The groups of the pipelines that had a critical finding, and cluster-wide ones (the
    incident's chain), in time order; and the other groups."""
    hit = {g.pipeline for g in gs if g.severity == "critical"}
    if not hit:
        return gs, []
    chain = [g for g in gs if g.pipeline in hit or g.pipeline is None]
    return chain, [g for g in gs if g not in chain]


def also(rest: list[Group]) -> str:
    """``ZL04 heartbeat-storm x22 (6 pipelines), ZL09 ... x6 (6 pipelines)``."""
    by: dict[str, list[Group]] = {}
    for g in rest:
        by.setdefault(g.pattern, []).append(g)
    return ", ".join(
        f"{p} {gs[0].title} x{sum(g.count for g in gs)} ({len(gs)} pipeline{'s' if len(gs) > 1 else ''})"
        for p, gs in sorted(by.items())
    )
