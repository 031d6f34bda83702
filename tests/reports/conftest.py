"""The small log's report, rendered once per run."""

from __future__ import annotations

import pytest

from reports import render_report
from tests.conftest import copy_tables, once_per_run
from zephyr_logscan.findings import diagnose


@pytest.fixture(scope="session")
def small_report(small_ingest, tmp_path_factory):
    """``(tables, findings, report)``: a copy of ``small_ingest``, its diagnosis and the report
    rendered with it. Made once per run (pytest-xdist's workers share it); read only."""

    def make(folder):
        tables = copy_tables(small_ingest, folder)
        found = diagnose(tables)
        return tables, found, render_report(tables, findings=found)

    return once_per_run(tmp_path_factory, "small-report", make)
