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

from testfloor.classify import KINDS, LIMITATION, Diagnosis, classify
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
    # What the pass applied, as `propose` names fixes: ``stub torch``, ``env``, ``quarantine tests/test_x.py``.
    applied: tuple[str, ...] = ()


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
    # The fixes the first collect calls for (`propose`): what --fix applies in its first pass, in either mode.
    proposed: tuple[str, ...] = ()
    # Every change to the project's pytest configuration, in full with its reason (the pytest header shortens them).
    overrides: tuple[str, ...] = ()
    # Set by the command that ran doctor: the files it wrote (to commit), and the command to run next.
    changed: tuple[str, ...] = ()
    next: str = ""

    @property
    def status(self) -> str:
        """``clean``, ``quarantined`` (clean once project bugs are left out) or ``failing``."""
        if self.remaining or self.problem or self.exitstatus != 0:
            return "failing"
        return "quarantined" if self.quarantined else "clean"


def probe(root: Path, python: str | Path = sys.executable, stubs: Sequence[str] = ()) -> Outcome:
    """Run ``pytest --collect-only`` in `root` with `python`, in a subprocess, with testfloor's plugin recording.

    A monorepo configured with ``subprojects`` gets one run per sub-project
    (each its own rootdir), merged into one outcome with root-relative ids.
    `stubs` are stubbed besides the configured ones (through
    ``TESTFLOOR_STUBS``, which the plugin reads): the collect a fix would see.
    """
    runs = load_config(root).pytest_runs
    extra: dict[str, str] = {}
    if stubs:
        configured = load_config(root, environ=os.environ).stubs
        extra["TESTFLOOR_STUBS"] = ",".join(dict.fromkeys([*configured, *stubs]))
    outcomes = [relocate(_probe_once(root, args, bool(prefix), python, extra), prefix) for prefix, args in runs]
    return merge(outcomes)


def _probe_once(
    root: Path, args: list[str], sub_project: bool, python: str | Path, extra: Mapping[str, str] | None = None
) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="testfloor-doctor-") as directory:
        report = Path(directory) / "collect.json"
        command = [str(python), "-m", "pytest", "--collect-only", "-q", "-p", "testfloor", "-p", "no:cacheprovider"]
        command += [f"--testfloor-collect-report={report}", *args]
        environ = {**os.environ, **(extra or {}), **({ROOT_VARIABLE: str(root)} if sub_project else {})}
        result = subprocess.run(command, cwd=root, env=environ, capture_output=True, text=True, check=False)
        try:
            return read_outcome(report)
        except CollectionError:
            lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
            message = lines[-1] if lines else f"pytest exited with status {result.returncode}"
            message = scrub(message, load_config(root).env)
            return Outcome(result.returncode, (), (CollectError("", message),))


