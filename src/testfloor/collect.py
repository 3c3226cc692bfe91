"""What a ``pytest --collect-only`` run found, recorded by the plugin and read back by the gate."""

from __future__ import annotations

import json
import os
import re
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testfloor import atomic
from testfloor.env import scrub, scrub_document
from testfloor.errors import CollectionError, DataError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pytest

    from testfloor.pytestconfig import Override

FORMAT = 2

INTERNAL = "INTERNALERROR"  # how an error that stopped pytest itself is labelled

# pytest's exit statuses, as the gate explains them.
STATUS_MEANING = {
    1: "tests failed",
    2: "collection was interrupted by errors",
    3: "pytest hit an internal error",
    4: "pytest was used wrongly (bad option or ini value, or the root conftest failed to import)",
    5: "no tests were collected",
}


@dataclass(frozen=True)
class Cause:
    """One exception in the chain behind a collection error, as data.

    `type` is the exception's qualified name (``builtins.ModuleNotFoundError``);
    `name` is ``ImportError.name`` (the missing module); `path` and `line` say
    where in the project it was raised, `trail` every frame of the project on
    the way there (``path:line``, innermost first); `title` and `fields` are a pydantic
    ``ValidationError``'s model and failing field locations (never the values);
    `stub` says that a stub of testfloor raised it (`raised_by_stub`).
    """

    type: str
    message: str
    name: str | None = None
    path: str | None = None
    line: int | None = None
    title: str | None = None
    fields: tuple[str, ...] = ()
    trail: tuple[str, ...] = ()
    # Raised by one of testfloor's stubs (its traceback passes through them, or its message names a stub type).
    stub: bool = False

    @property
    def short_type(self) -> str:
        """The exception's class name without its module."""
        return self.type.rpartition(".")[2]


@dataclass(frozen=True)
class CollectError:
    """One collector that failed: its node id, the last line of its error, and the exception chain when known."""

    nodeid: str
    message: str
    chain: tuple[Cause, ...] = ()


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
        meaning = STATUS_MEANING.get(status, f"pytest exited with status {status}")
        lines = [f"the collect gate failed: {meaning}"]
        lines.extend(f"  {error.nodeid or '<root>'}: {error.message}" for error in self.errors)
        raise CollectionError("\n".join(lines))


def describe_exception(exc: BaseException, root: Path) -> tuple[Cause, ...]:
    """Walk `exc`, its ``__cause__`` and ``__context__``, and describe each as a `Cause`.

    The text pytest prints loses the type of an ImportError wrapped in its
    ``CollectError``; the objects keep it.
    """
    chain: list[Cause] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(_cause(current, root))
        # "raise X from None" hides the context, as Python's own traceback does.
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return tuple(chain)


def _cause(exc: BaseException, root: Path) -> Cause:
    kind = type(exc)
    trail = _trail(exc, root)
    path, line = trail[0] if trail else (None, None)
    title: str | None = None
    fields: tuple[str, ...] = ()
    errors = getattr(exc, "errors", None)
    if kind.__name__ == "ValidationError" and callable(errors):
        # pydantic (v1 and v2): the model's name and the failing fields; the values may be secrets.
        title = str(getattr(exc, "title", "") or "") or None
        fields = tuple(
            ".".join(map(str, error["loc"])) for error in errors() if isinstance(error, dict) and "loc" in error
        )
    name = getattr(exc, "name", None) if isinstance(exc, ImportError) else None
    # Masked before it is cut: a secret cut in two would no longer be recognised.
    text = scrub(str(exc)).strip()
    message = text.splitlines()[0] if text else ""
    # Paths inside the project read relative to it: the message may end up in committed settings.
    message = message.replace(f"{root}{os.sep}", "")
    kind_name = f"{kind.__module__}.{kind.__qualname__}"
    places = tuple(where if number is None else f"{where}:{number}" for where, number in trail)
    return Cause(kind_name, message[:300], name, path, line, title, fields, places, raised_by_stub(exc))


