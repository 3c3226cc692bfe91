"""Combine coverage shards and write the reports, through coverage.py's public API."""

from __future__ import annotations

import contextlib
import functools
import glob
import io
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import coverage
from coverage.exceptions import CoverageException
from coverage.results import should_fail_under

from testfloor import analysis, atomic
from testfloor.errors import DataError, OutputError, RegressionError
from testfloor.parsecache import ParseCache

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

# What reading coverage data or sources can raise besides coverage.py's own errors: damaged metadata (ValueError),
# a broken database (sqlite3), a file that is not text or cannot be opened.
# A source whose encoding cookie names no codec raises SyntaxError while it is read.
_READ_ERRORS = (CoverageException, sqlite3.Error, OSError, ValueError, RecursionError, SyntaxError)
_SQLITE_HEADER = b"SQLite format 3\0"


@dataclass(frozen=True)
class Outputs:
    """Where each report goes; `None` means "not wanted"."""

    xml: Path | None = None
    json: Path | None = None
    markdown: Path | None = None


def find_shards(patterns: Sequence[Path], expect: int | None = None) -> list[Path]:
    """Expand `patterns` (paths, or globs like ``.coverage.*``) into shard files, checking that all are there.

    A plain path that is not a file, or a glob that matches nothing, is named
    as missing. A glob never matches a temporary file a killed write left
    behind. With `expect`, finding any other number of shards is an error that
    lists what was found: CI lost a shard, or uploaded one twice.
    """
    shards: list[Path] = []
    missing: list[str] = []
    for pattern in patterns:
        if glob.has_magic(str(pattern)):
            found = sorted(
                Path(name)
                for name in glob.glob(str(pattern))
                if Path(name).is_file() and not atomic.is_temporary(Path(name))
            )
            shards += [shard for shard in found if shard not in shards]
            if not found:
                missing.append(f"{pattern} (no match)")
        elif not pattern.is_file():
            missing.append(str(pattern))
        elif pattern not in shards:
            shards.append(pattern)
    if missing:
        raise DataError(
            f"missing coverage data: {', '.join(missing)}: run the tests sessions that write it (nox -s coverage runs "
            "them all), or list only the Pythons you test in [tool.testfloor] python"
        )
    if expect is not None and len(shards) != expect:
        names = ", ".join(str(shard) for shard in shards) or "none"
        raise DataError(f"expected {expect} coverage shards, found {len(shards)}: {names}")
    return shards


def combine(shards: Sequence[Path], data_file: Path, expect: int | None = None) -> None:
    """Combine the `shards` (paths or globs) into `data_file`, keeping them.

    Every shard must exist and be readable, there must be `expect` of them
    when it is given, all must measure lines or all branches, and the result
    must not be empty: coverage.py itself only warns about an unreadable file
    and skips it, and combines what it finds. Nothing is written before every
    shard is checked, and checking writes nothing.
    """
    shards = find_shards(shards, expect)
    kinds = {shard: _check_readable(shard) for shard in shards}
    if len(set(kinds.values())) > 1:
        lines = next(shard for shard, arcs in kinds.items() if not arcs)
        branches = next(shard for shard, arcs in kinds.items() if arcs)
        raise DataError(f"{lines}: measured lines only, but {branches} measured branches: cannot combine them")
    if data_file.is_dir():
        raise OutputError(f"{data_file}: cannot write: Is a directory")
    with _opened(data_file) as cov:
        try:
            cov.combine([str(shard) for shard in shards], strict=True, keep=True)
            cov.save()
        except _READ_ERRORS as err:
            raise DataError(f"{data_file}: cannot combine: {err}") from None
        if not cov.get_data().measured_files():
            raise DataError(f"{data_file}: the combined data measured no files (was it combined twice?)")


@contextlib.contextmanager
def _opened(data_file: Path) -> Iterator[coverage.Coverage]:
    cov = coverage.Coverage(data_file=str(data_file))
    try:
        yield cov
    finally:
        # coverage.py closes its database only when the process exits; a long-lived process must not wait.
        cov.get_data().close(force=True)


