"""``testfloor doctor``: collect, classify every error, fix the environment, and collect again until it is clean.

Every fix goes into ``[tool.testfloor]`` of pyproject.toml (formatting kept)
or ``requirements-test.txt``; no other file of the project is touched. Bugs
of the project itself are never "fixed": they are reported with file, line
and cause, and quarantined so that the rest of the suite runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from testfloor.classify import LIMITATION, Diagnosis, classify, stable
from testfloor.collect import STATUS_MEANING, CollectError, Outcome, merge, read_outcome, relocate
from testfloor.config import ROOT_VARIABLE, load_config
from testfloor.doctorreport import Pass, Report, contents
from testfloor.env import fresh, scrub
from testfloor.errors import CollectionError
from testfloor.fixes import apply_fixes, configured_subprojects, heavy_imports, propose, stated_python
from testfloor.testenv import Environment, current_environment

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

# A line that is a repr: pluggy's dict of plugins after "Plugin already registered", a list, a module.
_DUMP = re.compile(r"\s*(?:INTERNALERROR>|E )?\s*[{\[<(]")
# "ValueError: ...", "ERROR: ...", "E   ModuleNotFoundError: ...", "INTERNALERROR> ...": what stopped pytest.
_ERROR_LINE = re.compile(r"^(?:E\s+)?(?:ERROR:|INTERNALERROR>|[\w.]*(?:Error|Exception|Exit|Failure):)")


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
        # As a fresh clone in CI would run it: without what the shell that runs doctor happens to set.
        environ = {**fresh(os.environ), **(extra or {}), **({ROOT_VARIABLE: str(root)} if sub_project else {})}
        result = subprocess.run(command, cwd=root, env=environ, capture_output=True, text=True, check=False)
        try:
            return read_outcome(report)
        except CollectionError:
            message = error_line(result.stdout + result.stderr) or f"pytest exited with status {result.returncode}"
            message = scrub(stable(message, root), load_config(root).env)
            return Outcome(result.returncode, (), (CollectError("", message),))


def error_line(output: str) -> str | None:
    """Return the line of `output` that says why pytest stopped: its last error line, else its last line.

    A line that is a dump (pluggy prints its dict of plugins after
    "Plugin already registered") is never chosen: it says nothing, and holds
    memory addresses.
    """
    lines = [line.strip() for line in output.splitlines() if line.strip() and not _DUMP.match(line)]
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    return next(reversed(errors or lines), None)


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
    previous: set[tuple[str, str, str]] = set()
    problem: str | None = None
    proposed: tuple[str, ...] | None = None
    stubs_before = set(load_config(root).stubs)
    if fix and not load_config(root).configured:
        # testfloor repairs a project's pytest configuration only where the project asks for it.
        from testfloor import toolconfig

        with toolconfig.editing(root / "pyproject.toml"):
            pass
        progress("added [tool.testfloor] to pyproject.toml")
    if fix and (stated := stated_python(root, fixes)):
        progress(stated[0])
        if prepare:
            environment = prepare()  # the sessions' Pythons changed: the environment they build on the newest
    # Without --fix, the heavy imports found by reading the code are stubbed for the probe only, as --fix stubs
    # them before its first collect: both see the same errors, and propose the same fixes.
    heavy = heavy_imports(root, environment, write=fix)
    unwritten = () if fix else tuple(heavy)
    collect = collect or (
        (lambda where: probe(where, environment.python, unwritten))
        if unwritten
        else (lambda where: probe(where, environment.python))
    )
    if fix and heavy:
        fixes["stub"] += len(heavy)
        progress(f"stubbed {', '.join(heavy)} (heavy, imported by the project, not installed)")
    if fix and (own := configured_subprojects(root)):
        fixes["subprojects"] += 1
        progress(f"one run per sub-project with its own pytest settings: {', '.join(own)}")
    number = 0
    # The fix loop only moves forward: a pass whose changes bring new errors is undone, and its fixes not tried again.
    before: tuple[dict[str, bytes | None], list[Diagnosis], tuple[str, ...]] | None = None
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
            _restore(root, snapshot)
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
        # With the subject: pytest stops at the first missing -p plugin, so the next one is progress, not the same.
        current = {(item.nodeid, item.kind, item.subject) for item in diagnoses}
        # The same errors after a pass are no progress only when that pass repeated the kind of fix before it: a
        # variable read by hand comes first, then discovery can find the settings that failed with the same errors.
        stalled = current == previous and len(passes) >= 2 and passes[-1].applied == passes[-2].applied
        if not fix or number > max_passes or stalled:
            done = f"{number - 1} pass{'es' if number - 1 != 1 else ''}"
            problem = None if not fix else f"stopped after {done}: these errors remain"
            break
        previous = current
        before = (contents(root), diagnoses, outcome.nodeids)
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

    snapshot = contents(root)
    with toolconfig.editing(load_config(root).pyproject) as table:
        kept = [name for name in table["stubs"] if name not in names]
        if kept:
            table["stubs"] = kept
        else:
            del table["stubs"]
    after = collect(root)
    if after.errors or after.exitstatus != outcome.exitstatus or len(after.nodeids) < len(outcome.nodeids):
        _restore(root, snapshot)
        progress(f"kept stubs {', '.join(names)}: without them, the suite no longer collects as it did")
        return outcome
    fixes["stub"] -= len(names)
    if fixes["stub"] <= 0:
        del fixes["stub"]
    progress(f"removed stubs {', '.join(names)}: nothing the run collects imports them any more")
    return after


def _worse(collected: Collection[str], now: Sequence[Diagnosis]) -> bool:
    # An error in a module that collected before: what the last pass changed did harm. (An error in a module the
    # last pass let pytest reach for the first time is progress: the first error hides the next.)
    modules = {nodeid.split("::")[0] for nodeid in collected}
    return any(item.nodeid in modules for item in now)


def _restore(root: Path, snapshot: Mapping[str, bytes | None]) -> None:
    # Put back the files doctor writes as `contents` read them before a pass.
    from testfloor import atomic

    for name, content in snapshot.items():
        path = root / name
        if content is None:
            path.unlink(missing_ok=True)
        elif not path.is_file() or path.read_bytes() != content:
            with atomic.replacing(path) as temporary:
                temporary.write_bytes(content)


def describe_environment(root: Path, environment: Environment) -> str:
    """Name the environment a report was made in: its path relative to `root` when inside it, and its Python."""
    try:
        where = environment.location.relative_to(root).as_posix()
    except ValueError:
        where = str(environment.python)
    return f"{where} (Python {environment.version})"
