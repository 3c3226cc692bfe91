"""``testfloor doctor``: collect, classify every error, fix the environment, and collect again until it is clean.

Every fix goes into ``[tool.testfloor]`` of pyproject.toml (formatting kept)
or ``requirements-test.txt``; no other file of the project is touched. Bugs
of the project itself are never "fixed": they are reported with file, line
and cause, and quarantined so that the rest of the suite runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from testfloor.classify import KINDS, Diagnosis, classify
from testfloor.collect import STATUS_MEANING, CollectError, Outcome, merge, read_outcome, relocate
from testfloor.config import ROOT_VARIABLE, Config, load_config
from testfloor.env import scrub, scrub_document
from testfloor.errors import CollectionError
from testfloor.testenv import REQUIREMENTS, Environment, try_install

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

FORMAT = 1


@dataclass(frozen=True)
class Pass:
    """One collect-and-fix round: how many errors it found and what it changed."""

    number: int
    errors: int
    collected: int
    changes: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """Where doctor got to: the rounds, what is still wrong, and what is quarantined."""

    passes: tuple[Pass, ...]
    remaining: tuple[Diagnosis, ...]
    quarantined: tuple[str, ...]
    collected: int
    exitstatus: int
    problem: str | None = None
    fixes: Mapping[str, int] = field(default_factory=dict)
    # The interpreter the suite was collected with: the built test environment's, or the one running testfloor.
    python: str = ""

    @property
    def status(self) -> str:
        """``clean``, ``quarantined`` (clean once project bugs are left out) or ``failing``."""
        if self.remaining or self.problem or self.exitstatus != 0:
            return "failing"
        return "quarantined" if self.quarantined else "clean"


def probe(root: Path, python: str | Path = sys.executable) -> Outcome:
    """Run ``pytest --collect-only`` in `root` with `python`, in a subprocess, with testfloor's plugin recording.

    A monorepo configured with ``subprojects`` gets one run per sub-project
    (each its own rootdir), merged into one outcome with root-relative ids.
    """
    runs = load_config(root).pytest_runs
    return merge([relocate(_probe_once(root, args, bool(prefix), python), prefix) for prefix, args in runs])


def _probe_once(root: Path, args: list[str], sub_project: bool, python: str | Path) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="testfloor-doctor-") as directory:
        report = Path(directory) / "collect.json"
        command = [str(python), "-m", "pytest", "--collect-only", "-q", "-p", "testfloor", "-p", "no:cacheprovider"]
        command += [f"--testfloor-collect-report={report}", *args]
        environ = {**os.environ, ROOT_VARIABLE: str(root)} if sub_project else None
        result = subprocess.run(command, cwd=root, env=environ, capture_output=True, text=True, check=False)
        try:
            return read_outcome(report)
        except CollectionError:
            lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
            message = lines[-1] if lines else f"pytest exited with status {result.returncode}"
            message = scrub(message, load_config(root).env)
            return Outcome(result.returncode, (), (CollectError("", message),))


def diagnose(outcome: Outcome, root: Path) -> list[Diagnosis]:
    """Classify every error of `outcome`."""
    return [classify(error, root) for error in outcome.errors]


def run(
    root: Path,
    *,
    fix: bool = False,
    install: bool = True,
    max_passes: int = 5,
    collect: Callable[[Path], Outcome] | None = None,
    progress: Callable[[str], None] = lambda line: None,
    prepare: Callable[[], Environment] | None = None,
) -> Report:
    """Collect `root`'s tests and, with `fix`, repair the environment until they collect or stop improving.

    Every probe, install and settings discovery happens in the environment
    `prepare` returns (the test environment the sessions build:
    `testfloor.testenv.for_project`), asked for again when a fix changes the
    project's Pythons; without `prepare`, in the interpreter running
    testfloor. `collect` stands in for `probe` (a real pytest run in a
    subprocess).
    """
    environment = prepare() if prepare else current_environment()
    collect = collect or (lambda where: probe(where, environment.python))
    passes: list[Pass] = []
    fixes: Counter[str] = Counter()
    previous: set[tuple[str, str]] = set()
    problem: str | None = None
    if fix and not load_config(root).configured:
        # testfloor repairs a project's pytest configuration only where the project asks for it.
        from testfloor import toolconfig

        with toolconfig.editing(root / "pyproject.toml"):
            pass
        progress("added [tool.testfloor] to pyproject.toml")
    if fix and (heavy := _heavy_imports(root, environment)):
        fixes["stub"] += len(heavy)
        progress(f"stubbed {', '.join(heavy)} (heavy, imported by the project, not installed)")
    if fix and (own := _configured_subprojects(root)):
        fixes["subprojects"] += 1
        progress(f"one run per sub-project with its own pytest settings: {', '.join(own)}")
    number = 0
    # The fix loop only moves forward: a pass whose changes bring new errors is undone, and its fixes not tried again.
    before: tuple[dict[Path, bytes | None], list[Diagnosis], tuple[str, ...]] | None = None
    skip: set[tuple[str | None, str]] = set()
    while True:
        number += 1
        outcome = collect(root)
        diagnoses = diagnose(outcome, root)
        if before is not None and _worse(before[2], diagnoses):
            snapshot, earlier, collected = before
            _restore(snapshot)
            skip |= {(item.fix, item.subject) for item in earlier if item.fix}
            broken = sorted({item.nodeid for item in diagnoses} & {nodeid.split("::")[0] for nodeid in collected})
            progress(f"pass {number - 1} undone: it broke {', '.join(broken)}, which collected before; not tried again")
            before, previous = None, set()
            if prepare:
                environment = prepare()  # the requirements or Pythons it changed are back as they were
            continue
        if not diagnoses:
            problem = STATUS_MEANING.get(outcome.exitstatus) if outcome.exitstatus else None
            break
        current = {(item.nodeid, item.kind) for item in diagnoses}
        if not fix or number > max_passes or current == previous:
            problem = None if not fix else f"stopped after {number - 1} passes: these errors remain"
            break
        previous = current
        before = (_snapshot(root), diagnoses, outcome.nodeids)
        notes: list[str] = []
        changes = apply_fixes(
            root, diagnoses, install=install, fixes=fixes, environment=environment, skip=skip, notes=notes
        )
        passes.append(Pass(number, len(diagnoses), len(outcome.nodeids), tuple(changes)))
        errors = f"{len(diagnoses)} error{'s' if len(diagnoses) != 1 else ''}"
        progress(f"pass {number}: {errors}: {'; '.join(changes + notes) or 'nothing left to change'}")
        if not changes:
            problem = "; ".join(["nothing left to change: these errors remain", *notes])
            break
        if prepare and any(change.startswith("python ") for change in changes):
            environment = prepare()  # another interpreter: the environment the sessions build on it
    config = load_config(root)
    quarantined = tuple(entry.node for entry in config.quarantine)
    # The project's messages may hold the values [tool.testfloor.env] gave the probe: this process never had them.
    diagnoses = [replace(item, cause=scrub(item.cause, config.env)) for item in diagnoses]
    return Report(
        tuple(passes),
        tuple(diagnoses),
        quarantined,
        len(outcome.nodeids),
        outcome.exitstatus,
        problem,
        dict(fixes),
        describe_environment(root, environment),
    )


def _worse(collected: Collection[str], now: Sequence[Diagnosis]) -> bool:
    # An error in a module that collected before: what the last pass changed did harm. (An error in a module the
    # last pass let pytest reach for the first time is progress: the first error hides the next.)
    modules = {nodeid.split("::")[0] for nodeid in collected}
    return any(item.nodeid in modules for item in now)


def _snapshot(root: Path) -> dict[Path, bytes | None]:
    # The two files doctor writes, as they are before a pass.
    snapshot: dict[Path, bytes | None] = {}
    for path in (root / "pyproject.toml", root / REQUIREMENTS):
        snapshot[path] = path.read_bytes() if path.is_file() else None
    return snapshot


def _restore(snapshot: Mapping[Path, bytes | None]) -> None:
    from testfloor import atomic

    for path, content in snapshot.items():
        if content is None:
            path.unlink(missing_ok=True)
        elif not path.is_file() or path.read_bytes() != content:
            with atomic.replacing(path) as temporary:
                temporary.write_bytes(content)


def _heavy_imports(root: Path, environment: Environment) -> list[str]:
    # An import inside a fixture or a test body is no collection error: found by reading the code instead.
    from testfloor import imports, toolconfig

    config = load_config(root)
    heavy = imports.heavy_absent(root, environment.python, config.stubs)
    return toolconfig.extend_list(config.pyproject, "stubs", heavy) if heavy else []


def _configured_subprojects(root: Path) -> list[str]:
    # Run from the root, a sub-project's own pytest settings (asyncio_mode, markers ...) would be lost.
    from testfloor import toolconfig
    from testfloor.classify import find_subprojects
    from testfloor.layout import pytest_options

    own = [sub for sub in find_subprojects(root) if pytest_options(root / sub) is not None]
    return toolconfig.extend_list(root / "pyproject.toml", "subprojects", own) if own else []


def write_requirements(root: Path) -> bool:
    """Write ``requirements-test.txt`` as ``testfloor init`` would, when the project has none; tell whether it did.

    The test environment is built from it: without it, the sessions would
    install nothing but testfloor, and the probe would see a suite that lacks
    every dependency the project declares.
    """
    if (root / REQUIREMENTS).exists():
        return False
    from testfloor import init
    from testfloor.dependencies import read_metadata
    from testfloor.testenv import testfloor_requirement

    init.apply([init.requirements(root, testfloor_requirement(), read_metadata(root))])
    return True


def current_environment() -> Environment:
    """Return the interpreter running testfloor as an environment: where a diagnosis is made when none was built."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return Environment(Path(sys.prefix), Path(sys.executable), version)


