"""Per-package knowledge for stubs: real behaviour for common guards and decorators, and stub versions."""

from __future__ import annotations

import importlib
import re
import sys
from typing import TYPE_CHECKING, Any

from testfloor import stubs

if TYPE_CHECKING:
    import types
    from collections.abc import Callable, Iterable
    from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10, whose coverage is combined with the others
    import tomli as tomllib


class StubVersion(str):
    """A stub's ``__version__``: a string that compares with PEP 440 semantics against str, tuple and Version."""

    __slots__ = ()

    def _compare(self, other: object) -> tuple[Any, Any] | None:
        if isinstance(other, tuple):
            other = ".".join(map(str, other))
        elif not isinstance(other, str):
            other = str(other) if type(other).__name__ == "Version" else None
        if other is None:
            return None
        return _parse_version(str(self)), _parse_version(other)

    def __lt__(self, other: object) -> bool:
        pair = self._compare(other)
        return NotImplemented if pair is None else bool(pair[0] < pair[1])

    def __le__(self, other: object) -> bool:
        pair = self._compare(other)
        return NotImplemented if pair is None else bool(pair[0] <= pair[1])

    def __gt__(self, other: object) -> bool:
        pair = self._compare(other)
        return NotImplemented if pair is None else bool(pair[0] > pair[1])

    def __ge__(self, other: object) -> bool:
        pair = self._compare(other)
        return NotImplemented if pair is None else bool(pair[0] >= pair[1])

    def __eq__(self, other: object) -> bool:
        pair = self._compare(other)
        return NotImplemented if pair is None else bool(pair[0] == pair[1])

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__


def _parse_version(text: str) -> Any:
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover - packaging comes with pytest; this is for bare subprocesses
        return tuple(int(part) for part in text.split(".") if part.isdigit())
    try:
        return Version(text)
    except InvalidVersion:
        return Version("0")


_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?")
_LOWER_BOUND = re.compile(r"(?:===|==|~=|>=)\s*([0-9][A-Za-z0-9.+!]*)")


