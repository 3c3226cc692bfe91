"""The committed coverage baseline: exact per-file counts, compared so that coverage can only go up."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from testfloor import atomic
from testfloor.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Mapping

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

    @property
    def line_rate(self) -> Fraction:
        """Covered statements over statements, exactly; 1 when there are none, as coverage.py counts."""
        return _rate(self.covered_lines, self.statements)

    @property
    def branch_rate(self) -> Fraction:
        """Covered branches over branches, exactly; 1 when there are none."""
        return _rate(self.covered_branches, self.branches)

    @property
    def combined_rate(self) -> Fraction:
        """coverage.py's combined figure as an exact fraction of 1."""
        return _rate(self.covered_lines + self.covered_branches, self.statements + self.branches)

    def lines_dropped_from(self, old: Counts, policy: Policy | None = None) -> bool:
        """Tell whether the line rate fell below `old`'s by more than `policy` tolerates (default: at all)."""
        return _dropped(old.covered_lines, old.statements, self.covered_lines, self.statements, policy or Policy())

    def branches_dropped_from(self, old: Counts, policy: Policy | None = None) -> bool:
        """Tell whether the branch rate fell below `old`'s by more than `policy` tolerates (default: at all)."""
        return _dropped(old.covered_branches, old.branches, self.covered_branches, self.branches, policy or Policy())

    def to_json(self) -> dict[str, int]:
        return {
            "branches": self.branches,
            "covered_branches": self.covered_branches,
            "covered_lines": self.covered_lines,
            "statements": self.statements,
        }


def _rate(hit: int, total: int) -> Fraction:
    # An empty denominator counts as fully covered, as coverage.py does.
    return Fraction(hit, total) if total else Fraction(1)


@dataclass(frozen=True)
class Policy:
    """What the comparison lets through.

    A rate that fell passes when the fall is within `tolerance_points`
    percentage points, or when covering `tolerance_lines` more lines (or
    branches) would bring it back; both default to 0, so any fall fails. A file
    new to the baseline must reach `new_file_minimum` percent (coverage.py's
    combined figure), or the baseline's total when it is `None`. Every
    comparison is between exact fractions, so rounding never decides.
    """

    tolerance_points: Fraction = Fraction(0)
    tolerance_lines: int = 0
    new_file_minimum: Fraction | None = None

    @classmethod
    def from_settings(cls, points: float, lines: int, new_file_minimum: float | str) -> Policy:
        """Build a policy from config values; a float is read as the decimal it was written as."""
        minimum = None if isinstance(new_file_minimum, str) else Fraction(str(new_file_minimum))
        return cls(Fraction(str(points)), lines, minimum)


def _dropped(old_hit: int, old_all: int, new_hit: int, new_all: int, policy: Policy) -> bool:
    old_rate, new_rate = _rate(old_hit, old_all), _rate(new_hit, new_all)
    if new_rate >= old_rate - policy.tolerance_points / 100:
        return False
    # How many more covered lines would bring the rate back to the old one.
    shortfall = math.ceil(old_rate * new_all) - new_hit
    return shortfall > policy.tolerance_lines


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
    counts: dict[str, Counts] = {}
    for name, entry in files.items():
        summary = entry.get("summary") if isinstance(entry, dict) else None
        if not isinstance(summary, dict):
            raise DataError(f"{path}: {name}: no summary")
        _add(path, counts, name, _counts(path, name, summary, _COVERAGE_KEYS))
    return Baseline(counts)


def read_baseline(path: Path) -> Baseline:
    """Read a baseline file written by `write_baseline`."""
    if not os.path.lexists(path):  # never raises: a name too long or not encodable is "not found" too
        raise DataError(f"{path}: not found: testfloor baseline update writes the first baseline from coverage.json")
    document = _load_json(path)
    version = document.get("format")
    if type(version) is not int or version != FORMAT:  # not `true`, which Python takes for 1
        raise DataError(f"{path}: unknown baseline format {version!r} (this testfloor reads {FORMAT})")
    files = document.get("files")
    if not isinstance(files, dict):
        raise DataError(f"{path}: 'files' must be a table")
    counts: dict[str, Counts] = {}
    for name, entry in files.items():
        if not isinstance(entry, dict):
            raise DataError(f"{path}: {name}: expected a table of counts")
        _add(path, counts, name, _counts(path, name, entry, _BASELINE_KEYS))
    return Baseline(counts)


