"""Environment variables a project reads by hand at import time, and the values it documents for them.

Not every project reads its configuration through pydantic-settings: a module
that does ``create_engine(os.environ.get("DATABASE_URL"))`` at import fails
with an error that names no variable (``ArgumentError: ... got None``). The
failing module's source says which variables it reads (``os.environ[...]``,
``os.environ.get``, ``os.getenv`` outside any function); the project often
documents a value for them (``.env.example``, a Makefile, docker-compose, its
CI workflow), which is preferred to a placeholder made from the name.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

# Where projects document their variables, in the order their values are preferred.
DOCUMENTS = (".env.example", ".env.sample", ".env.template", ".env.dist", "env.example", "example.env")
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+|-\s+)?([A-Z][A-Z0-9_]*)\s*(?:\?=|:=|=|:)\s*(.*?)\s*$")


def read_at_import(source: str) -> dict[str, int]:
    """Return the variables `source` reads with ``os.environ``/``os.getenv`` outside any function, and their lines.

    A read with a default other than `None` is left out: it cannot fail.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    found: dict[str, int] = {}
    for node in _outside_functions(tree):
        name = variable_read(node)
        if name is not None and name not in found and isinstance(node, (ast.Subscript, ast.Call)):
            found[name] = node.lineno
    return found


def _outside_functions(tree: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        yield child
        yield from _outside_functions(child)


def variable_read(node: ast.AST) -> str | None:
    """Return the variable `node` reads from the environment without a default (``os.environ["X"]``), or None."""
    # os.environ["X"]
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        return _literal(node.slice)
    if not isinstance(node, ast.Call) or not node.args:
        return None
    function = node.func
    getter = (isinstance(function, ast.Attribute) and function.attr == "get" and _is_environ(function.value)) or (
        _dotted(function) in ("os.getenv", "getenv")
    )
    default = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "default"), None)
    if not getter or (default is not None and not (isinstance(default, ast.Constant) and default.value is None)):
        return None
    return _literal(node.args[0])


def _is_environ(node: ast.AST) -> bool:
    return _dotted(node) in ("os.environ", "environ")


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value else None


def documented(root: Path, names: set[str]) -> dict[str, str]:
    """Return the values the project documents for `names`: env examples, Makefile, compose files, CI workflows."""
    files = [root / name for name in DOCUMENTS] + [root / "Makefile"]
    files += sorted(root.glob("*compose*.y*ml")) + sorted((root / ".github" / "workflows").glob("*.y*ml"))
    values: dict[str, str] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for line in text.splitlines():
            match = _ASSIGNMENT.match(line)
            if match and match.group(1) in names and match.group(1) not in values:
                value = match.group(2).strip().strip("'\"")
                if value and "$" not in value and not value.startswith("#"):  # a reference to another value: no use
                    values[match.group(1)] = value
    return values


def values_for(root: Path, paths: Mapping[str, int | None], unset: Callable[[str], bool]) -> dict[str, str]:
    """Return a value for each unset variable read at import by the project files `paths` (path -> failing line).

    The variables read on the failing line come first, then the others of the same module; `unset` tells
    whether a variable has no value yet (neither in the environment nor declared).
    """
    from testfloor import placeholders

    wanted: dict[str, str | None] = {}
    for relative, line in paths.items():
        try:
            source = (root / relative).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        reads = read_at_import(source)
        ordered = sorted(reads, key=lambda name: (reads[name] != line, reads[name]))
        used = placeholders.usage(source)
        wanted.update({name: placeholders.shape_for(name, used) for name in ordered if unset(name)})
    known = documented(root, set(wanted))
    # The shape the code needs first: a documented value of another shape (a sync URL for an async engine) waits.
    return {
        name: placeholders.candidates(name, used=shape, documented=known.get(name))[0] for name, shape in wanted.items()
    }
