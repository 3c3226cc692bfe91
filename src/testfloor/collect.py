"""What a ``pytest --collect-only`` run found, recorded by the plugin and read back by the gate."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testfloor import atomic
from testfloor.errors import CollectionError, DataError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pytest

    from testfloor.pytestconfig import Override

FORMAT = 1

# pytest's exit statuses, as the gate explains them.
_MEANING = {
    1: "tests failed",
    2: "collection was interrupted by errors",
    3: "pytest hit an internal error",
    4: "pytest was used wrongly (bad option or ini value, or the root conftest failed to import)",
    5: "no tests were collected",
}


@dataclass(frozen=True)
class CollectError:
    """One collector that failed: its node id and the last line of its error."""

    nodeid: str
    message: str


@dataclass(frozen=True)
class Outcome:
    """The result of one collect-only run."""

    exitstatus: int
    nodeids: tuple[str, ...]
    errors: tuple[CollectError, ...]
    overrides: tuple[str, ...] = ()

    def check(self) -> int:
        """Return the number of tests collected, or raise `CollectionError` saying what went wrong."""
        if self.exitstatus == 0 and self.nodeids:
            return len(self.nodeids)
        status = self.exitstatus or 5  # a clean exit that collected nothing is still an empty suite
        meaning = _MEANING.get(status, f"pytest exited with status {status}")
        lines = [f"the collect gate failed: {meaning}"]
        lines.extend(f"  {error.nodeid or '<root>'}: {error.message}" for error in self.errors)
        raise CollectionError("\n".join(lines))


class Recorder:
    """A pytest plugin object that writes an `Outcome` as JSON when the session ends."""

    def __init__(self, path: str | Path, overrides: Sequence[Override] = ()) -> None:
        self.path = Path(path)
        self.errors: list[CollectError] = []
        # The list the plugin keeps adding to until the session starts.
        self.overrides = overrides

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            lines = [line for line in str(report.longrepr).splitlines() if line.strip()]
            self.errors.append(CollectError(report.nodeid, lines[-1].strip() if lines else "error"))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        document = {
            "errors": [{"message": error.message, "nodeid": error.nodeid} for error in self.errors],
            "exitstatus": int(exitstatus),
            "format": FORMAT,
            "nodeids": [item.nodeid for item in session.items],
            "overrides": [str(override) for override in self.overrides],
        }
        atomic.write_text(self.path, json.dumps(document, indent=1, sort_keys=True) + "\n")


def read_outcome(path: Path) -> Outcome:
    """Read what a `Recorder` wrote; a missing file means pytest stopped before the session started."""
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return Outcome(
            exitstatus=int(document["exitstatus"]),
            nodeids=tuple(document["nodeids"]),
            errors=tuple(CollectError(error["nodeid"], error["message"]) for error in document["errors"]),
            overrides=tuple(str(override) for override in document.get("overrides", [])),
        )
    except FileNotFoundError:
        raise CollectionError(f"the collect gate failed: {_MEANING[4]}; see pytest's output above") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: unreadable collect report: {err}") from None
