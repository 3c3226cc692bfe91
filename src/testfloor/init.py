"""``testfloor init``: give an existing project testfloor's sessions, plugin check, CI workflow and first baseline.

Nothing the project wrote is replaced without ``--force``: a conftest or a
noxfile of its own gets a clearly marked block appended, files that already
say what testfloor would write are left alone, and ``--dry-run`` shows every
change as a unified diff without writing any.
"""

from __future__ import annotations

import configparser
import difflib
import importlib.resources
import json
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from testfloor import atomic, layout
from testfloor.config import load_config
from testfloor.coverageconfig import CoverageSettings, read_coverage_settings
from testfloor.errors import ConfigError, InitError
from testfloor.testenv import testfloor_requirement as testfloor_requirement

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tomlkit import TOMLDocument

    from testfloor.config import Config
    from testfloor.dependencies import Metadata
    from testfloor.doctorreport import Report
    from testfloor.project import Project

BEGIN = "# >>> testfloor >>>"
END = "# <<< testfloor <<<"
_BLOCK = re.compile(rf"{re.escape(BEGIN)}.*?{re.escape(END)}\n?", re.DOTALL)
_SESSION = re.compile(r"^def (collect|tests|coverage|baseline|durations)\(", re.MULTILINE)

_INSTALL = re.compile(r"^(  INSTALL_TESTFLOOR: ).*$", re.MULTILINE)
# What the sessions and coverage write into the project, for its .gitignore.
# The sessions' editable installs of a setuptools project leave its *.egg-info beside its code.
GENERATED = (".coverage", ".coverage.*", "coverage.xml", "coverage.json", "coverage.md", ".nox/", "*.egg-info/")


def _template(name: str) -> str:
    return (importlib.resources.files("testfloor") / "templates" / name).read_text(encoding="utf-8")


# The text init writes lives in files of the package (src/testfloor/templates), which ruff and mypy check.
NOXFILE = _template("noxfile.py")
SESSIONS = NOXFILE.split(f"{BEGIN} (written by `testfloor init`)\n")[1].split(END)[0]
# The same sessions, appended to a noxfile of the project's own: its imports may come after code of its own.
NOXFILE_BLOCK = (
    f"\n{BEGIN} (written by `testfloor init`; settings live in pyproject.toml [tool.testfloor])\n"
    "import nox  # noqa: E402\nimport testfloor.nox as floor  # noqa: E402\n\n"
    f"{SESSIONS}{END}\n"
)
CONFTEST_BLOCK = _template("conftest_block.py")
# Installs testfloor as `testfloor`; `workflow(requirement)` writes it with another requirement.
WORKFLOW = _template("testfloor.yml")


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
    from testfloor.project import describe

    before = _read(root / "pyproject.toml")
    document = _parse(root / "pyproject.toml", before)  # first: tomlkit is the stricter reader of the two
    try:
        project = describe(root, backend=True)
        pyproject = _pyproject(root, project, before, document)
    except ConfigError as err:  # a file of the project init cannot read, named
        raise InitError(str(err)) from None
    changes = [
        pyproject,
        _noxfile(root, force),
        *_conftests(root, list(project.test_roots)),
        requirements(root, requirement, project.metadata, force=force),
        _coveragerc(project),
        _workflow(root, force, requirement),
        _gitignore(root),
    ]
    return [change for change in changes if change is not None and change.before != change.after]


def workflow(requirement: str) -> str:
    """Return the CI workflow init writes, which installs testfloor with `requirement`."""
    # A JSON string is a YAML double-quoted scalar: any path or URL stays one value.
    return _INSTALL.sub(lambda match: match.group(1) + json.dumps(requirement), WORKFLOW, count=1)


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


def _parse(path: Path, text: str | None) -> TOMLDocument:
    import tomlkit

    try:
        return tomlkit.parse(text or "")
    except Exception as err:  # tomlkit raises several classes of its own for bad TOML
        raise InitError(f"{path}: invalid TOML: {' '.join(str(err).split())}") from None


