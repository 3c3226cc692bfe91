"""coverage.py's parse of each source file, kept between reports, by a hash of what the parse depends on.

Analysing a file for a report is mostly parsing it: its statements, excluded
lines, possible arcs (branches), functions and classes. None of that depends
on what ran, only on the source text, the exclusion patterns, whether the data
has arcs, and the coverage.py and Python versions. `ParseCache` keeps each
parse in a small file named by a hash of the file's name and text, in a
directory named by a hash of the rest; a report on a tree where few files
changed parses only those. The measured data is applied to the kept parse by
coverage.py's own code, so the reports are the same.

A parse is kept as `marshal` data (sets, dicts, tuples, numbers, strings):
the parser's state without its text, and each region's kind, name, start and
lines. A parse holding anything else is not kept. Each entry is renamed into
place; an entry that cannot be read is a miss, never an error, and a
cache that cannot be written is only slower. `prune` leaves the entries one
report used: the cache holds the last report's tree, not every tree ever seen.

The cache deletes only what it recognises as its own: directories named by a
settings hash holding nothing but entries (``*.parse``) and their temporary
files (``*.tmp``). `claim` refuses a cache directory that holds anything
else, so ``--cache .`` on a project is an error, never a deletion.

`PythonParser` and `PythonFileReporter._parser` are coverage.py internals:
`analysis.supported` checks the version before any of this runs.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import marshal
import os
import re
import sys
from typing import TYPE_CHECKING, Any

import coverage
from coverage.parser import PythonParser
from coverage.plugin import CodeRegion

from testfloor.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

# What the parser keeps that a kept parse does without: the text (read again), the syntax tree and a memo.
_LEFT_OUT = ("text", "_ast_root", "_first_line_cache")
_FACTORIES: dict[Any, str] = {list: "list", int: "int", set: "set"}
_MADE_BY = {name: factory for factory, name in _FACTORIES.items()}
_ENTRY_SUFFIX = ".parse"
_SETTINGS_NAME = re.compile(r"[0-9a-f]{24}")
_ENTRY_NAME = re.compile(r"[^/\\]+\.(parse|tmp)")


class ParseCache:
    """Kept parses in `directory`, for one set of settings: `settings` names what else a parse depends on."""

    def __init__(self, directory: Path, settings: Iterable[object]) -> None:
        self.root = directory
        described = json.dumps([coverage.__version__, sys.version, *settings], sort_keys=True)
        self.directory = directory / hashlib.sha256(described.encode()).hexdigest()[:24]

    def key(self, name: str, text: str) -> str:
        """Return the entry name for file `name` with source `text`."""
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass") + b"\0")
        digest.update(text.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def load(self, key: str, filename: str, text: str) -> tuple[PythonParser, list[CodeRegion]] | None:
        """Return the kept parse `key` as a parser of `filename` with `text`, and its regions; `None` if not kept."""
        try:
            state, regions = marshal.loads((self.directory / (key + _ENTRY_SUFFIX)).read_bytes())
            parser = PythonParser.__new__(PythonParser)
            for name, (factory, value) in state.items():
                setattr(parser, name, collections.defaultdict(_MADE_BY[factory], value) if factory else value)
            parser.text, parser.filename = text, filename
            parser._ast_root = None
            parser._first_line_cache = {}
            made = [
                CodeRegion(kind=kind, name=name, start=start, lines=set(lines)) for kind, name, start, lines in regions
            ]
        except (OSError, EOFError, ValueError, TypeError, KeyError, AttributeError):
            return None
        return parser, made

    def store(self, key: str, parser: PythonParser, regions: Iterable[CodeRegion]) -> bool:
        """Keep `parser`'s parse and `regions` as entry `key`; return whether it was kept."""
        state: dict[str, tuple[str | None, object]] = {}
        for name, value in vars(parser).items():
            if name in _LEFT_OUT:
                continue
            if isinstance(value, collections.defaultdict):
                if value.default_factory not in _FACTORIES:
                    return False
                state[name] = (_FACTORIES[value.default_factory], dict(value))
            else:
                state[name] = (None, value)
        kept = [(region.kind, region.name, region.start, sorted(region.lines)) for region in regions]
        temporary = self.directory / f"{key}.{os.getpid()}.tmp"
        try:
            payload = marshal.dumps((state, kept))
            self.directory.mkdir(parents=True, exist_ok=True)
            # Renamed into place: a reader sees a whole entry or none. Not synced: a torn one is only a miss.
            temporary.write_bytes(payload)
            os.replace(temporary, self.directory / (key + _ENTRY_SUFFIX))
        except (ValueError, OSError):  # not plain data, or nowhere to write: the report is only slower next time
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            return False
        return True

    def claim(self) -> None:
        """Refuse a cache directory holding anything the cache did not make; raise `DataError` naming it."""
        try:
            if not self.root.is_dir():  # nothing to delete; a file there only means nothing is kept
                return
            strangers = [path for path in self.root.iterdir() if not _is_settings_directory(path)]
        except (OSError, ValueError) as err:
            raise DataError(f"{self.root}: cannot use as a parse cache: {err}") from None
        if strangers:
            raise DataError(
                f"{self.root}: not a parse cache (it holds {strangers[0].name}); name an empty or new directory"
            )

    def prune(self, used: Iterable[str]) -> None:
        """Remove the entries not in `used`, and the directories of other settings, all recognised as the cache's."""
        keep = {key + _ENTRY_SUFFIX for key in used}
        try:
            for other in self.root.iterdir():
                if other != self.directory and _is_settings_directory(other):
                    for stale in other.iterdir():
                        stale.unlink()
                    other.rmdir()
            for entry in os.scandir(self.directory):
                if entry.name not in keep and _is_entry(entry.path):
                    os.unlink(entry.path)
        except OSError:
            pass


def _is_entry(path: str | os.PathLike[str]) -> bool:
    name = os.path.basename(path)
    return _ENTRY_NAME.fullmatch(name) is not None and os.path.isfile(path) and not os.path.islink(path)


def _is_settings_directory(path: Path) -> bool:
    """Tell whether `path` is a directory the cache made: a settings hash holding entries and nothing else."""
    if _SETTINGS_NAME.fullmatch(path.name) is None or path.is_symlink() or not path.is_dir():
        return False
    return all(_is_entry(entry) for entry in path.iterdir())
