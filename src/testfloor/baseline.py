"""The committed coverage baseline: exact per-file counts, compared so that coverage can only go up."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testfloor import atomic
from testfloor.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

FORMAT = 1


@dataclass(frozen=True)
class Counts:
    """Exact coverage counts of a file or of a whole project; they add up with `sum()`."""

    statements: int = 0
    covered_lines: int = 0
    branches: int = 0
    covered_branches: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.statements + other.statements,
            self.covered_lines + other.covered_lines,
            self.branches + other.branches,
            self.covered_branches + other.covered_branches,
        )

    def __radd__(self, other: int) -> Counts:
        # sum() starts from 0.
        return self

    @property
    def percent(self) -> float:
        """coverage.py's combined figure: lines and branches together, in percent."""
        total = self.statements + self.branches
        return 100.0 * (self.covered_lines + self.covered_branches) / total if total else 100.0

    def lines_dropped_from(self, old: Counts) -> bool:
        """Tell whether the line rate is lower than `old`'s, comparing exact fractions."""
        return _fraction_dropped(old.covered_lines, old.statements, self.covered_lines, self.statements)

    def branches_dropped_from(self, old: Counts) -> bool:
        """Tell whether the branch rate is lower than `old`'s, comparing exact fractions."""
        return _fraction_dropped(old.covered_branches, old.branches, self.covered_branches, self.branches)

    def to_json(self) -> dict[str, int]:
        return {
            "branches": self.branches,
            "covered_branches": self.covered_branches,
            "covered_lines": self.covered_lines,
            "statements": self.statements,
        }


def _fraction_dropped(old_hit: int, old_all: int, new_hit: int, new_all: int) -> bool:
    # An empty denominator counts as fully covered, as coverage.py does.
    old_hit, old_all = (1, 1) if old_all == 0 else (old_hit, old_all)
    new_hit, new_all = (1, 1) if new_all == 0 else (new_hit, new_all)
    return new_hit * old_all < old_hit * new_all


@dataclass(frozen=True)
class Baseline:
    """Per-file counts, keyed by relative POSIX path."""

    files: Mapping[str, Counts] = field(default_factory=dict)

    @property
    def totals(self) -> Counts:
        """The counts of all files added up."""
        return sum(self.files.values(), Counts())

    def to_json(self) -> str:
        """Serialize: versioned, sorted, no timestamps, one trailing newline."""
        document = {
            "files": {path: counts.to_json() for path, counts in sorted(self.files.items())},
            "format": FORMAT,
            "totals": self.totals.to_json(),
        }
        return json.dumps(document, indent=1, sort_keys=True) + "\n"


def from_coverage_json(path: Path) -> Baseline:
    """Read the per-file counts of a ``coverage json`` report."""
    document = _load_json(path)
    files = document.get("files")
    if not isinstance(files, dict):
        raise DataError(f"{path}: not a coverage.py JSON report (no 'files' table)")
    counts = {}
    for name, entry in files.items():
        summary = entry.get("summary") if isinstance(entry, dict) else None
        if not isinstance(summary, dict):
            raise DataError(f"{path}: {name}: no summary")
        counts[Path(name).as_posix()] = Counts(
            statements=_count(path, name, summary, "num_statements"),
            covered_lines=_count(path, name, summary, "covered_lines"),
            branches=_count(path, name, summary, "num_branches", default=0),
            covered_branches=_count(path, name, summary, "covered_branches", default=0),
        )
    return Baseline(counts)


def read_baseline(path: Path) -> Baseline:
    """Read a baseline file written by `write_baseline`."""
    document = _load_json(path)
    if document.get("format") != FORMAT:
        raise DataError(f"{path}: unknown baseline format {document.get('format')!r} (this testfloor reads {FORMAT})")
    files = document.get("files")
    if not isinstance(files, dict):
        raise DataError(f"{path}: 'files' must be a table")
    counts = {}
    for name, entry in files.items():
        if not isinstance(entry, dict):
            raise DataError(f"{path}: {name}: expected a table of counts")
        counts[name] = Counts(**{key: _count(path, name, entry, key) for key in Counts().to_json()})
    return Baseline(counts)


def write_baseline(path: Path, baseline: Baseline) -> None:
    """Write `baseline` to `path` atomically."""
    atomic.write_text(path, baseline.to_json())


def _load_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read: {err}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: invalid JSON: {err}") from None
    if not isinstance(document, dict):
        raise DataError(f"{path}: expected a JSON object")
    return document


def _count(path: Path, name: str, table: Mapping[str, object], key: str, default: int | None = None) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DataError(f"{path}: {name}: {key}: expected a count, got {value!r}")
    return value


@dataclass(frozen=True)
class Change:
    """How one file (or the total) moved against the baseline."""

    path: str
    old: Counts | None
    new: Counts | None

    @property
    def dropped(self) -> bool:
        """Tell whether lines or branches lost coverage (new and deleted files never drop)."""
        if self.old is None or self.new is None:
            return False
        return self.new.lines_dropped_from(self.old) or self.new.branches_dropped_from(self.old)

    def describe(self) -> str:
        """One line with the numbers that were compared."""
        if self.old is None:
            return f"{self.path}: new file, {_rates(self.new)}"
        if self.new is None:
            return f"{self.path}: deleted (was {_rates(self.old)})"
        return f"{self.path}: {_rates(self.old)} -> {_rates(self.new)}"


def _rates(counts: Counts | None) -> str:
    assert counts is not None
    text = f"lines {counts.covered_lines}/{counts.statements}"
    if counts.branches or counts.covered_branches:
        text += f", branches {counts.covered_branches}/{counts.branches}"
    return text


@dataclass(frozen=True)
class Comparison:
    """The result of comparing current coverage with the baseline."""

    total: Change
    changes: tuple[Change, ...]

    @property
    def regressions(self) -> tuple[Change, ...]:
        """The total and the files whose coverage dropped."""
        return tuple(change for change in (self.total, *self.changes) if change.dropped)

    @property
    def improved(self) -> bool:
        """Tell whether the baseline could be tightened: anything covered better, or files added or deleted."""
        return any(change != Change(change.path, change.old, change.old) for change in self.changes)


def compare(baseline: Baseline, current: Baseline, root: Path) -> Comparison:
    """Compare `current` with `baseline` file by file and in total.

    A file in the baseline that is missing from the current data but still
    exists under `root` means data was lost (a shard did not arrive): that is a
    `DataError`, never a pass. A file that is gone from the tree is reported as
    deleted, and its removal does not count towards the total.
    """
    lost = sorted(name for name in baseline.files if name not in current.files and (root / name).exists())
    if lost:
        shown = ", ".join(lost[:5]) + (f" and {len(lost) - 5} more" if len(lost) > 5 else "")
        raise DataError(f"coverage data has no record of {shown}, which still exist: was a shard lost?")
    names = sorted(set(baseline.files) | set(current.files))
    changes = tuple(Change(name, baseline.files.get(name), current.files.get(name)) for name in names)
    kept = [name for name in names if name in current.files]
    old_total = sum((baseline.files[name] for name in kept if name in baseline.files), Counts())
    new_total = sum((current.files[name] for name in kept if name in baseline.files), Counts())
    return Comparison(Change("total", old_total, new_total), changes)


def describe_changes(changes: Iterable[Change]) -> list[str]:
    """Lines for the changed files, dropped ones first."""
    changed = [change for change in changes if change.old != change.new]
    return [change.describe() for change in sorted(changed, key=lambda change: (not change.dropped, change.path))]
