"""Helpers shared by testfloor's tests."""

from __future__ import annotations

import os
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def make_file(path: Path, text: str) -> Path:
    """Write `text`, dedented, to `path` (creating its directories) and return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def clean_environ(**extra: str) -> dict[str, str]:
    """Return this process's environment without coverage's variables (a subprocess is then not measured)."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("COVERAGE_")}
    environ.update(extra)
    return environ
