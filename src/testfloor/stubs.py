"""Stub modules for heavy dependencies that are not installed: a finder, a loader and honest stub values."""

from __future__ import annotations

import abc
import contextlib
import functools
import importlib.abc
import importlib.machinery
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence

ENV_VAR = "_TESTFLOOR_STUBS"  # private: TESTFLOOR_* variables are user settings
DEFAULT_VERSION = "99.0.0"
ORIGIN = "stub"
_MARK = "__testfloor_stub__"
_OWN_FRAMES = ("importlib", "testfloor.stubs", "testfloor.shims")
_PLAIN = (str, bytes, int, float, complex)
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Exit", "Interrupt")
# What a pure stub returns as a decorator: the decorated object itself.
_DECORATABLE = (
    types.FunctionType,
    types.MethodType,
    types.BuiltinFunctionType,
    staticmethod,
    classmethod,
    property,
    type,
    functools.partial,
)


class StubUsedError(BaseException):
    """A test used the value of a stub (its truth, length, items, number or arithmetic).

    A `BaseException`, like pytest's own skip, so that a test's ``except Exception``
    cannot turn it into a pass; the plugin reports the test as skipped.
    """

    def __init__(self, module: str, what: str) -> None:
        super().__init__(f"{what}: module {module!r} is a test stub (not installed)")
        self.module = module


class _State(threading.local):
    strict = False


class _Recorder:
    """The stubbed modules whose values were made or used while a test ran: in any thread, and in subprocesses.

    Not thread-local: a value used in a worker thread counts. A subprocess started by the test (with the
    environment `install` prepared) appends the module names to `sink`, the file its parent reads back.
    """

    def __init__(self) -> None:
        self.active = False
        self.modules: set[str] = set()
        self.sink: Path | None = None
        self.sent: set[str] = set()


_STATE = _State()
_RECORDER = _Recorder()
_INSTALLED: list[tuple[StubFinder, Path | None, dict[str, str | None], MutableMapping[str, str] | None]] = []
_IMPORTERS: dict[str, set[str]] = {}


def is_stub(obj: object) -> bool:
    """Tell whether `obj` is a stub module, a stub class or an instance of one (a user subclass is not)."""
    # type(), not isinstance(): isinstance reads `__class__`, which lazy proxies compute (and may raise).
    kind = type(obj)
    if issubclass(kind, StubModule):
        return True
    cls = obj if issubclass(kind, StubMeta) else kind
    return issubclass(type(cls), StubMeta) and _MARK in vars(cls)


def stub_root(obj: object) -> str:
    """Return the top-level module name a stub belongs to (``"torch"`` for ``torch.nn.Module``)."""
    name = (
        obj.__name__ if isinstance(obj, types.ModuleType) else (obj if isinstance(obj, type) else type(obj)).__module__
    )
    return name.partition(".")[0]


@contextlib.contextmanager
def strict() -> Iterator[None]:
    """Within the block, using a stub's value raises `StubUsedError` (the plugin wraps each test call)."""
    before, _STATE.strict = _STATE.strict, True
    try:
        yield
    finally:
        _STATE.strict = before


def _touch(obj: object) -> None:
    # A stub value was made or used: the test's outcome says nothing about the code it ran.
    if not (_RECORDER.active or _RECORDER.sink):
        return
    module = stub_root(obj)
    if _RECORDER.active:
        _RECORDER.modules.add(module)
    if _RECORDER.sink is not None and module not in _RECORDER.sent:
        _RECORDER.sent.add(module)
        with contextlib.suppress(OSError), _RECORDER.sink.open("a", encoding="utf-8") as sink:
            sink.write(f"{module}\n")


@contextlib.contextmanager
def watch() -> Iterator[set[str]]:
    """Record, within the block, which stubbed modules' values are made or used; `strict` in this thread.

    Made: a stub class or stub value of the module is called (not as a decorator, not an exception class).
    Used: any operation on a stub value (attribute, truth, length, items, iteration, membership, hash,
    comparison, arithmetic, repr, format, pickle, ``isinstance`` against a stub class), and comparing a stub
    class with a string or a number. Counted in every thread and in subprocesses started with the
    environment `install` prepared. The yielded set holds the module names once the block ends.
    """
    exercised: set[str] = set()
    sink = _sink()
    if sink is not None:
        sink.write_text("", encoding="utf-8")
    _RECORDER.modules = set()
    _RECORDER.active = True
    try:
        with strict():
            yield exercised
    finally:
        _RECORDER.active = False
        exercised |= _RECORDER.modules
        if sink is not None:
            with contextlib.suppress(OSError):  # removed by the test: its subprocesses could not report either
                exercised |= set(sink.read_text(encoding="utf-8").split())