def diagnose(outcome: Outcome, root: Path) -> list[Diagnosis]:
    """Classify every error of `outcome`; one that a value testfloor set caused is testfloor's (``placeholder``)."""
    from testfloor.placeholders import own

    declared = load_config(root).env
    return [own(classify(error, root), root, declared) for error in outcome.errors]


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
    passes: list[Pass] = []
    fixes: Counter[str] = Counter()
    previous: set[tuple[str, str]] = set()
    problem: str | None = None
    proposed: tuple[str, ...] | None = None
    stubs_before = set(load_config(root).stubs)
    if fix and not load_config(root).configured:
        # testfloor repairs a project's pytest configuration only where the project asks for it.
        from testfloor import toolconfig

        with toolconfig.editing(root / "pyproject.toml"):
            pass
        progress("added [tool.testfloor] to pyproject.toml")
    if fix and (stated := _stated_python(root, fixes)):
        progress(stated[0])
        if prepare:
            environment = prepare()  # the sessions' Pythons changed: the environment they build on the newest
    # Without --fix, the heavy imports found by reading the code are stubbed for the probe only, as --fix stubs
    # them before its first collect: both see the same errors, and propose the same fixes.
    heavy = _heavy_imports(root, environment, write=fix)
    unwritten = () if fix else tuple(heavy)
    collect = collect or (
        (lambda where: probe(where, environment.python, unwritten))
        if unwritten
        else (lambda where: probe(where, environment.python))
    )
    if fix and heavy:
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
        if proposed is None:
            # The heavy imports found by reading the code are stubbed before the first collect: proposed too.
            proposed = tuple(sorted({*propose(root, diagnoses, install=install), *(f"stub {name}" for name in heavy)}))
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
        applied: list[str] = []
        notes: list[str] = []
        changes = apply_fixes(
            root,
            diagnoses,
            install=install,
            fixes=fixes,
            environment=environment,
            skip=skip,
            applied=applied,
            notes=notes,
        )
        passes.append(Pass(number, len(diagnoses), len(outcome.nodeids), tuple(changes), tuple(applied)))
        errors = f"{len(diagnoses)} error{'s' if len(diagnoses) != 1 else ''}"
        progress(f"pass {number}: {errors}: {'; '.join(changes + notes) or 'nothing left to change'}")
        if not changes:
            problem = "; ".join(["nothing left to change: these errors remain", *notes])
            break
        if prepare and any(change.startswith("python ") for change in changes):
            environment = prepare()  # another interpreter: the environment the sessions build on it
    if fix and not diagnoses and (unneeded := _unneeded_stubs(root, stubs_before)):
        outcome = _drop_stubs(root, unneeded, outcome, collect, fixes, progress)
    if any(item.kind == LIMITATION for item in diagnoses):
        limitation = "testfloor's stubs cannot stand in for the real modules here: install them, or skip these tests"
        problem = f"{problem}; {limitation}" if problem else limitation
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
        proposed or (),
        outcome.overrides,
    )


def _unneeded_stubs(root: Path, kept: Collection[str]) -> list[str]:
    """Name the stubs this run added (not in `kept`) that no file of the run imports any more.

    A file the run leaves out is a test module or conftest outside
    ``[tool.testfloor] testpaths``; every other file counts as imported.
    """
    from testfloor import imports

    config = load_config(root)
    added = [name for name in config.stubs if name not in kept]
    if not added or not config.testpaths:
        return []
    importers = imports.project_imports(root)

    def left_out(path: str) -> bool:
        name = path.rpartition("/")[2]
        test_file = name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")
        inside = any(path.startswith(f"{where.rstrip('/')}/") for where in config.testpaths)
        return test_file and not inside

    return [name for name in added if all(left_out(path) for path in importers.get(name, []))]


def _drop_stubs(
    root: Path,
    names: Sequence[str],
    outcome: Outcome,
    collect: Callable[[Path], Outcome],
    fixes: Counter[str],
    progress: Callable[[str], None],
) -> Outcome:
    """Remove `names` from the stubs; keep the change only if a final collect still passes as `outcome` did."""
    from testfloor import toolconfig

    snapshot = _snapshot(root)
    with toolconfig.editing(load_config(root).pyproject) as table:
        kept = [name for name in table["stubs"] if name not in names]
        if kept:
            table["stubs"] = kept
        else:
            del table["stubs"]
    after = collect(root)
    if after.errors or after.exitstatus != outcome.exitstatus or len(after.nodeids) < len(outcome.nodeids):
        _restore(snapshot)
        progress(f"kept stubs {', '.join(names)}: without them, the suite no longer collects as it did")
        return outcome
    fixes["stub"] -= len(names)
    if fixes["stub"] <= 0:
        del fixes["stub"]
    progress(f"removed stubs {', '.join(names)}: nothing the run collects imports them any more")
    return after


