"""Poetry's dependency syntax, in the PEP 440 and PEP 508 terms pip and uv understand."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping


def specifier(constraint: str) -> str:
    """Return the PEP 440 specifier set of a Poetry version `constraint`, ``""`` when it admits any version.

    ``^1.2.3`` -> ``>=1.2.3,<2.0.0``, ``^0.2.3`` -> ``>=0.2.3,<0.3.0``, ``~1.2`` -> ``>=1.2,<1.3``,
    ``1.2.3`` -> ``==1.2.3``, ``*`` -> ``""``; ``>=1 <2`` and ``>=1,<2`` -> ``>=1,<2``. PEP 440 has no
    "or", so alternatives (``^1.0 || ^2.0``) admit any version. Raises `ValueError` for a constraint
    that is not one.
    """
    text = re.sub(r"([<>=!~^]+)\s+", r"\1", constraint.strip())
    alternatives = [alternative for alternative in re.split(r"\s*\|\|?\s*", text) if alternative]
    converted = [",".join(filter(None, map(_piece, re.split(r"[\s,]+", alternative)))) for alternative in alternatives]
    for result in converted:
        SpecifierSet(result)  # raises InvalidSpecifier, a ValueError, for what PEP 440 cannot read
    return converted[0] if len(converted) == 1 else ""


def _piece(piece: str) -> str:
    if piece in ("", "*"):
        return ""
    version = piece.lstrip("^~=!<>")
    operator = piece[: len(piece) - len(version)]
    if operator in ("^", "~"):
        release = Version(version).release
        index = 0 if len(release) == 1 else 1
        if operator == "^":  # the leftmost non-zero part may not change (the last part when all are zero)
            index = next((i for i, part in enumerate(release) if part), len(release) - 1)
        upper = (*release[:index], release[index] + 1, *[0] * (len(release) - index - 1))
        return f">={version},<{'.'.join(map(str, upper))}"
    return f"=={version}" if operator in ("", "=") else piece


def python_marker(constraint: str) -> str:
    """Return the PEP 508 marker for a dependency's Poetry `python` `constraint`, ``""`` for any Python.

    ``^3.10`` -> ``python_version >= "3.10" and python_version < "4.0"``.
    """
    clauses = []
    for item in filter(None, specifier(constraint).split(",")):
        parsed = Specifier(item)
        variable = "python_full_version" if parsed.version.count(".") >= 2 else "python_version"
        clauses.append(f'{variable} {parsed.operator} "{parsed.version}"')
    return " and ".join(clauses)


def requirement(name: str, value: str | Mapping[str, object]) -> str:
    """Return the PEP 508 requirement for Poetry's dependency `name` declared as `value`.

    `value` is a constraint (``"^2.0"``) or a table with ``version``, ``extras``, ``python``
    and ``markers`` (other keys are ignored; path, git and url dependencies are the caller's).
    ``requirement("sqlalchemy", {"version": "^2.0", "extras": ["asyncio"]})`` ->
    ``"sqlalchemy[asyncio]>=2.0,<3.0"``. Raises `ValueError` for what cannot be read.
    """
    table: Mapping[str, object] = {"version": value} if isinstance(value, str) else value
    version, python, markers = table.get("version", "*"), table.get("python", "*"), table.get("markers", "")
    extras = table.get("extras", [])
    if not (isinstance(version, str) and isinstance(python, str) and isinstance(markers, str)):
        raise ValueError("version, python and markers must be strings")
    if not isinstance(extras, list) or not all(isinstance(extra, str) for extra in extras):
        raise ValueError("extras must be a list of strings")
    conditions = [condition for condition in (python_marker(python), markers) if condition]
    marker = " and ".join(f"({condition})" for condition in conditions) if len(conditions) > 1 else "".join(conditions)
    text = name + (f"[{','.join(extras)}]" if extras else "") + specifier(version) + (f"; {marker}" if marker else "")
    Requirement(text)  # raises InvalidRequirement, a ValueError, for a bad name, extra or marker
    return text


def dependencies(table: Mapping[str, object], wanted: Callable[[str], bool]) -> Iterator[tuple[str, str, object]]:
    """Yield ``(section, name, declaration)`` for each dependency in Poetry's `table` the tests need.

    `table` is ``[tool.poetry]``; the sections are its main dependencies (not ``python``,
    and optional ones only when an extra `wanted` accepts lists them), the groups whose
    names `wanted` accepts, and the legacy ``dev-dependencies``. A dependency declared
    with several constraints (a list) yields each. Raises `ValueError` for a table that is not one.
    """
    main = _table(table, "dependencies")
    extras = _table(table, "extras")
    optional = {
        canonicalize_name(str(name)) for extra, names in extras.items() if wanted(extra) for name in _names(names)
    }
    groups = _table(table, "group")
    sections = [("tool.poetry.dependencies", main)]
    sections += [
        (f"tool.poetry.group.{name}", _table(_table(groups, name), "dependencies")) for name in groups if wanted(name)
    ]
    sections.append(("tool.poetry.dev-dependencies", _table(table, "dev-dependencies")))
    for section, declared in sections:
        for name, value in declared.items():
            for entry in value if isinstance(value, list) else [value]:
                skipped = isinstance(entry, dict) and entry.get("optional") and canonicalize_name(name) not in optional
                if section != sections[0][0] or (name != "python" and not skipped):
                    yield section, name, entry


def _table(table: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a table")
    return value


def _names(value: object) -> list[object]:
    if not isinstance(value, list):
        raise ValueError("extras must list dependency names")
    return value