def _sink() -> Path | None:
    directory = _INSTALLED[-1][1] if _INSTALLED else None
    return None if directory is None else directory / "used"


def _use(obj: object, what: str) -> None:
    _touch(obj)
    if _STATE.strict:
        raise StubUsedError(stub_root(obj), f"{what} on {obj!r}")


class StubMeta(abc.ABCMeta):
    """The metaclass of stub classes: derived from ABCMeta so that ``ABC`` mixins do not conflict."""

    def __getattr__(cls, name: str) -> Any:
        # Dunder and private names stay missing, so that probes (pydantic, typing, pickle) behave.
        if name.startswith("_"):
            raise AttributeError(name)
        # On a user subclass (`class Net(torch.nn.Module)`) the missing attribute belongs to the stub it derives
        # from: `Net().parameters` is torch's, and a test that uses it exercised torch, not the user's module.
        origin = next((base for base in cls.__mro__ if _MARK in vars(base)), cls)
        child = make_class(name, origin.__module__, f"{origin.__qualname__}.{name}")
        type.__setattr__(origin, name, child)
        return child

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if _MARK in vars(cls):
            if _decorated(args, kwargs):
                return args[0]
            if not issubclass(cls, BaseException):  # an exception instance is a real one
                _touch(cls)
        return super().__call__(*args, **kwargs)

    def __instancecheck__(cls, instance: Any) -> bool:
        # `isinstance(torch.tensor([1]), torch.Tensor)` has no true answer; `isinstance(1, torch.Tensor)` has.
        if is_stub(instance) and not isinstance(instance, type):
            _touch(instance)
        return super().__instancecheck__(instance)

    # A stub class is a name: compared with itself, a class or a typing form, identity is the honest answer.
    # Compared with a string or a number (`Status.FAILED.value == "FAILED"`, `torch.version.cuda >= 11`) it
    # stands for a value it does not have.
    def __eq__(cls, other: object) -> bool:
        if _MARK not in vars(cls) or not isinstance(other, _PLAIN):
            return super().__eq__(other)
        _touch(cls)
        return False

    def __ne__(cls, other: object) -> bool:
        return not cls == other

    __hash__ = abc.ABCMeta.__hash__

    def _order(cls, other: object) -> Any:
        if _MARK not in vars(cls):
            return NotImplemented
        _use(cls, "comparison")
        return False

    __lt__ = __le__ = __gt__ = __ge__ = _order

    def __bool__(cls) -> bool:
        # An exception class is there to be caught, not used: `pytest.raises(torch.cuda.OutOfMemoryError)` asks
        # whether it was given one (always in the call form, in the `with` form too before pytest 8.4).
        if _MARK not in vars(cls) or issubclass(cls, BaseException):
            return True
        _use(cls, "truth value")
        return False

    def __len__(cls) -> int:
        if _MARK not in vars(cls):
            raise TypeError(f"object of type {type(cls).__name__!r} has no len()")
        _use(cls, "len()")
        return 0

    def __iter__(cls) -> Iterator[Any]:
        if _MARK not in vars(cls):
            raise TypeError(f"{cls.__name__!r} class is not iterable")
        _use(cls, "iteration")
        return iter(())

    def __getitem__(cls, item: object) -> Any:
        # `Tensor[...]`, `ndarray[Any, dtype]`: the class stands for its parametrisations.
        if _MARK not in vars(cls):
            class_getitem = getattr(cls, "__class_getitem__", None)
            if class_getitem is None:
                raise TypeError(f"type {cls.__name__!r} is not subscriptable")
            return class_getitem(item)
        return cls

    def __repr__(cls) -> str:
        if _MARK not in vars(cls):
            return super().__repr__()
        return f"<stub class {cls.__module__}.{cls.__qualname__}>"


