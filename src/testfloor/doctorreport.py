"""What a ``testfloor doctor`` run found, for people (details and a summary) and for machines (JSON)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from testfloor.classify import KINDS, Diagnosis
from testfloor.env import scrub, scrub_document
from testfloor.testenv import REQUIREMENTS

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

FORMAT = 1


@dataclass(frozen=True)
class Pass:
    """One collect-and-fix round: how many errors it found and what it changed."""

    number: int
    errors: int
    collected: int
    changes: tuple[str, ...]
    # What the pass applied, as `propose` names fixes: ``stub torch``, ``env``, ``quarantine tests/test_x.py``.
    applied: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """Where doctor got to: the rounds, what is still wrong, and what is quarantined."""

    passes: tuple[Pass, ...]
    remaining: tuple[Diagnosis, ...]
    quarantined: tuple[str, ...]
    collected: int
    exitstatus: int
    problem: str | None = None
    fixes: Mapping[str, int] = field(default_factory=dict)
    # The interpreter the suite was collected with: the built test environment's, or the one running testfloor.
    python: str = ""
    # The fixes the first collect calls for (`propose`): what --fix applies in its first pass, in either mode.
    proposed: tuple[str, ...] = ()
    # Every change to the project's pytest configuration, in full with its reason (the pytest header shortens them).
    overrides: tuple[str, ...] = ()
    # Set by the command that ran doctor: the files it wrote (to commit), and the command to run next.
    changed: tuple[str, ...] = ()
    next: str = ""

    @property
    def status(self) -> str:
        """``clean``, ``quarantined`` (clean once project bugs are left out) or ``failing``."""
        if self.remaining or self.problem or self.exitstatus != 0:
            return "failing"
        return "quarantined" if self.quarantined else "clean"


def describe(report: Report) -> list[str]:
    """Describe the details: the environment, a table by class, what is quarantined, and why doctor stopped."""
    lines = [f"environment: {report.python}"]
    lines.extend(table(report.remaining))
    for node in report.quarantined:
        lines.append(f"  quarantined: {node}")
    if report.problem:
        lines.append(f"stopped: {report.problem}")
    return [scrub(line) for line in lines]


# How a fix of each kind is counted in the summary (a kind not listed here is shown by its name).
_FIX_NOUNS = {
    "stub": ("stub", "stubs"),
    "install": ("install", "installs"),
    "env": ("env var", "env vars"),
    "pythonpath": ("pythonpath entry", "pythonpath entries"),
    "python": ("python setting", "python settings"),
    "testpaths": ("testpaths setting", "testpaths settings"),
    "subprojects": ("subprojects setting", "subprojects settings"),
}


def summarise(report: Report) -> list[str]:
    """Sum up what ran, one line each: the status, tests collected, errors left, quarantined, fixes, commit, next.

    `Report.changed` and `Report.next` are the command's to fill in.
    """
    new = report.fixes.get("quarantine", 0)
    fixes = [
        f"{count} {_FIX_NOUNS.get(kind, (kind, kind))[count != 1]}"
        for kind, count in sorted(report.fixes.items())
        if kind != "quarantine"
    ]
    lines = [
        f"status: {report.status}",
        f"tests collected: {report.collected}",
        f"errors remaining: {len(report.remaining)}",
        f"quarantined: {len(report.quarantined)}" + (f" ({new} new)" if new else ""),
        f"fixes: {', '.join(fixes) or 'none'}",
        f"commit: {' '.join(report.changed) or 'nothing: no file changed'}",
    ]
    lines += [f"next: {report.next}"] if report.next else []
    return [scrub(line) for line in lines]


def summary(report: Report) -> dict[str, object]:
    """Return `summarise`'s lines as data, for ``--json``."""
    return {
        "collected": report.collected,
        "commit": list(report.changed),
        "errors": len(report.remaining),
        "fixes": dict(sorted(report.fixes.items())),
        "next": report.next,
        "quarantined": len(report.quarantined),
        "status": report.status,
    }


# The files doctor writes: what a run changed is what to commit.
WRITTEN = ("pyproject.toml", REQUIREMENTS)


def contents(root: Path) -> dict[str, bytes | None]:
    """Read the files doctor writes in `root` (`None`: absent), to compare with `changed` after a run."""
    return {name: (root / name).read_bytes() if (root / name).is_file() else None for name in WRITTEN}


def changed(root: Path, before: Mapping[str, bytes | None]) -> tuple[str, ...]:
    """Name the files of `before` (from `contents`) that hold something else now."""
    now = contents(root)
    return tuple(name for name in before if now.get(name) != before[name])


def next_step(root: Path, report: Report, *, fixed: bool) -> str:
    """Say what to run after ``doctor``: ``--fix``, the fixes that are the project's, ``init``, or the sessions."""
    if report.status == "failing":
        if report.remaining and not fixed:
            # What --fix would do, as it names it (`propose`): the plan a diagnosis shows without --json.
            plan = f" (it would: {', '.join(report.proposed)})" if report.proposed else ""
            return f"testfloor doctor --fix{plan}"
        return f"fix what is listed above, then run testfloor doctor{' --fix' if fixed else ''} again"
    noxfile = root / "noxfile.py"
    if not noxfile.is_file() or "testfloor" not in noxfile.read_text(encoding="utf-8", errors="replace"):
        return "testfloor init (the sessions, CI and the first baseline)"
    return "nox -s collect coverage baseline"


def table(diagnoses: Sequence[Diagnosis]) -> list[str]:
    """Count the errors by class, then list each with its cause, place and fix (or "project bug")."""
    lines = []
    for kind, count in sorted(Counter(item.kind for item in diagnoses).items()):
        lines.append(f"  {count:4d}  {kind}: {KINDS[kind][0]}")
    for item in diagnoses:
        fix = (
            f" [fix: {item.fix}]"
            if item.fix
            else " [project bug]"
            if item.is_project_bug
            else f" [testfloor's limitation: the stub of {item.subject or 'a module'}]"
        )
        lines.append(f"  {item.nodeid or '<root>'}: {item.cause} ({item.where}){fix}")
    return lines


def to_json(report: Report) -> str:
    """Render the report as versioned JSON, with numbers as numbers."""
    document = {
        "collected": report.collected,
        "exitstatus": report.exitstatus,
        "fixes": dict(sorted(report.fixes.items())),
        "format": FORMAT,
        "overrides": list(report.overrides),
        "passes": [asdict(item) for item in report.passes],
        "problem": report.problem,
        "proposed": list(report.proposed),
        "python": report.python,
        "quarantined": list(report.quarantined),
        "remaining": [asdict(item) for item in report.remaining],
        "status": report.status,
        "summary": summary(report),
    }
    return json.dumps(scrub_document(document), indent=2, sort_keys=True) + "\n"
