"""Small helpers shared by testfloor's tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A small project measured by the report tests, and coverage.py's own reports of it ("expected").
GOLDEN = Path(__file__).parent / "data" / "golden"


def _fast_path() -> bool:
    import coverage

    from testfloor.analysis import supported

    return supported(coverage.Coverage(config_file=False))


# Whether this coverage.py has the private hooks `testfloor.analysis.shared` knows; without them, the reports are
# written the plain way (the nox session `coverage_compat` runs the report tests on such a coverage.py).
FAST_PATH = _fast_path()
needs_fast_path = pytest.mark.skipif(not FAST_PATH, reason="this coverage.py reports the plain way: no fast path")


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


NOXFILE = """
import nox
import testfloor.nox as floor

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = True

PROJECT = floor.load()
PYTHONS = floor.pythons(PROJECT)


@nox.session(python=PYTHONS[-1])
def collect(session):
    floor.install(session, PROJECT)
    floor.collect(session, PROJECT)


@nox.session(python=PYTHONS, requires=["collect"])
@floor.split(PROJECT)
def tests(session, group=None):
    floor.install(session, PROJECT)
    floor.run_tests(session, PROJECT, *session.posargs, group=group)


@nox.session(python=PYTHONS[-1], requires=["tests"])
def coverage(session):
    floor.install_reporting(session, PROJECT)
    floor.report(session, PROJECT)


@nox.session(python=PYTHONS[-1], requires=["coverage"])
def baseline(session):
    floor.install_reporting(session, PROJECT)
    floor.check_baseline(session, PROJECT)


@nox.session(python=PYTHONS[-1], default=False)
def durations(session):
    floor.install(session, PROJECT, floor.SPLITTER)
    floor.store_durations(session, PROJECT, *session.posargs)
"""


def measured_lines(data_file: Path, name: str) -> set[int]:
    """The lines of the file called `name` that the coverage data file `data_file` measured as run."""
    import coverage

    data = coverage.CoverageData(basename=str(data_file))
    try:
        data.read()
        (measured,) = [path for path in data.measured_files() if Path(path).name == name]
        return set(data.lines(measured) or [])
    finally:
        data.close(force=True)


def nox(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run nox in `root` as a user would, unmeasured, never downloading an interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "nox", "--no-color", *args],
        cwd=root,
        env=clean_environ(NOX_DOWNLOAD_PYTHON="never"),
        capture_output=True,
        text=True,
    )


def tree_digest(root: Path) -> dict[str, bytes]:
    """Every file of the project but nox's venvs, caches and the coverage outputs the sessions write."""
    skipped = {".nox", "__pycache__", ".pytest_cache"}
    outputs = (".coverage", "coverage.xml", "coverage.json", "coverage.md")
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
        and not skipped & set(path.relative_to(root).parts)
        and not (path.name.startswith(".coverage.") or path.name in outputs)
    }
