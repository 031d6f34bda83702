"""Headless Chromium for the report tests: load a file offline, return the DOM and console."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",  # no network at all
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000",
]  # fmt: skip
CONSOLE = re.compile(r'INFO:CONSOLE[^\]]*\] "(?P<msg>.*)", source: (?P<src>\S+)')


@dataclass
class Page:
    dom: str
    console: list[str]
    screenshot: Path | None


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip(
            "Debian chromium is not installed (make test installs it with apt-get; it could not here)"
        )
    return exe


def load(html_file: Path, workdir: Path, fragment: str = "", screenshot: bool = False) -> Page:
    """The DOM and console of the page; with ``screenshot``, a second run draws it to a PNG."""
    exe = chromium()
    profile = workdir / "chromium-profile"
    url = html_file.resolve().as_uri() + fragment
    dom = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    shot = workdir / "report.png" if screenshot else None
    if shot:
        subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", "--window-size=1400,2600", f"--screenshot={shot}", url],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    console = [m.group("msg") for m in CONSOLE.finditer(dom.stderr)]
    return Page(dom.stdout, console, shot)
