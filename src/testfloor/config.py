"""Read testfloor's settings for a project, from defaults, pyproject.toml, the environment and the command line."""

from __future__ import annotations

import datetime
import re
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from testfloor.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10, whose coverage is combined with the others
    import tomli as tomllib

PYPROJECT = "pyproject.toml"
DEFAULT_BASELINE = "coverage-baseline.json"
STUB_MODES = ("missing", "always")
LOOP_SCOPES = ("session", "package", "module", "class", "function", "keep")
IMPORT_MODES = ("prepend", "append", "importlib")
NEW_FILE_TOTAL = "total"  # new files must reach the baseline's total
ENV_PREFIX = "TESTFLOOR_"

_VERSION = re.compile(r"3\.\d{1,2}\Z")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class EnvValue:
    """One declared environment variable.

    `override` says whether the declared value replaces a value the outer
    environment already has; by default a real value wins over a placeholder.
    """

    value: str
    override: bool = False


@dataclass(frozen=True)
class Quarantined:
    """A test module (or node) the sessions leave out, with the project bug that is the reason."""

    node: str
    reason: str


@dataclass(frozen=True)
class Overrides:
    """Values given on the command line; `None` means "not given"."""

    baseline: str | None = None
    python: tuple[str, ...] | None = None
    stubs: tuple[str, ...] | None = None
    stub_mode: str | None = None
    loop_scope: str | None = None
    baseline_tolerance: float | None = None
    baseline_tolerance_lines: int | None = None
    new_file_minimum: float | str | None = None


@dataclass(frozen=True)
class Config:
    """testfloor's settings for one project, as the sessions, the plugin and the CLI see them."""

    root: Path
    configured: bool = False
    env: Mapping[str, EnvValue] = field(default_factory=lambda: MappingProxyType({}))
    stubs: tuple[str, ...] = ()
    stub_mode: str = "missing"
    baseline: str = DEFAULT_BASELINE
    python: tuple[str, ...] = ()
    loop_scope: str = "session"
    pythonpath: tuple[str, ...] = ()
    testpaths: tuple[str, ...] = ()
    import_mode: str | None = None
    quarantine: tuple[Quarantined, ...] = ()
    subprojects: tuple[str, ...] = ()
    # The project's own packages, installed into the sessions from these paths without their dependencies.
    install: tuple[str, ...] = ()
    # A drop within either tolerance passes: percentage points of a rate, or lines (and branches) lost.
    baseline_tolerance: float = 0.0
    baseline_tolerance_lines: int = 0
    # The combined percentage a file new to the baseline must reach, or NEW_FILE_TOTAL.
    new_file_minimum: float | str = NEW_FILE_TOTAL
    # The CI jobs (pytest-split groups) one Python's suite is split across.
    splits: int = 1
    warnings: tuple[str, ...] = ()

    @property
    def pyproject(self) -> Path:
        """The project's ``pyproject.toml`` (which may not exist)."""
        return self.root / PYPROJECT

    @property
    def baseline_path(self) -> Path:
        """Where the committed coverage baseline lives."""
        return self.root / self.baseline

    @property
    def pytest_runs(self) -> list[tuple[str, list[str]]]:
        """The pytest runs that cover the project, as ``(sub-project, arguments)``.

        One run per sub-project, each its own rootdir, and one run of the test
        directories outside every sub-project, if there are any (no test is
        dropped silently); or one run of the whole project: ``("", [])``.
        """
        if not self.subprojects:
            return [("", [])]
        from testfloor.layout import found_test_roots

        runs: list[tuple[str, list[str]]] = [(sub, ["--rootdir", sub, sub]) for sub in self.subprojects]
        inside = [PurePosixPath(sub) for sub in self.subprojects]
        rest = [
            path
            for path in found_test_roots(self.root)
            if not any(sub == PurePosixPath(path) or sub in PurePosixPath(path).parents for sub in inside)
        ]
        if rest:
            runs.append(("", [*(f"--ignore={sub}" for sub in self.subprojects), *rest]))
        return runs