# Where each count is, in a baseline and in a coverage.py JSON report, and its default when absent.
_BASELINE_KEYS = {
    "branches": ("branches", None),
    "covered_branches": ("covered_branches", None),
    "covered_lines": ("covered_lines", None),
    "statements": ("statements", None),
}
_COVERAGE_KEYS = {
    "statements": ("num_statements", None),
    "covered_lines": ("covered_lines", None),
    "branches": ("num_branches", 0),
    "covered_branches": ("covered_branches", 0),
}


def _counts(path: Path, name: str, table: Mapping[str, object], keys: Mapping[str, tuple[str, int | None]]) -> Counts:
    counts = Counts(**{field: _count(path, name, table, key, default) for field, (key, default) in keys.items()})
    if counts.covered_lines > counts.statements or counts.covered_branches > counts.branches:
        raise DataError(
            f"{path}: {name}: more covered than there is "
            f"(lines {counts.covered_lines}/{counts.statements}, branches {counts.covered_branches}/{counts.branches})"
        )
    return counts


def _add(path: Path, counts: dict[str, Counts], name: str, entry: Counts) -> None:
    """Add `entry` under `name` made relative and POSIX; a name outside the project, or met twice, is refused."""
    normal = normal_name(name)
    if normal is None:
        raise DataError(f"{path}: {name!r}: expected a relative path inside the project")
    if normal in counts:
        raise DataError(f"{path}: {name!r}: the same file as another entry ({normal})")
    counts[normal] = entry


