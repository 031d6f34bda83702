"""Inputs -> named byte streams, read in bounded chunks of whole lines.

Plain files, ``.gz``, ``.zst``, ``-`` (stdin) and folders (read recursively in name order: a Ray
``session_*/logs`` folder). Files that are not text are skipped with a reason; JSON event files
(``events/``, ``export_events/``) are marked so their lines are read as JSON events.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 16 << 20  # bytes per read; a record split across two chunks is still one record
SNIFF = 8192


class SourceError(Exception):
    """An input that cannot be read: the message is one line for the user."""


@dataclass
class Source:
    label: str  # the `file` column: the path as given, or relative inside a folder
    path: Path | None  # None for stdin
    json_events: bool = False
    bytes_read: int = 0
    lines: int = 0
    sha256: str = ""
    _hash: object = field(default_factory=hashlib.sha256, repr=False)

    def open(self):
        if self.path is None:
            return sys.stdin.buffer
        name = self.path.name
        if name.endswith(".gz"):
            return gzip.open(self.path, "rb")
        if name.endswith(".zst"):
            import zstandard

            return zstandard.ZstdDecompressor().stream_reader(
                open(self.path, "rb"), read_across_frames=True
            )
        return open(self.path, "rb")

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """Yield blocks that end on a line break (the last may not); hashes what it reads."""
        carry = b""
        try:
            fh = self.open()
            try:
                while True:
                    block = fh.read(size)
                    if not block:
                        break
                    self._hash.update(block)
                    self.bytes_read += len(block)
                    block = carry + block
                    cut = block.rfind(b"\n")
                    if cut < 0:
                        carry = block  # one very long line: keep reading until it ends
                        continue
                    carry = block[cut + 1 :]
                    yield block[: cut + 1]
            finally:
                if fh is not sys.stdin.buffer:
                    fh.close()
        except (EOFError, gzip.BadGzipFile, OSError) as e:
            raise SourceError(f"{self.label}: cannot read ({_reason(e)})") from None
        except Exception as e:  # zstandard raises its own error type
            if type(e).__name__ == "ZstdError":
                raise SourceError(f"{self.label}: cannot read ({e})") from None
            raise
        if carry:
            yield carry
        self.sha256 = self._hash.hexdigest()


def _reason(e: Exception) -> str:
    if isinstance(e, EOFError):
        return "compressed file is truncated"
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def looks_binary(path: Path) -> bool:
    """True for files that are not text logs (NUL bytes in the first block of plain files)."""
    if path.name.endswith((".gz", ".zst")):
        return False
    with open(path, "rb") as f:
        return b"\0" in f.read(SNIFF)


def discover(inputs: list[str]) -> tuple[list[Source], list[dict]]:
    """Inputs -> (sources in reading order, skipped files with reasons)."""
    sources: list[Source] = []
    skipped: list[dict] = []
    for item in inputs:
        if item == "-":
            sources.append(Source("<stdin>", None))
            continue
        path = Path(item)
        if not path.exists():
            raise SourceError(f"{item}: no such file or folder")
        if path.is_dir():
            found = 0
            for sub in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = sub.relative_to(path)
                label = str(Path(path.name) / rel)
                if looks_binary(sub):
                    skipped.append({"path": label, "why": "not text (binary content)"})
                    continue
                json_events = (
                    rel.parts[0] in ("events", "export_events") if len(rel.parts) > 1 else False
                )
                sources.append(Source(label, sub, json_events=json_events))
                found += 1
            if not found:
                raise SourceError(f"{item}: folder holds no log files")
            continue
        if not os.access(path, os.R_OK):
            raise SourceError(f"{item}: permission denied")
        if looks_binary(path):
            raise SourceError(f"{item}: not a text log (binary content)")
        sources.append(Source(str(path), path))
    return sources, skipped