def propose(root: Path, diagnoses: Sequence[Diagnosis], *, install: bool) -> list[str]:
    """Name the fixes `apply_fixes` applies for `diagnoses`, as it records them: the same list in both modes.

    ``install X`` (``stub X`` with `install` off), ``stub X``, ``env``,
    ``python V``, ``pythonpath P``, ``subprojects``, ``testpaths``; and
    ``quarantine N`` for a project bug only when nothing else is left. A
    stub's limitation is never a fix (never a quarantine either).
    """
    fixable = [item for item in diagnoses if item.fix is not None]
    found: list[str] = []
    for item in fixable:
        if item.fix == "install" and not install:
            found.append(f"stub {item.subject}" if item.subject.isidentifier() else f"install {item.subject}")
        elif item.fix in ("install", "stub", "pythonpath"):
            found.append(f"{item.fix} {item.subject}")
        else:
            found.append(str(item.fix))
    bugs = [item for item in diagnoses if item.is_project_bug]
    if not found and bugs:
        config = load_config(root)
        if _by_hand_values(root, config, bugs):
            found.append("env")
        else:
            found.extend(f"quarantine {target}" for item in bugs if (target := quarantine_target(item)))
    return sorted(set(found))


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


def _heavy_imports(root: Path, environment: Environment, *, write: bool = True) -> list[str]:
    # An import inside a fixture or a test body is no collection error: found by reading the code instead.
    from testfloor import imports, toolconfig

    config = load_config(root)
    heavy = imports.heavy_absent(root, environment.python, config.stubs)
    if not write or not heavy:
        return heavy
    return toolconfig.extend_list(config.pyproject, "stubs", heavy)


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
    applied: list[str] | None = None,
    notes: list[str] | None = None,
) -> list[str]:
    """Apply the cheapest fix for each diagnosis; quarantine project bugs only once nothing else is left to fix.

    A diagnosis whose ``(fix, subject)`` is in `skip` (a fix that made things
    worse) is neither fixed nor quarantined: it is left as it is; so is an
    error a stub raised (testfloor's limitation, not the project's bug).
    `applied` receives the fixes as `propose` names them. A quarantine that
    would leave a run without tests is not made; `notes` says so.
    """
    applied = [] if applied is None else applied
    environment = environment or current_environment()
    from testfloor import toolconfig

    config = load_config(root)
    changes: list[str] = []
    by_fix: dict[str | None, list[Diagnosis]] = {}
    for item in diagnoses:
        if item.kind != LIMITATION and (item.fix is None or (item.fix, item.subject) not in skip):
            by_fix.setdefault(item.fix, []).append(item)
    stubs = sorted({item.subject for item in by_fix.get("stub", [])})
    light = sorted({item.subject for item in by_fix.get("install", [])})
    if light:
        installed, failed, refused = _install(root, light, environment) if install else ([], light, [])
        stubs += [module for module in failed if module.isidentifier()]  # a distribution name is no module
        if installed:
            changes.append(f"installed {', '.join(installed)} (recorded in {REQUIREMENTS})")
            fixes["install"] += len(installed)
            applied.extend(f"install {module}" for module in light if module not in failed)
        if refused:
            changes.append(f"refused to install {'; '.join(refused)}: stubbed instead")
    if stubs:
        added = toolconfig.extend_list(config.pyproject, "stubs", stubs)
        if added:
            changes.append(f"stubbed {', '.join(added)}")
            fixes["stub"] += len(added)
            applied.extend(f"stub {name}" for name in added)
    if by_fix.get("env"):
        added = _discover_env(root, config.pyproject, environment)
        if added:
            changes.append(f"{_count(len(added), 'env var')} ({', '.join(added)})")
            fixes["env"] += len(added)
            applied.append("env")
    if by_fix.get("placeholder") and (reshaped := _reshape(root, config, by_fix["placeholder"], environment, fixes)):
        changes.extend(reshaped)
        applied.append("placeholder")
    if by_fix.get("python") and (chosen := _choose_python(config, by_fix["python"], fixes)):
        changes.extend(chosen)
        applied.append("python")
    paths = sorted({item.subject for item in by_fix.get("pythonpath", [])})
    if paths and (added := toolconfig.extend_list(config.pyproject, "pythonpath", paths)):
        changes.append(f"pythonpath {', '.join(added)}")
        fixes["pythonpath"] += len(added)
        applied.extend(f"pythonpath {path}" for path in added)
    if by_fix.get("subprojects"):
        from testfloor.classify import find_subprojects

        found = find_subprojects(root)
        added = toolconfig.extend_list(config.pyproject, "subprojects", found) if found else []
        if added:
            changes.append(f"one run per sub-project: {', '.join(added)}")
            fixes["subprojects"] += 1
            applied.append("subprojects")
        elif config.import_mode is None:
            # Test modules of one name inside one tree of tests: importlib mode imports each by its own path.
            toolconfig.set_value(config.pyproject, "import_mode", "importlib")
            changes.append("import mode importlib (test modules of one name in one tree of tests)")
            fixes["import_mode"] += 1
            applied.append("subprojects")
    if by_fix.get("testpaths") and (
        restricted := _restrict_testpaths(root, config.pyproject, by_fix["testpaths"], by_fix, fixes)
    ):
        changes.extend(restricted)
        applied.append("testpaths")
    if not changes and (added := _read_by_hand(root, config, by_fix.get(None, []))):
        # Before a quarantine: an error at import may be a variable the code reads by hand and nobody set.
        changes.append(f"{_count(len(added), 'env var')} read by hand at import ({', '.join(added)})")
        fixes["env"] += len(added)
        applied.append("env")
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
            applied.extend(f"quarantine {node}" for node in added)
    applied[:] = sorted(set(applied))
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


