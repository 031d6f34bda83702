"""Intermediate data on disk: chunk files written atomically, referenced by path.

Only these paths cross actor calls; the data stays in files until the next stage reads it.
"""

from __future__ import annotations

import os
import pickle
import shutil
import uuid
from pathlib import Path


class ChunkStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def write(self, items: list, stage: int, shard: int, attempt: int, target: int) -> str:
        # Below the root only: a worker still finishing a task after its attempt ended (a thread
        # the local backend cannot stop, a process ray.kill has not reached yet) must fail here,
        # not recreate the attempt's folder the driver removed and leave its chunks behind.
        folder = self.root / f"stage{stage}"
        folder.mkdir(exist_ok=True)
        folder = folder / f"shard-{shard:05d}"
        folder.mkdir(exist_ok=True)
        path = folder / f"a{attempt}-t{target:05d}.pkl"
        tmp = folder / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(items, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        return str(path)

    @staticmethod
    def read(path: str) -> list:
        with open(path, "rb") as f:
            return pickle.load(f)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