def describe_environment(root: Path, environment: Environment) -> str:
    """Name the environment a report was made in: its path relative to `root` when inside it, and its Python."""
    try:
        where = environment.location.relative_to(root).as_posix()
    except ValueError:
        where = str(environment.python)
    return f"{where} (Python {environment.version})"


def apply_fixes(
    root: Path,
    diagnoses: Sequence[Diagnosis],
    *,
    install: bool,
    fixes: Counter[str],
    environment: Environment | None = None,
    skip: Collection[tuple[str | None, str]] = (),
    notes: list[str] | None = None,
) -> list[str]:
    """Apply the cheapest fix for each diagnosis; quarantine project bugs only once nothing else is left to fix.

    A diagnosis whose ``(fix, subject)`` is in `skip` (a fix that made things
    worse) is neither fixed nor quarantined: it is left as it is. A quarantine
    that would leave a run without tests is not made; `notes` says so.
    """
    environment = environment or current_environment()
    from testfloor import toolconfig

    config = load_config(root)
    changes: list[str] = []
    by_fix: dict[str | None, list[Diagnosis]] = {}
    for item in diagnoses:
        if item.fix is None or (item.fix, item.subject) not in skip:
            by_fix.setdefault(item.fix, []).append(item)
    stubs = sorted({item.subject for item in by_fix.get("stub", [])})
    light = sorted({item.subject for item in by_fix.get("install", [])})
    if light:
        installed, failed, refused = _install(root, light, environment) if install else ([], light, [])
        stubs += [module for module in failed if module.isidentifier()]  # a distribution name is no module
        if installed:
            changes.append(f"installed {', '.join(installed)} (recorded in {REQUIREMENTS})")
            fixes["install"] += len(installed)
        if refused:
            changes.append(f"refused to install {'; '.join(refused)}: stubbed instead")
    if stubs:
        added = toolconfig.extend_list(config.pyproject, "stubs", stubs)
        if added:
            changes.append(f"stubbed {', '.join(added)}")
            fixes["stub"] += len(added)
    if by_fix.get("env"):
        added = _discover_env(root, config.pyproject, environment)
        if added:
            changes.append(f"{_count(len(added), 'env var')} ({', '.join(added)})")
            fixes["env"] += len(added)
    if by_fix.get("python"):
        changes.extend(_choose_python(config, by_fix["python"], fixes))
    paths = sorted({item.subject for item in by_fix.get("pythonpath", [])})
    if paths and (added := toolconfig.extend_list(config.pyproject, "pythonpath", paths)):
        changes.append(f"pythonpath {', '.join(added)}")
        fixes["pythonpath"] += len(added)
    if by_fix.get("subprojects"):
        from testfloor.classify import find_subprojects

        found = find_subprojects(root)
        added = toolconfig.extend_list(config.pyproject, "subprojects", found) if found else []
        if added:
            changes.append(f"one run per sub-project: {', '.join(added)}")
            fixes["subprojects"] += 1
        elif config.import_mode is None:
            # Test modules of one name inside one tree of tests: importlib mode imports each by its own path.
            toolconfig.set_value(config.pyproject, "import_mode", "importlib")
            changes.append("import mode importlib (test modules of one name in one tree of tests)")
            fixes["import_mode"] += 1
    if by_fix.get("testpaths"):
        changes.extend(_restrict_testpaths(root, config.pyproject, by_fix["testpaths"], by_fix, fixes))
    if not changes and (added := _read_by_hand(root, config, by_fix.get(None, []))):
        # Before a quarantine: an error at import may be a variable the code reads by hand and nobody set.
        changes.append(f"{_count(len(added), 'env var')} read by hand at import ({', '.join(added)})")
        fixes["env"] += len(added)
    if not changes:
        # The reason is committed with pyproject.toml: masked like everything testfloor writes.
        bugs = {
            target: scrub(item.quarantine_reason, config.env)
            for item in by_fix.get(None, [])
            if (target := quarantine_target(item))
        }
        emptied = _emptied_runs(config, bugs)
        if emptied:
            # A quarantine that leaves a run without tests is no fix: the errors are reported instead.
            refused = sorted(node for node in bugs if _run_of(node, [sub for sub, _ in config.pytest_runs]) in emptied)
            (notes if notes is not None else []).append(
                f"not quarantined: {', '.join(refused)} (no test would be left to run)"
            )
            bugs = {node: reason for node, reason in bugs.items() if node not in refused}
        added = toolconfig.add_quarantine(config.pyproject, bugs) if bugs else []
        if added:
            changes.append(f"quarantined {', '.join(added)}")
            fixes["quarantine"] += len(added)
    return changes


