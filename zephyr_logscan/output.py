"""The output folder of an ingest: chosen safely, written aside, moved into place whole.

Rules (README, "Output folder"): logscan replaces only a folder it wrote itself (a logscan
``manifest.json`` and nothing but logscan's own files); any other existing folder is refused
with what to do, and ``--force`` lets logscan replace its own files in it and never touches the
others. An output inside an input folder, an input inside the output, or an output inside another
logscan output, is refused. The tables
are written into ``OUT.tmp-PID/`` beside the output and renamed into place at the end; a
temporary folder left by a killed run is removed by the next run to the same output once that
run's process is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from parsers.tables import ALL_TABLES

GENERATOR = "zephyr-logscan"  # the manifest's "generator": marks a folder logscan wrote
MANIFEST = "manifest.json"
PARTIAL = ".logscan-partial"  # inside a temporary folder: written by a run still under way
OWN_FILES = frozenset(
    {MANIFEST, "report.html", "replay.json", *(f"{t}.parquet" for t in ALL_TABLES)}
)


class OutputError(Exception):
    """The output cannot be used or written: one line for the user.

    ``refused`` errors are a choice the user must change (exit 2, nothing was written); the
    others are failures while writing (exit 1, nothing of the previous output was lost).
    """

    def __init__(self, message: str, refused: bool = False):
        super().__init__(message)
        self.refused = refused


def strerror(e: OSError) -> str:
    return os.strerror(e.errno) if e.errno else str(e).splitlines()[0]


def default_output(first_input: str) -> Path:
    """``FILE.logscan`` beside a file, ``FOLDER.logscan`` beside a folder (never inside it,
    whatever the trailing slash), ``stdin.logscan`` for ``-``."""
    if first_input == "-":
        return Path("stdin.logscan")
    path = Path(os.path.abspath(first_input))  # "logs/" and "logs/." name the folder logs
    return path.with_name(path.name + ".logscan")


def is_logscan_output(folder: Path) -> bool:
    """Does ``folder`` hold a manifest logscan wrote?"""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict):
        return False
    # Manifests from before the "generator" key carry these three.
    return manifest.get("generator") == GENERATOR or {"version", "tables", "inputs"} <= set(
        manifest
    )


def not_logs(folder: Path) -> str | None:
    """Why a folder is no input (for discovery): a logscan output or a run's temporary folder."""
    if is_logscan_output(folder):
        return "a logscan output folder, not logs"
    if (folder / PARTIAL).exists():
        return "a logscan temporary folder, not logs"
    return None


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


@dataclass
class Target:
    """Where the tables go and how they get there."""

    out: Path
    merge: bool = False  # --force into a folder holding other files: replace only our files
    work: Path | None = None


