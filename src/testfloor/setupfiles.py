"""What setup.cfg and setup.py declare: read as data, or asked of the project's own build backend."""

from __future__ import annotations

import ast
import configparser
import re
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import Requirement

from testfloor.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

# One `extra == "name"` clause of a Requires-Dist marker, with the `and`/`or` that joins it to the rest.
_EXTRA = re.compile(
    r"""\s*\b(?:and|or)\s+extra\s*==\s*["'][^"']*["']|\bextra\s*==\s*["'][^"']*["']\s*(?:and|or\b)?\s*"""
)
_EXTRA_NAME = re.compile(r"""\bextra\s*==\s*["']([^"']*)["']""")


@dataclass(frozen=True)
class SetupMetadata:
    """What one setup.cfg, setup.py or build backend declares.

    `requirements` pairs each requirement with the extra that asks for it (``""`` for the
    project's own dependencies); `notes` says what could not be read, one line each.
    """

    name: str | None = None
    requirements: tuple[tuple[str, str], ...] = ()
    requires_python: str | None = None
    classifiers: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def read_setup_cfg(path: Path) -> SetupMetadata:
    """Return the name, requirements, ``python_requires`` and classifiers of the setup.cfg at `path`."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, configparser.Error) as err:
        raise ConfigError(f"{path}: cannot read: {' '.join(str(err).split())}") from err
    options = parser["options"] if parser.has_section("options") else {}
    metadata = parser["metadata"] if parser.has_section("metadata") else {}
    extras = parser["options.extras_require"] if parser.has_section("options.extras_require") else {}
    sections = [("", options.get("install_requires", "")), ("tests_require", options.get("tests_require", ""))]
    requirements: list[tuple[str, str]] = []
    notes = []
    for extra, value in [*sections, *extras.items()]:
        if _is_file(value):  # setuptools' `file:` directive: a file this module does not follow
            notes.append(f"{path.name}: {extra or 'install_requires'} reads a file; not read")
        requirements.extend((line, extra) for line in _lines(value) if not _is_file(value))
    classifiers = metadata.get("classifiers", "")
    return SetupMetadata(
        name=metadata.get("name") or None,
        requirements=tuple(requirements),
        requires_python=options.get("python_requires") or None,
        classifiers=() if _is_file(classifiers) else tuple(_lines(classifiers)),
        notes=tuple(notes),
    )


def read_setup(directory: Path, label: str, *, backend: bool) -> SetupMetadata:
    """Return what the project in `directory` declares through its build backend (PEP 517).

    With `backend` false, or when the backend fails (no network for its build requirements,
    a broken setup.py), the literal arguments of setup.py's ``setup()`` call are read instead,
    and a note says so. `label` names the project in notes ("setup.py", "backend/setup.py").
    """
    notes: list[str] = []
    if backend:
        try:
            return _ask_backend(directory)
        except Exception as err:  # any backend can raise anything: the literal read is the fallback
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            notes.append(f"{label}: the build backend failed ({reason}); read its literal arguments instead")
    path = directory / "setup.py"
    if not path.is_file():
        return SetupMetadata(notes=(*notes, f"{label}: dynamic metadata not read without the build backend"))
    literal = _read_setup_py(path, label)
    return SetupMetadata(
        literal.name, literal.requirements, literal.requires_python, literal.classifiers, (*notes, *literal.notes)
    )


def _ask_backend(directory: Path) -> SetupMetadata:
    from build.util import project_wheel_metadata

    # setuptools leaves <name>.egg-info next to setup.py (or in src/): testfloor does not change the project.
    before = _egg_info(directory)
    try:
        metadata = project_wheel_metadata(directory, isolated=True)
    finally:
        for path in _egg_info(directory) - before:
            shutil.rmtree(path, ignore_errors=True)
    requirements: list[tuple[str, str]] = []
    for text in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(text)
        marker = str(requirement.marker or "")
        extras = _EXTRA_NAME.findall(marker) or [""]
        rest = _EXTRA.sub("", marker).strip()
        try:
            requirement.marker = Marker(rest) if rest else None
        except InvalidMarker:  # "(extra == 'a' or extra == 'b') and ...": too tangled to keep, so installed everywhere
            requirement.marker = None
        requirements.extend((str(requirement), extra) for extra in extras)
    return SetupMetadata(
        name=metadata["Name"],
        requirements=tuple(requirements),
        requires_python=(metadata.get_all("Requires-Python") or [None])[0],
        classifiers=tuple(metadata.get_all("Classifier") or []),
    )


def _egg_info(directory: Path) -> set[Path]:
    return {*directory.glob("*.egg-info"), *directory.glob("*/*.egg-info")}


def _read_setup_py(path: Path, label: str) -> SetupMetadata:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as err:
        raise ConfigError(f"{path}: cannot parse: {err}") from err
    # Module-level constants, so `install_requires=REQUIREMENTS` reads the list assigned above the call.
    constants = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and _called(node.func) == "setup"]
    arguments = {
        keyword.arg: _resolve(keyword.value, constants)
        for call in calls[:1]
        for keyword in call.keywords
        if keyword.arg
    }
    values: dict[str, object] = {}
    notes = []
    for key in ("name", "install_requires", "tests_require", "extras_require", "python_requires", "classifiers"):
        if key in arguments:
            try:
                values[key] = ast.literal_eval(arguments[key])
            except ValueError:
                notes.append(f"{label}: {key} is not a literal; not read")
    extras = values.get("extras_require", {})
    sections = [("", values.get("install_requires")), ("tests_require", values.get("tests_require"))]
    sections += list(extras.items()) if isinstance(extras, dict) else []
    requirements = [(line, str(extra)) for extra, value in sections for line in _strings(value)]
    name, requires_python = values.get("name"), values.get("python_requires")
    return SetupMetadata(
        name=name if isinstance(name, str) else None,
        requirements=tuple(requirements),
        requires_python=requires_python if isinstance(requires_python, str) else None,
        classifiers=tuple(_strings(values.get("classifiers"))),
        notes=tuple(notes),
    )


def _resolve(value: ast.expr, constants: dict[str, ast.expr]) -> ast.expr:
    return constants.get(value.id, value) if isinstance(value, ast.Name) else value


def _called(function: ast.expr) -> str | None:
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else None


def _strings(value: object) -> list[str]:
    """Return the lines of a literal value: a list or tuple of strings, or one string of lines."""
    if isinstance(value, str):
        return _lines(value)
    if isinstance(value, list | tuple):
        return [line for item in value if isinstance(item, str) for line in _lines(item)]
    return []


def _lines(value: str) -> list[str]:
    lines = (line.split(" #")[0].strip() for line in value.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _is_file(value: str) -> bool:
    return value.strip().startswith(("file:", "attr:"))
