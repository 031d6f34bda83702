"""Inputs -> named byte streams, read in full, in bounded chunks of whole lines.

Plain files, gzip, zstd, bzip2 and xz (recognised by their magic bytes, so a compressed stream
on stdin or a FIFO is read too), ``-`` (stdin), FIFOs and process substitutions, and folders
(read recursively in name order: a Ray ``session_*/logs`` folder). Reads are complete or fail:
a truncated or corrupt compressed stream is an error naming the file, never a short read.

The text/binary decision is made on the first block the reader keeps anyway, so a stream that
cannot be rewound (stdin, a FIFO) loses no byte to it. JSON event files (``events/``,
``export_events/``) are marked so their lines are read as JSON events.

The pieces are separate so that a reader of part of a file can reuse them: ``open_raw`` (the
bytes as stored, counted), ``decompressed`` (blocks of the content), ``text_verdict`` (is this
text?), ``LineCutter`` (blocks -> whole lines, giant lines capped) and ``NulCounter``.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import hashlib
import io
import lzma
import os
import re
import stat
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 16 << 20  # bytes per read; a record split across two chunks is still one record
RAW_BLOCK = 1 << 20  # compressed bytes fed to a decompressor at a time
MAX_LINE = 1 << 20  # a line keeps at most this many bytes; the rest is counted, not stored
SNIFF = 64 << 10  # bytes of the first block that decide text or binary
NOT_TEXT_SHARE = 0.3  # above this share of non-text bytes a stream is not a text log
NUL_RUN = re.compile(rb"\0{8,}")  # crash- or disk-full-cut logs hold NUL runs; not binary signs
# C0 control bytes that text logs do not hold (tab, newlines, form feed, backspace and ESC of
# ANSI colours do occur), and DEL.
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\v\f\r\b\x1b") + b"\x7f"
MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)


class SourceError(Exception):
    """An input that cannot be read: the message is one line for the user.

    ``skippable`` errors happen before any byte of the input was used (no permission, not
    text, gone): inside a folder input such a file is listed as skipped instead.
    """

    def __init__(self, message: str, skippable: bool = False, why: str = ""):
        super().__init__(message)
        self.skippable = skippable
        self.why = why or message


def reason(e: BaseException) -> str:
    """An exception -> a few words for the user."""
    if isinstance(e, EOFError):
        return "compressed data is truncated"
    if isinstance(e, OSError) and e.errno:
        return os.strerror(e.errno)
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text.removeprefix("zstd decompress error: ")


class CountingReader(io.RawIOBase):
    """A binary stream that counts the bytes taken from it (the progress of compressed input)
    and can hand back a prefix already read (so sniffing a pipe costs no byte)."""

    def __init__(self, fh, prefix: bytes = b""):
        self.fh = fh
        self.prefix = prefix
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        if self.prefix:
            n = min(len(buf), len(self.prefix))
            buf[:n] = self.prefix[:n]
            self.prefix = self.prefix[n:]
            return n
        data = self.fh.read(len(buf))
        if not data:
            return 0
        buf[: len(data)] = data
        self.consumed += len(data)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        out = b""
        if self.prefix:
            n = len(self.prefix) if size < 0 else min(size, len(self.prefix))
            out, self.prefix = self.prefix[:n], self.prefix[n:]
            if size >= 0:
                size -= n
                if size == 0:
                    return out
        data = self.fh.read(size)
        self.consumed += len(data)
        return out + data if out else data


class _Range:
    """The bytes ``[start, end)`` of a plain file (a range of a parallel ingest)."""

    def __init__(self, fh, start: int, end: int):
        fh.seek(start)
        self.fh, self.left = fh, end - start

    def read(self, size: int = -1) -> bytes:
        size = self.left if size is None or size < 0 else min(size, self.left)
        block = self.fh.read(size) if size > 0 else b""
        self.left -= len(block)
        return block

    def close(self):
        self.fh.close()


def open_raw(path: Path | None, start: int = 0, end: int | None = None) -> CountingReader:
    """The stored bytes of a file, FIFO or stdin (``None``); of a plain file, optionally only
    the range ``[start, end)``."""
    if path is None:
        if sys.stdin is None:
            raise SourceError("stdin is closed: pipe a log into logscan or give a file")
        try:
            os.fstat(0)
        except OSError:
            raise SourceError("stdin is closed: pipe a log into logscan or give a file") from None
        return CountingReader(sys.stdin.buffer)
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed by the reader)
        return CountingReader(fh if end is None else _Range(fh, start, end))
    except OSError as e:
        gone = e.errno == errno.ENOENT
        raise SourceError(
            f"{path}: cannot read ({reason(e)})",
            skippable=e.errno in (errno.EACCES, errno.EPERM) or gone,
            why="vanished while reading" if gone else reason(e),
        ) from None


def compression(head: bytes) -> str | None:
    """The compression format the first bytes announce, or None for plain bytes."""
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    return None


def decompressed(raw: CountingReader, size: int = CHUNK) -> Iterator[bytes]:
    """The content of a raw stream in blocks of about ``size`` bytes, decompressed when its
    magic bytes say so. Raises EOFError on a truncated stream and the codec's error on a corrupt
    one; every frame or member of a multi-frame file is read."""
    head = raw.read(8)
    while len(head) < 6:  # a pipe may deliver the first bytes one by one
        more = raw.read(6 - len(head))
        if not more:
            break
        head += more
    raw.prefix = head + raw.prefix
    kind = compression(head)
    if kind == "zstd":
        yield from _zstd_blocks(raw, size)
        return
    if kind is None:
        fh = raw
    else:
        opener = {"gzip": gzip.GzipFile, "bzip2": bz2.BZ2File, "xz": lzma.LZMAFile}[kind]
        fh = opener(fileobj=raw) if kind == "gzip" else opener(raw)
    while block := fh.read(size):
        yield block


def _zstd_blocks(raw: CountingReader, size: int) -> Iterator[bytes]:
    """zstandard's stream reader ends a truncated frame silently: decode frame by frame here and
    fail when the input ends inside one."""
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    obj, in_frame, out = dctx.decompressobj(), False, []
    pending = 0
    while True:
        data = raw.read(RAW_BLOCK)
        if not data:
            break
        while data:
            piece = obj.decompress(data)
            in_frame = True
            if piece:
                out.append(piece)
                pending += len(piece)
            if obj.eof:  # the frame ended: what follows is the next frame
                data = obj.unused_data
                obj, in_frame = dctx.decompressobj(), False
            else:
                data = b""
        if pending >= size:
            yield b"".join(out)
            out, pending = [], 0
    if in_frame:
        raise EOFError("zstd frame ends early")
    if out:
        yield b"".join(out)


def text_verdict(sample: bytes) -> str | None:
    """None when ``sample`` reads as a text log, else why not.

    Judged by the share of non-text bytes (control bytes and bytes that are not UTF-8) outside
    NUL runs: logs cut by a crash or a full disk hold NUL runs and a stray Latin-1 byte, binary
    files hold control bytes everywhere.
    """
    body = NUL_RUN.sub(b"", sample[:SNIFF])
    if not body:
        return None
    control = len(body) - len(body.translate(None, _CONTROL))
    text = body.decode("utf-8", "replace")
    invalid = text.count("\ufffd") - body.count("\ufffd".encode())
    if (control + invalid) / len(body) > NOT_TEXT_SHARE:
        return "not text (binary content)"
    return None


class NulCounter:
    """Counts and removes NUL bytes (a NUL run is a hole in a log, not a character of it)."""

    def __init__(self):
        self.bytes = self.runs = 0
        self._open = False  # the previous block ended inside a run

    def strip(self, block: bytes) -> bytes:
        if b"\0" not in block:
            self._open = False
            return block
        runs = re.findall(rb"\0+", block)
        self.runs += len(runs) - (1 if self._open and block[0] == 0 else 0)
        self.bytes += sum(map(len, runs))
        self._open = block[-1] == 0
        return block.replace(b"\0", b"")


class LineCutter:
    """Blocks of bytes -> blocks of whole lines; a line longer than ``limit`` keeps its first
    ``limit`` bytes and the rest is counted in ``truncated_bytes`` (memory stays bounded by the
    chunk size whatever the line length)."""

    def __init__(self, limit: int = MAX_LINE):
        self.limit = limit
        self.carry = b""
        self.dropping = False  # inside the dropped tail of a capped line
        self.truncated_lines = self.truncated_bytes = 0

    def feed(self, block: bytes) -> bytes:
        """The whole lines these bytes complete (possibly empty)."""
        if self.dropping:
            nl = block.find(b"\n")
            if nl < 0:
                self.truncated_bytes += len(block)
                return b""
            self.truncated_bytes += nl
            block, self.dropping = block[nl:], False
        block = self.carry + block if self.carry else block
        cut = block.rfind(b"\n")
        if cut < 0:
            self.carry = self._cap_open(block)
            return b""
        self.carry = self._cap_open(block[cut + 1 :])
        return self._cap_whole(block[: cut + 1])

    def close(self) -> bytes:
        rest, self.carry, self.dropping = self.carry, b"", False
        return rest

    def _cap_open(self, tail: bytes) -> bytes:
        """The unfinished last line: past the limit, keep its prefix and drop until its end."""
        if len(tail) <= self.limit:
            return tail
        self.truncated_lines += 1
        self.truncated_bytes += len(tail) - self.limit
        self.dropping = True
        return tail[: self.limit]

    def _cap_whole(self, block: bytes) -> bytes:
        """Cap the long lines of a block of whole lines. A line longer than ``limit`` covers a
        whole aligned window of ``limit // 2`` bytes without a line break, so only such windows
        are looked at closely (a few ``find`` calls per block)."""
        if len(block) <= self.limit:
            return block
        step = max(self.limit // 2, 1)
        parts, start, pos = [], 0, 0
        while pos + step <= len(block):
            if block.find(b"\n", pos, pos + step) >= 0:
                pos += step
                continue
            begin = block.rfind(b"\n", 0, pos) + 1
            end = block.find(b"\n", pos + step)  # exists: the block ends with a line break
            if end - begin > self.limit:
                parts.append(block[start : begin + self.limit])
                self.truncated_lines += 1
                self.truncated_bytes += end - begin - self.limit
                start = end
            pos = end + 1
        if not parts:
            return block
        parts.append(block[start:])
        return b"".join(parts)


@dataclass
class Source:
    label: str  # the `file` column: the path as given, or relative inside a folder
    path: Path | None  # None for stdin
    json_events: bool = False
    in_folder: bool = False  # found inside a folder input: skipped (not fatal) when unreadable
    bytes_read: int = 0  # content bytes (after decompression)
    consumed: int = 0  # stored bytes taken from the file or pipe (the progress measure)
    lines: int = 0
    sha256: str = ""
    nul_bytes: int = 0
    nul_runs: int = 0
    truncated_lines: int = 0
    truncated_bytes: int = 0
    # A byte range [start, end) of a plain file, cut at a record start (parallel ingest); the
    # counters then count the range, the checksum is the merge's.
    start: int = 0
    end: int | None = None
    _hash: object = field(default_factory=hashlib.sha256, repr=False)

    @property
    def seekable(self) -> bool:
        """A regular file, whose size is known in advance (not stdin, a FIFO or a device)."""
        if self.path is None:
            return False
        try:
            return stat.S_ISREG(os.stat(self.path).st_mode)
        except OSError:
            return False

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """Yield blocks that end on a line break (the last may not), NUL bytes removed and giant
        lines capped; hashes what it reads. Raises SourceError, naming the input, on a read
        error, a truncated or corrupt compressed stream, or content that is not text."""
        raw = open_raw(self.path, self.start, self.end)
        cutter, nuls, first = LineCutter(), NulCounter(), True
        # A range is plain text by choice (compressed files are never split); the file's first
        # block, in its first range, decides whether it is a text log.
        blocks = decompressed(raw, size) if self.end is None else iter(lambda: raw.read(size), b"")
        try:
            try:
                for block in blocks:
                    if first:
                        first = False
                        why = text_verdict(block) if self.start == 0 else None
                        if why is not None:
                            raise SourceError(f"{self.label}: {why}", skippable=True, why=why)
                    if self.end is None:  # a range's checksum would say nothing of the file
                        self._hash.update(block)
                    self.bytes_read += len(block)
                    self.consumed = raw.consumed
                    whole = cutter.feed(nuls.strip(block))
                    self._account(cutter, nuls)
                    if whole:
                        yield whole
            except SourceError:
                raise
            except (OSError, EOFError, zlib.error, lzma.LZMAError) as e:
                skippable = (
                    first and isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM)
                )
                raise SourceError(
                    f"{self.label}: cannot read ({reason(e)})", skippable=skippable, why=reason(e)
                ) from None
            except Exception as e:  # zstandard raises its own error type
                if type(e).__name__ != "ZstdError":
                    raise
                raise SourceError(f"{self.label}: cannot read ({reason(e)})") from None
        finally:
            if raw.fh is not getattr(sys.stdin, "buffer", None):
                raw.fh.close()
        self.consumed = raw.consumed
        rest = cutter.close()
        if rest:
            yield rest
        if self.end is None:
            self.sha256 = self._hash.hexdigest()

    def _account(self, cutter: LineCutter, nuls: NulCounter):
        self.truncated_lines, self.truncated_bytes = cutter.truncated_lines, cutter.truncated_bytes
        self.nul_bytes, self.nul_runs = nuls.bytes, nuls.runs


def _file_key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _walk(root: Path, label: Callable[[Path], str], skip_folder, skipped: list[dict]) -> list[Path]:
    """Every regular file under ``root``; unreadable folders, folders ``skip_folder`` names a
    reason for, and other entries (links to folders, FIFOs, sockets) are listed in ``skipped``."""
    files: list[Path] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as e:
            skipped.append({"path": label(folder), "why": f"folder not readable ({reason(e)})"})
            continue
        if folder != root and (why := skip_folder(folder)):
            skipped.append({"path": label(folder), "why": why})
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(path)
                elif entry.is_file():
                    files.append(path)
                elif entry.is_symlink() and path.is_dir():
                    skipped.append({"path": label(path), "why": "link to a folder (not followed)"})
                elif not entry.is_symlink():
                    skipped.append({"path": label(path), "why": "not a regular file"})
                else:
                    skipped.append({"path": label(path), "why": "broken link"})
            except OSError as e:
                skipped.append({"path": label(path), "why": reason(e)})
    return sorted(files)


EVENT_FOLDERS = ("events", "export_events")


def is_event_file(path: Path) -> bool:
    """One of Ray's JSON event files (``logs/events/event_GCS.log``, ``logs/export_events/...``),
    wherever the input starts: a session's ``logs``, Ray's temp folder above it, a folder of
    several nodes' logs, the ``events`` folder itself, or the file given by name."""
    return path.parent.name in EVENT_FOLDERS and path.name.startswith("event_")