def plan(out: Path, inputs: list[str], force: bool = False) -> Target:
    """Check the output against the inputs and what is already there (nothing is written)."""
    out = Path(os.path.realpath(out))
    for item in inputs:
        if item == "-":
            continue
        path = Path(os.path.realpath(item))
        if path.is_dir() and _inside(out, path):
            raise OutputError(
                f"output {out} is inside the input folder {item}: give -o a folder outside it",
                refused=True,
            )
        if _inside(path, out):
            raise OutputError(
                f"input {item} is inside the output folder {out}: give -o another folder",
                refused=True,
            )
    for folder in out.parents:
        if is_logscan_output(folder):
            # (the tables would be foreign files of that output: its next run would refuse it)
            raise OutputError(
                f"output {out} is inside the logscan output folder {folder}: give -o a folder "
                "outside it",
                refused=True,
            )
    if not out.exists():
        parent = next(p for p in out.parents if p.exists())
        if not parent.is_dir():
            raise OutputError(f"cannot write {out}: {parent} is a file", refused=True)
        if out.is_symlink():
            raise OutputError(f"{out} is a broken link: give -o another folder", refused=True)
        return Target(out)
    if not out.is_dir():
        raise OutputError(f"{out} is a file: give -o a folder", refused=True)
    try:
        entries = sorted(os.scandir(out), key=lambda e: e.name)
    except OSError as e:
        raise OutputError(f"cannot read the output folder {out}: {strerror(e)}") from None
    foreign = [
        e.name for e in entries if e.name not in OWN_FILES or not e.is_file(follow_symlinks=False)
    ]
    ours = is_logscan_output(out)
    if not entries or (ours and not foreign):
        return Target(out)  # empty, or logscan's own: replaced whole
    listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
    if not ours:
        own_names = [e.name for e in entries if e.name in OWN_FILES]
        if force and not own_names:
            return Target(out, merge=True)
        if force:
            raise OutputError(
                f"{out} holds {', '.join(own_names[:3])} that logscan did not write: "
                "give -o a new folder (nothing was changed)",
                refused=True,
            )
        raise OutputError(
            f"{out} exists and is not a logscan output folder (it holds {listed}): give -o a new "
            "folder, or add --force to write logscan's files beside the others",
            refused=True,
        )
    if force:
        return Target(out, merge=True)
    raise OutputError(
        f"{out} holds files logscan did not write ({listed}): move them away, give -o a new "
        "folder, or add --force to replace only logscan's own files",
        refused=True,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _only_ours(folder: Path) -> bool:
    try:
        return all(
            e.name in OWN_FILES | {PARTIAL} and e.is_file(follow_symlinks=False)
            for e in os.scandir(folder)
        )
    except OSError:
        return False


def _remove_ours(folder: Path) -> bool:
    """Remove logscan's files and then the folder; False when something else is left in it."""
    with contextlib.suppress(OSError):
        for e in os.scandir(folder):
            if e.name in OWN_FILES | {PARTIAL} and e.is_file(follow_symlinks=False):
                os.unlink(e.path)
    try:
        os.rmdir(folder)
    except OSError:
        return False
    return True


def clean_leftovers(out: Path) -> None:
    """Temporary and set-aside folders of runs to ``out`` whose process is gone.

    ``OUT.tmp-PID`` (a run killed while writing) is removed; ``OUT.old-PID`` (a run killed
    between its two renames) is the previous output: it is put back when ``OUT`` is missing,
    else removed. Folders holding anything but logscan's files are left alone.
    """
    pattern = re.compile(re.escape(out.name) + r"\.(tmp|old)-(\d+)")
    try:
        siblings = sorted(os.scandir(out.parent), key=lambda e: e.name)
    except OSError:
        return
    for entry in siblings:
        m = pattern.fullmatch(entry.name)
        if not m or not entry.is_dir(follow_symlinks=False) or _alive(int(m.group(2))):
            continue
        path = Path(entry.path)
        if not _only_ours(path):
            continue
        if m.group(1) == "old" and not out.exists() and is_logscan_output(path):
            with contextlib.suppress(OSError):
                os.replace(path, out)
            continue
        _remove_ours(path)


def start(target: Target) -> Path:
    """Make the temporary folder beside the output (after clearing dead runs' leftovers)."""
    out = target.out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(out)
        work = Path(f"{out}.tmp-{os.getpid()}")
        if work.exists():
            shutil.rmtree(work)  # our own pid: a previous run in this process
        work.mkdir()
        (work / PARTIAL).write_text(f"{os.getpid()}\n")
    except OSError as e:
        raise OutputError(f"cannot write {out}: {strerror(e)}") from None
    target.work = work
    return work


def discard(target: Target) -> None:
    """Remove the temporary folder (after a failure or an interruption)."""
    if target.work is not None:
        shutil.rmtree(target.work, ignore_errors=True)
        target.work = None


def commit(target: Target) -> None:
    """Move the finished tables into place; the previous output is removed only after that.

    Run it with signals held back (``stops.uninterrupted``): between the two renames the previous
    output exists only as ``OUT.old-PID``.
    """
    work, out = target.work, target.out
    assert work is not None
    os.unlink(work / PARTIAL)
    if target.merge:
        _merge(work, out)
        target.work = None
        return
    old = None
    try:
        if out.exists():
            old = Path(f"{out}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(work, out)
    except OSError as e:
        if old is not None and not out.exists():
            with contextlib.suppress(OSError):
                os.replace(old, out)  # put the previous output back
        raise OutputError(f"cannot replace {out}: {strerror(e)}") from None
    target.work = None
    if old is not None and not _remove_ours(old):
        raise OutputError(
            f"wrote {out}, but {old} (the previous output) gained files meanwhile: "
            "look at them and remove it"
        )


def _merge(work: Path, out: Path) -> None:
    """--force: replace logscan's files in a folder that also holds others, file by file."""
    was_ours = is_logscan_output(out)
    new = {p.name for p in work.iterdir()}
    try:
        for name in sorted(new - {MANIFEST}) + [MANIFEST]:  # the manifest last: it vouches
            os.replace(work / name, out / name)
        if was_ours:  # logscan's files of the previous run that this run does not write
            for name in OWN_FILES - new:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(out / name)
        os.rmdir(work)
    except OSError as e:
        raise OutputError(f"cannot write {out}: {strerror(e)}") from None
