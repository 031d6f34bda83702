"""zephyr_engine: the corrected zephyr coordinator/worker engine.

>>> from zephyr_engine import Dataset, ZephyrContext
>>> with ZephyrContext(max_workers=2) as ctx:
...     ctx.execute(Dataset.from_list([1, 2, 3]).map(lambda x: x + 1)).results
[2, 3, 4]
"""

import logging

from zephyr_engine.context import ExecutionResult, ZephyrContext
from zephyr_engine.dataset import Dataset, ShardInfo
from zephyr_engine.errors import (
    ActorAlreadyExistsError,
    NoAliveWorkersError,
    NoWorkersRegisteredError,
    PipelineFailedError,
    ShardFailedError,
    ZephyrError,
)
from zephyr_engine.worker import get_shared

# A library logs; the application decides where to (and Python's last-resort stderr stays quiet).
logging.getLogger("zephyr").addHandler(logging.NullHandler())

__all__ = [
    "get_shared",
    "ActorAlreadyExistsError", "Dataset", "ExecutionResult", "NoAliveWorkersError",
    "NoWorkersRegisteredError", "PipelineFailedError", "ShardFailedError", "ShardInfo",
    "ZephyrContext", "ZephyrError",
]  # fmt: skip
