"""Helpers shared by testfloor's tests."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def make_file(path: Path, text: str) -> Path:
    """Write `text`, dedented, to `path` (making its directory); return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path