def discover(
    inputs: list[str], skip_folder: Callable[[Path], str | None] = lambda _: None
) -> tuple[list[Source], list[dict]]:
    """Inputs -> (sources in reading order, skipped entries with reasons).

    ``skip_folder(folder)`` names a reason not to read a folder (say, a tool's own output folder):
    given as an input that is an error, inside a folder input the folder is skipped. A file given
    twice (or both alone and inside a folder) is read once.
    """
    sources: list[Source] = []
    skipped: list[dict] = []
    seen: dict[object, str] = {}

    def add(src: Source, key) -> None:
        if key is not None and key in seen:
            skipped.append({"path": src.label, "why": f"same file as {seen[key]} (read once)"})
            return
        if key is not None:
            seen[key] = src.label
        sources.append(src)

    for item in inputs:
        if item == "-":
            if sys.stdin is None:
                raise SourceError("stdin is closed: pipe a log into logscan or give a file")
            add(Source("<stdin>", None), "stdin")
            continue
        path = Path(item)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise SourceError(f"{item}: no such file or folder") from None
        except OSError as e:
            raise SourceError(f"{item}: cannot read ({reason(e)})") from None
        if stat.S_ISDIR(st.st_mode):
            if why := skip_folder(path):
                raise SourceError(f"{item}: {why}")
            if not os.access(path, os.R_OK | os.X_OK):
                raise SourceError(f"{item}: cannot read (Permission denied)")

            top = Path(path.name or path.resolve().name)  # "." is named by its real name

            def label(p: Path, root=path, top=top) -> str:
                return str(top / p.relative_to(root))

            files = _walk(path, label, skip_folder, skipped)
            if not files:
                raise SourceError(f"{item}: folder holds no log files")
            for sub in files:
                rel = sub.relative_to(path)
                json_events = is_event_file(sub) or (
                    len(rel.parts) > 1 and rel.parts[0] in EVENT_FOLDERS
                )
                add(
                    Source(label(sub), sub, json_events=json_events, in_folder=True), _file_key(sub)
                )
            continue
        if not os.access(path, os.R_OK):
            raise SourceError(f"{item}: cannot read (Permission denied)")
        add(Source(str(path), path, json_events=is_event_file(path)), (st.st_dev, st.st_ino))
    return sources, skipped