def _check_readable(path: Path) -> bool:
    """Check that `path` is coverage data that measured something; return whether it measured branches.

    coverage.py makes a database of a file that is not one (an empty file
    becomes 53 KB): a file without SQLite's header is refused unopened.
    """
    try:
        with open(path, "rb") as shard:
            header = shard.read(len(_SQLITE_HEADER))
    except OSError as err:
        raise DataError(f"{path}: unreadable coverage data: {err.strerror}") from None
    if header != _SQLITE_HEADER:
        raise DataError(f"{path}: unreadable coverage data: not an SQLite database")
    data = coverage.CoverageData(basename=str(path))
    try:
        data.read()
        measured = data.measured_files()
        arcs = data.has_arcs()
    except _READ_ERRORS as err:
        raise DataError(f"{path}: unreadable coverage data: {err}") from None
    finally:
        data.close(force=True)
    if not measured:
        raise DataError(f"{path}: coverage data measured no files")
    return arcs


def write_reports(
    data_file: Path,
    outputs: Outputs,
    fail_under: float | None = None,
    jobs: int | None = None,
    cache: Path | None = None,
) -> tuple[float, str]:
    """Write the reports `outputs` asks for from `data_file`; return the total and the terminal table.

    Every report comes from one analysis per source file, computed by `jobs`
    processes (default: one per core); the reports are coverage.py's own. With
    `cache`, a directory, the parse of each file is kept there, and a file
    whose parse is kept is not parsed again. Each report is written
    atomically. With `fail_under`, a total below it (compared as coverage.py
    does, at the configured precision) raises `RegressionError` after the
    reports are written.
    """
    if not data_file.is_file():
        raise DataError(f"{data_file}: not found")
    for output in (outputs.xml, outputs.json, outputs.markdown):
        if output is not None and output.is_dir():
            raise OutputError(f"{output}: cannot write: Is a directory")
    with _opened(data_file) as cov:
        try:
            cov.load()
            cov.get_data().has_arcs()
        except _READ_ERRORS as err:
            raise DataError(f"{data_file}: cannot report: {err}") from None
        jobs = analysis.default_jobs() if jobs is None else jobs
        kept = None
        if cache is not None:
            # What a parse depends on besides the file: whether arcs are wanted, and the exclusion patterns.
            kept = ParseCache(cache, [cov.get_data().has_arcs(), cov.config.exclude_list])
            kept.claim()
        with analysis.shared(cov, jobs, kept) as sharing:  # analyses are made as the reports ask, inside `_write`
            return _write(cov, data_file, outputs, fail_under, jobs if sharing else 1)


def _write(
    cov: coverage.Coverage, data_file: Path, outputs: Outputs, fail_under: float | None, jobs: int
) -> tuple[float, str]:
    # The XML report is the slowest to build (a whole DOM): it goes first, so that it can run beside the others.
    writers = [
        functools.partial(_write_xml, cov, outputs.xml) if outputs.xml is not None else None,
        functools.partial(_write_json, cov, outputs.json) if outputs.json is not None else None,
        functools.partial(_write_markdown, cov, outputs.markdown) if outputs.markdown is not None else None,
    ]
    try:
        analysis.run_concurrently(cov, [writer for writer in writers if writer is not None], jobs)
        table = io.StringIO()
        total = cov.report(file=table)
    except _READ_ERRORS as err:
        raise DataError(f"{data_file}: cannot report: {err}") from None
    precision = cov.config.precision
    if fail_under is not None and should_fail_under(total, fail_under, precision):
        raise RegressionError(
            f"total coverage {display_percent(total, precision)}% is below the required {fail_under}%"
        )
    return total, table.getvalue()


def _write_xml(cov: coverage.Coverage, path: Path) -> None:
    with atomic.replacing(path) as temporary:
        cov.xml_report(outfile=str(temporary))


def _write_json(cov: coverage.Coverage, path: Path) -> None:
    with atomic.replacing(path) as temporary:
        cov.json_report(outfile=str(temporary))


def _write_markdown(cov: coverage.Coverage, path: Path) -> None:
    markdown = io.StringIO()
    cov.report(file=markdown, output_format="markdown")
    atomic.write_text(path, markdown.getvalue())


def display_percent(value: float, precision: int) -> str:
    """Show a percentage as coverage.py does: never "100" unless it is 100, never "0" unless it is 0."""
    step = 10.0**-precision
    shown = round(value, precision)
    if shown == 100 and value < 100:
        shown = 100 - step
    elif shown == 0 and value > 0:
        shown = step
    return f"{shown:.{precision}f}"
