"""What a test's outcome becomes when it met a stub's value or a heavy module that is not installed."""

from __future__ import annotations

import inspect
import types
from typing import TYPE_CHECKING

from testfloor import stubs
from testfloor.classify import HEAVY

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    import pytest


def exercised_reason(module: str) -> str:
    """Return the skip reason of a test that made or used a value of the stubbed `module`."""
    return f"test exercised stubbed module {module!r} (not installed)"


def missing_reason(module: str) -> str:
    """Return the skip reason of a test that imported the heavy `module`, which is not installed."""
    return f"test needs heavy module {module!r} (not installed)"


def skip_reason(
    error: BaseException | None,
    exercised: Collection[str] = (),
    fixtures: Mapping[str, object] | None = None,
    stubbed: Collection[str] = (),
) -> str | None:
    """Return why a test's outcome is a skip, or `None` when its outcome stands.

    The rule: a test whose call made or used a stub value (`exercised`, from
    `testfloor.stubs.watch`), or that was given one by a fixture it requested
    (`fixtures`, the value or its items and attributes), ran code whose answers
    came from a module that is not there: passed or failed, it is skipped,
    naming the module. So is a test that raised `ModuleNotFoundError` for a
    heavy module (or one of `stubbed`) that is not installed. `error` is the
    exception the phase raised, if any.
    """
    if error is not None:
        chained = stubs.skip_reason(error)
        if chained is not None:
            return chained
        missing = _missing_heavy(error, stubbed)
        if missing is not None:
            return missing_reason(missing)
    module = min(exercised, default=None) or _held(fixtures or {})
    return None if module is None else exercised_reason(module)


def requested(item: pytest.Item) -> dict[str, object]:
    """Return the fixture values `item`'s test function asks for by name (not autouse or indirect fixtures)."""
    function = getattr(item, "function", None)
    values = getattr(item, "funcargs", {})
    try:
        names = inspect.signature(function).parameters if function is not None else {}
    except (TypeError, ValueError):  # a callable without a signature
        return {}
    return {name: values[name] for name in names if name in values}


def _missing_heavy(error: BaseException, stubbed: Collection[str]) -> str | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ModuleNotFoundError) and seen.name:
            top = seen.name.partition(".")[0]
            # A missing submodule of an installed package is a real error; only the package itself counts.
            if seen.name == top and (top in HEAVY or top in stubbed):
                return top
        seen = seen.__cause__ or seen.__context__
    return None


def _held(fixtures: Mapping[str, object]) -> str | None:
    # A fixture's stub value cannot be seen being used by `is` (`model is not None`): holding it is enough.
    for value in fixtures.values():
        for candidate in (value, *_parts(value)):
            if stubs.is_stub(candidate) and not isinstance(candidate, (type, types.ModuleType)):
                return stubs.stub_root(candidate)
    return None


def _parts(value: object) -> list[object]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    if stubs.is_stub(value) or isinstance(value, (type, types.ModuleType)):
        return []
    try:
        return list(vars(value).values())
    except Exception:  # no __dict__, or a proxy that cannot give one: nothing seen
        return []
