"""One asyncio event loop for the whole test session, whatever pytest-asyncio version the project has."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

FIXTURE_SCOPE_INI = "asyncio_default_fixture_loop_scope"
TEST_SCOPE_INI = "asyncio_default_test_loop_scope"


@dataclass(frozen=True)
class LoopPlan:
    """What to change so that async tests and fixtures share the loop of `scope`.

    `ini` holds ini values to set; `mark_tests` asks for a ``loop_scope``
    mark on every async test (pytest-asyncio 0.24 and 0.25 have no ini option
    for tests); `event_loop` names the ``event_loop`` fixture to provide:
    ``"compat"`` (1.x removed it: tests that still ask for it get the running
    loop) or ``"scoped"`` (0.21 shares a loop only through an override of it).
    `problem` says why nothing can be done.
    """

    installed: str | None
    scope: str
    ini: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    mark_tests: bool = False
    event_loop: str | None = None
    problem: str | None = None

    def describe(self) -> list[str]:
        """Say, one line a change, what this plan does and why."""
        if self.problem is not None:
            return [self.problem]
        why = f"one {self.scope} event loop for async tests and fixtures (pytest-asyncio {self.installed})"
        lines = [f"{name}={value}: {why}" for name, value in sorted(self.ini.items())]
        if self.mark_tests:
            lines.append(f"async tests marked asyncio(loop_scope={self.scope!r}): {why}")
        if self.event_loop == "compat":
            lines.append("event_loop fixture provided: pytest-asyncio 1.0 removed it; it returns the running loop")
        elif self.event_loop == "scoped":
            lines.append(f"event_loop fixture with {self.scope} scope: {why}")
        return lines


def installed_version() -> str | None:
    """Return the installed pytest-asyncio version, or `None` if it is not installed."""
    try:
        return version("pytest-asyncio")
    except PackageNotFoundError:
        return None


def _release(text: str) -> tuple[int, ...]:
    # "1.0.0rc1" -> (1, 0, 0); "0.26.dev3" -> (0, 26): the leading numbers are all the comparison needs.
    parts = []
    for part in text.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def plan(installed: str | None, scope: str) -> LoopPlan:
    """Choose the changes that give one loop of `scope` with pytest-asyncio `installed`.

    ``"keep"`` leaves the project's own settings alone. Measured per version:
    0.26 and 1.x take both default loop-scope options; 0.24 and 0.25 take the
    fixture option, and tests need a mark; 0.23 ties a fixture's loop to the
    fixture's own scope and cannot share one loop (pytest-asyncio #706);
    0.21 shares a loop through a scoped ``event_loop`` override.
    """
    if installed is None or scope == "keep":
        return LoopPlan(installed, scope)
    release = _release(installed)
    if release >= (0, 26):
        ini = {FIXTURE_SCOPE_INI: scope, TEST_SCOPE_INI: scope}
        compat = "compat" if release >= (1,) else None
        return LoopPlan(installed, scope, MappingProxyType(ini), event_loop=compat)
    if release >= (0, 24):
        return LoopPlan(installed, scope, MappingProxyType({FIXTURE_SCOPE_INI: scope}), mark_tests=True)
    if release >= (0, 22):
        problem = (
            f"pytest-asyncio {installed} cannot run async tests and fixtures in one {scope} loop "
            "(pytest-asyncio #706): upgrade to pytest-asyncio>=0.26"
        )
        return LoopPlan(installed, scope, problem=problem)
    return LoopPlan(installed, scope, event_loop="scoped" if scope != "function" else None)