def quarantine_target(diagnosis: Diagnosis) -> str | None:
    """Return what to quarantine for a project bug: what imports the failing code, where pytest can leave it out.

    An error in a conftest quarantines the conftest's directory (every test
    it serves), except the root's (that would be every test: `None`); any
    other, the node that failed.
    """
    if diagnosis.conftest is not None:
        # The root's conftest serves every test: leaving it out is no fix.
        return diagnosis.conftest.rpartition("/")[0] or None
    return diagnosis.nodeid or None


def _emptied_runs(config: Config, nodes: Collection[str]) -> list[str]:
    # The runs (sub-projects, "" for the rest) whose every test module the quarantine would leave out.
    from testfloor.layout import test_files

    if not nodes:
        return []
    left_out = {node.removesuffix("/conftest.py") for node in (*nodes, *(e.node for e in config.quarantine))}
    left_out = {node for node in left_out if "::" not in node}
    runs = [sub for sub, _args in config.pytest_runs]
    found = test_files(config.root, config)
    emptied = []
    for run in runs:
        files = [path for path in found if _run_of(path, runs) == run]
        touched = any(_run_of(node, runs) == run for node in nodes)
        if touched and files and not any(_kept(path, left_out) for path in files):
            emptied.append(run)
    return emptied


def _run_of(path: str, runs: Sequence[str]) -> str:
    return next((run for run in runs if run and (path == run or path.startswith(f"{run}/"))), "")


