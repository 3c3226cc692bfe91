"""One analysis per source file, shared by every report coverage.py writes, and spread over the cores.

coverage.py analyses every source file again for each report it writes
(``json_report``, ``xml_report``, ``report``): parsing the source is most of
the cost. Its reporters all get their files from `Coverage._get_file_reporters`
and their analyses from `Coverage._analyze`, two private methods. Inside
`shared`, a `Coverage` object's two methods are replaced, on that instance
only, by memoizing versions; the analyses can be computed beforehand by worker
processes. The reporters themselves are coverage.py's own, so the reports are
exactly the ones coverage.py writes.

Because the hooks are private, `shared` checks the coverage.py version and
the methods' presence first; where they do not fit, reporting takes the plain
path (one analysis per report), which is slower and otherwise the same.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

import coverage

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from coverage.plugin import CodeRegion, FileReporter
    from coverage.results import Analysis

# The coverage.py versions whose private reporting hooks are known to behave as described above.
SUPPORTED = ((7, 10), (8, 0))
_HOOKS = ("_analyze", "_get_file_reporter", "_get_file_reporters", "_prepare_data_for_reporting")
# Below this many files, starting worker processes costs more than it saves.
MIN_FILES_PER_WORKER = 50


def supported(cov: coverage.Coverage) -> bool:
    """Tell whether `cov` has the private hooks `shared` relies on, in a version known to have them."""
    if not SUPPORTED[0] <= tuple(coverage.version_info[:2]) < SUPPORTED[1]:
        return False
    if not all(callable(getattr(cov, name, None)) for name in _HOOKS):
        return False
    return "file_reporter" in inspect.signature(cov._analyze).parameters


def default_jobs() -> int:
    """Return the number of cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - platforms without sched_getaffinity (macOS, Windows)


@contextlib.contextmanager
def shared(cov: coverage.Coverage, jobs: int = 1) -> Iterator[bool]:
    """Make every report `cov` writes inside the block reuse one analysis per file; yield whether it does.

    With `jobs` above 1 and enough files, the analyses are computed by that
    many worker processes before the first report needs them.
    """
    if not supported(cov):
        yield False
        return
    # Before any report remaps the data to an in-memory copy ([paths]), note the file the workers will read.
    data_file = cov.get_data().data_filename()
    original_reporters = cov._get_file_reporters
    original_analyze = cov._analyze
    reporters: list[tuple[FileReporter, Any]] | None = None
    analyses: dict[str, Analysis] = {}

    def get_file_reporters(morfs: Any = None) -> list[tuple[FileReporter, Any]]:
        nonlocal reporters
        if morfs:
            return original_reporters(morfs)
        if reporters is None:
            reporters = original_reporters(morfs)
            computed = analyze_in_workers(cov, data_file, [morf for _fr, morf in reporters], jobs)
            for file_reporter, morf in reporters:
                if morf in computed:
                    analyses[morf], regions = computed[morf]
                    # The JSON report asks each file for its functions and classes, parsing it again: answer from the
                    # worker's parse. `code_regions` is public FileReporter API; this shadows it on one instance.
                    file_reporter.code_regions = functools.partial(list, regions)  # type: ignore[method-assign]
        # The reporters pop from the list they get: give each one its own.
        return list(reporters)

    def analyze(morf: Any, file_reporter: FileReporter | None = None) -> Analysis:
        # Reporters pass the measured file name; anything else (a module object) takes the plain path.
        if not isinstance(morf, str):
            return original_analyze(morf, file_reporter=file_reporter)
        if morf not in analyses:
            analyses[morf] = original_analyze(morf, file_reporter=file_reporter)
        return analyses[morf]

    # Instance attributes shadow the methods for this object only, and go when the block ends.
    cov._get_file_reporters = get_file_reporters  # type: ignore[method-assign]
    cov._analyze = analyze  # type: ignore[method-assign]
    try:
        yield True
    finally:
        del cov._get_file_reporters
        del cov._analyze


def analyze_in_workers(
    cov: coverage.Coverage, data_file: str, morfs: Sequence[Any], jobs: int
) -> dict[str, tuple[Analysis, list[CodeRegion]]]:
    """Analyse the files named by `morfs` in `jobs` processes, reading `data_file` with `cov`'s settings.

    Returns each file's analysis and code regions by file name, or nothing
    when one process would do (few files, one job, or names that are not file
    names). A file a worker cannot analyse is left out, so the reporter
    analyses it itself and reports the problem as coverage.py does.
    """
    names = [morf for morf in morfs if isinstance(morf, str)]
    workers = min(jobs, len(names) // MIN_FILES_PER_WORKER)
    # Workers are forked: they inherit the loaded modules and settings, and need no importable __main__ (as spawned
    # ones would). Forking is only safe with one thread, and only some platforms can.
    if workers < 2 or len(names) != len(morfs) or not _can_fork():
        return {}
    config_file = cov.config.config_file or False
    chunks = [names[index::workers] for index in range(workers)]
    context = multiprocessing.get_context("fork")
    analyses: dict[str, tuple[Analysis, list[CodeRegion]]] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for result in pool.map(analyze_chunk, [data_file] * workers, [config_file] * workers, chunks):
            analyses.update(result)
    return analyses


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def analyze_chunk(
    data_file: str, config_file: str | bool, names: Sequence[str]
) -> dict[str, tuple[Analysis, list[CodeRegion]]]:
    """Analyse the files `names` as a worker: a `Coverage` of its own, reading `data_file` with `config_file`."""
    cov = coverage.Coverage(data_file=data_file, config_file=config_file)
    try:
        cov.load()
        cov._prepare_data_for_reporting()
        analyses = {}
        for name in names:
            try:
                file_reporter = cov._get_file_reporter(name)
                analyses[name] = (cov._analyze(name, file_reporter=file_reporter), list(file_reporter.code_regions()))
            except Exception:  # the reporter meets the same error and handles it as coverage.py does
                continue
        return analyses
    finally:
        cov.get_data().close(force=True)