def _pyproject(root: Path, project: Project, before: str | None, document: TOMLDocument) -> Change:
    import tomlkit

    path = root / "pyproject.toml"
    values, notes = _settings(project)
    tool = document.setdefault("tool", tomlkit.table(is_super_table=True))
    if "testfloor" in tool:
        # A table of the user's or of `doctor --fix`: each setting it lacks is added, none it has is changed.
        from testfloor.toolconfig import with_missing

        after = with_missing(path, before or "", values, notes)
        return Change(path, before, after, "testfloor's settings, those it lacked")
    table = tomlkit.table()
    table.add(tomlkit.comment("testfloor's settings: `testfloor doctor --fix` fills them in."))
    for key, value in values.items():
        if key in notes:
            table.add(tomlkit.comment(notes[key]))
        table[key] = value
    if list(document)[-1] != "tool":
        table.add(tomlkit.nl())  # a blank line before the table that follows
    tool["testfloor"] = table
    return Change(path, before, tomlkit.dumps(document), "testfloor's settings")


def _settings(project: Project) -> tuple[dict[str, object], dict[str, str]]:
    # What init writes into [tool.testfloor], and the comment before each key that has one.
    from testfloor.dependencies import light_and_heavy

    # The sessions' names and interpreters, whichever Python runs nox.
    values: dict[str, object] = {"python": list(project.pythons)}
    _light, heavy = light_and_heavy(project.metadata)
    if heavy:
        values["stubs"] = heavy
    if project.metadata.local:
        values["install"] = list(project.metadata.local)
    notes = {"install": "The project's own packages, installed without their dependencies."}
    return values, notes


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


def _conftests(root: Path, roots: list[str]) -> list[Change]:
    # Every test root's conftest: pytest loads one of a directory only when it collects there.
    default = next((name for name in ("tests", "test") if (root / name).is_dir()), "tests")
    return [_conftest(root / directory / "conftest.py") for directory in roots or [default]]


def _conftest(path: Path) -> Change:
    before = _read(path)
    if before is not None and BEGIN in before:
        return Change(path, before, _BLOCK.sub(CONFTEST_BLOCK, before), "the plugin check, refreshed")
    # After code of the project's, two blank lines: the block defines a top-level function (PEP 8).
    text = before.rstrip() + "\n\n\n" + CONFTEST_BLOCK if before and before.strip() else CONFTEST_BLOCK
    return Change(path, before, text, "a check that testfloor's plugin is active")


def requirements(root: Path, requirement: str, metadata: Metadata, *, force: bool = False) -> Change:
    """Plan ``requirements-test.txt``: testfloor, then the project's light dependencies; heavy ones as comments.

    A file that exists gets testfloor added if it lacks it; with `force` it is
    written again from what the project declares now (after a pin changed),
    keeping the lines it has for other packages (what ``doctor`` installed).
    """
    from testfloor.testenv import installs_testfloor, requirement_name

    path = root / "requirements-test.txt"
    before = _read(path)
    if before is not None and not force:
        if any(installs_testfloor(line, root) for line in before.splitlines()) or requirement in before:
            return Change(path, before, before, "")
        return Change(path, before, before.rstrip("\n") + f"\n{requirement}\n", "testfloor added")
    from testfloor.dependencies import development_tool, heavy_module, light_and_heavy

    light, _heavy = light_and_heavy(metadata)
    lines = [
        "# Installed by testfloor's sessions: the project's own packages come without their dependencies",
        "# ([tool.testfloor] install), so these are what the tests need; heavy packages are stubbed, not installed.",
        requirement,
        *light,
    ]
    named = {requirement_name(line) for line in light}
    for line in (before or "").splitlines():
        bare = line.split(" #")[0].strip()
        if (
            bare
            and not bare.startswith(("#", "-"))
            and not installs_testfloor(bare, root)
            and requirement_name(bare) not in named
        ):
            lines.append(bare)
    for item in metadata.requirements:
        if heavy_module(item.requirement):
            lines.append(f"# {item.requirement}  (stubbed by testfloor)")
        elif development_tool(item.requirement):
            lines.append(f"# {item.requirement}  (a development tool: the tests do not need it)")
    why = "what the sessions install" if before is None else "what the sessions install, from the declarations now"
    return Change(path, before, "\n".join(lines) + "\n", why)


