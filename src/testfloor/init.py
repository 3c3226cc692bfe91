"""``testfloor init``: give an existing project testfloor's sessions, plugin check, CI workflow and first baseline.

Nothing the project wrote is replaced without ``--force``: a conftest or a
noxfile of its own gets a clearly marked block appended, files that already
say what testfloor would write are left alone, and ``--dry-run`` shows every
change as a unified diff without writing any.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from testfloor import atomic
from testfloor.config import load_config
from testfloor.coverageconfig import read_coverage_settings
from testfloor.errors import InitError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from testfloor.dependencies import Metadata
    from testfloor.doctor import Report

BEGIN = "# >>> testfloor >>>"
END = "# <<< testfloor <<<"
_BLOCK = re.compile(rf"{re.escape(BEGIN)}.*?{re.escape(END)}\n?", re.DOTALL)
_SESSION = re.compile(r"^def (collect|tests|coverage|baseline|durations)\(", re.MULTILINE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")

SESSIONS = '''\
PROJECT = floor.load()
PYTHONS = floor.pythons(PROJECT)  # [tool.testfloor] python, else the classifiers, within requires-python


@nox.session(python=PYTHONS[-1], tags=["gate"])
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


@nox.session(python=PYTHONS[-1], requires=["tests"], tags=["report"])
def coverage(session: nox.Session) -> None:
    """Combine the data of every Python (and group) and write coverage.xml, coverage.json and coverage.md."""
    floor.install(session, PROJECT)
    floor.report(session, PROJECT)


@nox.session(python=PYTHONS[-1], requires=["coverage"], tags=["report"])
def baseline(session: nox.Session) -> None:
    """Fail if coverage dropped below the committed baseline."""
    floor.install(session, PROJECT)
    floor.check_baseline(session, PROJECT)


@nox.session(python=PYTHONS[-1], default=False)
def durations(session: nox.Session) -> None:
    """Record how long each test takes in .test_durations, which splits the suite evenly; commit it."""
    floor.install(session, PROJECT, floor.SPLITTER)
    floor.store_durations(session, PROJECT, *session.posargs, allow_failures=True)
'''

NOXFILE = f'''\
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

{BEGIN} (written by `testfloor init`)
{SESSIONS}{END}


if __name__ == "__main__":
    nox.main()
'''

NOXFILE_BLOCK = f"""
{BEGIN} (written by `testfloor init`; settings live in pyproject.toml [tool.testfloor])
import nox  # noqa: E402
import testfloor.nox as floor  # noqa: E402

{SESSIONS}{END}
"""

CONFTEST_BLOCK = f"""
{BEGIN} (written by `testfloor init`)
# testfloor's pytest plugin sets the declared environment, stubs heavy modules that are not installed and gives
# async tests one event loop, all before this file is imported; its settings live in pyproject.toml
# [tool.testfloor]. This check stops a run in which the plugin is not active.
import pytest as _testfloor_pytest  # noqa: E402


@_testfloor_pytest.hookimpl(specname="pytest_configure")
def _testfloor_require_plugin(config):
    if not config.pluginmanager.has_plugin("testfloor"):
        raise _testfloor_pytest.UsageError("testfloor's pytest plugin is not active: pip install testfloor")
{END}
"""

WORKFLOW = """\
# Written by `testfloor init`: the matrix comes from the noxfile, the coverage data of every job is combined
# and compared with the committed baseline.
name: tests

on:
  push:
    branches: [main]
  pull_request:
  workflow_dispatch:

permissions: {}

env:
  FORCE_COLOR: "1"
  NOX_DOWNLOAD_PYTHON: never

jobs:
  sessions:
    runs-on: ubuntu-latest
    outputs:
      matrix: ${{ steps.list.outputs.matrix }}
    steps:
      - uses: actions/checkout@v6
        with:
          persist-credentials: false
      - uses: actions/setup-python@v6
        with:
          python-version: "3.13"
      - run: python -m pip install nox testfloor
      - id: list
        run: |
          nox --list --json --tags gate tests --no-dependencies > sessions.json
          python - >> "$GITHUB_OUTPUT" <<'PY'
          import json
          cells = [{"session": s["session"], "python": s["python"]} for s in json.load(open("sessions.json"))]
          print("matrix=" + json.dumps(cells))
          PY

  session:
    name: ${{ matrix.session }}
    needs: sessions
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        include: ${{ fromJson(needs.sessions.outputs.matrix) }}
    steps:
      - uses: actions/checkout@v6
        with:
          persist-credentials: false
      - uses: actions/setup-python@v6
        with:
          python-version: ${{ matrix.python }}
      - run: python -m pip install nox testfloor
      - run: nox --session "$SESSION" --no-dependencies
        env:
          SESSION: ${{ matrix.session }}
      - if: startsWith(matrix.session, 'tests-')
        uses: actions/upload-artifact@v7
        with:
          name: coverage-${{ matrix.session }}
          path: .coverage.*
          include-hidden-files: true
          if-no-files-found: error

  coverage:
    needs: session
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
        with:
          persist-credentials: false
      - uses: actions/setup-python@v6
        with:
          python-version: "3.13"
      - run: python -m pip install nox testfloor
      - uses: actions/download-artifact@v8
        with:
          pattern: coverage-*
          merge-multiple: true
      - name: Keep the parse of unchanged files from the last run
        uses: actions/cache@v5
        with:
          path: .nox/.cache/testfloor-parses
          key: testfloor-parses-${{ hashFiles('**/*.py') }}
          restore-keys: testfloor-parses-
      - run: nox --session coverage baseline --no-dependencies