def _stated_python(root: Path, fixes: Counter[str]) -> list[str]:
    # doctor collects on the newest Python: a check that stops older ones at import is read from the code instead.
    from testfloor import versioncheck

    stated = versioncheck.minimum(root)
    if stated is None:
        return []
    cause = f"requires Python {stated.version} ({stated.path}:{stated.line})"
    required = Diagnosis(stated.path, "python_version", stated.version, cause, stated.path, stated.line, "python")
    changes = _choose_python(load_config(root), [required], fixes)
    return [f"{change}, stated at {stated.path}:{stated.line}" for change in changes]


def _reshape(
    root: Path, config: Config, diagnoses: list[Diagnosis], environment: Environment, fixes: Counter[str]
) -> list[str]:
    """Give the variables testfloor set that the code rejects a value of the shape it needs, verified by importing."""
    from testfloor import placeholders, toolconfig

    values = placeholders.reshape(root, diagnoses, config.env, str(environment.python))
    if not values:
        return []
    with toolconfig.editing(config.pyproject, "env") as table:
        for name, value in values.items():
            if isinstance(table.get(name), dict):
                table[name]["value"] = value
            else:
                table[name] = value
    fixes["env"] += len(values)
    return [f"reshaped {', '.join(sorted(values))} (a placeholder in the format the code needs)"]


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _read_by_hand(root: Path, config: Config, diagnoses: Sequence[Diagnosis]) -> list[str]:
    from testfloor import settings_discovery

    values = _by_hand_values(root, config, diagnoses)
    return settings_discovery.write_env(config.pyproject, values) if values else []


def _by_hand_values(root: Path, config: Config, diagnoses: Sequence[Diagnosis]) -> dict[str, str]:
    from testfloor import handenv

    # The module that raised, then the project's code on the way there: `create_engine(os.environ.get(...))`
    # fails inside the library helper it calls, but the variable is read by the module that called it.
    paths: dict[str, int | None] = {}
    for item in diagnoses:
        places = [(item.path, item.line)] if item.path else []
        places += [(where, int(number)) for where, _, number in (place.rpartition(":") for place in item.trail)]
        for where, number in places:
            if where.endswith(".py"):
                paths.setdefault(where, number)
    return handenv.values_for(root, paths, lambda name: name not in os.environ and name not in config.env)


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
    """Describe the details: the environment, a table by class, what is quarantined, and why doctor stopped."""
    lines = [f"environment: {report.python}"]
    lines.extend(table(report.remaining))
    for node in report.quarantined:
        lines.append(f"  quarantined: {node}")
    if report.problem:
        lines.append(f"stopped: {report.problem}")
    return [scrub(line) for line in lines]


# How a fix of each kind is counted in the summary (a kind not listed here is shown by its name).
_FIX_NOUNS = {
    "stub": ("stub", "stubs"),
    "install": ("install", "installs"),
    "env": ("env var", "env vars"),
    "pythonpath": ("pythonpath entry", "pythonpath entries"),
    "python": ("python setting", "python settings"),
    "testpaths": ("testpaths setting", "testpaths settings"),
    "subprojects": ("subprojects setting", "subprojects settings"),
}