def normal_name(name: str) -> str | None:
    """Return `name` as a relative POSIX path without ``.`` parts; `None` if it is absolute, empty or leaves the tree.

    >>> normal_name("src/./pkg//a.py")
    'src/pkg/a.py'
    """
    if not name or "\0" in name or Path(name).anchor or PurePosixPath(name).is_absolute():
        return None
    parts = [part for part in Path(name).as_posix().split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def write_baseline(path: Path, baseline: Baseline) -> None:
    """Write `baseline` to `path` atomically."""
    atomic.write_text(path, baseline.to_json())


def _load_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except (OSError, ValueError) as err:  # ValueError: not UTF-8, or a name the system refuses (a NUL, a surrogate)
        raise DataError(f"{path}: cannot read: {_reason(err)}") from None
    try:
        document = json.loads(text, object_pairs_hook=_unique)
    except ValueError as err:  # also an integer too long to convert, and a key met twice
        raise DataError(f"{path}: invalid JSON: {err}") from None
    except RecursionError:
        raise DataError(f"{path}: invalid JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise DataError(f"{path}: expected a JSON object")
    return document


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    table = dict(pairs)
    if len(table) < len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _value in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise ValueError(f"the key {twice!r} appears twice in one object")
    return table


def _reason(err: BaseException) -> str:
    return err.strerror if isinstance(err, OSError) and err.strerror else str(err)


def _count(path: Path, name: str, table: Mapping[str, object], key: str, default: int | None = None) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DataError(f"{path}: {name}: {key}: expected a count, got {value!r}")
    return value


PRECISION = 2  # decimals of the percentages shown; the comparison itself is exact


def show_percent(rate: Fraction) -> str:
    """Show an exact rate as a percentage, never "100" unless it is 100, never "0" unless it is 0."""
    from testfloor.report import display_percent

    return display_percent(float(rate * 100), PRECISION) + "%"


def show_delta(old: Fraction, new: Fraction) -> str:
    """Show a change in percentage points with its sign; "+0.00" only when nothing changed."""
    from testfloor.report import display_percent

    delta = (new - old) * 100
    return ("-" if delta < 0 else "+") + display_percent(float(abs(delta)), PRECISION)


@dataclass(frozen=True)
class Change:
    """How one file (or the total) moved against the baseline."""

    path: str
    old: Counts | None
    new: Counts | None

    @property
    def status(self) -> str:
        """One of "new", "deleted", "changed" or "unchanged"."""
        if self.old is None:
            return "new"
        if self.new is None:
            return "deleted"
        return "unchanged" if self.old == self.new else "changed"

    @property
    def dropped(self) -> bool:
        """Tell whether lines or branches lost any coverage (new and deleted files never drop)."""
        return self.dropped_under(Policy())

    def dropped_under(self, policy: Policy) -> bool:
        """Tell whether lines or branches lost more coverage than `policy` tolerates."""
        if self.old is None or self.new is None:
            return False
        return self.new.lines_dropped_from(self.old, policy) or self.new.branches_dropped_from(self.old, policy)

    @property
    def improved(self) -> bool:
        """Tell whether a kept file is covered better, in lines or branches, and worse in neither."""
        if self.old is None or self.new is None or self.dropped:
            return False
        return self.new.line_rate > self.old.line_rate or self.new.branch_rate > self.old.branch_rate

    def describe(self) -> str:
        """One line with the exact counts that were compared, and the rates they give."""
        if self.old is None:
            return f"{self.path}: new file, {_rates(self.new)}"
        if self.new is None:
            return f"{self.path}: deleted (was {_rates(self.old)})"
        parts = [f"lines {_moved(self.old, self.new, 'lines')}"]
        if self.old.branches or self.new.branches:
            parts.append(f"branches {_moved(self.old, self.new, 'branches')}")
        old_rate, new_rate = self.old.combined_rate, self.new.combined_rate
        parts.append(f"combined {show_percent(old_rate)} -> {show_percent(new_rate)}")
        return f"{self.path}: {', '.join(parts)}"

    def to_json(self, failed: bool) -> dict[str, object]:
        """Numbers, never strings: counts, and rates in percent with their deltas in points."""
        document: dict[str, object] = {"path": self.path, "status": self.status, "failed": failed}
        document["old"] = None if self.old is None else self.old.to_json()
        document["new"] = None if self.new is None else self.new.to_json()
        for metric in ("lines", "branches", "combined"):
            old = None if self.old is None else float(_metric(self.old, metric) * 100)
            new = None if self.new is None else float(_metric(self.new, metric) * 100)
            delta = None if self.old is None or self.new is None else float(_metric_delta(self.old, self.new, metric))
            document[metric] = {"old": old, "new": new, "delta": delta}
        return document


def _metric(counts: Counts, metric: str) -> Fraction:
    return {"lines": counts.line_rate, "branches": counts.branch_rate, "combined": counts.combined_rate}[metric]


def _metric_delta(old: Counts, new: Counts, metric: str) -> Fraction:
    return (_metric(new, metric) - _metric(old, metric)) * 100


def _moved(old: Counts, new: Counts, metric: str) -> str:
    hit, total = ("covered_lines", "statements") if metric == "lines" else ("covered_branches", "branches")
    before, after = f"{getattr(old, hit)}/{getattr(old, total)}", f"{getattr(new, hit)}/{getattr(new, total)}"
    return f"{before} -> {after} ({show_delta(_metric(old, metric), _metric(new, metric))} pts)"


def _rates(counts: Counts | None) -> str:
    assert counts is not None
    text = f"lines {counts.covered_lines}/{counts.statements}"
    if counts.branches or counts.covered_branches:
        text += f", branches {counts.covered_branches}/{counts.branches}"
    return f"{text}, combined {show_percent(counts.combined_rate)}"


@dataclass(frozen=True)
class Comparison:
    """The result of comparing current coverage with the baseline under a `Policy`."""

    total: Change
    changes: tuple[Change, ...]
    policy: Policy = Policy()
    reference: Fraction = Fraction(1)  # the baseline's combined total, the default minimum for new files

    @property
    def new_file_minimum(self) -> Fraction:
        """The combined rate a new file must reach."""
        minimum = self.policy.new_file_minimum
        return self.reference if minimum is None else minimum / 100

    def failed(self, change: Change) -> bool:
        """Tell whether `change` fails: a drop beyond the tolerance, or a new file below the minimum."""
        if change.old is None and change.new is not None:
            return change.new.combined_rate < self.new_file_minimum
        return change.dropped_under(self.policy)

    @property
    def regressions(self) -> tuple[Change, ...]:
        """The total and the files that fail."""
        return tuple(change for change in (self.total, *self.changes) if self.failed(change))

    @property
    def improved(self) -> bool:
        """Tell whether the baseline can be tightened: a kept file covered better, or a new file.

        Deleted files never count: dropping them from the baseline tightens nothing.
        """
        return any(change.improved or change.status == "new" for change in self.changes)

    def to_json(self) -> dict[str, object]:
        """Return the whole comparison as numbers: the policy, the total and every file that changed."""
        policy = {
            "tolerance_points": float(self.policy.tolerance_points),
            "tolerance_lines": self.policy.tolerance_lines,
            "new_file_minimum": float(self.new_file_minimum * 100),
        }
        changed = [change for change in self.changes if change.status != "unchanged"]
        return {
            "format": FORMAT,
            "result": "regression" if self.regressions else "tighter" if self.improved else "ok",
            "policy": policy,
            "regressions": [change.path for change in self.regressions],
            "total": self.total.to_json(self.failed(self.total)),
            "files": [change.to_json(self.failed(change)) for change in changed],
        }


def compare(baseline: Baseline, current: Baseline, root: Path, policy: Policy | None = None) -> Comparison:
    """Compare `current` with `baseline` file by file and in total, under `policy` (default: no tolerance).

    A file in the baseline that is missing from the current data but still
    exists under `root` means data was lost (a shard did not arrive): that is a
    `DataError`, never a pass. A file that is gone from the tree is reported as
    deleted, and neither it nor a new file moves the total.
    """
    lost = sorted(name for name in baseline.files if name not in current.files and (root / name).exists())
    if lost:
        shown = ", ".join(lost[:5]) + (f" and {len(lost) - 5} more" if len(lost) > 5 else "")
        raise DataError(f"coverage data has no record of {shown}, which still exist: was a shard lost?")
    names = sorted(set(baseline.files) | set(current.files))
    changes = tuple(Change(name, baseline.files.get(name), current.files.get(name)) for name in names)
    kept = [name for name in names if name in current.files and name in baseline.files]
    old_total = sum((baseline.files[name] for name in kept), Counts())
    new_total = sum((current.files[name] for name in kept), Counts())
    reference = baseline.totals.combined_rate
    return Comparison(Change("total", old_total, new_total), changes, policy or Policy(), reference)


def describe_changes(comparison: Comparison) -> list[str]:
    """Lines for the changed files, failing ones first, each marked when it fails."""
    changed = [change for change in comparison.changes if change.status != "unchanged"]
    ordered = sorted(changed, key=lambda change: (not comparison.failed(change), change.path))
    return [change.describe() + ("  [FAIL]" if comparison.failed(change) else "") for change in ordered]


def to_markdown(comparison: Comparison, baseline_name: str) -> str:
    """Summarize in Markdown: the verdict, then the total and every changed file with the counts compared."""
    if comparison.regressions:
        verdict = f"**Coverage dropped** below `{baseline_name}`: " + ", ".join(
            f"`{change.path}`" for change in comparison.regressions
        )
    elif comparison.improved:
        verdict = f"Coverage is at or above `{baseline_name}`, and the baseline can be tightened."
    else:
        verdict = f"Coverage is at or above `{baseline_name}`."
    rows = ["| file | status | lines | branches | combined |", "|---|---|---|---|---|"]
    changed = [change for change in comparison.changes if change.status != "unchanged"]
    for change in (comparison.total, *changed):
        status = "fail" if comparison.failed(change) else change.status
        cells = [_cell(change, metric) for metric in ("lines", "branches", "combined")]
        rows.append(f"| `{change.path}` | {status} | " + " | ".join(cells) + " |")
    return f"### Coverage baseline\n\n{verdict}\n\n" + "\n".join(rows) + "\n"


def _cell(change: Change, metric: str) -> str:
    sides = []
    for counts in (change.old, change.new):
        if counts is None:
            sides.append("–")
        elif metric == "lines":
            sides.append(f"{counts.covered_lines}/{counts.statements}")
        elif metric == "branches":
            sides.append(f"{counts.covered_branches}/{counts.branches}")
        else:
            sides.append(show_percent(counts.combined_rate))
    return " → ".join(sides)


def badge_svg(rate: Fraction, label: str = "coverage") -> str:
    """Draw a flat SVG badge showing `rate` (exact, shown to one decimal as coverage.py would)."""
    from testfloor.report import display_percent

    value = display_percent(float(rate * 100), 1) + "%"
    percent = rate * 100
    color = "#4c1" if percent >= 90 else "#dfb317" if percent >= 75 else "#fe7d37" if percent >= 50 else "#e05d44"
    left, right = 6 * len(label) + 10, 7 * len(value) + 10
    width = left + right
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{label}: {value}">\n'
        f"<title>{label}: {value}</title>\n"
        f'<rect width="{left}" height="20" fill="#555"/>\n'
        f'<rect x="{left}" width="{right}" height="20" fill="{color}"/>\n'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">\n'
        f'<text x="{left / 2}" y="14">{label}</text>\n'
        f'<text x="{left + right / 2}" y="14">{value}</text>\n'
        "</g>\n</svg>\n"
    )
