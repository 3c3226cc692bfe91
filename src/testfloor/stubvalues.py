"""What a stub is: stub classes and values that answer honestly, and the record of a test's use of them."""

from __future__ import annotations

import abc
import contextlib
import functools
import threading
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path


_MARK = "__testfloor_stub__"
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
def watch(sink: Path | None = None) -> Iterator[set[str]]:
    """Record, within the block, which stubbed modules' values are made or used; `strict` in this thread.

    Made: a stub class or stub value of the module is called (not as a decorator, not an exception class).
    Used: any operation on a stub value (attribute, truth, length, items, iteration, membership, hash,
    comparison, arithmetic, repr, format, pickle, ``isinstance`` against a stub class), and comparing a stub
    class with a string or a number. Counted in every thread and in subprocesses started with the
    environment `install` prepared, which report to `sink`. The yielded set holds the module names once the
    block ends.
    """
    exercised: set[str] = set()
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
