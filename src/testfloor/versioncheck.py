"""The Python version a project's code states it needs at import, read from its ``sys.version_info`` checks.

``doctor`` collects on the newest of the project's Pythons: a module that
does ``if sys.version_info < (3, 12): raise RuntimeError(...)`` at import
never fails there, yet every session on an older Python would. The check
is read from the code instead, as a stated requirement (never a bug).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING

from testfloor.imports import python_files

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# Exceptions that stop an import: a check raising one of these is a requirement, one that warns is not.
_STOPS = {"RuntimeError", "ImportError", "SystemExit", "Exception", "OSError", "EnvironmentError"}


@dataclass(frozen=True)
class Requirement:
    """A module that refuses to import below a Python version: where, and the version as ``"3.12"``."""

    path: str
    line: int
    version: str


def requirements(root: Path) -> list[Requirement]:
    """Return every module-level version check under `root` that stops the import, in file order."""
    found = []
    for path in python_files(root):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        relative = path.relative_to(root).as_posix()
        found += [Requirement(relative, line, version) for line, version in _checks(tree)]
    return found


def minimum(root: Path) -> Requirement | None:
    """Return the check that asks for the newest Python, or None when the code states none."""
    found = requirements(root)
    return max(found, key=lambda item: tuple(int(part) for part in item.version.split("."))) if found else None


def _checks(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in _module_level(tree.body):
        if not isinstance(node, ast.If):
            continue
        stated = _compared(node.test)
        if stated is None:
            continue
        below, version = stated
        # "< (3, 12)" stops in its body; ">= (3, 12)" stops in its else.
        if _stops(node.body if below else node.orelse):
            yield node.lineno, version


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    # What runs at import: the module's statements, and those inside a top-level try (the usual guard).
    for node in body:
        yield node
        if isinstance(node, ast.Try):
            yield from _module_level(node.body)


def _compared(test: ast.expr) -> tuple[bool, str] | None:
    """Return (True when the condition means "too old", "3.12") for ``sys.version_info OP (3, 12)``."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and _is_version_info(test.left)):
        return None
    operator, right = test.ops[0], test.comparators[0]
    if not (isinstance(right, ast.Tuple) and len(right.elts) >= 2):
        return None
    values = [element.value for element in right.elts[:2] if isinstance(element, ast.Constant)]
    parts = [value for value in values if isinstance(value, int) and not isinstance(value, bool)]
    if len(parts) != 2:
        return None
    version = f"{parts[0]}.{parts[1]}"
    if isinstance(operator, ast.Lt):
        return True, version
    if isinstance(operator, ast.GtE):
        return False, version
    return None


def _is_version_info(node: ast.expr) -> bool:
    # sys.version_info, or version_info imported from sys; sys.version_info[:2] compares the same way.
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr == "version_info" and isinstance(node.value, ast.Name) and node.value.id == "sys"
    return isinstance(node, ast.Name) and node.id == "version_info"


def _stops(body: list[ast.stmt]) -> bool:
    for node in body:
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = raised.attr if isinstance(raised, ast.Attribute) else getattr(raised, "id", "")
            if name in _STOPS or name.endswith("Error"):
                return True
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            called = node.value.func
            # sys.exit("needs 3.12") stops the import as a raise does.
            if isinstance(called, ast.Attribute) and called.attr == "exit":
                return True
    return False
