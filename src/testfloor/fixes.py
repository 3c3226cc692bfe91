"""The fixes ``testfloor doctor --fix`` applies for each kind of collection error, cheapest first.

Every fix goes into ``[tool.testfloor]`` of pyproject.toml (formatting kept)
or ``requirements-test.txt``. A project bug is quarantined only once nothing
else is left to fix, and never where it would leave a run without tests.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from testfloor.classify import LIMITATION, Diagnosis
from testfloor.config import Config, load_config
from testfloor.env import fresh, scrub
from testfloor.testenv import REQUIREMENTS, Environment, current_environment, requirement_name

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Collection, Sequence
    from pathlib import Path


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
        if item.fix == "install" and not install and item.kind == "missing_plugin":
            continue  # a stub comes too late for a plugin pytest loads with -p: without installing, no fix
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


def heavy_imports(root: Path, environment: Environment, *, write: bool = True) -> list[str]:
    # An import inside a fixture or a test body is no collection error: found by reading the code instead.
    from testfloor import imports, toolconfig

    config = load_config(root)
    heavy = imports.heavy_absent(root, environment.python, config.stubs)
    if not write or not heavy:
        return heavy
    return toolconfig.extend_list(config.pyproject, "stubs", heavy)


def configured_subprojects(root: Path) -> list[str]:
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
    notes = [] if notes is None else notes
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
        plugins = {item.subject for item in by_fix["install"] if item.kind == "missing_plugin"}
        modules = {item.subject for item in by_fix["install"] if item.names_a_module}
        installed, failed, refused = (
            _install(root, light, environment, plugins=plugins, modules=modules, notes=notes)
            if install
            else ([], light, [])
        )
        # A distribution name is no module; a stub comes too late for pytest's -p, which loads before any plugin.
        stubs += [module for module in failed if module.isidentifier() and module not in plugins]
        if install:
            notes.extend(f"plugin {module!r}: no distribution provides it" for module in failed if module in plugins)
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
        said = len(notes)
        added = _discover_env(root, config.pyproject, environment, notes)
        if not added and (by_hand := _read_by_hand(root, config, by_fix["env"])):
            # Discovery stopped where the settings module reads a variable by hand (after building its settings):
            # that variable first, discovery again on the next pass.
            del notes[said:]
            added = by_hand
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
    if by_fix.get("configure") and not config.configured:
        with toolconfig.editing(config.pyproject):
            pass  # the plugin repairs the run of a project with [tool.testfloor]: -p NAME no longer loads twice
        changes.append("added [tool.testfloor] (its plugin loads a plugin named with -p once)")
        applied.append("configure")
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
            notes.append(f"not quarantined: {', '.join(refused)} (no test would be left to run)")
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


def stated_python(root: Path, fixes: Counter[str]) -> list[str]:
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

    paths: dict[str, int | None] = {}
    for item in diagnoses:
        for where, line in item.places.items():
            paths.setdefault(where, line)
    # Unset as a fresh machine has it: a value only the shell running doctor sets is no value in CI.
    outer = fresh(os.environ)
    return handenv.values_for(root, paths, lambda name: name not in outer and name not in config.env)


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


def _install(
    root: Path,
    wanted: Sequence[str],
    environment: Environment,
    *,
    plugins: Collection[str] = (),
    modules: Collection[str] = (),
    notes: list[str] | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """Install the light `wanted` into `environment`; record the ones that installed in requirements-test.txt.

    A module in `plugins` is a pytest plugin (``-p NAME``): its distributions
    are `testfloor.classify.plugin_distributions`, tried in turn. An install
    for a module named by its error (in `modules`: not a distribution a
    message asks for by name) counts only once `environment` imports it: one
    that does not provide it is uninstalled, never recorded, and said in `notes`. Returns
    what installed, the modules that did not (to be stubbed), and the
    installs refused because they would pull in a heavy package.
    """
    import importlib.metadata

    from testfloor.classify import plugin_distributions
    from testfloor.dependencies import distribution_for, read_metadata

    # The name to install: as the project declares it (with its pin), else as this interpreter's packages provide it.
    metadata = read_metadata(root, backend=False)
    provided = importlib.metadata.packages_distributions()
    notes = [] if notes is None else notes
    installed: list[str] = []
    failed: list[str] = []
    refused: list[str] = []
    for module in wanted:
        plugin = module in plugins
        first = distribution_for(module, metadata, provided, plugin=plugin)
        names = [first, *(name for name in plugin_distributions(module)[1:] if plugin and name != first)]
        for name in names:  # the first that provides the module, and no other
            checked = "plugin" if plugin else "module" if module in modules else None
            if _install_one(root, module, name, environment, checked, notes, refused):
                installed.append(name)
                break
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


def _install_one(
    root: Path,
    module: str,
    name: str,
    environment: Environment,
    checked: str | None,
    notes: list[str],
    refused: list[str],
) -> bool:
    # Install `name` for `module`; with `checked` ("module" or "plugin"), kept only if the environment then has it.
    from testfloor import imports, testenv
    from testfloor.dependencies import heavy_module

    added = testenv.would_install(environment, [name], cwd=root) or []
    heavy = sorted({found for package in added if (found := heavy_module(package))})
    if heavy:
        # A light package that pulls in a heavy one would bring back what the stubs keep out: refused.
        refused.append(f"{name} (it pulls in {', '.join(heavy)})")
        return False
    if not testenv.try_install(environment, [name], cwd=root):
        return False
    if checked is None or not imports.absent(environment.python, [module], plugins=checked == "plugin"):
        return True  # a distribution a message asked for by name ("pip install pyyaml") has no module to check
    # A namesake on the index (xdist 0.0.2 for pytest-xdist's module): installed, yet the module is still missing.
    testenv.uninstall(environment, [requirement_name(name)], cwd=root)
    notes.append(f"{name} installed but does not provide {checked} {module!r}: uninstalled")
    return False


def _discover_env(root: Path, pyproject: Path, environment: Environment, notes: list[str]) -> list[str]:
    from testfloor import settings_discovery
    from testfloor.errors import DiscoveryError

    config = load_config(root, environ=os.environ)
    try:
        discovery = settings_discovery.discover(
            root, (), environ=fresh(os.environ), declared=config.env, python=str(environment.python)
        )
    except DiscoveryError as err:
        # The settings errors stay; why no values were found is said with them.
        notes.append(f"settings discovery failed: {scrub(str(err), config.env)}")
        return []
    return settings_discovery.write_env(pyproject, discovery.values)
