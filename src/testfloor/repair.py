"""Apply testfloor's repairs of the project's test configuration to a live pytest run."""

from __future__ import annotations

import copy
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest

from testfloor import loopscope
from testfloor.pytestconfig import (
    Override,
    convert_like,
    read_ini_sections,
    registered_markers,
    set_ini,
    split_addopts,
    stranded_options,
    used_markers,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence
    from types import ModuleType

    from testfloor.config import Config

# Plugin modules a `-p NAME` loaded whose `pytest11` entry point was skipped: module name -> entry point name.
LOADED_TWICE: pytest.StashKey[dict[str, str]] = pytest.StashKey()


def before_conftests(config: pytest.Config, parser: pytest.Parser, args: list[str], settings: Config) -> list[Override]:
    """Drop addopts that cannot run here, register unknown ini keys, apply the path settings; return what changed.

    Runs in ``pytest_load_initial_conftests``, the hook pytest gives plugins
    to change the command line before it is parsed for good.
    """
    addopts = [str(token) for token in config.getini("addopts")]
    _namespace, unknown = parser.parse_known_and_unknown_args(addopts)
    new_args, overrides = split_addopts(args, addopts, unknown)
    if overrides:
        args[:] = new_args
        # Parse again, as pytest did just before this hook: plugins (pytest-cov) and the conftest loader read
        # this namespace, and a value like "auto" in "-n auto" was taken for a path while "-n" was unknown.
        confcutdir = config.known_args_namespace.confcutdir
        config.known_args_namespace = parser.parse_known_args(args, namespace=copy.copy(config.option))
        config.known_args_namespace.confcutdir = confcutdir
    overrides += _unknown_ini_keys(config, parser) + _paths(config, args, settings)
    _leave_out(config, args, settings)  # after _paths, which may set testpaths
    return overrides + [
        Override(
            f"plugins: -p {module}",
            f"installed plugin {entry!r} is the same module: loaded once, its entry point skipped",
        )
        for module, entry in sorted(config.stash.get(LOADED_TWICE, {}).items())
    ]


def skip_entry_point(module: str, manager: pytest.PytestPluginManager) -> None:
    """Skip the ``pytest11`` entry point that would register the plugin module `module` a second time.

    A ``-p pytest_randomly`` in addopts loads the module under its own name;
    pytest then loads the installed plugins' entry points, and pluggy refuses
    the same module under a second name (pytest-randomly's is ``randomly``):
    ``ValueError: Plugin already registered under a different name``. Both
    happen before any hook but ``pytest_plugin_registered``, so the entry
    point is blocked there, in a project that asks testfloor for repairs;
    `before_conftests` reports it.
    """
    config = cast("pytest.Config", manager.get_plugin("pytestconfig"))  # registered by the Config itself
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") or getattr(
        config.known_args_namespace, "disable_plugin_autoload", False
    ):
        return  # no entry point is loaded: the module is registered once
    entry = _entry_point_of(module)
    if entry is None or not _asks_for_repairs(config):
        return
    manager.set_blocked(entry)
    config.stash.setdefault(LOADED_TWICE, {})[module] = entry


def _entry_point_of(module: str) -> str | None:
    from importlib.metadata import entry_points

    names = [entry.name for entry in entry_points(group="pytest11") if entry.value.strip() == module]
    return next((name for name in names if name != module), None)


def _asks_for_repairs(config: pytest.Config) -> bool:
    from testfloor.config import find_project_root, load_config
    from testfloor.errors import ConfigError

    try:
        return load_config(find_project_root(config.rootpath, os.environ), environ=os.environ).configured
    except ConfigError:
        return True  # a [tool.testfloor] it cannot read: stopping on that, in one line, says more than pluggy does


def _leave_out(config: pytest.Config, args: list[str], settings: Config) -> None:
    # pytest collects the paths it is given, and `testpaths`, whatever pytest_ignore_collect says: a quarantined
    # directory among them is taken out (unless it is all there is: an empty list would mean the whole rootdir).
    # The quarantine's own override says what is left out.
    if not settings.quarantine:
        return
    testpaths = [str(entry) for entry in config.getini("testpaths")]
    kept = [entry for entry in testpaths if not quarantined(config, settings, config.rootpath / entry)]
    if kept and kept != testpaths:
        set_ini(config, "testpaths", kept, replace=True)
    given = [str(entry) for entry in config.known_args_namespace.file_or_dir]
    invoked = config.invocation_params.dir
    dropped = [entry for entry in given if quarantined(config, settings, invoked / entry.split("::")[0])]
    if dropped and len(dropped) < len(given):
        args[:] = [arg for arg in args if arg not in dropped]
        config.known_args_namespace.file_or_dir = [entry for entry in given if entry not in dropped]


