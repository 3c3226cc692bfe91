"""Where a project keeps its tests and its importable code, read from its configuration and its files."""

from __future__ import annotations

import configparser
import glob
import os
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from testfloor.pytestconfig import read_ini_sections

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from testfloor.config import Config

# Test modules as pytest's default ``python_files`` finds them.
_TEST_FILE = re.compile(r"(test_.*|.*_test)\.py\Z")
# Directories that start a tree of tests: ``tests``, ``test``, ``testing``, ``unit_tests``, ``tests_e2e`` ...
_TEST_DIR = re.compile(r"(tests?|testing|.*_tests?|tests?_.*)\Z")
# Top-level modules that are scripts or test configuration, not code the project imports.
_SCRIPTS = {"setup.py", "noxfile.py", "conftest.py", "manage.py", "fabfile.py"}
_GLOB = re.compile(r"[*?[]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# pytest's default ``norecursedirs``, less the ``.*`` it also skips (handled apart).
_NORECURSE = {"build", "dist", "node_modules", "venv", "CVS", "_darcs", "{arch}", "__pycache__"}
# Where pytest looks for its configuration in a directory, in its order, and the section it reads in each.
_PYTEST_FILES = (
    ("pytest.toml", None),
    (".pytest.toml", None),
    ("pytest.ini", None),
    (".pytest.ini", None),
    ("pyproject.toml", "tool.pytest"),
    ("tox.ini", "pytest"),
    ("setup.cfg", "tool:pytest"),
)


def test_roots(root: Path, config: Config) -> list[str]:
    """Return the directories a pytest run of the project at `root` loads tests from, as POSIX paths below `root`.

    The first step that names an existing directory decides:

    1. each of ``[tool.testfloor] subprojects``: its own test roots (steps 3 and 4 in it), else itself;
    2. ``[tool.testfloor] testpaths``, which testfloor's plugin makes pytest's;
    3. ``testpaths`` of the pytest configuration pytest reads in `root`;
    4. the top-most directory of each tree of test files (``test_*.py``, ``*_test.py``): the first
       directory named like ``tests`` on the way down, else the directory that holds them.

    Returns ``[]`` when the project has no tests yet. Raises `ValueError`, naming the file, when a
    configuration file cannot be read.

    >>> test_roots(Path("monorepo"), load_config("monorepo"))  # doctest: +SKIP
    ['billing/tests', 'search/tests']
    """
    if config.subprojects:
        roots: list[str] = []
        for sub in _existing(root, config.subprojects):
            found = _pytest_testpaths(root / sub) or found_test_roots(root / sub)
            roots.extend(_join(sub, path) for path in found or ["."])
        return roots
    return _existing(root, config.testpaths) or _pytest_testpaths(root) or found_test_roots(root)


def test_files(root: Path, config: Config) -> list[str]:
    """Return every test module (POSIX, below `root`) that a run of the project collects from.

    Those in `test_roots`, and in a monorepo also those outside every
    sub-project (the run of the rest).
    """
    found = []
    for start in test_roots(root, config) + (found_test_roots(root) if config.subprojects else []):
        for directory, names in walk(root / start):
            found += [(PurePosixPath(start) / directory / name).as_posix() for name in names if _TEST_FILE.match(name)]
    return sorted(set(found))


def found_test_roots(root: Path) -> list[str]:
    """Return the top-most directory of each tree of test files under `root` (step 4 of `test_roots`)."""
    starts: set[PurePosixPath] = set()
    for directory, names in walk(root):
        if any(_TEST_FILE.match(name) for name in names):
            parts = directory.parts
            first = next((index for index, part in enumerate(parts) if _TEST_DIR.match(part)), len(parts) - 1)
            starts.add(PurePosixPath(*parts[: first + 1]))
    kept = [path for path in starts if not any(other in path.parents for other in starts)]
    return sorted(path.as_posix() or "." for path in kept)


def clashing_folders(root: Path) -> list[str]:
    """Return the folders below `root` whose tests share an import name with another folder's: each needs its own run.

    A folder is the directory that holds a tree of tests: the parent of its
    first directory named like ``tests``, else the directory of the test files.
    Its import names are the top-level names its test modules and its own
    modules and packages are imported by in pytest's default import mode. Two
    folders with one name clash ("import file mismatch", or the first folder's
    ``model`` answering the second's ``from model import Detector``). The root
    is never one (its tests run apart from the others); of two nested folders,
    the inner one is kept.

    >>> clashing_folders(Path("repo"))  # doctest: +SKIP
    ['examples/a', 'examples/b']
    """
    clashing = {folder for folders in _clashes(root).values() for folder in folders if folder.parts}
    kept = [folder for folder in clashing if not any(folder in other.parents for other in clashing)]
    return sorted(folder.as_posix() for folder in kept)


def clashing_names(root: Path) -> set[str]:
    """Return the import names that more than one folder of tests below `root` has (see `clashing_folders`)."""
    return set(_clashes(root))


def _clashes(root: Path) -> dict[str, set[PurePosixPath]]:
    owners: dict[str, set[PurePosixPath]] = {}
    for directory, names in walk(root):
        tests = [name for name in names if _TEST_FILE.match(name)]
        if not tests:
            continue
        parts = directory.parts
        first = next((index for index, part in enumerate(parts) if _TEST_DIR.match(part)), len(parts))
        folder = PurePosixPath(*parts[:first])
        for name in [*(_import_name(root, directory, test) for test in tests), *_own_names(root / folder)]:
            owners.setdefault(name, set()).add(folder)
    return {name: folders for name, folders in owners.items() if len(folders) > 1}


def _import_name(root: Path, directory: PurePosixPath, name: str) -> str:
    # The top-level name pytest's default import mode imports a test module by: its package's top, else its stem.
    top = name.removesuffix(".py")
    path = root / directory
    while (path / "__init__.py").is_file() and path != root:
        top, path = path.name, path.parent
    return top


def _own_names(folder: Path) -> list[str]:
    return [
        path.name.removesuffix(".py")
        for path in folder.iterdir()
        if (path.suffix == ".py" and path.name not in _SCRIPTS and path.name != "__init__.py")
        or (path.is_dir() and (path / "__init__.py").is_file() and not _TEST_DIR.match(path.name))
    ]


def packages(root: Path) -> list[str]:
    """Return the names of the project's importable top-level packages and modules, sorted.

    Under ``src/`` when it exists: every package (namespace packages too) and module there.
    Otherwise the top-level directories with an ``__init__.py`` and the top-level modules, less
    tests, test packages, and scripts such as ``setup.py``, ``noxfile.py``, ``conftest.py`` and
    ``manage.py``.
    """
    src = root / "src"
    base = src if src.is_dir() else root
    names = []
    for path in sorted(base.iterdir()):
        stem = path.name.removesuffix(".py")
        if not _IDENTIFIER.match(stem) or path.name in _NORECURSE:
            continue
        if path.is_file():
            importable = path.suffix == ".py" and path.name not in _SCRIPTS and not _TEST_FILE.match(path.name)
        elif _is_tests(path):
            importable = False
        elif base is src:
            importable = any(name.endswith(".py") for _, files in walk(path) for name in files)
        else:
            importable = (path / "__init__.py").is_file()
        if importable:
            names.append(stem)
    return names


def not_measured(roots: Sequence[str]) -> list[str]:
    """Return coverage ``omit`` patterns for the project's tooling and every test root in `roots`."""
    omit = ["noxfile.py", "conftest.py"]
    for directory in roots:
        # Test modules at the root are omitted by name: "*" would omit the whole project.
        omit += ["test_*.py", "*_test.py"] if directory == "." else [f"{directory}/*"]
    return omit


def pytest_options(root: Path) -> tuple[Path, dict[str, str]] | None:
    """Return the file pytest reads its configuration from in `root` and the options there; `None` if none.

    Raises `ValueError`, naming the file, when a candidate cannot be read.
    """
    for name, section in _PYTEST_FILES:
        path = root / name
        if not path.is_file():
            continue
        own, sections = read_pytest_file(path)
        if section is None:  # pytest reads these files even without its section
            return path, sections.get(own or "", {})
        if own is not None and own.startswith(section) and (sections[own] or path.suffix != ".toml"):
            return path, sections[own]
    return None


def read_pytest_file(path: Path) -> tuple[str | None, dict[str, dict[str, str]]]:
    """Read a configuration file as `pytestconfig.read_ini_sections` does; raise `ValueError` naming it if it cannot."""
    try:
        return read_ini_sections(path)
    except (OSError, ValueError, configparser.Error) as err:
        message = " ".join(str(err).split())
        raise ValueError(f"{path}: cannot read: {message}") from None


def _pytest_testpaths(root: Path) -> list[str]:
    found = pytest_options(root)
    expanded: list[str] = []
    for entry in shlex.split(found[1].get("testpaths", "")) if found else []:
        # pytest expands globs in testpaths, relative to the directory of its configuration.
        expanded.extend(sorted(glob.glob(entry, root_dir=root)) if _GLOB.search(entry) else [entry])
    return _existing(root, expanded)


def _existing(root: Path, paths: Iterable[str]) -> list[str]:
    # The directories of `paths` that exist below `root`, normalized; a file counts as its directory.
    kept: list[str] = []
    resolved_root = root.resolve()
    for entry in paths:
        path = (root / entry).resolve()
        directory = path if path.is_dir() else path.parent if path.is_file() else None
        if directory is None or not directory.is_relative_to(resolved_root):
            continue
        relative = directory.relative_to(resolved_root).as_posix()
        if relative not in kept:
            kept.append(relative)
    return kept


def _join(sub: str, path: str) -> str:
    return sub if path == "." else f"{sub}/{path}"


def walk(root: Path) -> list[tuple[PurePosixPath, list[str]]]:
    """Every directory below `root` that pytest would recurse into, relative, with its file names."""
    found = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            name
            for name in dirnames
            if not name.startswith(".")
            and name not in _NORECURSE
            and not name.endswith(".egg")
            and not (Path(directory, name) / "pyvenv.cfg").is_file()
        )
        found.append((PurePosixPath(Path(directory).relative_to(root).as_posix()), filenames))
    return found


def _is_tests(directory: Path) -> bool:
    if _TEST_DIR.match(directory.name):
        return True
    names = [name for _, files in walk(directory) for name in files if name.endswith(".py")]
    return any(_TEST_FILE.match(name) for name in names) and all(
        _TEST_FILE.match(name) or name in ("__init__.py", "conftest.py") for name in names
    )