def _decorated(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
    return len(args) == 1 and not kwargs and isinstance(args[0], _DECORATABLE)


class StubObject(metaclass=StubMeta):
    """The base of stub classes: instances accept any arguments and are falsy, empty and opaque."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        child = getattr(type(self), name)
        _touch(child)
        return child

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _MARK not in vars(type(self)):
            raise TypeError(f"{type(self).__name__!r} object is not callable")
        if _decorated(args, kwargs):
            return args[0]
        _touch(self)
        return type(self)()

    def __repr__(self) -> str:
        if _MARK not in vars(type(self)):
            return object.__repr__(self)
        _touch(self)  # recorded, not raised: a repr is how failures and logs describe a value
        return f"<stub {type(self).__module__}.{type(self).__qualname__} instance>"

    def __format__(self, spec: str) -> str:
        if _MARK not in vars(type(self)):
            return object.__format__(self, spec)
        _use(self, "formatting")
        return format(repr(self), spec)

    def __hash__(self) -> int:
        if _MARK in vars(type(self)):
            _touch(self)  # a dict key or set member: which entry it finds is no answer
        return object.__hash__(self)

    def __reduce_ex__(self, protocol: Any) -> Any:
        if _MARK in vars(type(self)):
            _touch(self)  # a pickle round trip of an empty object proves nothing
        return object.__reduce_ex__(self, protocol)

    def __bool__(self) -> bool:
        if _MARK not in vars(type(self)):
            return True
        _use(self, "truth value")
        return False

    def __eq__(self, other: object) -> bool:
        if other is not self and _MARK in vars(type(self)):
            _use(self, "comparison")
        return other is self

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def _value_method(name: str, lenient: Callable[[StubObject], object]) -> Any:
    def method(self: StubObject, *args: object) -> Any:
        if _MARK not in vars(type(self)):
            if args and name not in _CONTAINER:  # `in` would take NotImplemented for True
                return NotImplemented
            raise TypeError(f"{type(self).__name__!r} object does not support {name}")
        _use(self, name.strip("_"))
        return lenient(self)

    method.__name__ = name
    return method


def _renew(self: StubObject) -> object:
    return type(self)()


# Value extraction and arithmetic: lenient while modules import, an honest error inside a test.
_LENIENT: dict[str, Callable[[StubObject], object]] = {
    "__len__": lambda _self: 0,
    "__float__": lambda _self: 0.0,
    "__int__": lambda _self: 0,
    "__index__": lambda _self: 0,
    "__complex__": lambda _self: 0j,
    "__iter__": lambda _self: iter(()),
    "__contains__": lambda _self: False,
    "__getitem__": _renew,
    "__setitem__": lambda _self: None,
    "__delitem__": lambda _self: None,
}
_CONTAINER = frozenset({"__contains__", "__getitem__", "__setitem__", "__delitem__"})
_BINARY = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor", "lshift", "rshift")
_LENIENT.update({f"__{op}__": _renew for op in _BINARY})
_LENIENT.update({f"__r{op}__": _renew for op in _BINARY})
_LENIENT.update({f"__{op}__": _renew for op in ("lt", "le", "gt", "ge", "neg", "pos", "abs", "invert")})
for _name, _lenient in _LENIENT.items():
    setattr(StubObject, _name, _value_method(_name, _lenient))


def make_class(
    name: str, module: str, qualname: str | None = None, namespace: Mapping[str, Any] | None = None
) -> StubMeta:
    """Make the stub class `module`.`qualname` (default `name`).

    Names ending in Error, Exception, Exit or Interrupt derive from `Exception`
    (so ``except torch.cuda.OutOfMemoryError:`` works), names ending in Warning
    from `Warning`, the others from `StubObject`. `namespace` adds attributes.
    """
    if name.endswith(_EXCEPTION_SUFFIXES):
        bases: tuple[type, ...] = (Exception,)
    elif name.endswith("Warning"):
        bases = (Warning,)
    else:
        bases = (StubObject,)
    body = {"__module__": module, "__qualname__": qualname or name, _MARK: True, **(namespace or {})}
    return StubMeta(name, bases, body)


class StubModule(types.ModuleType):
    """A stub module: any public attribute is a stub class, made once and cached."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(f"stub module {self.__name__!r} has no attribute {name!r}")
        child = make_class(name, self.__name__)
        setattr(self, name, child)
        return child

    def __repr__(self) -> str:
        return f"<stub module {self.__name__!r}>"


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