def _coveragerc(project: Project) -> Change | None:
    root, config, roots = project.root, project.config, list(project.test_roots)
    if project.coverage is not None:
        return None
    try:
        stranded = _stranded_coverage(root)
    except ValueError as err:
        raise InitError(str(err)) from None
    sources = _subproject_sources(root, config)
    if not sources:
        sources = list(project.packages) or ["src" if (root / "src").is_dir() else "."]
    omit = layout.not_measured(roots)
    header = "# Written by `testfloor init`: branch coverage, data that combines across jobs and machines."
    why = "coverage settings"
    if sources == ["."] and _only_tests(root, omit):
        # Measuring the project less its tests would measure nothing, and the coverage session would fail.
        omit = layout.not_measured([])
        header += f"\n# {_TESTS_ONLY.capitalize()}, which are measured: once it has, name it in source, tests in omit."
        why = f"coverage settings: {_TESTS_ONLY}, so the tests themselves are measured"
    run = {"branch": "True", "relative_files": "True", "parallel": "True"}
    run |= {"source": "\n".join(sources), "omit": "\n".join(omit)}
    sections = {"run": run, "report": {"precision": "2", "show_missing": "True", "skip_covered": "True"}}
    for name, items in stranded.items():
        sections.setdefault(name, {}).update(items)
    if stranded:
        header += "\n# With the [coverage:*] settings of pytest.ini, which coverage.py does not read."
    text = CoverageSettings(root / ".coveragerc", sections).to_ini(header)
    return Change(root / ".coveragerc", None, text, why)


_TESTS_ONLY = "the project has no code outside its tests"


def _only_tests(root: Path, omit: list[str]) -> bool:
    # No Python file that coverage would measure and a test could import: all are omitted, or setup.py.
    from fnmatch import fnmatch

    from testfloor.imports import python_files

    for path in python_files(root):
        name = path.relative_to(root).as_posix()
        if name != "setup.py" and not any(fnmatch(name, pattern) for pattern in omit):
            return False
    return True


def _coverage_settings(directory: Path) -> CoverageSettings | None:
    try:
        return read_coverage_settings(directory)
    except (OSError, ValueError, configparser.Error) as err:
        raise InitError(f"{directory}: cannot read the coverage settings: {' '.join(str(err).split())}") from None


def _stranded_coverage(root: Path) -> dict[str, dict[str, str]]:
    # Coverage settings written in pytest.ini, which only pytest reads.
    path = root / "pytest.ini"
    if not path.is_file():
        return {}
    _own, sections = layout.read_pytest_file(path)
    return {name.removeprefix("coverage:"): items for name, items in sections.items() if name.startswith("coverage:")}


def _subproject_sources(root: Path, config: Config) -> list[str]:
    # A sub-project's own `source`, as paths from the root where they name a directory of the sub-project.
    sources: list[str] = []
    for sub in config.subprojects:
        settings = _coverage_settings(root / sub)
        entries = settings.sections.get("run", {}).get("source", "") if settings else ""
        for entry in entries.replace(",", "\n").split():
            path = Path(sub, entry)
            sources.append(path.as_posix() if (root / path).is_dir() else entry)
    return list(dict.fromkeys(sources))


def _workflow(root: Path, force: bool, requirement: str) -> Change:
    path = root / ".github" / "workflows" / "testfloor.yml"
    before = _read(path)
    after = workflow(requirement)
    # A workflow init wrote for another requirement is init's to rewrite.
    ours = before is not None and _INSTALL.sub(lambda match: match.group(1), before) == _INSTALL.sub(
        lambda match: match.group(1), after
    )
    if before is not None and before != after and not ours and not force:
        raise InitError(f"{path}: exists with other content; keep it, or replace it with --force")
    return Change(path, before, after, "CI: the matrix from nox, combined coverage, the baseline")