def _kept(path: str, left_out: Collection[str]) -> bool:
    return not any(node == path or path.startswith(f"{node}/") for node in left_out)


def _choose_python(config: Config, diagnoses: list[Diagnosis], fixes: Counter[str]) -> list[str]:
    """Keep only the project's Pythons that its code accepts at import; an interpreter problem is never a bug."""
    from testfloor import toolconfig
    from testfloor.dependencies import read_metadata
    from testfloor.project import choose_pythons

    minimum = max((item.subject for item in diagnoses), key=_version_key)
    current = choose_pythons(config, read_metadata(config.root, backend=False))
    kept = [version for version in current if _version_key(version) >= _version_key(minimum)]
    if not kept or kept == list(config.python):
        return []
    toolconfig.set_value(config.pyproject, "python", kept)
    fixes["python"] += 1
    return [f"python {', '.join(kept)} (the code requires Python {minimum} or newer)"]


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _read_by_hand(root: Path, config: Config, diagnoses: Sequence[Diagnosis]) -> list[str]:
    from testfloor import handenv, settings_discovery

    paths = {item.path: item.line for item in diagnoses if item.path and item.path.endswith(".py")}
    values = handenv.values_for(root, paths, lambda name: name not in os.environ and name not in config.env)
    return settings_discovery.write_env(config.pyproject, values) if values else []


