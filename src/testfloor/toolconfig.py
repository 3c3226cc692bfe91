"""Edit ``[tool.testfloor]`` in a project's pyproject.toml, keeping every comment and the layout of the rest."""

from __future__ import annotations

import contextlib
import difflib
import re
import sys
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from testfloor import atomic
from testfloor.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path


@contextlib.contextmanager
def editing(pyproject: Path, *keys: str) -> Iterator[Any]:
    """Yield the table ``[tool.testfloor.<keys>]`` of `pyproject` (created if absent) for changes.

    When the block ends, the file is written atomically, and only if the
    document changed and the edit is proven: the new text parses, reads back
    as the settings the block made, and holds every line outside
    ``[tool.testfloor]`` as it was, line endings included. A layout the edit
    cannot keep (dotted keys, inline tables) is a `ConfigError` naming it, and
    nothing is written. The file is created if it does not exist.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    where = ".".join(("tool", "testfloor", *keys))
    try:
        # newline="": CRLF line ends are kept as they are, not read as LF and written back changed.
        text = pyproject.read_bytes().decode("utf-8") if pyproject.exists() else ""
        document = tomlkit.parse(text)
        original = _ours_of(document.unwrap())
    except (OSError, ValueError, TOMLKitError, RecursionError) as err:
        raise ConfigError(f"{pyproject}: cannot update: {err}") from None
    table: Any = document
    path = ("tool", "testfloor", *keys)
    ours: Any = None
    try:
        for key in path:
            if key not in table:
                # Only the innermost table gets a [header] of its own.
                table[key] = tomlkit.table(is_super_table=key != path[-1])
            table = table[key]
            if not isinstance(table, dict):
                raise ConfigError(f"{pyproject}: [{where}]: {key} is not a table")
            ours = table if key == "testfloor" else ours
        yield table
        new_text = _with_line_ends(tomlkit.dumps(document), text)
    except (TOMLKitError, ValueError, TypeError) as err:  # tomlkit refuses an edit of this layout
        raise ConfigError(f"{pyproject}: cannot update {_layout(text)}: {err}") from None
    # The settings as the block made them, read through the table it was given: an edit tomlkit keeps there but
    # does not write (an array of tables split by another table) must not pass for done.
    intended = document.unwrap()
    intended.setdefault("tool", {})["testfloor"] = ours.unwrap()
    if new_text != text or _ours_of(intended) != original:
        new_text = _prove(pyproject, text, new_text, intended)
        atomic.write_text(pyproject, new_text)


# A table header: ``[a.b]`` or ``[[a.b]]``, keys bare or quoted, and an optional comment.
_HEADER = re.compile(r"\s*\[\[?\s*([A-Za-z0-9_\-.\"' ]+?)\s*\]\]?\s*(#.*)?(\r?\n)?")


def _header(line: str) -> str | None:
    """Return the dotted name a header line opens (quotes and spaces dropped), or `None` for any other line."""
    match = _HEADER.fullmatch(line)
    return None if match is None else re.sub(r"[\s\"']", "", match.group(1))


def _ours(name: str) -> bool:
    return name == "tool.testfloor" or name.startswith("tool.testfloor.")


def _regions(lines: list[str]) -> list[bool]:
    """Tell for each line whether it belongs to ``[tool.testfloor]``.

    Those are the lines of a table whose header names it or one of its tables,
    and the lines of ``[tool]`` (or of the top level) whose key starts with
    ``testfloor`` (or ``tool.testfloor``).
    """
    inside, table, marks = False, "", []
    for line in lines:
        name = _header(line)
        if name is not None:
            inside, table = _ours(name), name
        key = re.sub(r"[\s\"']", "", line.split("=", 1)[0]) if "=" in line else ""
        marks.append(inside or _ours(f"{table}.{key}" if table else key))
    return marks


def _layout(text: str) -> str:
    """Name the layout of ``[tool.testfloor]`` in `text` that an edit cannot keep."""
    patterns = [
        (r"(?m)^\s*tool\s*\.\s*testfloor\s*\.", "top-level dotted keys (tool.testfloor.x = ...)"),
        (r"(?m)^\s*tool\s*\.\s*testfloor\s*=", "an inline table (tool.testfloor = { ... })"),
        (r"(?m)^\s*testfloor\s*\.", "dotted keys under [tool] (testfloor.x = ...)"),
        (r"(?m)^\s*testfloor\s*=", "an inline table (testfloor = { ... })"),
        (r"(?m)^\s*(quarantine|env)\s*=", "an inline array or table inside [tool.testfloor]"),
    ]
    return next((f"[tool.testfloor] written as {name}" for pattern, name in patterns if re.search(pattern, text)), "")


def _with_line_ends(new_text: str, text: str) -> str:
    """Give the lines the edit added the line end of a file written with CRLF throughout."""
    if "\r\n" in text and text.count("\n") == text.count("\r\n"):
        return re.sub(r"(?<!\r)\n", "\r\n", new_text)
    return new_text


def _prove(pyproject: Path, text: str, new_text: str, intended: Mapping[str, Any]) -> str:
    """Return `new_text`, with a blank line before and after each table it adds, once proven; else raise `ConfigError`.

    Proven means: it parses; ``[tool.testfloor]`` reads back as `intended`; the
    rest reads back as it did; and every line of `text` outside the
    ``[tool.testfloor]`` tables is still there, unchanged and in order.
    """
    old_lines, new_lines = text.splitlines(keepends=True), new_text.splitlines(keepends=True)
    ours = _regions(old_lines)
    proven: list[str] = []
    kept_outside = True
    # The header each table of the project followed (its line number; -1: none), and the last one written (-2: added).
    headers = [index for index, line in enumerate(old_lines) if _header(line) is not None]
    last = -1
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete") and not all(ours[i1:i2]):
            kept_outside = False
        for offset, line in enumerate(new_lines[j1:j2]):
            if _header(line) is None:
                proven.append(line)
                continue
            # A table the edit added, or one of the project's that now follows a table the edit added.
            followed = max((index for index in headers if index < i1 + offset), default=-1)
            now = i1 + offset if tag == "equal" else -2
            if (now == -2 or last != followed) and proven and proven[-1].strip():
                proven.append("\r\n" if line.endswith("\r\n") else "\n")
            proven.append(line)
            last = now
    result = "".join(proven)
    try:
        after = tomllib.loads(result)
        rest_kept = _without_ours(after) == _without_ours(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, RecursionError):
        rest_kept = False
    if not rest_kept or not kept_outside or _ours_of(after) != _ours_of(intended):
        raise ConfigError(f"{pyproject}: cannot update {_layout(text) or 'this layout'}: the edit would not read back")
    return result


def _ours_of(document: Mapping[str, Any]) -> object:
    tool = document.get("tool", {})
    return tool.get("testfloor") if isinstance(tool, dict) else None


def _without_ours(document: Mapping[str, Any]) -> dict[str, Any]:
    rest = dict(document)
    tool = rest.pop("tool", None)
    if isinstance(tool, dict):
        tool = {key: value for key, value in tool.items() if key != "testfloor"}
    if tool:  # a [tool] that held only testfloor is no part of the rest
        rest["tool"] = tool
    return rest


def with_missing(pyproject: Path, text: str, values: Mapping[str, object], notes: Mapping[str, str]) -> str:
    """Return `text` with each of `values` that its ``[tool.testfloor]`` lacks added, with the comment `notes` has.

    A key the table has keeps its value, whatever it is; `text` comes back as
    it is when nothing is missing. The new text is proven as `editing` proves
    its edits, and nothing is written: a layout the edit cannot keep is a
    `ConfigError` naming `pyproject`.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        document = tomlkit.parse(text)
        table: Any = document["tool"]["testfloor"]
        missing = [key for key in values if key not in table]
        for key in missing:
            item = tomlkit.item(values[key])
            if key in notes:  # on the key's line: a line of its own would land after the table's sub-tables
                item.comment(notes[key])
                item.trivia.comment_ws = "  "  # two spaces before an inline comment, as in the rest of the file
            table.add(key, item)
        new_text = _with_line_ends(tomlkit.dumps(document), text)
    except (TOMLKitError, ValueError, TypeError, KeyError, AttributeError) as err:
        raise ConfigError(f"{pyproject}: cannot update {_layout(text)}: {err}") from None
    return _prove(pyproject, text, new_text, document.unwrap()) if missing else text


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
    from tomlkit.items import AoT

    with editing(pyproject) as table:
        if "quarantine" not in table:
            table["quarantine"] = tomlkit.aot()
        current = table["quarantine"]
        if not isinstance(current, list):
            raise ConfigError(f"{pyproject}: [tool.testfloor] quarantine: expected an array of tables")
        known = {entry.get("node") for entry in current if isinstance(entry, dict)}
        added = [node for node in sorted(entries) if node not in known]
        for node in added:
            # An array written inline (quarantine = [{...}]) takes inline tables; an array of tables, tables.
            item = tomlkit.table() if isinstance(current, AoT) else tomlkit.inline_table()
            item["node"] = node
            item["reason"] = entries[node]
            current.append(item)
    return added
