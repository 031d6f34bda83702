"""The report opens with the incident summary; findings are grouped, critical first, each group's
list expandable; no claim that a scenario ran unless it did."""

from __future__ import annotations

import copy
import re

from reports import render_report


def test_summary_comes_first_and_groups_expand(small_report):
    _, found, report = small_report
    page = report.read_text()
    order = [
        page.index(f'id="{s}"')
        for s in ("section-header", "section-summary", "section-workers", "section-findings")
    ]
    assert order == sorted(order)
    summary = page.split('id="section-summary"', 1)[1].split("</section>", 1)[0]
    assert "<h3>Critical</h3>" in summary and summary.index("ZL01") < summary.index(
        "Chain of events"
    )
    findings = page.split('id="section-findings"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr><td><b>(ZL\d\d)</b>.*?<td[^>]*>(critical|warning)</td>", findings)
    severities = [sev for _, sev in rows]
    assert severities == sorted(severities)  # "critical" < "warning": critical groups first
    storms = sum(f.pattern == "ZL04" for f in found)
    assert (
        storms > 1 and f"<details><summary>{storms} findings</summary>" not in findings
    )  # per pipeline
    assert findings.count("<details>") == len(rows) < len(found)
    assert "proven fixed" not in page and "covered by scenario ZL01" in page


def test_verified_findings_say_how_their_scenario_ran(small_report, small_tables):
    out = small_tables
    found = copy.deepcopy(small_report[1])
    for f in found:
        f.verified = {"ok": True, "detail": "", "seconds": 1.25} if f.pattern == "ZL01" else None
    page = render_report(out, findings=found).read_text()
    assert "verified: passed in 1.2 s" in page and "covered by scenario ZL01" not in page


def test_a_healthy_log_says_so_first(small_tables, tmp_path):
    """A diagnosis that found nothing: the page opens with the summary saying so (there was no
    summary at all; only the findings section near the end said it)."""
    page = render_report(small_tables, tmp_path / "healthy.html", findings=[]).read_text()
    summary = page.split('id="section-summary"', 1)[1].split("</section>", 1)[0]
    assert "No known failure pattern in these logs." in summary
    assert page.index('id="section-summary"') < page.index('id="section-workers"')
    none_run = render_report(small_tables, tmp_path / "none.html").read_text()
    assert 'id="section-summary"' not in none_run  # no diagnosis, no claim either way