_STUB_FILES = frozenset({"stubs.py", "stubvalues.py", "shims.py"})
_STUB_TYPES = re.compile(r"\bStub(?:Meta|Object|Module|Version)\b|\bstub module '")


def raised_by_stub(exc: BaseException) -> bool:
    """Tell whether one of testfloor's stubs raised `exc`, rather than the project's code.

    It did when a frame of the traceback is in testfloor's stub modules, or
    when the message names a stub type (``'>=' not supported between
    instances of 'StubMeta' and 'int'``).
    """
    here = Path(__file__).resolve().parent
    for frame in traceback.extract_tb(exc.__traceback__):
        where = Path(frame.filename)
        if where.name in _STUB_FILES and where.resolve().parent == here:
            return True
    return _STUB_TYPES.search(str(exc)) is not None


def _trail(exc: BaseException, root: Path) -> list[tuple[str, int | None]]:
    # The project's frames, innermost first: where it was raised, then the code that led there.
    if isinstance(exc, SyntaxError) and exc.filename:
        places = [(_relative(exc.filename, root), exc.lineno)]
    elif type(exc).__name__ == "ConftestImportFailure":  # the conftest that failed; where, its cause says
        places = [(_relative(str(getattr(exc, "path", "")), root), None)]
    else:
        places = [
            (_relative(frame.filename, root), frame.lineno)
            for frame in reversed(traceback.extract_tb(exc.__traceback__))
        ]
    return [(where, number) for where, number in places if where is not None]


def _relative(filename: str, root: Path) -> str | None:
    if filename.startswith("<"):  # "<frozen os>", "<string>": no file of the project
        return None
    try:
        relative = Path(filename).resolve().relative_to(root)
    except (ValueError, OSError):
        return None
    parts = relative.parts
    if any(part in ("site-packages", ".nox", ".tox") or part.startswith(".venv") for part in parts):
        return None
    return relative.as_posix()


