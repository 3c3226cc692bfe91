"""Edit ``[tool.testfloor]`` in a project's pyproject.toml, keeping every comment and the layout of the rest."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from testfloor import atomic
from testfloor.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path


@contextlib.contextmanager
def editing(pyproject: Path, *keys: str) -> Iterator[Any]:
    """Yield the table ``[tool.testfloor.<keys>]`` of `pyproject` (created if absent) for changes.

    When the block ends, the file is written atomically, and only if the
    document changed. The file is created if it does not exist.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    where = ".".join(("tool", "testfloor", *keys))
    try:
        text = pyproject.read_text(encoding="utf-8") if pyproject.exists() else ""
        document = tomlkit.parse(text)
    except (OSError, UnicodeDecodeError, TOMLKitError) as err:
        raise ConfigError(f"{pyproject}: cannot update: {err}") from err
    table: Any = document
    path = ("tool", "testfloor", *keys)
    for key in path:
        if key not in table:
            # Only the innermost table gets a [header] of its own.
            table[key] = tomlkit.table(is_super_table=key != path[-1])
        table = table[key]
        if not isinstance(table, dict):
            raise ConfigError(f"{pyproject}: [{where}]: {key} is not a table")
    yield table
    new_text = tomlkit.dumps(document)
    if new_text != text:
        atomic.write_text(pyproject, new_text)


def add_values(pyproject: Path, values: Mapping[str, str], *keys: str) -> list[str]:
    """Add `values` to ``[tool.testfloor.<keys>]``; a name it already has keeps its value. Return the names added."""
    with editing(pyproject, *keys) as table:
        added = [name for name in sorted(values) if name not in table]
        for name in added:
            table[name] = values[name]
    return added


def set_value(pyproject: Path, key: str, value: object) -> None:
    """Set ``[tool.testfloor] key`` to `value`, replacing what it held."""
    with editing(pyproject) as table:
        table[key] = value


def extend_list(pyproject: Path, key: str, items: Iterable[str]) -> list[str]:
    """Append `items` missing from the array ``[tool.testfloor] key`` (created if absent); return those added."""
    import tomlkit

    with editing(pyproject) as table:
        if key not in table:
            table[key] = tomlkit.array()
        current = table[key]
        if not isinstance(current, list):
            raise ConfigError(f"{pyproject}: [tool.testfloor] {key}: expected an array")
        added = [item for item in dict.fromkeys(items) if item not in current]
        current.extend(added)
    return added


def add_quarantine(pyproject: Path, entries: Mapping[str, str]) -> list[str]:
    """Add ``{node, reason}`` to ``[[tool.testfloor.quarantine]]`` for nodes not there yet; return those added."""
    import tomlkit

    with editing(pyproject) as table:
        if "quarantine" not in table:
            table["quarantine"] = tomlkit.aot()
        current = table["quarantine"]
        if not isinstance(current, list):
            raise ConfigError(f"{pyproject}: [tool.testfloor] quarantine: expected an array of tables")
        known = {entry.get("node") for entry in current if isinstance(entry, dict)}
        added = [node for node in sorted(entries) if node not in known]
        for node in added:
            item = tomlkit.table()
            item["node"] = node
            item["reason"] = entries[node]
            current.append(item)
    return added