def _gitignore(root: Path) -> Change:
    path = root / ".gitignore"
    before = _read(path)
    present = {line.strip().strip("/") for line in (before or "").splitlines()}
    missing = [name for name in GENERATED if name.strip("/") not in present]
    if (before is not None and BEGIN in before) or not missing:
        return Change(path, before, before or "", "")
    block = f"{BEGIN} (written by `testfloor init`: what the sessions write)\n" + "".join(
        f"{name}\n" for name in missing
    )
    separator = "" if not before else "\n" if before.endswith("\n") else "\n\n"
    return Change(path, before, f"{before or ''}{separator}{block}{END}\n", "what the sessions write, ignored")


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
    else:
        apply(changes)
        for change in changes:
            out(f"wrote {change.path.relative_to(root).as_posix()}: {change.why}")
    if changes and _local_path(requirement):
        out(
            f"note: the sessions and the CI workflow install testfloor from {requirement}, a path on this machine "
            "that CI will not have: run init again with --requirement testfloor==<version> (or a VCS URL) and --force"
        )
    if dry_run:
        return Result((), None, None)
    report = None
    written = None
    if fix:
        from testfloor import doctor, doctorreport, testenv
        from testfloor.project import describe

        built: list[testenv.Environment] = []

        def prepare() -> testenv.Environment:
            built.append(testenv.for_project(describe(root), progress=out))
            return built[-1]

        before = doctorreport.contents(root)
        report = doctor.run(root, fix=True, install=install, progress=out, prepare=prepare)
        report = replace(report, changed=doctorreport.changed(root, before))
        environment = built[-1]
        for line in doctorreport.describe(report):
            out(line)
        config = load_config(root)
        if report.status != "failing" and not config.baseline_path.exists():
            written = first_baseline(root, environment.version, out=out)
            out(f"wrote {config.baseline}: the first coverage baseline (the sessions, Python {environment.version})")
    result = Result(tuple(change.path.relative_to(root).as_posix() for change in changes), report, written)
    for line in next_steps(root, result):
        out(line)
    return result


def next_steps(root: Path, result: Result) -> list[str]:
    """Sum up init: doctor's counts, the files to commit (init's, doctor's, the baseline), exit 10, and what is next."""
    from testfloor import doctorreport

    changed = result.doctor.changed if result.doctor else ()
    baseline = [result.baseline.relative_to(root).as_posix()] if result.baseline else []
    files = tuple(dict.fromkeys([*result.written, *changed, *baseline]))
    commit = f"commit: {' '.join(files)}" if files else "nothing to commit: the project already had what init writes"
    if result.doctor is None:
        return [commit, "next: testfloor init, without --no-fix: doctor --fix and the first baseline"]
    lines = [
        line for line in doctorreport.summarise(replace(result.doctor, next="")) if not line.startswith("commit: ")
    ]
    lines.append(commit)
    if result.doctor.status == "quarantined":
        count = len(result.doctor.quarantined)
        lines.append(
            f"exit 10: the suite runs, with {count} project bug{'s' if count != 1 else ''} quarantined in "
            "[tool.testfloor] quarantine: fix them, then remove them from the list"
        )
    if result.doctor.status == "failing":
        lines.append("next: fix what is listed above, then run testfloor init again")
    else:
        lines.append("next: nox -s collect coverage baseline (the gate, the measured run and the ratchet, as in CI)")
    return lines


def _local_path(requirement: str) -> bool:
    # An absolute path: a checkout or a wheel on this machine (a relative one may be committed with the project).
    return Path(requirement).is_absolute()


@dataclass(frozen=True)
class Limits:
    """How long the first run of the sessions may take once its tests session starts, and how often it reports.

    `slack` seconds (building the session's environment, starting pytest),
    plus `per_test` seconds for each test the gate collected, or, where
    ``.test_durations`` records the suite, `factor` times the recorded total.
    """

    slack: float = 600.0
    per_test: float = 10.0
    factor: float = 5.0
    heartbeat: float = 30.0


# The lines of a session run shown as progress: nox's sessions, the gate's count, pytest's summary.
_PROGRESS = re.compile(
    r"^nox > (Running session|Session .* (was successful|failed)|collected \d+ tests)|^=+ .*\d+ \w+.* in [\d.]+s"
)
_COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?)")