def _paths(config: pytest.Config, args: list[str], settings: Config) -> list[Override]:
    overrides = []
    for entry in settings.pythonpath:
        path = str((settings.root / entry).resolve())
        if path not in sys.path:
            sys.path.insert(0, path)
            overrides.append(Override(f"pythonpath: added {entry}", "the tests import modules that live there"))
    own, root = config.rootpath.resolve(), settings.root.resolve()
    if own != root and own.is_relative_to(root):
        overrides += _own_first(own, root)
    if settings.testpaths:
        set_ini(config, "testpaths", list(settings.testpaths), replace=True)
        shown = ", ".join(settings.testpaths)
        overrides.append(Override(f"testpaths: {shown}", "only these directories hold tests"))
    if settings.import_mode is not None:
        args.append(f"--import-mode={settings.import_mode}")
        config.known_args_namespace.importmode = settings.import_mode
        overrides.append(
            Override(f"import mode: {settings.import_mode}", "test modules or conftests share an import name")
        )
    return overrides


def _own_first(own: Path, root: Path) -> list[Override]:
    # A sub-project's tests import its modules as they would if pytest were started in it (`python -m pytest`): from
    # its root and its src directory, first on sys.path even where editable installs put them (or a sibling's root,
    # with a package of the same name) there already.
    src = own / "src"
    wanted = [own, *([src] if src.is_dir() and not (src / "__init__.py").exists() else [])]
    if sys.path[: len(wanted)] == [str(path) for path in wanted]:
        return []
    overrides = []
    for path in wanted:
        where = path.relative_to(root).as_posix()
        change = f"pythonpath: added {where}" if str(path) not in sys.path else f"pythonpath: put {where} first"
        overrides.append(Override(change, "a sub-project's tests import its own modules, not a sibling's"))
    sys.path[:0] = [str(path) for path in wanted]
    _forget_siblings(wanted, root)
    return overrides


def _forget_siblings(wanted: Sequence[Path], root: Path) -> None:
    # A module of the sub-project's name already imported from elsewhere in the project (a sibling sub-project) would
    # be reused by every import of that name: forgotten, with its submodules, it is imported again from `wanted`.
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        places = [Path(file).parent] if file else [Path(entry) for entry in getattr(module, "__path__", [])]
        inside = [place.resolve() for place in places if place.resolve().is_relative_to(root)]
        if "." in name or not inside or any(place.is_relative_to(path) for place in inside for path in wanted):
            continue
        if any((path / name).is_dir() or (path / f"{name}.py").is_file() for path in wanted):
            for loaded in [loaded for loaded in sys.modules if loaded == name or loaded.startswith(f"{name}.")]:
                del sys.modules[loaded]


def quarantine_override(settings: Config) -> Override:
    """Say what the quarantine leaves out."""
    nodes = ", ".join(entry.node for entry in settings.quarantine)
    return Override(f"quarantine: {nodes}", "project bugs, listed with their reasons in [tool.testfloor] quarantine")


def quarantined(config: pytest.Config, settings: Config, path: Path) -> bool:
    """Tell whether `path` is a module or directory the settings quarantine (a quarantined conftest: its directory)."""
    try:
        relative = path.resolve().relative_to(settings.root.resolve()).as_posix()
    except ValueError:
        return False
    return any(_governed(entry.node) == relative for entry in settings.quarantine)


def _governed(node: str) -> str:
    # A conftest serves its whole directory: quarantining it quarantines what imports it.
    return node.removesuffix("/conftest.py")


class QuarantinedConftests(importlib.abc.MetaPathFinder):
    """Give the conftest of a quarantined directory an empty module instead of running it.

    pytest imports the conftests of its arguments, their ``test*``
    directories and their parents before it asks what to collect: leaving a
    directory out of collection does not keep its conftest from running.
    """

    def __init__(self, paths: Collection[Path]) -> None:
        self.paths = frozenset(paths)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.rpartition(".")[2] != "conftest":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or Path(spec.origin).resolve() not in self.paths:
            return None
        return importlib.util.spec_from_file_location(fullname, spec.origin, loader=_Empty())


class _Empty(importlib.abc.Loader):
    def exec_module(self, module: ModuleType) -> None:
        """Run nothing: the module stays empty."""


def blank_conftests(settings: Config) -> QuarantinedConftests | None:
    """Install, first on ``sys.meta_path``, a finder that empties the conftests of quarantined directories."""
    root = settings.root.resolve()
    paths = [root / _governed(entry.node) / "conftest.py" for entry in settings.quarantine]
    found = [path for path in paths if path.is_file()]
    if not found:
        return None
    finder = QuarantinedConftests(found)
    sys.meta_path.insert(0, finder)
    return finder


