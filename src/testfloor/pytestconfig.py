"""The project's own pytest configuration, read without trust and repaired for the run.

A project's config often names plugins that are not installed (``-n auto``
without pytest-xdist), carries thresholds meant for another run
(``--cov-fail-under``), uses markers it never registered, or has options
stranded in a section pytest never reads. Each repair here is recorded as an
`Override` with its reason; no file of the project is edited.
"""

from __future__ import annotations

import configparser
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10, whose coverage is combined with the others
    import tomli as tomllib

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    import pytest

# Options of common plugins that take a value as the next argument when written without "=".
_TAKES_VALUE = {
    "-n",
    "--numprocesses",
    "--maxprocesses",
    "--dist",
    "--tx",
    "--timeout",
    "--timeout-method",
    "--timeout_method",
    "--reruns",
    "--reruns-delay",
    "--only-rerun",
    "--html",
    "--css",
    "--alluredir",
    "--splits",
    "--group",
    "--durations-path",
    "--randomly-seed",
    "--count",
    "--benchmark-min-rounds",
    "--benchmark-columns",
    "--benchmark-sort",
    "--cov-fail-under",
    "--cov",
    "--cov-report",
    "--cov-config",
    "--cov-context",
}
_FAIL_UNDER = "--cov-fail-under"
# pytest-cov's options: testfloor's sessions measure with `coverage run`, so a second measurement goes.
_PYTEST_COV = {
    "--cov",
    "--cov-report",
    "--cov-config",
    "--cov-append",
    "--cov-branch",
    "--cov-context",
    "--no-cov-on-fail",
}
# Markers pytest itself knows; never reported as unregistered.
_BUILTIN_MARKERS = {"parametrize", "skip", "skipif", "xfail", "usefixtures", "filterwarnings", "tryfirst", "trylast"}
_MARKER_USE = re.compile(r"\bpytest\.mark\.([A-Za-z_]\w*)")
_SKIP_DIRS = {".git", ".hg", ".nox", ".tox", ".venv", "venv", "node_modules", "__pycache__", "build", "dist"}


@dataclass(frozen=True)
class Override:
    """One change to the project's test configuration, for this run only."""

    change: str
    reason: str

    def __str__(self) -> str:
        return f"{self.change}: {self.reason}"


def split_addopts(args: list[str], addopts: list[str], unknown: Iterable[str]) -> tuple[list[str], list[Override]]:
    """Remove from `args` the `addopts` options that cannot run here.

    `unknown` are the flags pytest's parser does not know (their plugin is not
    installed); a per-run coverage threshold goes too, since the floor belongs
    to the combined report. Only options that came from `addopts` are touched:
    what the user typed on the command line stays. Returns the new argument
    list and what was removed, with the reason.
    """
    unknown_names = {flag.split("=", 1)[0] for flag in unknown}
    drop: list[tuple[int, int]] = []  # (start, length) in addopts
    index = 0
    while index < len(addopts):
        token = addopts[index]
        name = token.split("=", 1)[0]
        is_unknown = name in unknown_names or _short_with_value(token, unknown_names)
        if is_unknown or name == _FAIL_UNDER or name in _PYTEST_COV:
            takes_next = (
                "=" not in token
                and name in _TAKES_VALUE
                and index + 1 < len(addopts)
                and not (name == "--cov" and addopts[index + 1].startswith("-"))  # --cov's value is optional
            )
            drop.append((index, 2 if takes_next else 1))
            index += 2 if takes_next else 1
        else:
            index += 1
    overrides = []
    for start, length in drop:
        text = " ".join(addopts[start : start + length])
        name = addopts[start].split("=", 1)[0]
        if name == _FAIL_UNDER:
            reason = "a per-run coverage threshold; testfloor checks the combined report and the baseline instead"
        elif name in _PYTEST_COV:
            reason = "testfloor's sessions measure coverage themselves; pytest-cov would measure a second time"
        else:
            reason = "its plugin is not installed"
        overrides.append(Override(f"addopts: removed {text}", reason))
    removed = {start + offset for start, length in drop for offset in range(length)}
    kept_addopts = [token for position, token in enumerate(addopts) if position not in removed]
    if args[: len(addopts)] == addopts:
        return kept_addopts + args[len(addopts) :], overrides
    return list(args), []  # pragma: no cover - pytest always puts addopts first; leave anything else alone


