"""pip requirements files: which a project has, and the requirements and local paths they list."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from testfloor.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# testfloor's own output: what the sessions install, never a source of what the project declares.
OUTPUT = "requirements-test.txt"

# requirements.txt, requirements-dev.txt, requirements_test.txt, dev-requirements.txt, test_requirements.txt ...
_FILE = re.compile(r"(?:(?P<before>[\w.-]+?)[-_])?requirements(?:[-_](?P<after>[\w.-]+))?\.txt")
_TESTING = re.compile(r"(?:^|[-_.])(?:test|tests|testing|dev|develop|development|ci)(?:$|[-_.])")
_OPTION = re.compile(r"(?P<option>-r|--requirement|-e|--editable)(?:\s*=\s*|\s*)(?P<value>\S.*)")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass(frozen=True)
class Line:
    """One requirement of a requirements file (`text`), or a local path it installs (`local`).

    pip reads `local` relative to the directory it runs in, not to the file: ``-e .`` in
    ``requirements/dev.txt`` is the project itself.
    """

    path: Path
    number: int
    text: str
    local: str | None = None


def find(directory: Path) -> list[Path]:
    """Return the requirements files of the project in `directory`, ``requirements.txt`` first.

    At the top: ``requirements.txt`` and those named for tests or development
    (``requirements-dev.txt``, ``test-requirements.txt`` ...), but never `OUTPUT`; then
    every ``requirements/*.txt``; then ``tests/requirements.txt``.
    """
    top = []
    for path in sorted(directory.glob("*.txt")):
        match = _FILE.fullmatch(path.name)
        qualifier = (match.group("before") or match.group("after") or "") if match else None
        if path.name != OUTPUT and qualifier is not None and (not qualifier or _TESTING.search(qualifier)):
            top.append(path)
    top.sort(key=lambda path: path.name != "requirements.txt")
    tests = directory / "tests" / "requirements.txt"
    return [*top, *sorted((directory / "requirements").glob("*.txt")), *([tests] if tests.is_file() else [])]


def read(path: Path, seen: set[Path]) -> Iterator[Line]:
    """Yield the requirements and local paths of the requirements file at `path`, following ``-r`` includes.

    Files already in `seen` (resolved paths) are skipped, so include cycles end. Options
    (``-c``, ``-i``, ``--hash`` ...), comments, and URLs without a name are skipped;
    ``-e ./path`` and plain ``./path`` lines give local paths. Raises `ConfigError` when a
    file cannot be read.
    """
    if path.resolve() in seen:
        return
    seen.add(path.resolve())
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from err
    for number, line in _logical_lines(text):
        option = _OPTION.fullmatch(line)
        if option and option.group("option") in ("-r", "--requirement"):
            yield from read(path.parent / option.group("value"), seen)
        elif option:  # -e: a local path, or a VCS checkout that has no name to install by
            value = option.group("value")
            if value.startswith("file:") or not _URL.match(value):
                yield Line(path, number, value, _local(value))
        elif line.startswith((".", "/", "file:")):
            yield Line(path, number, line, _local(line))
        elif not line.startswith("-") and not _URL.match(line):
            yield Line(path, number, re.split(r"\s+--?[A-Za-z]", line, maxsplit=1)[0])


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        start = start or number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        if (pending + line).strip():
            yield start, (pending + line).strip()
        pending, start = "", 0


def _local(target: str) -> str:
    """Return the directory a path line names, its ``file:`` and extras (``.[test]``) dropped."""
    return re.sub(r"^file:(//)?|\[.*\]$", "", target)
