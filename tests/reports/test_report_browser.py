"""The report in a real browser (Debian chromium, headless, offline): every section renders,
nothing errors, and hostile log text shows as text without running."""

from __future__ import annotations

import re

from reports import render_report
from zephyr_logscan.ingest import ingest

from .browser import load

SECTIONS = [
    "section-header",
    "section-summary",
    "section-workers",
    "section-events",
    "section-nodes",
    "section-findings",
    "section-unknowns",
]


def test_report_renders_offline_without_errors(small_report, tmp_path):
    report = small_report[2]
    assert report.stat().st_size < 15e6
    page = load(report, tmp_path, screenshot=True)
    assert 'data-rendered="3"' in page.dom, "the plots' script did not finish"
    for section in SECTIONS:
        assert f'id="{section}"' in page.dom, section
    for plot in ("plot-workers", "plot-events", "plot-nodes"):
        block = page.dom.split(f'id="{plot}"', 1)[1][:5000]
        assert "main-svg" in block, f"{plot} not drawn"
    assert not page.console, f"console messages: {page.console}"
    assert page.screenshot.stat().st_size > 10_000
    findings = page.dom.split('id="section-findings"', 1)[1].split("</section>", 1)[0]
    assert (
        "ZL01" in findings
        and "all-workers-dead-hang" in findings
        and "covered by scenario" in findings
    )


def test_zooming_one_time_axis_zooms_all(small_tables, tmp_path):
    out = small_tables
    page = load(render_report(out), tmp_path, "#check-linked-axes")
    assert 'data-linked-axes="ok"' in page.dom, "the other plots did not follow the zoom"


HOSTILE = [
    "2026-02-21 12:00:00,000 INFO x.py:1 -- Starting zephyr pipeline: <script>document.title='PWNED1'</script>",
    "(raylet) The node with node id: "
    + "a" * 56
    + " and address: 10.0.0.9 and node name: <img/src=x/onerror=document.title='PWNED2'> has been marked dead because the detector has missed too many heartbeats from it.",
    "2026-02-21 12:00:01,000 INFO x.py:1 -- </script><script>document.title='PWNED3'</script> \"quoted\" 'single'",
    "2026-02-21 12:00:02,000 INFO x.py:1 -- <img src=x onerror=\"document.title='PWNED4'\">",
    "(_RayActorHost pid=7, ip=10.0.0.9) 2026-02-21 12:00:03,000 WARNING zephyr.execution:402 Zephyr worker <b>w</b>-1 failed to heartbeat within timeout (30.4s)",
]


def test_hostile_log_text_shows_as_text_and_never_runs(tmp_path):
    log = tmp_path / "hostile.log"
    log.write_text("\n".join(HOSTILE * 3) + "\n")
    out = ingest([str(log)], tmp_path / "tables").out_dir
    page = load(render_report(out), tmp_path)
    title = re.search(r"<title>(.*?)</title>", page.dom, re.S).group(1)
    assert "PWNED" not in title, title
    assert 'data-rendered="3"' in page.dom, "hostile text broke the page's script"
    assert not re.search(r"<img[^>]*onerror", page.dom, re.I), "an injected element reached the DOM"
    assert "&lt;script&gt;document.title='PWNED1'&lt;/script&gt;" in page.dom  # shown, as text
    assert not page.console, f"console messages: {page.console}"


def test_long_unbroken_names_wrap_instead_of_widening_the_page(tmp_path):
    """A pipeline named with 200 characters and no space, an unknown line with a 300-character
    path: the header, the tables and the lists wrap them (the findings table grew as wide as the
    name and pushed its 'what it means' column off the window, behind a horizontal scrollbar)."""
    name = "tokenize-" + "verylongstagename" * 12
    path = "/data/" + "x" * 300 + ".parquet"
    log = tmp_path / "long.log"
    log.write_text(
        f"2026-02-21 12:00:00,000 INFO x.py:1 -- Starting zephyr pipeline: {name}\n"
        f"2026-02-21 12:00:01,000 INFO x.py:1 -- could not open {path}\n" * 3
    )
    out = ingest([str(log)], tmp_path / "tables").out_dir
    page = load(render_report(out, findings=[]), tmp_path)
    assert 'data-rendered="3"' in page.dom
    assert name in page.dom and "xxxxxxxxxx" in page.dom
    wider = re.search(r'data-wider-than-window="(\d+)"', page.dom)
    assert not wider, f"the page is {wider.group(1)} px wider than the window"