def summarise(report: Report) -> list[str]:
    """Sum up what ran, one line each: the status, tests collected, errors left, quarantined, fixes, commit, next.

    `Report.changed` and `Report.next` are the command's to fill in.
    """
    new = report.fixes.get("quarantine", 0)
    fixes = [
        f"{count} {_FIX_NOUNS.get(kind, (kind, kind))[count != 1]}"
        for kind, count in sorted(report.fixes.items())
        if kind != "quarantine"
    ]
    lines = [
        f"status: {report.status}",
        f"tests collected: {report.collected}",
        f"errors remaining: {len(report.remaining)}",
        f"quarantined: {len(report.quarantined)}" + (f" ({new} new)" if new else ""),
        f"fixes: {', '.join(fixes) or 'none'}",
        f"commit: {' '.join(report.changed) or 'nothing: no file changed'}",
    ]
    lines += [f"next: {report.next}"] if report.next else []
    return [scrub(line) for line in lines]


def summary(report: Report) -> dict[str, object]:
    """Return `summarise`'s lines as data, for ``--json``."""
    return {
        "collected": report.collected,
        "commit": list(report.changed),
        "errors": len(report.remaining),
        "fixes": dict(sorted(report.fixes.items())),
        "next": report.next,
        "quarantined": len(report.quarantined),
        "status": report.status,
    }


# The files doctor writes: what a run changed is what to commit.
WRITTEN = ("pyproject.toml", REQUIREMENTS)


def contents(root: Path) -> dict[str, bytes | None]:
    """Read the files doctor writes in `root` (`None`: absent), to compare with `changed` after a run."""
    return {name: (root / name).read_bytes() if (root / name).is_file() else None for name in WRITTEN}


def changed(root: Path, before: Mapping[str, bytes | None]) -> tuple[str, ...]:
    """Name the files of `before` (from `contents`) that hold something else now."""
    now = contents(root)
    return tuple(name for name in before if now.get(name) != before[name])


def next_step(root: Path, report: Report, *, fixed: bool) -> str:
    """Say what to run after ``doctor``: ``--fix``, the fixes that are the project's, ``init``, or the sessions."""
    if report.status == "failing":
        if report.remaining and not fixed:
            return "testfloor doctor --fix"
        return f"fix what is listed above, then run testfloor doctor{' --fix' if fixed else ''} again"
    noxfile = root / "noxfile.py"
    if not noxfile.is_file() or "testfloor" not in noxfile.read_text(encoding="utf-8", errors="replace"):
        return "testfloor init (the sessions, CI and the first baseline)"
    return "nox -s collect coverage baseline"


def table(diagnoses: Sequence[Diagnosis]) -> list[str]:
    """Count the errors by class, then list each with its cause, place and fix (or "project bug")."""
    lines = []
    for kind, count in sorted(Counter(item.kind for item in diagnoses).items()):
        lines.append(f"  {count:4d}  {kind}: {KINDS[kind][0]}")
    for item in diagnoses:
        fix = (
            f" [fix: {item.fix}]"
            if item.fix
            else " [project bug]"
            if item.is_project_bug
            else f" [testfloor's limitation: the stub of {item.subject or 'a module'}]"
        )
        lines.append(f"  {item.nodeid or '<root>'}: {item.cause} ({item.where}){fix}")
    return lines


def to_json(report: Report) -> str:
    """Render the report as versioned JSON, with numbers as numbers."""
    document = {
        "collected": report.collected,
        "exitstatus": report.exitstatus,
        "fixes": dict(sorted(report.fixes.items())),
        "format": FORMAT,
        "overrides": list(report.overrides),
        "passes": [asdict(item) for item in report.passes],
        "problem": report.problem,
        "proposed": list(report.proposed),
        "python": report.python,
        "quarantined": list(report.quarantined),
        "remaining": [asdict(item) for item in report.remaining],
        "status": report.status,
        "summary": summary(report),
    }
    return json.dumps(scrub_document(document), indent=2, sort_keys=True) + "\n"
