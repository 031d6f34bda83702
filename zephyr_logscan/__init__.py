"""zephyr-logscan: log forensics for zephyr coordinator incidents on Ray."""

from zephyr_logscan.ingest import VERSION, IngestError, IngestResult, ingest
from zephyr_logscan.load import LoadError, Tables, load
from zephyr_logscan.synth import SynthConfig, synthesize

__all__ = [
    "IngestError",
    "IngestResult",
    "LoadError",
    "SynthConfig",
    "Tables",
    "ingest",
    "load",
    "synthesize",
]
__version__ = VERSION
