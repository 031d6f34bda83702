"""zephyr-logscan: log forensics for zephyr coordinator incidents on Ray.

The synthesizer loads on first use, so a worker process of a parallel ingest does not pay for
it. (``ingest`` and ``load`` are imported here: each shares its name with its module, and only
an import here makes the name the function.)
"""

from zephyr_logscan.ingest import IngestError, IngestResult, ingest
from zephyr_logscan.load import LoadError, Tables, load
from zephyr_logscan.version import VERSION

__all__ = [
    "IngestError", "IngestResult", "LoadError", "SynthConfig", "Tables", "ingest", "load",
    "synthesize",
]  # fmt: skip
__version__ = VERSION


def __getattr__(name: str):
    if name in ("SynthConfig", "synthesize"):
        from zephyr_logscan import synth

        return getattr(synth, name)
    raise AttributeError(f"module 'zephyr_logscan' has no attribute {name!r}")
