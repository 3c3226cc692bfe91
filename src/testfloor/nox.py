"""Helpers that let a project's noxfile define testfloor's sessions in a few readable lines.

A noxfile uses them like this::

    import nox
    import testfloor.nox as floor

    PROJECT = floor.load()

    @nox.session(python=floor.pythons(PROJECT)[-1], tags=["gate"])
    def collect(session):
        floor.install(session, PROJECT)
        floor.collect(session, PROJECT)

    @nox.session(python=floor.pythons(PROJECT), requires=["collect"], tags=["tests"])
    @floor.split(PROJECT)
    def tests(session, group=None):
        floor.install(session, PROJECT)
        floor.run_tests(session, PROJECT, *session.posargs, group=group)

Environment variables reach a session only through ``session.env``; this
module reads ``os.environ`` (to let real values win) but never writes it.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from testfloor import env
from testfloor.config import Config, load_config
from testfloor.errors import TestfloorError
from testfloor.testenv import REQUIREMENTS as REQUIREMENTS
from testfloor.testenv import SPLITTER as SPLITTER

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    import nox

    from testfloor.testenv import Environment

DURATIONS = ".test_durations"  # pytest-split's recorded test durations, at the project root
PARSES = "testfloor-parses"  # the parse cache of `testfloor report`, in nox's cache directory

_Function = TypeVar("_Function", bound="Callable[..., Any]")


def load(root: str | Path = ".") -> Config:
    """Read the project's settings for the noxfile, printing any warnings.

    Settings that cannot be read stop nox with testfloor's one line and exit
    code, not the traceback of a noxfile that failed to load.
    """
    with _one_line():
        config = load_config(Path(root).resolve(), environ=os.environ)
    for warning in config.warnings:
        print(f"testfloor: warning: {warning}", file=sys.stderr)
    return config


@contextlib.contextmanager
def _one_line() -> Iterator[None]:
    try:
        yield
    except TestfloorError as err:
        from testfloor.cli import exit_code_for

        print(f"testfloor: {env.scrub(str(err))}", file=sys.stderr)
        raise SystemExit(exit_code_for(err)) from None


def pythons(config: Config) -> list[str]:
    """Return the Python versions the test sessions run on (`testfloor.project.choose_pythons`).

    ``[tool.testfloor] python`` (which ``testfloor init`` writes), else what
    the project's metadata declares, else the running interpreter's version.
    """
    from testfloor.dependencies import read_metadata
    from testfloor.project import choose_pythons

    def warn(line: str) -> None:
        print(f"testfloor: warning: {line}", file=sys.stderr)

    with _one_line():
        return choose_pythons(config, read_metadata(config.root, backend=False), warn=warn)


def apply_env(session: nox.Session, config: Config) -> None:
    """Put the declared variables in ``session.env`` (real outer values win unless overridden), and log them masked."""
    session.env.update(env.applicable(config.env, os.environ))
    for line in env.describe(config.env, os.environ):
        session.log(f"env {line}")


def install(session: nox.Session, config: Config, *packages: str) -> None:
    """Set the session's environment, then install ``requirements-test.txt`` (if present) and `packages`.

    With ``splits`` above 1, pytest-split comes too (unless `packages` name
    it), in the same install: the requirements may pin it, and the installer
    resolves them together. The project's own packages (``[tool.testfloor]
    install``) follow, editable and without their dependencies. ``doctor`` and
    ``init`` build their environment from the same recipe
    (`testfloor.testenv.install_arguments`).

    A session that leaves nox no environment of its own
    (``venv_backend="none"``, as the noxfile ``testfloor init`` writes) runs
    in the one environment of its Python that `testfloor.testenv.build`
    keeps in ``.nox/.cache/testfloor-env-3.X``, shared by ``collect``,
    ``tests`` and ``doctor``, and reused without starting any process while
    its stamp matches. In an environment of nox's own, a reused one
    (``nox.options.reuse_venv = "yes"``, or ``nox -r``) is reused as it is
    while its inputs are unchanged, and made again from nothing when they
    change (see `install_stamped`).
    """
    from testfloor.testenv import build, install_arguments

    apply_env(session, config)
    if _shares(session):
        _enter(session, config, lambda: build(config, [str(session.python)], *packages, progress=session.log))
    else:
        install_stamped(session, config, install_arguments(config, *packages))


def install_reporting(session: nox.Session, config: Config, *packages: str) -> None:
    """Install what a session that only reports runs: testfloor (and coverage as ``requirements-test.txt`` pins it).

    For ``coverage`` and ``baseline``, which run ``testfloor report`` and
    ``testfloor baseline`` on data files: the project and its requirements
    stay out (`testfloor.testenv.reporting_arguments`). `packages` install
    testfloor instead of the file's line. Reused as `install` is.

    With ``venv_backend="none"``, the session runs in the test environment
    of its Python when that one is built and current (it holds testfloor and
    coverage already), else in a reporting environment of its own,
    ``.nox/.cache/testfloor-report-3.X`` (a CI job that only reports).
    """
    from testfloor.testenv import build, install_arguments, reporting_arguments, reusable

    apply_env(session, config)
    if not _shares(session):
        install_stamped(session, config, reporting_arguments(config, *packages))
        return
    version = str(session.python)
    shared = None if packages else reusable(config, version, install_arguments(config))
    if shared is not None:
        session.log(f"reporting in the test environment of Python {version}: it holds testfloor and coverage")
        _enter(session, config, lambda: shared)
    else:
        _enter(session, config, lambda: build(config, [version], *packages, progress=session.log, reporting=True))


def _shares(session: nox.Session) -> bool:
    # A session with a Python that nox gives no environment of its own (venv_backend="none"): testfloor's shared one.
    return session.venv_backend == "none" and isinstance(session.python, str)


def _enter(session: nox.Session, config: Config, make: Callable[[], Environment]) -> None:
    # Commands run from the environment's own directory (see _program); PATH and VIRTUAL_ENV lead their children there.
    try:
        environment = make()
    except TestfloorError as err:
        session.error(env.scrub(str(err), config.env))
    session.env["VIRTUAL_ENV"] = str(environment.location)
    session.env["PATH"] = os.pathsep.join([str(environment.python.parent), os.environ.get("PATH", "")])


def _program(session: nox.Session, name: str) -> str:
    """Return how a session runs the program `name` of its environment.

    In nox's own environment, the name (nox looks in its ``bin``); in the
    shared one `install` chose, its path, relative to the project where it
    lies under it (shorter in nox's log).
    """
    location = session.env.get("VIRTUAL_ENV") if session.venv_backend == "none" else None
    if not location:
        return name
    from testfloor.testenv import interpreter

    program = interpreter(Path(location)).parent / name
    with contextlib.suppress(ValueError):
        return str(program.relative_to(Path.cwd()))
    return str(program)


def install_stamped(session: nox.Session, config: Config, calls: Sequence[Sequence[str]]) -> None:
    """Run the installs `calls` (each the arguments of one ``session.install``), unless the environment has them.

    After installing, a stamp of the inputs (`testfloor.testenv.stamp`: the
    calls, the requirements file, the Python, testfloor's version, the
    metadata of the project's own packages) is left in the environment.
    When nox reuses the environment and the stamp matches, nothing is
    installed. When it does not, the environment is made again from nothing
    before installing (installing over it would leave the packages that the
    requirements no longer name): nox's own reuse compares only the
    interpreter. A package built from a local directory (``"."``, not
    editable) may have changed without any of these: an environment with
    one is never reused.
    """
    from testfloor.testenv import STAMP, local_builds, stamp

    location = getattr(session.virtualenv, "location", None)
    if not isinstance(location, str):  # python=False: nox's own interpreter, nothing to stamp
        for call in calls:
            session.install(*call)
        return
    path = Path(location) / STAMP
    wanted = stamp(config, str(session.python), calls)
    current = _read_json(path)
    local = local_builds(config, calls)
    if current == wanted and not local:
        session.log(f"reused {location}: its inputs are unchanged")
        return
    if current is not None:
        why = f"it holds {local}, built from a directory that may have changed" if local else "its inputs changed"
        session.log(f"recreating {location}: {why}")
        _recreate(session.virtualenv)
    for call in calls:
        session.install(*call)
    from testfloor.atomic import write_text

    write_text(path, json.dumps(wanted, indent=2, sort_keys=True) + "\n")


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _recreate(virtualenv: object) -> None:
    # nox's environments clear their location and create it again when told not to reuse it.
    virtualenv.reuse_existing = False  # type: ignore[attr-defined]
    virtualenv.create()  # type: ignore[attr-defined]


def split(config: Config) -> Callable[[_Function], _Function]:
    """Return a decorator that makes the `tests` session one nox session per pytest-split group.

    With ``splits`` = N above 1, the session is parametrized with ``group`` = 1
    ... N, named like ``tests-3.12(1of2)``: each group is a session, so each is
    a cell of a CI matrix built from ``nox --list --json``. With 1, the session
    is left as it is, and nox calls it without a group.
    """
    groups = _groups(config)
    if not groups:
        return _unchanged
    import nox

    ids = [f"{group}of{config.splits}" for group in groups]
    decorate: Callable[[_Function], _Function] = nox.parametrize("group", groups, ids=ids)
    return decorate


def _groups(config: Config) -> list[int]:
    # pytest-split's groups, numbered from 1; none when the suite is not split.
    return list(range(1, config.splits + 1)) if config.splits > 1 else []


def _unchanged(function: _Function) -> _Function:
    return function


def collect(session: nox.Session, config: Config, *args: str) -> int:
    """Run the collect-only gate and return the number of tests collected.

    The session fails on collection errors (pytest exit 2), on no tests (5),
    and on internal (3) or usage (4) errors, with the errors listed.
    """
    from testfloor.collect import merge, read_outcome, relocate

    outputs: list[str] = []
    outcomes = []
    _sub_project_env(session, config)
    for index, (prefix, target) in enumerate(config.pytest_runs):
        report = Path(session.create_tmp()) / f"collect-{index}.json"
        report.unlink(missing_ok=True)
        output = session.run(
            _program(session, "python"),
            "-m",
            "pytest",
            "-p",
            "testfloor",
            "--collect-only",
            "-q",
            f"--testfloor-collect-report={report}",
            *target,
            *args,
            silent=True,
            success_codes=range(256),
        )
        outputs.append(output if isinstance(output, str) else "")
        try:
            outcomes.append(relocate(read_outcome(report), prefix))
        except TestfloorError as err:
            # pytest's own output, with the project's secrets in its tracebacks: masked before it is shown.
            print(env.scrub("".join(outputs), config.env), end="", file=sys.stderr)
            session.error(env.scrub(str(err), config.env))
    outcome = merge(outcomes)
    for override in outcome.overrides:
        session.log(f"override {override}")
    try:
        count = outcome.check()
    except TestfloorError as err:
        from testfloor.doctor import diagnose
        from testfloor.doctorreport import table

        print(env.scrub("".join(outputs), config.env), end="", file=sys.stderr)
        for line in table(diagnose(outcome, config.root)):
            session.log(env.scrub(line, config.env))
        session.log("testfloor doctor --fix repairs what the environment can fix and quarantines the rest")
        # The errors are listed above, once: the session's own message is the verdict alone.
        session.error(env.scrub(str(err).splitlines()[0], config.env))
    session.log(f"collected {count} tests")
    return count


def _sub_project_env(session: nox.Session, config: Config) -> None:
    # A sub-project run as its own rootdir still takes its settings from the project root.
    if config.subprojects:
        from testfloor.config import ROOT_VARIABLE

        session.env[ROOT_VARIABLE] = str(config.root)


def shard_path(config: Config, python: object, group: int | None = None) -> Path:
    """Return the data file a `tests` session on `python` leaves behind, unique per interpreter and platform.

    A pytest-split `group` k of N gets its own, ending in ``-<k>of<N>``: the
    ``of`` after the number keeps one group's files (``...-1of10*``) apart
    from another's (``...-10of10``).
    """
    version = python if isinstance(python, str) else f"{sys.version_info.major}.{sys.version_info.minor}"
    suffix = "" if group is None else f"-{group}of{config.splits}"
    return config.root / f".coverage.{sys.platform}.{platform.machine()}.py{version}{suffix}"


def run_tests(
    session: nox.Session, config: Config, *args: str, group: int | None = None, allow_failures: bool = False
) -> Path:
    """Run the suite under coverage and leave one combined data file for this interpreter; return its path.

    When pytest-xdist is installed in the session, the suite runs on every
    core (``-n auto``, unless `args` choose the workers or disable xdist)
    under pytest-cov, which measures the workers and combines their data.
    Otherwise it runs under ``coverage run``, straight into the data file
    when the project is one pytest run (no combine step), in parallel mode
    when it is several. With `allow_failures`, failing
    tests (pytest exit 1) do not fail the session: the data still counts.
    Collection errors (2), internal errors (3), usage errors (4) and no tests
    (5) always do: a `group` that pytest-split leaves empty fails too.

    pytest summarises why tests were skipped (``-rs``) unless `args` choose
    what it reports (``-r...``).

    With a `group` (from `split`), every pytest run takes only pytest-split's
    share k of ``splits``, by the durations in ``.test_durations``, and the
    data goes to that group's own file.
    """
    if group is not None and group not in _groups(config):
        session.error(f"there is no group {group}: [tool.testfloor] splits is {config.splits}")
    shard = shard_path(config, session.python, group)
    for stale in glob.glob(f"{glob.escape(str(shard))}*"):
        os.remove(stale)
    session.env["COVERAGE_FILE"] = str(shard)
    rcfile = coverage_rcfile(session, config)
    _sub_project_env(session, config)
    share = [] if group is None else ["--splits", str(config.splits), "--group", str(group)]
    share += ["--durations-path", str(config.root / DURATIONS)] if share else []
    xdist = _uses_xdist(session, args)
    python = _program(session, "python")
    # One run writes the data file itself; several (sub-projects) each leave their own, combined below.
    parallel = ["--parallel-mode"] if len(config.pytest_runs) > 1 else []
    share += _skip_reasons(args)
    for index, (_prefix, target) in enumerate(config.pytest_runs):
        if xdist:
            # pytest-cov follows xdist's workers; --cov-fail-under=0: pytest-cov would apply the combined floor of
            # the coverage config to this one run. A second sub-project appends to the first one's data.
            workers = [] if _chooses_workers(args) else ["-n", "auto"]
            settings = [f"--cov-config={rcfile[0].partition('=')[2]}"] if rcfile else []
            append = ["--cov-append"] if index else []
            runner = ["pytest", "-p", "testfloor", "--cov", "--cov-report=", "--cov-fail-under=0", *settings, *append]
            runner += workers
        else:
            runner = ["coverage", "run", *parallel, *rcfile, "-m", "pytest", "-p", "testfloor"]
        session.run(python, "-m", *runner, *share, *target, *args, success_codes=[0, 1] if allow_failures else [0])
    if glob.glob(f"{glob.escape(str(shard))}.*"):
        # Parallel files (several runs, measured subprocesses, `parallel = true`), added to what the run wrote.
        session.run(python, "-m", "coverage", "combine", "--append", *rcfile, "--quiet")
    return shard


def store_durations(session: nox.Session, config: Config, *args: str, allow_failures: bool = False) -> Path:
    """Run the whole suite once, without coverage, to record how long each test takes; return the durations file.

    pytest-split writes them to ``.test_durations`` at the project root, where
    the split `tests` sessions read them: commit it. Tests that no longer exist
    leave the file (the first run cleans it; a monorepo's other sub-projects
    add theirs). `allow_failures` is `run_tests`'s: a failing test still has
    a duration. pytest says why tests were skipped (``-rs``) unless `args` choose.
    """
    durations = config.root / DURATIONS
    _sub_project_env(session, config)
    for index, (_prefix, target) in enumerate(config.pytest_runs):
        record = ["--store-durations", "--durations-path", str(durations)] + ([] if index else ["--clean-durations"])
        record += _skip_reasons(args)
        session.run(
            _program(session, "python"), "-m", "pytest", "-p", "testfloor", *record, *target, *args,
            success_codes=[0, 1] if allow_failures else [0],
        )  # fmt: skip
    return durations


def _skip_reasons(args: Sequence[str]) -> list[str]:
    # Why tests were skipped (pytest folds the same reason at the same place into one line), unless args choose.
    return [] if any(arg.startswith(("-r", "--report-chars")) for arg in args) else ["-rs"]


# Prints which of the modules named on its command line the session's Python cannot import.
_MISSING_MODULES = (
    "import importlib.util, sys; print(*[name for name in sys.argv[1:] if importlib.util.find_spec(name) is None])"
)


def coverage_rcfile(session: nox.Session, config: Config) -> list[str]:
    """Return ``--rcfile=...`` for a runnable copy of the project's coverage settings, when they need one.

    Today that is a ``concurrency`` library the session does not have
    (gevent, eventlet, greenlet): ``coverage run`` would stop before any test.
    """
    from testfloor.coverageconfig import replacement, runnable_rcfile

    def missing_of(names: list[str]) -> set[str]:
        output = session.run(_program(session, "python"), "-c", _MISSING_MODULES, *names, silent=True)
        return set(output.split()) if isinstance(output, str) else set(names)

    # Only when a copy is needed: create_tmp also points the session's TMPDIR into .nox, under the project, where
    # tests that make projects in tmp_path (pytester) would find the project's own configuration.
    rcfile, missing, settings = runnable_rcfile(config.root, lambda: Path(session.create_tmp()), missing_of)
    if settings is not None and missing:
        names = ", ".join(sorted(missing))
        instead = replacement(missing, settings)
        change = f"{instead} instead of {names}" if instead else f"without {names}"
        why = f"; {instead} follows the same tasks" if instead else ""
        session.log(f"override coverage: concurrency {change}: not installed, though {settings.source.name} asks{why}")
    return rcfile


def _uses_xdist(session: nox.Session, args: Sequence[str]) -> bool:
    if "no:xdist" in args or "-pno:xdist" in args:
        return False
    probe = "import importlib.util; print(importlib.util.find_spec('xdist') is not None)"
    output = session.run(_program(session, "python"), "-c", probe, silent=True)
    return isinstance(output, str) and output.strip().endswith("True")


def _chooses_workers(args: Sequence[str]) -> bool:
    return any(arg in ("-n", "--numprocesses") or arg.startswith(("-n", "--numprocesses=")) for arg in args)


def report(session: nox.Session, config: Config, *, fail_under: float | None = None) -> None:
    """Combine the shards of every configured Python and write coverage.xml, coverage.json and coverage.md.

    Each Python's shard is named, one per pytest-split group when ``splits``
    is above 1, and their number is checked: a lost one fails the session
    with its name. The parse of each source file is kept in nox's cache
    directory (``.nox/.cache/testfloor-parses``), so that the next report
    parses only the files that changed.
    """
    groups: list[int | None] = [*_groups(config)] or [None]
    shards: list[str] = []
    versions = pythons(config)  # once: it reads the project's metadata, and warns of what it leaves out
    for python in versions:
        for group in groups:
            shards += ["--shard", str(shard_path(config, python, group))]
    shards += ["--expect", str(len(versions) * config.splits)]
    floor = [] if fail_under is None else ["--fail-under", str(fail_under)]
    outputs = ["--xml", "coverage.xml", "--json", "coverage.json", "--markdown", "coverage.md"]
    cache = ["--cache", str(Path(session.cache_dir) / PARSES)]
    session.run(_program(session, "testfloor"), "report", *shards, *outputs, *cache, *floor)


def check_baseline(session: nox.Session, config: Config, *args: str) -> None:
    """Compare coverage.json with the committed baseline; the session fails on any drop."""
    session.run(_program(session, "testfloor"), "baseline", "check", str(config.root), *args)