"""


@dataclass(frozen=True)
class Change:
    """One file init writes: what it holds now (`None`: it does not exist) and what it will hold."""

    path: Path
    before: str | None
    after: str
    why: str

    def diff(self, root: Path) -> str:
        """Render the change as a unified diff, with paths relative to `root`."""
        name = self.path.relative_to(root).as_posix()
        lines = difflib.unified_diff(
            (self.before or "").splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            fromfile="/dev/null" if self.before is None else f"a/{name}",
            tofile=f"b/{name}",
        )
        return "".join(lines)


def plan(root: Path, *, requirement: str = "testfloor", force: bool = False) -> list[Change]:
    """Compute every file change init makes in the project at `root`; raise `InitError` rather than overwrite."""
    if not root.is_dir():
        raise InitError(f"{root}: not a directory")
    from testfloor.dependencies import read_metadata
    from testfloor.errors import ConfigError

    try:
        metadata = read_metadata(root)
    except ConfigError as err:  # a file of the project init cannot read, named
        raise InitError(str(err)) from None
    changes = [
        _pyproject(root, metadata),
        _noxfile(root, force),
        _conftest(root),
        _requirements(root, requirement, metadata),
        _coveragerc(root),
        _workflow(root, force),
    ]
    return [change for change in changes if change is not None and change.before != change.after]


def apply(changes: Sequence[Change]) -> None:
    """Write the changes, each atomically."""
    for change in changes:
        atomic.write_text(change.path, change.after)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise InitError(f"{path}: cannot read: {err}") from None


def _pyproject(root: Path, metadata: Metadata) -> Change:
    import tomlkit

    path = root / "pyproject.toml"
    before = _read(path)
    try:
        document = tomlkit.parse(before or "")
    except Exception as err:  # tomlkit raises several classes of its own for bad TOML
        raise InitError(f"{path}: invalid TOML: {err}") from None
    tool = document.setdefault("tool", tomlkit.table(is_super_table=True))
    if "testfloor" not in tool:
        from testfloor.dependencies import light_and_heavy
        from testfloor.nox import pythons

        table = tomlkit.table()
        table.add(tomlkit.comment("testfloor's settings: `testfloor doctor --fix` fills them in."))
        # The sessions' names and interpreters, whichever Python runs nox.
        table["python"] = pythons(load_config(root))
        _light, heavy = light_and_heavy(metadata)
        if heavy:
            table["stubs"] = heavy
        if metadata.local:
            table.add(tomlkit.comment("The project's own packages, installed without their dependencies."))
            table["install"] = list(metadata.local)
        tool["testfloor"] = table
    return Change(path, before, tomlkit.dumps(document), "testfloor's settings")


def _noxfile(root: Path, force: bool) -> Change:
    path = root / "noxfile.py"
    before = _read(path)
    if before is None or force:
        return Change(path, before, NOXFILE, "the collect, tests, coverage, baseline and durations sessions")
    if BEGIN in before:
        return Change(path, before, before, "")
    clash = _SESSION.search(before)
    if clash:
        raise InitError(
            f"{path}: already defines a session named {clash.group(1)!r}; rename it, or replace the file with --force"
        )
    separator = "" if before.endswith("\n") else "\n"
    return Change(path, before, before + separator + NOXFILE_BLOCK, "testfloor's sessions, appended")


def _conftest(root: Path) -> Change:
    tests = next((root / name for name in ("tests", "test") if (root / name).is_dir()), root / "tests")
    path = tests / "conftest.py"
    before = _read(path)
    if before is not None and BEGIN in before:
        return Change(path, before, _BLOCK.sub(CONFTEST_BLOCK.lstrip("\n"), before), "the plugin check, refreshed")
    text = (before or "") + ("" if not before or before.endswith("\n") else "\n") + CONFTEST_BLOCK
    return Change(path, before, text.lstrip("\n"), "a check that testfloor's plugin is active")


def _requirements(root: Path, requirement: str, metadata: Metadata) -> Change:
    path = root / "requirements-test.txt"
    before = _read(path)
    if before is not None:
        names = {match.group().lower() for line in before.splitlines() if (match := _NAME.match(line.strip()))}
        if "testfloor" in names or requirement in before:
            return Change(path, before, before, "")
        return Change(path, before, before.rstrip("\n") + f"\n{requirement}\n", "testfloor added")
    from testfloor.dependencies import heavy_module, light_and_heavy

    light, _heavy = light_and_heavy(metadata)
    lines = [
        "# Installed by testfloor's sessions: the project's own packages come without their dependencies",
        "# ([tool.testfloor] install), so these are what the tests need; heavy packages are stubbed, not installed.",
        requirement,
        *light,
    ]
    lines += [
        f"# {item.requirement}  (stubbed by testfloor)"
        for item in metadata.requirements
        if heavy_module(item.requirement)
    ]
    return Change(path, None, "\n".join(lines) + "\n", "what the sessions install")


def _coveragerc(root: Path) -> Change | None:
    if read_coverage_settings(root) is not None:
        return None
    source = "src" if (root / "src").is_dir() else "."
    text = (
        "# Written by `testfloor init`: branch coverage, data that combines across jobs and machines.\n"
        f"[run]\nbranch = True\nrelative_files = True\nparallel = True\nsource = {source}\n"
        "omit =\n    noxfile.py\n    tests/*\n\n"
        "[report]\nprecision = 2\nshow_missing = True\nskip_covered = True\n"
    )
    return Change(root / ".coveragerc", None, text, "coverage settings")


def _workflow(root: Path, force: bool) -> Change:
    path = root / ".github" / "workflows" / "testfloor.yml"
    before = _read(path)
    if before is not None and before != WORKFLOW and not force:
        raise InitError(f"{path}: exists with other content; keep it, or replace it with --force")
    return Change(path, before, WORKFLOW, "CI: the matrix from nox, combined coverage, the baseline")


@dataclass(frozen=True)
class Result:
    """What init did: the files it wrote, doctor's report, and the baseline it wrote (if it did)."""

    written: tuple[str, ...]
    doctor: Report | None
    baseline: Path | None