def deselect_quarantined(config: pytest.Config, settings: Config, items: list[pytest.Item]) -> None:
    """Deselect the quarantined test nodes (quarantined modules are never collected)."""
    nodes = tuple(entry.node for entry in settings.quarantine if "::" in entry.node)
    if not nodes:
        return
    dropped = [item for item in items if item.nodeid.startswith(nodes)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


def _unknown_ini_keys(config: pytest.Config, parser: pytest.Parser) -> list[Override]:
    # Under --strict-config an unknown key stops the run; otherwise it warns (an error under filterwarnings=error).
    if config.inipath is None:
        return []
    own, sections = read_ini_sections(config.inipath)
    overrides = []
    for key in sorted(sections.get(own, {}) if own else {}):
        if not _is_known(config, key):
            parser.addini(key, "unknown to every installed plugin; declared by testfloor for this run")
            overrides.append(Override(f"ini: declared unknown key {key!r}", "no installed plugin knows it"))
    return overrides


def _is_known(config: pytest.Config, key: str) -> bool:
    try:
        config.getini(key)
    except ValueError:
        return False
    return True


def loop_scope(config: pytest.Config, scope: str) -> loopscope.LoopPlan:
    """Apply the loop plan for the installed pytest-asyncio and return it."""
    plan = loopscope.plan(loopscope.installed_version(), scope)
    for name, value in plan.ini.items():
        set_ini(config, name, value)
    if plan.event_loop == "compat":
        from testfloor import asyncio_compat

        config.pluginmanager.register(asyncio_compat, "testfloor-event-loop")
    elif plan.event_loop == "scoped":
        from testfloor.asyncio_compat import scoped_event_loop

        config.pluginmanager.register(scoped_event_loop(scope), "testfloor-event-loop")
    return plan


def loop_override(line: str) -> Override:
    """Turn a line of `LoopPlan.describe` into an `Override`."""
    change, _, reason = line.partition(": ")
    return Override(f"asyncio: {change}", reason or "see above")


def stranded(config: pytest.Config) -> list[Override]:
    """Apply pytest options written in the wrong section of ``pytest.ini``; report the ones no plugin knows."""
    if config.inipath is None:
        return []
    overrides = []
    for section, key, value in stranded_options(config.inipath):
        where = f"written under [{section}] in {config.inipath.name}, where pytest never reads it"
        shown = " ".join(value.split())  # one line, even for a multi-line value
        if not _is_known(config, key):
            ignored = Override(f"ini: ignored stranded {key} = {shown}", f"{where}; no installed plugin knows it")
            overrides.append(ignored)
            continue
        set_ini(config, key, convert_like(config.getini(key), value))
        overrides.append(Override(f"ini: applied stranded {key} = {shown}", where))
    return overrides


def markers(config: pytest.Config) -> list[Override]:
    """Register markers the tests use but nobody declared (``--strict-markers`` would stop collection)."""
    declared = registered_markers(config.getini("markers"))
    paths = [Path(arg.split("::", 1)[0]) for arg in config.args]
    missing = sorted(used_markers(paths) - declared)
    for name in missing:
        config.addinivalue_line("markers", f"{name}: used by the tests, not declared (testfloor)")
    return [Override(f"markers: registered {name!r}", "used by the tests but never declared") for name in missing]


def mark_async_tests(items: list[pytest.Item], scope: str) -> None:
    """Run every async test in the loop of `scope` (pytest-asyncio 0.24 and 0.25 have no option for it)."""
    from pytest_asyncio import is_async_test

    check: Callable[[pytest.Item], bool] = is_async_test
    for item in items:
        if check(item):
            item.add_marker(pytest.mark.asyncio(loop_scope=scope))


HEADER_WIDTH = 120  # characters of a pytest header line; `nox -s collect` logs every override in full


def header_lines(overrides: Sequence[Override], width: int = HEADER_WIDTH) -> list[str]:
    """Return one short header line per kind of override (``addopts``, ``quarantine`` ...), in order of first use.

    The changes of a kind are joined; a line longer than `width` is cut
    after its last whole item, and says where the rest is listed.
    """
    kinds: dict[str, list[str]] = {}
    for override in overrides:
        kind, _, detail = override.change.partition(": ")
        kinds.setdefault(kind, []).append(detail)
    return [_shortened(f"testfloor overrides: {kind}: {'; '.join(details)}", width) for kind, details in kinds.items()]


def _shortened(line: str, width: int) -> str:
    if len(line) <= width:
        return line
    more = " ... (nox -s collect lists them all)"
    kept = line[: width - len(more)]
    cut = max(kept.rfind("; "), kept.rfind(", "))
    return (kept[:cut] if cut > 0 else kept) + more