def _short_with_value(token: str, unknown: set[str]) -> bool:
    # "-n4" and "-nauto" reach the parser as one token.
    return len(token) > 2 and token[0] == "-" and token[1] != "-" and token[:2] in unknown


def read_ini_sections(inipath: Path) -> tuple[str | None, dict[str, dict[str, str]]]:
    """Read every section of the config file pytest chose; return the name of pytest's own section and all of them.

    Values stay as text, as pytest would read them from an INI file; TOML
    values are turned into that text.
    """
    if inipath.suffix == ".toml":
        document = tomllib.loads(inipath.read_text(encoding="utf-8"))
        if inipath.name == "pyproject.toml":
            tool = document.get("tool", {})
            pytest_table = tool.get("pytest", {})
            table = pytest_table.get("ini_options", pytest_table)
            section = "tool.pytest.ini_options" if "ini_options" in pytest_table else "tool.pytest"
        else:
            table, section = document.get("pytest", {}), "pytest"
        return section, {section: {key: _ini_text(value) for key, value in table.items() if key != "ini_options"}}
    parser = configparser.RawConfigParser(strict=False)
    parser.read(inipath, encoding="utf-8")
    sections = {name: dict(parser.items(name)) for name in parser.sections()}
    own = "tool:pytest" if inipath.name == "setup.cfg" else "pytest"
    return (own if own in sections else None), sections


def _ini_text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def stranded_options(inipath: Path) -> list[tuple[str, str, str]]:
    """Return ``(section, key, value)`` for every option outside pytest's own section of a ``pytest.ini``.

    Nothing but pytest reads a ``pytest.ini``, so an ``asyncio_mode`` written
    after a ``[coverage:run]`` header there is a mistake: pytest never sees it.
    """
    if inipath.name not in ("pytest.ini", ".pytest.ini"):
        return []
    own, sections = read_ini_sections(inipath)
    return [
        (name, key, value) for name, items in sections.items() if name != own for key, value in sorted(items.items())
    ]


def used_markers(paths: Iterable[Path]) -> set[str]:
    """Return the names used as ``pytest.mark.NAME`` in the Python files under `paths`."""
    names: set[str] = set()
    for path in paths:
        files = [path] if path.is_file() else _python_files(path)
        for file in files:
            try:
                names.update(_MARKER_USE.findall(file.read_text(encoding="utf-8", errors="replace")))
            except OSError:
                continue
    return names - _BUILTIN_MARKERS


def _python_files(directory: Path) -> list[Path]:
    found = []
    for path in sorted(directory.iterdir()) if directory.is_dir() else []:
        if path.is_dir() and path.name not in _SKIP_DIRS and not path.name.startswith("."):
            found.extend(_python_files(path))
        elif path.suffix == ".py":
            found.append(path)
    return found


def registered_markers(lines: Iterable[str]) -> set[str]:
    """Return the marker names declared by ``markers`` ini lines (``"slow: ..."``, ``"only(name): ..."``)."""
    return {re.split(r"[:(]", line, maxsplit=1)[0].strip() for line in lines if line.strip()}


def set_ini(config: pytest.Config, name: str, value: object, *, replace: bool = False) -> None:
    """Make ``config.getini(name)`` return `value` for the rest of the run.

    pytest has no public way for a plugin to override an ini value once the
    command line is parsed (``-o`` does it before); testfloor fills pytest's
    ini cache, which ``getini`` reads first. Lists are extended through the
    public ``addinivalue_line`` instead, unless `replace` is given.
    """
    if isinstance(value, list) and not replace:
        for line in value:
            config.addinivalue_line(name, line)
        return
    # pytest 9 caches under the canonical name of an aliased option (xfail_strict -> strict_xfail).
    aliases: dict[str, str] = getattr(getattr(config, "_parser", None), "_ini_aliases", {})
    config._inicache[aliases.get(name, name)] = value


def convert_like(current: object, text: str) -> object:
    """Turn ini `text` into the type of `current`, the value pytest has for that option now."""
    if isinstance(current, list):
        return [line.strip() for line in text.splitlines() if line.strip()]
    if isinstance(current, bool):
        return text.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float):
        return float(text)
    return text.strip()