class Recorder:
    """A pytest plugin object that writes an `Outcome` as JSON when the session ends."""

    def __init__(self, path: str | Path, overrides: Sequence[Override] = (), root: Path | None = None) -> None:
        self.path = Path(path)
        self.root = (root or Path.cwd()).resolve()
        self.errors: list[CollectError] = []
        self.chains: dict[str, tuple[Cause, ...]] = {}
        # The list the plugin keeps adding to until the session starts.
        self.overrides = overrides

    def pytest_exception_interact(self, node: object, call: pytest.CallInfo[Any], report: object) -> None:
        import pytest

        if isinstance(report, pytest.CollectReport) and call.excinfo is not None:
            self.chains[report.nodeid] = describe_exception(call.excinfo.value, self.root)

    def pytest_internalerror(self, excrepr: object, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # pytest stopped: the error, with its cause, is what the outcome reports (the exit status alone says nothing).
        chain = describe_exception(excinfo.value, self.root)
        nodeid = next((cause.path for cause in chain if cause.path), "") or ""
        self.errors.append(CollectError(nodeid, f"{INTERNAL}: {chain[0].short_type}: {chain[0].message}"))
        self.chains[nodeid] = chain

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            lines = [line for line in str(report.longrepr).splitlines() if line.strip()]
            self.errors.append(CollectError(report.nodeid, lines[-1].strip() if lines else "error"))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        errors = [CollectError(error.nodeid, error.message, self.chains.get(error.nodeid, ())) for error in self.errors]
        write_outcome(
            self.path,
            Outcome(
                int(exitstatus),
                tuple(item.nodeid for item in session.items),
                tuple(errors),
                tuple(str(override) for override in self.overrides),
            ),
        )


def merge(outcomes: Sequence[Outcome]) -> Outcome:
    """Merge the outcomes of several runs (one per sub-project) into one: the worst status, every id and error.

    A run that collected nothing (5) does not make the whole "no tests" when
    the others collected some.
    """
    collected = any(outcome.nodeids for outcome in outcomes)
    statuses = [outcome.exitstatus for outcome in outcomes if not (collected and outcome.exitstatus == 5)]
    return Outcome(
        max(statuses, default=0),
        tuple(nodeid for outcome in outcomes for nodeid in outcome.nodeids),
        tuple(error for outcome in outcomes for error in outcome.errors),
        tuple(dict.fromkeys(override for outcome in outcomes for override in outcome.overrides)),
    )


def relocate(outcome: Outcome, prefix: str) -> Outcome:
    """Make the ids and paths of a run rooted in the sub-project `prefix` relative to the project root."""
    if not prefix:
        return outcome

    def moved(path: str | None) -> str | None:
        return f"{prefix}/{path}" if path else path

    errors = tuple(
        CollectError(
            moved(error.nodeid) or prefix,
            error.message,
            tuple(
                replace(cause, path=moved(cause.path), trail=tuple(f"{prefix}/{place}" for place in cause.trail))
                for cause in error.chain
            ),
        )
        for error in outcome.errors
    )
    return Outcome(
        outcome.exitstatus, tuple(f"{prefix}/{nodeid}" for nodeid in outcome.nodeids), errors, outcome.overrides
    )


def exit_report(collector: pytest.Collector, exc: SystemExit, recorder: Recorder | None) -> pytest.CollectReport:
    """Turn a `SystemExit` raised while collecting into that collector's failure."""
    import pytest

    root = recorder.root if recorder is not None else collector.config.rootpath.resolve()
    chain = describe_exception(exc, root)
    if recorder is not None:
        recorder.chains[collector.nodeid] = chain
    where = f" at {chain[0].path}:{chain[0].line}" if chain[0].path else ""
    message = scrub(f"SystemExit({exc.code!r}) raised while importing{where}: a script, not a test module")
    return pytest.CollectReport(collector.nodeid, "failed", message, [])


def record_early_failure(path: str | Path, exc: BaseException, root: Path) -> None:
    """Write the outcome of a run that stopped before collection (a root conftest that fails to import)."""
    resolved = root.resolve()
    chain = describe_exception(exc, resolved)
    nodeid = next((cause.path for cause in chain if cause.path), "") or ""
    message = f"{chain[-1].short_type}: {chain[-1].message}"
    write_outcome(Path(path), Outcome(4, (), (CollectError(nodeid, message, chain),)))


def write_outcome(path: Path, outcome: Outcome) -> None:
    """Write `outcome` as versioned JSON, atomically, every string masked (`testfloor.env.scrub`).

    The values the plugin applied from ``[tool.testfloor.env]`` are in this
    process's environment, where `scrub` looks for secrets.
    """
    document = {
        "errors": [
            {"chain": [_cause_json(cause) for cause in error.chain], "message": error.message, "nodeid": error.nodeid}
            for error in outcome.errors
        ],
        "exitstatus": outcome.exitstatus,
        "format": FORMAT,
        "nodeids": list(outcome.nodeids),
        "overrides": list(outcome.overrides),
    }
    atomic.write_text(path, json.dumps(scrub_document(document), indent=1, sort_keys=True) + "\n")


def _cause_json(cause: Cause) -> dict[str, Any]:
    document = asdict(cause)
    document["fields"] = list(cause.fields)
    document["trail"] = list(cause.trail)
    return document


def read_outcome(path: Path) -> Outcome:
    """Read what a `Recorder` wrote; a missing file means pytest stopped before the session started."""
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return Outcome(
            exitstatus=int(document["exitstatus"]),
            nodeids=tuple(document["nodeids"]),
            errors=tuple(
                CollectError(
                    error["nodeid"],
                    error["message"],
                    tuple(
                        Cause(**{**cause, "fields": tuple(cause["fields"]), "trail": tuple(cause.get("trail", ()))})
                        for cause in error.get("chain", [])
                    ),
                )
                for error in document["errors"]
            ),
            overrides=tuple(str(override) for override in document.get("overrides", [])),
        )
    except FileNotFoundError:
        raise CollectionError(f"the collect gate failed: {STATUS_MEANING[4]}; see pytest's output above") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: unreadable collect report: {err}") from None
