"""Small helpers shared by testfloor's tests."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path


def make_file(path: Path, text: str = "") -> Path:
    """Write dedented `text` to `path`, creating its directories; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def clean_environ(**extra: str) -> dict[str, str]:
    """Return this process's environment without coverage's or testfloor's variables, plus `extra`.

    A subprocess started with it is neither measured by the outer coverage run
    nor configured by the outer testfloor settings.
    """
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("COVERAGE_", "TESTFLOOR_", "_TESTFLOOR_", "PYTEST_", "GITHUB_STEP_SUMMARY"))
    }
    environ.update(extra)
    return environ
