"""reports: ingest tables -> one self-contained HTML timeline of the incident."""

from reports.page import render_report

__all__ = ["render_report"]