def declared_versions(root: Path) -> dict[str, str]:
    """Read the pinned or lowest allowed version of each dependency the project at `root` declares.

    Sources: ``[project]`` dependencies and optional dependencies in
    pyproject.toml, then ``requirements*.txt``; the first declaration wins.
    Keys are import names guessed from distribution names (``"torch"``).
    """
    lines: list[str] = []
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        lines.extend(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            lines.extend(extra)
    for requirements in sorted(root.glob("requirements*.txt")):
        lines.extend(requirements.read_text(encoding="utf-8").splitlines())
    versions: dict[str, str] = {}
    for line in lines:
        name = _NAME.match(line)
        bound = _LOWER_BOUND.search(line.split(";")[0]) if name else None
        if name and bound:
            versions.setdefault(re.sub(r"[-.]+", "_", name[1]).lower(), bound[1])
    return versions


# numba: the decorators hand back the plain Python function; prange is range.
def passthrough(*args: Any, **kwargs: Any) -> Any:
    """Act as a decorator (``@njit``) or a decorator factory (``@jit(nopython=True)``) that changes nothing."""
    if len(args) == 1 and not kwargs and callable(args[0]):
        return args[0]
    return _identity


def _identity(function: Any) -> Any:
    return function


# ray: remote functions and actors run in this process, synchronously.
class ObjectRef:
    """The result of a ``.remote()`` call, already computed."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"ObjectRef({self.value!r})"


class RemoteFunction:
    """A function (or actor method) decorated with ``@ray.remote``."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function

    def remote(self, *args: Any, **kwargs: Any) -> ObjectRef:
        """Run the function now and return its result as an `ObjectRef`."""
        return ObjectRef(self.function(*args, **kwargs))

    def options(self, **_options: Any) -> RemoteFunction:
        """Accept ray's options and ignore them."""
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("remote functions cannot be called directly; use .remote() (testfloor's ray stub)")


class ActorClass(RemoteFunction):
    """A class decorated with ``@ray.remote``: ``.remote()`` makes an `ActorHandle`."""

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle:  # type: ignore[override]
        """Make the actor in this process."""
        return ActorHandle(self.function(*args, **kwargs))


class ActorHandle:
    """An actor: each method has ``.remote()``."""

    def __init__(self, instance: object) -> None:
        self.instance = instance

    def __getattr__(self, name: str) -> RemoteFunction:
        if name.startswith("__"):
            raise AttributeError(name)
        return RemoteFunction(getattr(self.instance, name))


def remote(*args: Any, **kwargs: Any) -> Any:
    """``@ray.remote`` and ``@ray.remote(num_cpus=...)``."""
    if len(args) == 1 and not kwargs and callable(args[0]):
        return _remote(args[0])
    return _remote


def _remote(target: Callable[..., Any]) -> RemoteFunction:
    return ActorClass(target) if isinstance(target, type) else RemoteFunction(target)


def get(refs: object, **_options: Any) -> Any:
    """``ray.get``: the value of an `ObjectRef`, or of each in a list."""
    if isinstance(refs, list):
        return [get(ref) for ref in refs]
    if isinstance(refs, ObjectRef):
        return refs.value
    raise TypeError(f"ray.get() takes an ObjectRef or a list of them, got {type(refs).__name__}")


def put(value: object, **_options: Any) -> ObjectRef:
    """``ray.put``."""
    return ObjectRef(value)


def wait(refs: Iterable[ObjectRef], *, num_returns: int = 1, **_options: Any) -> tuple[list[ObjectRef], list[Any]]:
    """``ray.wait``: every ref is ready."""
    ready = list(refs)
    return ready[:num_returns], ready[num_returns:]


_RAY = {"initialized": False}


def init(*_args: Any, **_options: Any) -> None:
    """``ray.init``."""
    _RAY["initialized"] = True


def shutdown(*_args: Any, **_options: Any) -> None:
    """``ray.shutdown``."""
    _RAY["initialized"] = False


def is_initialized() -> bool:
    """``ray.is_initialized``."""
    return _RAY["initialized"]


# torch and lightning: calling a module runs its forward; the CUDA and MPS guards say "no GPU".
def _call_forward(self: Any, *args: Any, **kwargs: Any) -> Any:
    return self.forward(*args, **kwargs)


def _module_class(name: str, module: str) -> Any:
    torch_nn = sys.modules.get("torch.nn")
    bases = (torch_nn.Module,) if stubs.is_stub(torch_nn) else (stubs.StubObject,)  # type: ignore[union-attr]
    body = {"__module__": module, "__qualname__": name, "__call__": _call_forward, "__testfloor_stub__": True}
    return stubs.StubMeta(name, bases, body)


class GradMode:
    """What ``torch.no_grad()`` and its kin return: a context manager and a decorator that change nothing."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None

    def __call__(self, function: Any) -> Any:
        return function


def grad_mode(*args: Any, **kwargs: Any) -> Any:
    """``with torch.no_grad():``, ``@torch.no_grad()``, ``@torch.no_grad``: no stub value, so no skip."""
    if len(args) == 1 and not kwargs and callable(args[0]):
        return args[0]
    return GradMode()


def _nothing(*_args: Any, **_kwargs: Any) -> None:
    return None


def _no(*_args: Any, **_kwargs: Any) -> bool:
    return False


def _none(*_args: Any, **_kwargs: Any) -> int:
    return 0


_LIGHTNING = {"LightningModule": lambda module: _module_class("LightningModule", module)}
# Submodules imported with their package (as the real packages do), so attribute access finds them.
SUBMODULES: dict[str, tuple[str, ...]] = {
    "torch": ("nn", "cuda", "backends"),
    "torch.backends": ("mps",),
    "lightning": ("pytorch",),
    "gymnasium": ("spaces",),
    "gym": ("spaces",),
}
# Attributes set on a stub module when it is made: name -> factory(module name) -> value.
ATTRIBUTES: dict[str, dict[str, Callable[[str], object]]] = {
    "numba": {
        **{
            name: lambda _module: passthrough
            for name in ("jit", "njit", "vectorize", "guvectorize", "cfunc", "generated_jit", "stencil", "overload")
        },
        "prange": lambda _module: range,
    },
    "ray": {
        **{
            name: lambda _module, value=value: value  # type: ignore[misc]
            for name, value in {
                "remote": remote,
                "get": get,
                "put": put,
                "wait": wait,
                "init": init,
                "shutdown": shutdown,
                "is_initialized": is_initialized,
                "ObjectRef": ObjectRef,
            }.items()
        },
    },
    "torch": {
        **{
            name: lambda _module: grad_mode for name in ("no_grad", "enable_grad", "inference_mode", "set_grad_enabled")
        },
        # Settings a test makes for their effect, not their value: no stub value, so no skip.
        **{
            name: lambda _module: _nothing
            for name in (
                "manual_seed",
                "set_num_threads",
                "set_default_dtype",
                "use_deterministic_algorithms",
                "set_float32_matmul_precision",
            )
        },
    },
    "torch.nn": {"Module": lambda module: _module_class("Module", module)},
    "torch.cuda": {
        "is_available": lambda _module: _no,
        "device_count": lambda _module: _none,
        **{name: lambda _module: _nothing for name in ("manual_seed", "manual_seed_all", "empty_cache", "synchronize")},
    },
    "torch.backends.mps": {"is_available": lambda _module: _no, "is_built": lambda _module: _no},
    "lightning": {"LightningModule": lambda _module: importlib.import_module("lightning.pytorch").LightningModule},
    "lightning.pytorch": _LIGHTNING,
    "pytorch_lightning": _LIGHTNING,
}


def apply(module: types.ModuleType) -> None:
    """Give the stub `module` its package's shims, if testfloor has any."""
    name = module.__name__
    for submodule in SUBMODULES.get(name, ()):
        importlib.import_module(f"{name}.{submodule}")
    for attribute, make in ATTRIBUTES.get(name, {}).items():
        setattr(module, attribute, make(name))
