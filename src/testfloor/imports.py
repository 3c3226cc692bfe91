"""Every module a project imports, wherever it does (module level, in functions, importlib), and which are absent."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from testfloor.classify import HEAVY

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

# Directories that hold no code of the project: environments, caches, build output.
_SKIP = {"build", "dist", "node_modules", "venv", "site-packages", "__pycache__"}
_IMPORTERS = {"import_module", "__import__"}
_FIND = (
    "import importlib.util, json, sys\n"
    "def absent(name):\n"
    "    try:\n"
    "        spec = importlib.util.find_spec(name)\n"
    "    except (ImportError, ValueError):\n"
    "        return True\n"
    "    return spec is None or spec.loader is None\n"
    "print(json.dumps([name for name in sys.argv[1:] if absent(name)]))\n"
)
# A `-p NAME` loads the pytest11 entry point of that name (pytest-randomly's "randomly"), else the module NAME.
_FIND_PLUGIN = _FIND.replace(
    "if absent(name)",
    "if absent(name) and not importlib.metadata.entry_points(group='pytest11', name=name)",
).replace("import importlib.util,", "import importlib.metadata, importlib.util,")


def python_files(root: Path) -> Iterator[Path]:
    """Yield the project's Python files under `root`, leaving out hidden directories, environments and caches."""
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if not name.startswith(".") and name not in _SKIP and not (Path(directory, name) / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(directory, name)


def imported_names(source: str) -> set[str]:
    """Return the top-level modules `source` imports: ``import``/``from`` anywhere, and importlib with a literal.

    Relative imports are the project's own and are left out; so is a file that does not parse.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and _imports_a_literal(node):
            names.add(node.args[0].value)  # type: ignore[attr-defined]
    return {name.partition(".")[0] for name in names if name}


def _imports_a_literal(call: ast.Call) -> bool:
    function = call.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    first = call.args[0] if call.args else None
    return name in _IMPORTERS and isinstance(first, ast.Constant) and isinstance(first.value, str)


def project_imports(root: Path) -> dict[str, list[str]]:
    """Map each top-level module the project at `root` imports, and does not provide itself, to its importers.

    Importers are root-relative POSIX paths. A name the project provides (a
    ``name.py`` or a ``name/`` directory of Python files anywhere in it) and
    the standard library are left out.
    """
    files = list(python_files(root))
    local = {path.stem for path in files} | {path.parent.name for path in files}
    found: dict[str, list[str]] = {}
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for name in imported_names(source):
            if name not in local and name not in sys.stdlib_module_names:
                found.setdefault(name, []).append(path.relative_to(root).as_posix())
    return dict(sorted(found.items()))


def absent(python: str | Path, names: Iterable[str], *, plugins: bool = False) -> list[str]:
    """Return which of `names` the interpreter `python` cannot import (asked in isolated mode, from no directory).

    With `plugins`, a name is a pytest plugin's (``-p NAME``): present too
    when an installed ``pytest11`` entry point has that name.
    """
    wanted = sorted(set(names))
    if not wanted:
        return []
    command = [str(python), "-I", "-c", _FIND_PLUGIN if plugins else _FIND, *wanted]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return list(json.loads(result.stdout))


def heavy_absent(root: Path, python: str | Path, configured: Sequence[str] = ()) -> list[str]:
    """Return the heavy modules the project at `root` imports anywhere that `python` lacks and are not yet stubs.

    What ``doctor --fix`` stubs before collecting: an import inside a fixture
    or a test body never shows up as a collection error.
    """
    heavy = [name for name in project_imports(root) if name in HEAVY and name not in configured]
    return absent(python, heavy)
