"""Helpers that let a project's noxfile define testfloor's sessions in a few readable lines.

A noxfile uses them like this::

    import nox
    import testfloor.nox as floor

    PROJECT = floor.load()

    @nox.session(python=floor.pythons(PROJECT)[-1], tags=["gate"])
    def collect(session):
        floor.install(session, PROJECT)
        floor.collect(session, PROJECT)

Environment variables reach a session only through ``session.env``; this
module reads ``os.environ`` (to let real values win) but never writes it.
"""

from __future__ import annotations

import glob
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from testfloor import env
from testfloor.config import Config, load_config
from testfloor.errors import TestfloorError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import nox

REQUIREMENTS = "requirements-test.txt"


def load(root: str | Path = ".") -> Config:
    """Read the project's settings for the noxfile, printing any warnings."""
    config = load_config(Path(root).resolve(), environ=os.environ)
    for warning in config.warnings:
        print(f"testfloor: warning: {warning}", file=sys.stderr)
    return config


def pythons(config: Config) -> list[str]:
    """Return the Python versions the test sessions run on: ``[tool.testfloor] python``, else the trove classifiers.

    Falls back to the running interpreter's version when neither names any.
    """
    if config.python:
        return list(config.python)
    from nox.project import load_toml, python_versions

    if config.pyproject.is_file():
        try:
            return python_versions(load_toml(config.pyproject))
        except ValueError:  # no "Programming Language :: Python :: 3.x" classifiers
            pass
    return [f"{sys.version_info.major}.{sys.version_info.minor}"]


def apply_env(session: nox.Session, config: Config) -> None:
    """Put the declared variables in ``session.env`` (real outer values win unless overridden), and log them masked."""
    session.env.update(env.applicable(config.env, os.environ))
    for line in env.describe(config.env, os.environ):
        session.log(f"env {line}")


def install(session: nox.Session, config: Config, *packages: str) -> None:
    """Set the session's environment, then install ``requirements-test.txt`` (if present) and `packages`."""
    apply_env(session, config)
    requirements = config.root / REQUIREMENTS
    args = ["-r", str(requirements)] if requirements.is_file() else []
    if args or packages:
        session.install(*args, *packages)


def collect(session: nox.Session, config: Config, *args: str) -> int:
    """Run the collect-only gate and return the number of tests collected.

    The session fails on collection errors (pytest exit 2), on no tests (5),
    and on internal (3) or usage (4) errors, with the errors listed.
    """
    from testfloor.collect import read_outcome

    report = Path(session.create_tmp()) / "collect.json"
    report.unlink(missing_ok=True)
    output = session.run(
        "python",
        "-m",
        "pytest",
        "-p",
        "testfloor",
        "--collect-only",
        "-q",
        f"--testfloor-collect-report={report}",
        *args,
        silent=True,
        success_codes=range(256),
    )
    try:
        count = read_outcome(report).check()
    except TestfloorError as err:
        print(output if isinstance(output, str) else "", end="", file=sys.stderr)
        session.error(str(err))
    session.log(f"collected {count} tests")
    return count


def shard_path(config: Config, python: object) -> Path:
    """Return the data file a `tests` session on `python` leaves behind, unique per interpreter and platform."""
    version = python if isinstance(python, str) else f"{sys.version_info.major}.{sys.version_info.minor}"
    return config.root / f".coverage.{sys.platform}.{platform.machine()}.py{version}"


def run_tests(session: nox.Session, config: Config, *args: str, allow_failures: bool = False) -> Path:
    """Run the suite under coverage and leave one combined data file for this interpreter; return its path.

    When pytest-xdist is installed in the session, the suite runs on every
    core (``-n auto``, unless `args` choose the workers or disable xdist)
    under pytest-cov, which measures the workers and combines their data.
    Otherwise it runs under ``coverage run``. With `allow_failures`, failing
    tests (pytest exit 1) do not fail the session: the data still counts.
    Collection errors (2), internal errors (3), usage errors (4) and no tests
    (5) always do.
    """
    shard = shard_path(config, session.python)
    for stale in glob.glob(f"{glob.escape(str(shard))}*"):
        os.remove(stale)
    session.env["COVERAGE_FILE"] = str(shard)
    if _uses_xdist(session, args):
        workers = [] if _chooses_workers(args) else ["-n", "auto"]
        # --cov-fail-under=0: pytest-cov would apply the combined floor of the coverage config to this one run.
        runner = ["python", "-m", "pytest", "-p", "testfloor", "--cov", "--cov-report=", "--cov-fail-under=0", *workers]
    else:
        runner = ["python", "-m", "coverage", "run", "-m", "pytest", "-p", "testfloor"]
    session.run(*runner, *args, success_codes=[0, 1] if allow_failures else [0])
    if glob.glob(f"{glob.escape(str(shard))}.*"):
        session.run("python", "-m", "coverage", "combine", "--quiet")
    return shard


def _uses_xdist(session: nox.Session, args: Sequence[str]) -> bool:
    if "no:xdist" in args or "-pno:xdist" in args:
        return False
    probe = "import importlib.util; print(importlib.util.find_spec('xdist') is not None)"
    output = session.run("python", "-c", probe, silent=True)
    return isinstance(output, str) and output.strip().endswith("True")


def _chooses_workers(args: Sequence[str]) -> bool:
    return any(arg in ("-n", "--numprocesses") or arg.startswith(("-n", "--numprocesses=")) for arg in args)


def report(session: nox.Session, config: Config, *, fail_under: float | None = None) -> None:
    """Combine the shards of every configured Python and write coverage.xml, coverage.json and coverage.md.

    Each Python's shard is named, and their number is checked: a lost one fails the session with its name.
    """
    shards: list[str] = []
    for python in pythons(config):
        shards += ["--shard", str(shard_path(config, python))]
    shards += ["--expect", str(len(pythons(config)))]
    floor = [] if fail_under is None else ["--fail-under", str(fail_under)]
    outputs = ["--xml", "coverage.xml", "--json", "coverage.json", "--markdown", "coverage.md"]
    session.run("testfloor", "report", *shards, *outputs, *floor)


def check_baseline(session: nox.Session, config: Config, *args: str) -> None:
    """Compare coverage.json with the committed baseline; the session fails on any drop."""
    session.run("testfloor", "baseline", "check", str(config.root), *args)
