# /// script
# dependencies = ["nox>=2026.8.10", "testfloor"]
# ///
"""The project's test sessions, from testfloor: settings live in pyproject.toml [tool.testfloor]."""

from __future__ import annotations

import nox

import testfloor.nox as floor

nox.needs_version = ">=2026.8.10"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = True
# venv_backend="none": nox makes no environment of its own. collect, coverage and baseline run in the one testfloor
# builds in .nox/.cache/testfloor-env-3.X (where `testfloor doctor --fix` verifies), or the reporting sessions in one of
# testfloor and coverage alone where that is not built. The tests sessions (one per Python: nox names them only with an
# environment of its own) get nox's. Every environment is reused without any install while requirements-test.txt, the
# Python, testfloor and the project's metadata are unchanged (testfloor stamps them), and made again when they change.
nox.options.reuse_venv = "yes"

# >>> testfloor >>> (written by `testfloor init`)
PROJECT = floor.load()
PYTHONS = floor.pythons(PROJECT)  # [tool.testfloor] python, else the classifiers, within requires-python


@nox.session(python=PYTHONS[-1], venv_backend="none", tags=["gate"])
def collect(session: nox.Session) -> None:
    """Collect the suite without running it: fails on any collection error."""
    floor.install(session, PROJECT)
    floor.collect(session, PROJECT)


@nox.session(python=PYTHONS, requires=["collect"], tags=["tests"])
@floor.split(PROJECT)  # [tool.testfloor] splits = N: one session, and CI job, per pytest-split group
def tests(session: nox.Session, group: int | None = None) -> None:  # noqa: PT028 (a nox session)
    """Run the suite (or one group of it) under coverage on one Python; failing tests do not stop the report."""
    floor.install(session, PROJECT)
    floor.run_tests(session, PROJECT, *session.posargs, group=group, allow_failures=True)


@nox.session(python=PYTHONS[-1], venv_backend="none", requires=["tests"], tags=["report"])
def coverage(session: nox.Session) -> None:
    """Combine the data of every Python (and group) and write coverage.xml, coverage.json and coverage.md."""
    floor.install_reporting(session, PROJECT)  # testfloor and coverage: the data files hold the rest
    floor.report(session, PROJECT)


@nox.session(python=PYTHONS[-1], venv_backend="none", requires=["coverage"], tags=["report"])
def baseline(session: nox.Session) -> None:
    """Fail if coverage dropped below the committed baseline."""
    floor.install_reporting(session, PROJECT)
    floor.check_baseline(session, PROJECT)


@nox.session(python=PYTHONS[-1], default=False)
def durations(session: nox.Session) -> None:
    """Record how long each test takes in .test_durations, which splits the suite evenly; commit it."""
    floor.install(session, PROJECT, floor.SPLITTER)
    floor.store_durations(session, PROJECT, *session.posargs, allow_failures=True)


# <<< testfloor <<<


if __name__ == "__main__":
    nox.main()