def first_baseline(root: Path, version: str, *, out: Callable[[str], None] = print, limits: Limits = Limits()) -> Path:
    """Run the project's own sessions (collect, tests on Python `version`, coverage) and write the baseline.

    ``nox -s coverage`` pulls in the sessions it requires; ``TESTFLOOR_PYTHON``
    narrows them to the one Python, so that the report expects its data alone.
    nox's own lines ("Running session ...") and pytest's counts are passed on
    as progress, with a heartbeat naming the running test (pytest runs with
    ``-v``); a run that goes on far longer than `limits` allow is stopped,
    naming the test that was running.
    """
    import os

    from testfloor import baseline, watch

    config = load_config(root)
    environ = {**os.environ, "TESTFLOOR_PYTHON": version}
    command = [sys.executable, "-m", "nox", "--no-color", "--session", "coverage", "--", "-v"]
    out(f"running: nox --session coverage (collect, tests and coverage on Python {version})")
    allowed = _Allowance(root, limits)
    result = watch.run(
        command, cwd=root, env=environ, out=out, shown=lambda line: bool(_PROGRESS.match(line)),
        deadline=allowed.deadline, heartbeat=limits.heartbeat,
    )  # fmt: skip
    if result.stopped:
        test = f"{result.running} was running" if result.running else "no test had started"
        raise InitError(
            f"{root}: stopped the project's sessions: the tests ran over {allowed.seconds:.0f} s ({allowed.basis}); "
            f"{test}: run nox --session tests -- -v to watch it, then quarantine or fix it"
        )
    if result.status != 0:
        for line in result.lines[-40:]:
            out("  | " + line)
        raise InitError(
            f"{root}: the project's sessions failed (nox --session coverage exited {result.status}); "
            "run it to see the whole output"
        )
    _summarise(result.lines, version, out)
    report = root / "coverage.json"
    baseline.write_baseline(config.baseline_path, baseline.from_coverage_json(report))
    return config.baseline_path


class _Allowance:
    # The deadline of the tests session: set when it starts, from the gate's count or the recorded durations.
    def __init__(self, root: Path, limits: Limits) -> None:
        self.limits = limits
        self.recorded = _recorded_total(root / ".test_durations")
        self.tests = 0
        self.seconds = 0.0
        self.basis = ""

    def deadline(self, line: str) -> float | None:
        counted = re.match(r"nox > collected (\d+) tests", line)
        if counted:
            self.tests += int(counted.group(1))
        if not line.startswith("nox > Running session tests"):
            return None
        if self.recorded is not None:
            self.seconds = self.limits.slack + self.limits.factor * self.recorded
            self.basis = f"{self.limits.factor:g} times the {self.recorded:.0f} s .test_durations records"
        else:
            self.seconds = self.limits.slack + self.limits.per_test * self.tests
            self.basis = f"{self.limits.per_test:g} s for each of {self.tests} tests"
        return self.seconds


def _recorded_total(path: Path) -> float | None:
    try:
        durations = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(durations, dict):
        return None
    return float(sum(value for value in durations.values() if isinstance(value, (int, float))))


def _summarise(lines: Sequence[str], version: str, out: Callable[[str], None]) -> None:
    # The summary lines of every pytest run of the tests session (one per sub-project or group), added up, in words;
    # a run where nothing passed is said plainly.
    summaries = [line for line in lines if re.match(r"^=+ .* in [\d.]+s", line)]
    counts: dict[str, int] = {}
    for number, word in (found for line in summaries for found in _COUNTS.findall(line)):
        key = word.rstrip("s") if word.startswith(("error", "warning")) else word
        counts[key] = counts.get(key, 0) + int(number)
    shown = ", ".join(f"{number} {_plural(word, number)}" for word, number in counts.items())
    out(f"tests on Python {version}: {shown or 'no summary from pytest'}")
    if counts and not counts.get("passed"):
        out(
            "warning: no test passed: the baseline measures only what the failing tests ran; "
            "run nox --session tests to see why"
        )


def _plural(word: str, number: int) -> str:
    return word + ("s" if number != 1 and word in ("error", "warning") else "")
