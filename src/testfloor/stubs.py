"""Stub modules for heavy dependencies that are not installed: a finder, a loader, and installing them."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import json
import os
import re
import shutil
import sys
import tempfile
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, MutableMapping, Sequence


from testfloor import stubvalues

# What a stub is lives in stubvalues; these names stay importable from here.
from testfloor.stubvalues import _RECORDER as _RECORDER
from testfloor.stubvalues import _STATE as _STATE
from testfloor.stubvalues import StubMeta as StubMeta
from testfloor.stubvalues import StubModule as StubModule
from testfloor.stubvalues import StubObject as StubObject
from testfloor.stubvalues import StubUsedError as StubUsedError
from testfloor.stubvalues import is_stub as is_stub
from testfloor.stubvalues import make_class as make_class
from testfloor.stubvalues import strict as strict
from testfloor.stubvalues import stub_root as stub_root

ENV_VAR = "_TESTFLOOR_STUBS"  # private: TESTFLOOR_* variables are user settings
DEFAULT_VERSION = "99.0.0"
ORIGIN = "stub"
_OWN_FRAMES = ("importlib", "testfloor.stubs", "testfloor.stubvalues", "testfloor.shims")

_INSTALLED: list[tuple[StubFinder, Path | None, dict[str, str | None], MutableMapping[str, str] | None]] = []
_IMPORTERS: dict[str, set[str]] = {}


def _sink() -> Path | None:
    directory = _INSTALLED[-1][1] if _INSTALLED else None
    return None if directory is None else directory / "used"


@contextlib.contextmanager
def watch() -> Iterator[set[str]]:
    """Record which stubbed modules a test exercised (`testfloor.stubvalues.watch`), its subprocesses included."""
    with stubvalues.watch(_sink()) as exercised:
        yield exercised


class StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads stub modules for the configured top-level `names` and their submodules.

    It sits first on `sys.meta_path`. In ``"missing"`` mode it asks the other
    finders first and stubs a top-level name only when they find nothing or just
    a namespace package (an empty same-named directory must not hide the stub).
    In ``"always"`` mode it stubs the names unconditionally. A submodule is
    stubbed only when its parent is a stub: a missing submodule of a real
    package stays a real `ModuleNotFoundError`.
    """

    def __init__(self, names: Sequence[str], mode: str = "missing", versions: Mapping[str, str] | None = None) -> None:
        self.names = tuple(names)
        self.mode = mode
        self.versions = dict(versions or {})

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """Return a stub spec for `fullname`, or `None` to let the real finders import it."""
        top, dot, _rest = fullname.partition(".")
        if top not in self.names:
            return None
        if dot:
            if not isinstance(sys.modules.get(fullname.rpartition(".")[0]), StubModule):
                return None
        elif self.mode == "missing" and self._real_spec(fullname, path, target):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, origin=ORIGIN, is_package=True)

    def _real_spec(self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None) -> bool:
        for finder in sys.meta_path:
            if isinstance(finder, StubFinder) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                # A namespace package (no origin) is what an empty same-named directory gives.
                return spec.origin is not None or spec.submodule_search_locations is None
        return False

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        """Make the empty stub module; the import system sets its spec, loader and ``__path__``."""
        return StubModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        """Fill in the module: ``__file__``, ``__version__``, attributes made earlier, shims; record the importer."""
        from testfloor import shims

        name = module.__name__
        # A path, because code does `Path(torch.__file__).parent`; nothing is written there.
        module.__file__ = os.path.join(tempfile.gettempdir(), "testfloor-stubs", *name.split("."), "__init__.py")
        module.__dict__["__all__"] = []
        parent, _dot, attribute = name.rpartition(".")
        if parent:
            # `torch.nn.Module` used before `import torch.nn` must stay the same class afterwards.
            earlier = vars(sys.modules[parent]).get(attribute)
            if isinstance(earlier, StubMeta):
                for key, value in vars(earlier).items():
                    if is_stub(value):
                        setattr(module, key, value)
        else:
            module.__dict__["__version__"] = shims.StubVersion(self.versions.get(name, DEFAULT_VERSION))
        _IMPORTERS.setdefault(name.partition(".")[0], set()).add(_importer())
        shims.apply(module)


def _importer() -> str:
    # The first frame outside the import system and testfloor is the module doing the import.
    frame = sys._getframe(2)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(_OWN_FRAMES):
        frame = frame.f_back
    return str(frame.f_globals.get("__name__", "?"))


# The generated sitecustomize of subprocesses and xdist workers. It imports nothing of testfloor until a
# stubbed name is imported: a pytest worker would otherwise warn that its plugin cannot be rewritten.
SITECUSTOMIZE = f'''\
"""Installs testfloor's stub finder on the first import of a stubbed name; runs the sitecustomize it shadows."""
import importlib.machinery, json, os, sys


class _Bootstrap:
    testfloor_bootstrap = True

    def __init__(self, names):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] not in self.names:
            return None
        sys.meta_path.remove(self)
        try:
            from testfloor.stubs import install_from_environ
        except ImportError:
            return None
        finder = install_from_environ(os.environ)
        return None if finder is None else finder.find_spec(fullname, path, target)


try:
    sys.meta_path.insert(0, _Bootstrap(json.loads(os.environ.get({ENV_VAR!r}, "{{}}"))["names"]))
except (ValueError, KeyError, TypeError):
    pass
_here = os.path.dirname(os.path.abspath(__file__))
_rest = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _here]
_spec = importlib.machinery.PathFinder.find_spec("sitecustomize", _rest)
if _spec is not None and _spec.loader is not None:
    _spec.loader.exec_module(sys.modules[__name__])
'''


