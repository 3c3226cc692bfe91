"""The project's own coverage configuration, made runnable for a session.

A coverage config can ask for what the session cannot give: ``concurrency =
gevent`` without gevent installed stops ``coverage run`` before a test runs.
testfloor then writes its own rcfile, the project's settings less what
cannot run, and says what it left out.
"""

from __future__ import annotations

import configparser
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

if TYPE_CHECKING:
    from collections.abc import Callable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10, whose coverage is combined with the others
    import tomli as tomllib

# Concurrency libraries coverage can trace only when they are installed.
OPTIONAL_CONCURRENCY = ("gevent", "eventlet", "greenlet")
# gevent's and eventlet's tasks are greenlets: without the library, coverage still follows them with greenlet.
GREEN = ("gevent", "eventlet")


@dataclass(frozen=True)
class CoverageSettings:
    """The project's coverage settings as INI sections, and the file they came from."""

    source: Path
    sections: dict[str, dict[str, str]]

    def concurrency(self) -> list[str]:
        """Return the ``[run] concurrency`` entries."""
        return _split(self.sections.get("run", {}).get("concurrency", ""))

    def without_concurrency(self, missing: set[str], *, greenlet: bool = False) -> CoverageSettings:
        """Return these settings with the `missing` concurrency libraries left out.

        With `greenlet` (importable where coverage runs), a missing gevent or
        eventlet is replaced by ``greenlet`` rather than dropped.
        """
        sections = {name: dict(items) for name, items in self.sections.items()}
        kept = [name for name in self.concurrency() if name not in missing]
        if greenlet and missing.intersection(GREEN) and "greenlet" not in kept:
            kept.append("greenlet")
        if kept:
            sections["run"]["concurrency"] = "\n".join(kept)
        else:
            sections["run"].pop("concurrency", None)
        return CoverageSettings(self.source, sections)

    def measures(self) -> bool:
        """Tell whether the settings say what to measure (``source``, ``source_pkgs`` or ``include``)."""
        run = self.sections.get("run", {})
        return any(run.get(key, "").strip() for key in ("source", "source_pkgs", "include"))

    def scoped(self, root: Path) -> CoverageSettings | None:
        """Return these settings measuring the project's packages and not its tests, when they say nothing of it.

        Settings that name no ``source`` measure every file that runs, the tests
        and the scripts included; `None` when they need no scope or no package
        of the project is found.
        """
        from testfloor import layout
        from testfloor.config import load_config

        packages = layout.packages(root)
        if self.measures() or not packages:
            return None
        sections = {name: dict(items) for name, items in self.sections.items()}
        run = sections.setdefault("run", {})
        omit = _split(run.get("omit", "")) + layout.not_measured(layout.test_roots(root, load_config(root)))
        run["source"] = "\n".join(packages)
        run["omit"] = "\n".join(dict.fromkeys(omit))
        return CoverageSettings(self.source, sections)

    def to_ini(self, header: str | None = None) -> str:
        """Render as a ``.coveragerc`` that opens with the comment `header` (by default, where they come from)."""
        lines = [header or f"# The coverage settings of {self.source.name}, as testfloor runs them.", ""]
        for name, items in self.sections.items():
            lines.append(f"[{name}]")
            for key, value in items.items():
                if "\n" in value:
                    lines.append(f"{key} =")
                    lines.extend(f"    {line}" for line in value.splitlines() if line.strip())
                else:
                    lines.append(f"{key} = {value}")
            lines.append("")
        return "\n".join(lines)


def runnable_rcfile(
    root: Path, directory: Callable[[], Path], missing_of: Callable[[list[str]], set[str]]
) -> tuple[list[str], set[str], CoverageSettings | None]:
    """Write a runnable copy of `root`'s coverage settings into `directory()` when they need one.

    `missing_of` answers which of the named concurrency libraries the Python
    that will run coverage cannot import. Returns the ``--rcfile=...``
    arguments (empty when the settings can run as they are), what was left
    out (see `replacement` for what took its place), and the settings.
    """
    settings = read_coverage_settings(root)
    wanted = [name for name in settings.concurrency() if name in OPTIONAL_CONCURRENCY] if settings else []
    asked = wanted + (["greenlet"] if set(wanted).intersection(GREEN) and "greenlet" not in wanted else [])
    absent = missing_of(asked) if asked else set()
    missing = absent.intersection(wanted)
    scoped = settings.scoped(root) if settings is not None else None
    if settings is None or (not missing and scoped is None):
        return [], set(), settings
    from testfloor import atomic

    rcfile = directory() / "coveragerc"
    runnable = (scoped or settings).without_concurrency(missing, greenlet="greenlet" not in absent)
    atomic.write_text(rcfile, runnable.to_ini())
    return [f"--rcfile={rcfile}"], missing, runnable


def replacement(missing: set[str], runnable: CoverageSettings) -> str | None:
    """Return ``"greenlet"`` when `runnable` measures the `missing` gevent or eventlet with greenlet instead."""
    return "greenlet" if missing.intersection(GREEN) and "greenlet" in runnable.concurrency() else None


def _split(value: str) -> list[str]:
    return [part for part in value.replace(",", "\n").split() if part]


def read_coverage_settings(root: Path) -> CoverageSettings | None:
    """Read the coverage settings coverage.py itself would use in `root`, or `None` if there are none.

    The order is coverage.py's: ``.coveragerc``, then ``[coverage:*]`` in
    ``setup.cfg`` and ``tox.ini``, then ``[tool.coverage.*]`` in
    ``pyproject.toml``.
    """
    rc = root / ".coveragerc"
    if rc.is_file():
        # A .coveragerc may name its sections [run] or [coverage:run].
        return CoverageSettings(rc, _ini_sections(rc, prefix=""))
    for name in ("setup.cfg", "tox.ini"):
        path = root / name
        if path.is_file():
            sections = _ini_sections(path, prefix="coverage:")
            if sections:
                return CoverageSettings(path, sections)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        tool = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {})
        table = tool.get("coverage", {}) if isinstance(tool, dict) else {}
        if table:
            return CoverageSettings(pyproject, {name: _ini_items(items) for name, items in table.items()})
    return None


def _ini_sections(path: Path, prefix: str) -> dict[str, dict[str, str]]:
    parser = configparser.RawConfigParser()
    parser.read(path, encoding="utf-8")
    return {
        name[len(prefix) :].removeprefix("coverage:"): {key: value.strip() for key, value in parser.items(name)}
        for name in parser.sections()
        if name.startswith(prefix)
    }


def _ini_items(items: dict[str, Any]) -> dict[str, str]:
    return {key: _ini_value(value) for key, value in items.items()}


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return str(value)