def _restrict_testpaths(
    root: Path,
    pyproject: Path,
    scripts: list[Diagnosis],
    by_fix: dict[str | None, list[Diagnosis]],
    fixes: Counter[str],
) -> list[str]:
    from testfloor import toolconfig

    test_dirs = [name for name in ("tests", "test") if (root / name).is_dir()]
    outside = [item for item in scripts if not any(item.nodeid.startswith(f"{name}/") for name in test_dirs)]
    if test_dirs and outside and not load_config(root).testpaths:
        toolconfig.extend_list(pyproject, "testpaths", test_dirs)
        fixes["testpaths"] += 1
        return [f"testpaths {', '.join(test_dirs)} (leaves out {', '.join(item.nodeid for item in outside)})"]
    # A script inside the test directories cannot be left out by testpaths: it is the project's to fix.
    by_fix.setdefault(None, []).extend(scripts)
    return []


def _install(root: Path, modules: Sequence[str], environment: Environment) -> tuple[list[str], list[str], list[str]]:
    """Install the light `modules` into `environment`; record the ones that installed in requirements-test.txt.

    Returns what installed, the modules that did not (to be stubbed), and the
    installs refused because they would pull in a heavy package.
    """
    import importlib.metadata

    from testfloor.dependencies import distribution_for, heavy_module, read_metadata
    from testfloor.testenv import would_install

    # The name to install: as the project declares it (with its pin), else as this interpreter's packages provide it.
    metadata = read_metadata(root, backend=False)
    provided = importlib.metadata.packages_distributions()
    installed: list[str] = []
    failed: list[str] = []
    refused: list[str] = []
    for module in modules:
        name = distribution_for(module, metadata, provided)
        heavy = sorted(
            {found for added in would_install(environment, [name], cwd=root) or [] if (found := heavy_module(added))}
        )
        if heavy:
            # A light package that pulls in a heavy one would bring back what the stubs keep out: refused.
            refused.append(f"{name} (it pulls in {', '.join(heavy)})")
            failed.append(module)
        elif try_install(environment, [name], cwd=root):
            installed.append(name)
        else:
            failed.append(module)
    if installed:
        requirements = root / REQUIREMENTS
        existing = requirements.read_text(encoding="utf-8") if requirements.is_file() else ""
        lines = existing.splitlines()
        new = [name for name in installed if name not in lines]
        if new:
            from testfloor import atomic

            text = existing + ("" if not existing or existing.endswith("\n") else "\n") + "\n".join(new) + "\n"
            atomic.write_text(requirements, text)
    return installed, failed, refused


def _discover_env(root: Path, pyproject: Path, environment: Environment) -> list[str]:
    from testfloor import settings_discovery
    from testfloor.errors import DiscoveryError

    config = load_config(root, environ=os.environ)
    try:
        discovery = settings_discovery.discover(
            root, (), environ=os.environ, declared=config.env, python=str(environment.python)
        )
    except DiscoveryError:
        return []
    return settings_discovery.write_env(pyproject, discovery.values)


def describe(report: Report) -> list[str]:
    """Describe the outcome: the status, a table by class, what is left and what is quarantined."""
    lines = [f"status: {report.status} ({report.collected} tests collected)", f"environment: {report.python}"]
    if report.fixes:
        lines.append("fixed: " + ", ".join(f"{name} {count}" for name, count in sorted(report.fixes.items())))
    lines.extend(table(report.remaining))
    for node in report.quarantined:
        lines.append(f"  quarantined: {node}")
    if report.problem:
        lines.append(f"stopped: {report.problem}")
    return [scrub(line) for line in lines]


def table(diagnoses: Sequence[Diagnosis]) -> list[str]:
    """Count the errors by class, then list each with its cause, place and fix (or "project bug")."""
    lines = []
    for kind, count in sorted(Counter(item.kind for item in diagnoses).items()):
        lines.append(f"  {count:4d}  {kind}: {KINDS[kind][0]}")
    for item in diagnoses:
        fix = f" [fix: {item.fix}]" if item.fix else " [project bug]"
        lines.append(f"  {item.nodeid or '<root>'}: {item.cause} ({item.where}){fix}")
    return lines


def to_json(report: Report) -> str:
    """Render the report as versioned JSON, with numbers as numbers."""
    document = {
        "collected": report.collected,
        "exitstatus": report.exitstatus,
        "fixes": dict(sorted(report.fixes.items())),
        "format": FORMAT,
        "passes": [asdict(item) for item in report.passes],
        "problem": report.problem,
        "python": report.python,
        "quarantined": list(report.quarantined),
        "remaining": [asdict(item) for item in report.remaining],
        "status": report.status,
    }
    return json.dumps(scrub_document(document), indent=2, sort_keys=True) + "\n"