def load_config(
    root: str | Path = ".",
    environ: Mapping[str, str] | None = None,
    overrides: Overrides | None = None,
) -> Config:
    """Read the settings of the project at `root`.

    Each step overrides the ones before it:

    1. the defaults of `Config`;
    2. ``[tool.testfloor]`` in `root`/pyproject.toml;
    3. ``TESTFLOOR_*`` variables in `environ` (only when it is given);
    4. `overrides`, the values given on the command line.

    Unknown keys and variables are reported in `Config.warnings`; a value of
    the wrong type raises `ConfigError` naming the file (or variable) and key.
    """
    root = Path(root)
    values: dict[str, Any] = {}
    warnings: list[str] = []
    # 1. Defaults: whatever `values` does not set.
    # 2. pyproject.toml.
    table = read_tool_table(root / PYPROJECT)
    if table is not None:
        values["configured"] = True
        values.update(_parse_table(table, f"{root / PYPROJECT}: [tool.testfloor]", warnings))
    # 3. The environment.
    if environ is not None:
        values.update(_parse_environ(environ, warnings))
    # 4. The command line.
    if overrides is not None:
        given = {f.name: getattr(overrides, f.name) for f in fields(overrides)}
        values.update({name: value for name, value in given.items() if value is not None})
    return replace(Config(root=root), warnings=tuple(warnings), **values)