def install(
    names: Sequence[str],
    mode: str = "missing",
    *,
    versions: Mapping[str, str] | None = None,
    environ: MutableMapping[str, str] | None = None,
) -> StubFinder:
    """Put a `StubFinder` for `names` first on `sys.meta_path`, replacing any earlier one; return it.

    In ``"always"`` mode, modules of those names imported already are dropped
    from `sys.modules` first. With `environ`, Python subprocesses started with
    it install the same finder: a generated ``sitecustomize`` directory is
    prepended to its ``PYTHONPATH``. `uninstall` undoes all of this.
    """
    uninstall()
    sys.meta_path[:] = [entry for entry in sys.meta_path if not getattr(entry, "testfloor_bootstrap", False)]
    finder = StubFinder(names, mode, versions)
    if mode == "always":
        for name in [name for name in sys.modules if name.partition(".")[0] in finder.names]:
            del sys.modules[name]
    sys.meta_path.insert(0, finder)
    directory: Path | None = None
    before: dict[str, str | None] = {}
    if environ is not None:
        directory = Path(tempfile.mkdtemp(prefix="testfloor-stubs-"))
        (directory / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        before = {key: environ.get(key) for key in (ENV_VAR, "PYTHONPATH")}
        payload = {
            "mode": mode,
            "names": list(finder.names),
            "used": str(directory / "used"),
            "versions": finder.versions,
        }
        environ[ENV_VAR] = json.dumps(payload, sort_keys=True)
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(directory), before["PYTHONPATH"]]))
    _INSTALLED.append((finder, directory, before, environ))
    return finder


def install_from_environ(environ: Mapping[str, str]) -> StubFinder | None:
    """Install the finder described by ``_TESTFLOOR_STUBS`` in `environ`; `None` if it is absent or unreadable."""
    try:
        payload = json.loads(environ.get(ENV_VAR, ""))
        finder = install(payload["names"], payload["mode"], versions=payload["versions"])
    except (ValueError, KeyError, TypeError):
        return None
    # A subprocess of a test: the values it makes or uses count for that test (see `watch`).
    _RECORDER.sink = Path(payload["used"]) if isinstance(payload.get("used"), str) else None
    return finder


def uninstall() -> None:
    """Remove the finder, the stub modules it made and the subprocess set-up of `install`."""
    while _INSTALLED:
        finder, directory, before, environ = _INSTALLED.pop()
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
        for name in [name for name, module in sys.modules.items() if isinstance(module, StubModule)]:
            del sys.modules[name]
        if environ is not None:
            for key, value in before.items():
                if value is None:
                    environ.pop(key, None)
                else:
                    environ[key] = value
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
    _IMPORTERS.clear()
    _RECORDER.sink = None
    _RECORDER.sent.clear()


def active() -> StubFinder | None:
    """Return the installed finder, if any."""
    return _INSTALLED[-1][0] if _INSTALLED else None


def imported_by() -> dict[str, list[str]]:
    """Return, for each stubbed top-level name, the modules that imported it or hold one of its stubs."""
    found = {name: set(importers) for name, importers in _IMPORTERS.items()}
    for name, module in list(sys.modules.items()):
        if isinstance(module, StubModule) or not isinstance(module, types.ModuleType):
            continue
        for value in list(vars(module).values()):
            if is_stub(value):
                found.setdefault(stub_root(value), set()).add(name)
    return {name: sorted(importers) for name, importers in sorted(found.items())}


def status(names: Sequence[str]) -> dict[str, str]:
    """Say for each of `names` whether it is ``"stubbed"``, ``"installed"`` (real) or ``"not imported"``."""
    result = {}
    for name in names:
        module = sys.modules.get(name)
        result[name] = "not imported" if module is None else "stubbed" if is_stub(module) else "installed"
    return result


def planned(names: Sequence[str]) -> dict[str, str]:
    """Say for each of `names` whether importing it gives ``"stubbed"`` or ``"installed"`` (real), importing nothing.

    What the header can say before collection, when most stubbed names are not imported yet.
    """
    finder = active()
    result = {}
    for name in names:
        module = sys.modules.get(name)
        if module is not None:
            stubbed = is_stub(module)
        else:
            stubbed = finder is not None and (finder.mode == "always" or not finder._real_spec(name, None, None))
        result[name] = "stubbed" if stubbed else "installed"
    return result


def skip_reason(error: BaseException) -> str | None:
    """Return the skip reason for a test that raised `error`, if a `StubUsedError` is it or caused it."""
    seen: BaseException | None = error
    while seen is not None and not isinstance(seen, StubUsedError):
        seen = seen.__cause__ or seen.__context__
    return None if seen is None else f"test exercised stubbed module {seen.module!r} (not installed)"


_REASON = re.compile(r"test exercised stubbed module '([\w]+)' \(not installed\)")


def count_skips(reports: Sequence[Any]) -> dict[str, int]:
    """Count skipped test `reports` by the stubbed module their `skip_reason` names."""
    counts: dict[str, int] = {}
    for report in reports:
        match = _REASON.search(str(report.longrepr))
        if match:
            counts[match[1]] = counts.get(match[1], 0) + 1
    return dict(sorted(counts.items()))


REPORT_FORMAT = 1


def write_report(path: str | Path, names: Sequence[str], mode: str) -> None:
    """Write, as versioned JSON, the `status` of each configured stub and the modules that imported it."""
    from testfloor import atomic

    importers = imported_by()
    stubs = {name: {"imported_by": importers.get(name, []), "status": state} for name, state in status(names).items()}
    document = {"format": REPORT_FORMAT, "mode": mode, "stubs": stubs}
    atomic.write_text(Path(path), json.dumps(document, indent=2, sort_keys=True) + "\n")