def run(
    root: Path,
    *,
    requirement: str = "testfloor",
    force: bool = False,
    dry_run: bool = False,
    fix: bool = True,
    install: bool = True,
    out: Callable[[str], None] = print,
) -> Result:
    """Give the project at `root` testfloor's shape, run ``doctor --fix`` in the test environment, then the sessions.

    ``doctor`` probes and records every fix in the environment the sessions
    build (`testfloor.testenv.build`); the first baseline comes from the
    project's own ``collect``, ``tests`` (on that environment's Python) and
    ``coverage`` sessions, run with nox.
    """
    changes = plan(root, requirement=requirement, force=force)
    if dry_run:
        for change in changes:
            out(change.diff(root))
        return Result((), None, None)
    apply(changes)
    for change in changes:
        out(f"wrote {change.path.relative_to(root).as_posix()}: {change.why}")
    report = None
    written = None
    if fix:
        from testfloor import doctor, testenv

        built: list[testenv.Environment] = []

        def prepare() -> testenv.Environment:
            built.append(testenv.for_project(load_config(root), progress=out))
            return built[-1]

        report = doctor.run(root, fix=True, install=install, progress=out, prepare=prepare)
        environment = built[-1]
        for line in doctor.describe(report):
            out(line)
        config = load_config(root)
        if report.status != "failing" and not config.baseline_path.exists():
            written = first_baseline(root, environment.version, out=out)
            out(f"wrote {config.baseline}: the first coverage baseline (the sessions, Python {environment.version})")
    return Result(tuple(change.path.relative_to(root).as_posix() for change in changes), report, written)


def first_baseline(root: Path, version: str, *, out: Callable[[str], None] = print) -> Path:
    """Run the project's own sessions (collect, tests on Python `version`, coverage) and write the baseline.

    ``nox -s coverage`` pulls in the sessions it requires; ``TESTFLOOR_PYTHON``
    narrows them to the one Python, so that the report expects its data alone.
    nox's own lines ("Running session ...") are passed on as progress.
    """
    import os
    import subprocess

    from testfloor import baseline

    config = load_config(root)
    environ = {**os.environ, "TESTFLOOR_PYTHON": version}
    command = [sys.executable, "-m", "nox", "--no-color", "--session", "coverage"]
    out(f"running: nox --session coverage (collect, tests and coverage on Python {version})")
    lines: list[str] = []
    with subprocess.Popen(
        command, cwd=root, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None  # stdout=PIPE
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("nox > ") and ("Running session" in line or " was successful" in line):
                out("  " + line.rstrip("\n"))
    if process.returncode != 0:
        for line in lines[-40:]:
            out("  | " + line)
        raise InitError(
            f"{root}: the project's sessions failed (nox --session coverage exited {process.returncode}); "
            "run it to see the whole output"
        )
    report = root / "coverage.json"
    baseline.write_baseline(config.baseline_path, baseline.from_coverage_json(report))
    return config.baseline_path
