"""parsers: bytes -> records -> typed rows. Knows log formats; knows nothing of incidents.

The flow, one module per step: ``sources`` (inputs in bounded chunks) -> ``lines`` (per-line
prefix, timestamp, dedup count) -> ``records`` (the folding rule) -> ``rules`` (the catalog)
-> ``tables`` (classification and the Arrow schemas).
"""

from parsers.records import RecordFolder
from parsers.rules import RULES, Rule
from parsers.sources import Source, SourceError, discover
from parsers.tables import ALL_TABLES, SCHEMAS, classify, classify_records

__all__ = [
    "ALL_TABLES", "RULES", "SCHEMAS", "RecordFolder", "Rule", "Source", "SourceError",
    "classify", "classify_records", "discover",
]  # fmt: skip