def read_tool_table(path: Path) -> dict[str, Any] | None:
    """Return ``[tool.testfloor]`` of the pyproject.toml at `path`, or `None` if either is absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:  # ValueError: a path the system cannot name, a file that is not UTF-8
        raise ConfigError(f"{path}: cannot read: {err}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from err
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: [tool]: expected a table, got {toml_type(tool)}")
    table = tool.get("testfloor")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.testfloor]: expected a table, got {toml_type(table)}")
    return table


def toml_type(value: object) -> str:
    """Name the TOML type of a parsed value, for error messages."""
    names: list[tuple[type, str]] = [
        (bool, "boolean"),
        (int, "integer"),
        (float, "float"),
        (str, "string"),
        (list, "array"),
        (dict, "table"),
        (datetime.datetime, "datetime"),
        (datetime.date, "date"),
        (datetime.time, "time"),
    ]
    return next(name for kind, name in names if isinstance(value, kind))


# Parsers for each key: they take the raw value and return the typed one, or
# raise ValueError with the problem (the caller adds the file and the key).


def parse_env_table(value: object) -> Mapping[str, EnvValue]:
    """Parse ``[tool.testfloor.env]``: name -> string, number, boolean or ``{value, override}``."""
    if not isinstance(value, dict):
        raise ValueError(f"expected a table of NAME = value, got {toml_type(value)}")
    parsed: dict[str, EnvValue] = {}
    for name, item in value.items():
        if not name or "=" in name or "\0" in name:
            raise ValueError(f"{name!r} is not a valid environment variable name")
        try:
            parsed[name] = _parse_env_value(item)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
    return MappingProxyType(parsed)


def _parse_env_value(item: object) -> EnvValue:
    if isinstance(item, dict):
        unknown = sorted(set(item) - {"value", "override"})
        if unknown or "value" not in item:
            raise ValueError('expected a table with "value" and optionally "override"')
        override = item.get("override", False)
        if not isinstance(override, bool):
            raise ValueError(f"override: expected a boolean, got {toml_type(override)}")
        return EnvValue(_scalar_text(item["value"]), override)
    return EnvValue(_scalar_text(item))


def _scalar_text(item: object) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, (str, int, float)):
        if "\0" in str(item):
            raise ValueError("an environment value cannot hold a NUL character")
        return str(item)
    raise ValueError(f"expected a string, number or boolean, got {toml_type(item)}")


def parse_stubs(value: object) -> tuple[str, ...]:
    """Parse ``stubs``: top-level module names, without duplicates."""
    if not isinstance(value, list):
        raise ValueError(f'expected an array of module names like ["torch"], got {toml_type(value)}')
    names: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"expected module names (strings), got {toml_type(item)}")
        if "." in item:
            raise ValueError(f"{item!r} is not a top-level module name (submodules follow their package)")
        if not _MODULE.match(item):
            raise ValueError(f"{item!r} is not a module name")
        if item not in names:
            names.append(item)
    return tuple(names)


def one_of(choices: tuple[str, ...]) -> Callable[[object], str]:
    """Return a parser that accepts exactly one of `choices`."""

    def parse(value: object) -> str:
        if not isinstance(value, str) or value not in choices:
            shown = repr(value) if isinstance(value, str) else toml_type(value)
            raise ValueError(f"expected one of {', '.join(map(repr, choices))}, got {shown}")
        return value

    return parse


# ``stub_mode``: stub only what is missing, or also replace broken installs.
parse_stub_mode = one_of(STUB_MODES)
# ``loop_scope``: the scope of the one event loop async tests share, or ``"keep"`` for the project's own.
parse_loop_scope = one_of(LOOP_SCOPES)


parse_import_mode = one_of(IMPORT_MODES)


def parse_paths(value: object) -> tuple[str, ...]:
    """Parse a list of relative paths (``pythonpath``, ``testpaths``)."""
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError(f'expected an array of paths like ["src"], got {toml_type(value)}')
    return tuple(dict.fromkeys(value))


def parse_quarantine(value: object) -> tuple[Quarantined, ...]:
    """Parse ``[[tool.testfloor.quarantine]]``: tables with a ``node`` and the ``reason``."""
    if not isinstance(value, list):
        raise ValueError(f"expected an array of tables with node and reason, got {toml_type(value)}")
    entries = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"node", "reason"}:
            raise ValueError('each entry needs exactly "node" and "reason"')
        node, reason = item["node"], item["reason"]
        if not isinstance(node, str) or not node or not isinstance(reason, str) or not reason.strip():
            raise ValueError('"node" and "reason" must be non-empty strings')
        entries.append(Quarantined(node, reason))
    return tuple(entries)


def parse_baseline(value: object) -> str:
    """Parse ``baseline``: a path, relative to the project root unless absolute."""
    if not isinstance(value, str) or not value.strip():
        shown = "an empty string" if isinstance(value, str) else toml_type(value)
        raise ValueError(f"expected a file path, got {shown}")
    if "\0" in value:
        raise ValueError("a path cannot hold a NUL character")
    return value


def parse_python(value: object) -> tuple[str, ...]:
    """Parse ``python``: versions like ``"3.12"``, without duplicates."""
    if not isinstance(value, list):
        raise ValueError(f'expected an array of versions like ["3.12"], got {toml_type(value)}')
    versions: list[str] = []
    for item in value:
        if isinstance(item, float):
            raise ValueError(f'{item} is a TOML float; write versions as strings, like "3.10"')
        if not isinstance(item, str) or not _VERSION.match(item):
            shown = repr(item) if isinstance(item, str) else toml_type(item)
            raise ValueError(f'expected versions like "3.12", got {shown}')
        if item not in versions:
            versions.append(item)
    return tuple(versions)


def parse_tolerance(value: object) -> float:
    """Parse ``baseline_tolerance``: percentage points a rate may drop, from 0 to 100."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected percentage points like 0.5, got {toml_type(value)}")
    if not 0 <= value <= 100:
        raise ValueError(f"expected percentage points from 0 to 100, got {value}")
    return float(value)


def parse_tolerance_lines(value: object) -> int:
    """Parse ``baseline_tolerance_lines``: how many lines (or branches) a file may lose, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        shown = value if isinstance(value, int) and not isinstance(value, bool) else toml_type(value)
        raise ValueError(f"expected a number of lines, 0 or more, got {shown}")
    return value


def parse_splits(value: object) -> int:
    """Parse ``splits``: how many CI jobs (pytest-split groups) one Python's suite is split across, 1 or more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        shown = value if isinstance(value, int) and not isinstance(value, bool) else toml_type(value)
        raise ValueError(f"expected a number of jobs, 1 or more, got {shown}")
    return value


