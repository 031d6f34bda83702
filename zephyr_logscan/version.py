"""The package version: from the installed distribution, else from pyproject.toml (a source
checkout run with ``python -m zephyr_logscan``), else a placeholder; never an import error."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def _version() -> str:
    try:
        return version("zephyr-logscan")
    except PackageNotFoundError:
        pass
    try:
        project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
        return f"{project['project']['version']}+source"
    except (OSError, ValueError, KeyError):
        return "0+unknown"


VERSION = _version()
