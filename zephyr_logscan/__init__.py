"""zephyr-logscan: log forensics for zephyr coordinator incidents on Ray.

The synthesizer loads on first use, so a worker process of a parallel ingest does not pay for
it. (``ingest`` and ``load`` are imported here: each shares its name with its module, and only
an import here makes the name the function.)
"""

import os

# Polars' allocator (jemalloc) hands freed pages back to the system soon after; an ingest frees
# and allocates chunks of the same size pass after pass, and faulted them back in each time.
# Keeping freed pages for 30 s cuts its page faults by a third (0.3 s of system time per 100 MB)
# for about 6% more peak memory. It takes effect only if set before polars loads, and a user's
# own setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:30000,muzzy_decay_ms:30000")

from zephyr_logscan.ingest import IngestError, IngestResult, ingest  # noqa: E402
from zephyr_logscan.load import LoadError, Tables, load  # noqa: E402
from zephyr_logscan.version import VERSION  # noqa: E402

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