def parse_new_file_minimum(value: object) -> float | str:
    """Parse ``new_file_minimum``: a percentage from 0 to 100, or ``"total"`` (the baseline's total)."""
    if value == NEW_FILE_TOTAL:
        return NEW_FILE_TOTAL
    if isinstance(value, str):
        raise ValueError(f'expected a percentage or "{NEW_FILE_TOTAL}", got {value!r}')
    try:
        return parse_tolerance(value)
    except ValueError:
        raise ValueError(f'expected a percentage from 0 to 100 or "{NEW_FILE_TOTAL}", got {value!r}') from None


def number_from_text(text: str) -> object:
    """Read a number given as text (an environment variable, an option); other text stays text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


_PARSERS: dict[str, Callable[[object], Any]] = {
    "env": parse_env_table,
    "stubs": parse_stubs,
    "stub_mode": parse_stub_mode,
    "baseline": parse_baseline,
    "python": parse_python,
    "loop_scope": parse_loop_scope,
    "pythonpath": parse_paths,
    "testpaths": parse_paths,
    "import_mode": parse_import_mode,
    "quarantine": parse_quarantine,
    "subprojects": parse_paths,
    "install": parse_paths,
    "baseline_tolerance": parse_tolerance,
    "baseline_tolerance_lines": parse_tolerance_lines,
    "new_file_minimum": parse_new_file_minimum,
    "splits": parse_splits,
}

# Variables hold text: lists are comma-separated.
_ENVIRON: dict[str, tuple[str, Callable[[str], object]]] = {
    "TESTFLOOR_BASELINE": ("baseline", str),
    "TESTFLOOR_LOOP_SCOPE": ("loop_scope", str),
    "TESTFLOOR_PYTHON": ("python", lambda text: [part.strip() for part in text.split(",") if part.strip()]),
    "TESTFLOOR_STUBS": ("stubs", lambda text: [part.strip() for part in text.split(",") if part.strip()]),
    "TESTFLOOR_STUB_MODE": ("stub_mode", str),
    "TESTFLOOR_BASELINE_TOLERANCE": ("baseline_tolerance", number_from_text),
    "TESTFLOOR_BASELINE_TOLERANCE_LINES": ("baseline_tolerance_lines", number_from_text),
    "TESTFLOOR_NEW_FILE_MINIMUM": ("new_file_minimum", number_from_text),
    "TESTFLOOR_SPLITS": ("splits", number_from_text),
}


def _parse_table(table: Mapping[str, object], where: str, warnings: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, raw in table.items():
        parser = _PARSERS.get(key)
        if parser is None:
            warnings.append(f"{where}: unknown key {key!r} (ignored)")
            continue
        try:
            values[key] = parser(raw)
        except ValueError as err:
            raise ConfigError(f"{where} {key}: {err}") from None
    return values


def _parse_environ(environ: Mapping[str, str], warnings: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        if name not in _ENVIRON:
            warnings.append(f"environment: unknown variable {name} (ignored)")
            continue
        key, split = _ENVIRON[name]
        try:
            values[key] = _PARSERS[key](split(environ[name]))
        except ValueError as err:
            raise ConfigError(f"environment: {name}: {err}") from None
    return values


ROOT_VARIABLE = "_TESTFLOOR_ROOT"


def find_project_root(start: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Return the project root for a pytest run started at `start`.

    The sessions run each sub-project of a monorepo as its own rootdir and
    name the monorepo's root in ``_TESTFLOOR_ROOT``; otherwise it is the
    nearest directory at or above `start` with a pyproject.toml, else `start`.
    """
    if environ is not None and environ.get(ROOT_VARIABLE):
        return Path(environ[ROOT_VARIABLE]).resolve()
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / PYPROJECT).is_file():
            return directory
    return start
