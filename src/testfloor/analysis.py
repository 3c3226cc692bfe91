"""One analysis per source file, shared by every report coverage.py writes, and spread over the cores.

coverage.py analyses every source file again for each report it writes
(``json_report``, ``xml_report``, ``report``): parsing the source is most of
the cost. Its reporters all get their files from `Coverage._get_file_reporters`
and their analyses from `Coverage._analyze`, after remapping the data with
`Coverage._prepare_data_for_reporting`: three private methods. Inside `shared`,
they are replaced, on one `Coverage` instance only, by versions that do their
work once; the analyses can be computed beforehand by worker processes. The
reporters themselves are coverage.py's own, so the reports are exactly the
ones coverage.py writes.

The JSON reporter keeps every file's part of the report, as dicts and lists,
until it writes them all with ``json.dump``, which encodes piece by piece in
Python. Inside `shared`, each file's part is encoded as soon as it is made
(`EncodedJson`, a fraction of the memory), and `coverage.jsonreport`'s name
``json`` is bound to `StreamingJson`, whose ``dump`` encodes the rest in one
go in C and writes the parts in place: the same text, faster.

The XML reporter builds a ``xml.dom.minidom`` document, whose ``setAttribute``
alone takes most of the report's time and memory. Inside `shared`,
`coverage.xmlreport`'s name ``xml`` is bound to a stand-in whose minidom is
`LightDocument`: the few calls the reporter makes, and minidom's own pretty
printing, escaped as the running Python's minidom escapes (learned from it).
A light element keeps its attributes as the text they print as.

Because the hooks are private, `shared` checks the coverage.py version and
the methods' presence first; where they do not fit, reporting takes the plain
path (one analysis per report), which is slower and otherwise the same. The
two module names and the JSON reporter's method are process-wide: `shared` is
for one reporting thread.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import inspect
import json
import os
import pickle
import threading
import types
import xml
import xml.dom.minidom
from array import array
from itertools import chain
from typing import TYPE_CHECKING, Any, cast

import coverage
import coverage.jsonreport
import coverage.xmlreport
from coverage.exceptions import CoverageException
from coverage.python import PythonFileReporter
from coverage.results import Analysis

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from coverage.plugin import CodeRegion, FileReporter

    from testfloor.parsecache import ParseCache

# The coverage.py versions whose private reporting hooks are known to behave as described above: 7.15 is the first
# whose `_analyze` takes the `file_reporter`; 7.10 to 7.14 (which testfloor supports) report the plain way.
SUPPORTED = ((7, 15), (8, 0))
_HOOKS = ("_analyze", "_get_file_reporter", "_get_file_reporters", "_prepare_data_for_reporting")
# Below this many files, starting worker processes costs more than it saves.
MIN_FILES_PER_WORKER = 50


def supported(cov: coverage.Coverage) -> bool:
    """Tell whether `cov` has the private hooks `shared` relies on, in a version known to have them."""
    if not SUPPORTED[0] <= tuple(coverage.version_info[:2]) < SUPPORTED[1]:
        return False
    if not all(callable(getattr(cov, name, None)) for name in _HOOKS):
        return False
    if getattr(coverage.jsonreport, "json", None) is not json or getattr(coverage.xmlreport, "xml", None) is not xml:
        return False
    if not callable(getattr(coverage.jsonreport.JsonReporter, "report_one_file", None)) or not _ANALYSIS_FIELDS:
        return False
    return "file_reporter" in inspect.signature(cov._analyze).parameters


class EncodedJson:
    """A value already encoded, as ``json.dumps(value, indent=indent)`` encodes it: a file's part of the JSON report."""

    __slots__ = ("indent", "text")

    def __init__(self, value: object, indent: int | str | None) -> None:
        self.text = json.dumps(value, indent=indent)
        self.indent = indent


# A JSON string that no report contains (no file or context name holds a NUL): where an encoded value goes.
_MARK = "\0testfloor: encoded\0"
_ENCODED_MARK = json.dumps(_MARK)


def _decoded(value: object) -> object:
    if not isinstance(value, EncodedJson):
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
    return json.loads(value.text)


class StreamingJson:
    """What `coverage.jsonreport` sees as ``json`` inside `shared`: ``dump`` writes what ``json.dump`` writes.

    The document is encoded in one go by ``json.dumps`` (in C), not piece by
    piece; the values that are already `EncodedJson` are written as they are,
    at their place, indented for their depth.
    """

    @staticmethod
    def dump(document: object, file: Any, **options: Any) -> None:
        """Write `document` to `file` as ``json.dump(document, file, **options)`` would."""
        indent = options.get("indent")
        fragments: list[str] = []

        def encode(value: object) -> object:
            if not isinstance(value, EncodedJson) or value.indent != indent:  # encoded for other options: again
                return _decoded(value)
            fragments.append(value.text)
            return _MARK

        parts = json.dumps(document, default=encode, **options).split(_ENCODED_MARK)
        if len(parts) != len(fragments) + 1:
            # The document holds the mark itself: encode it whole, with the encoded values decoded.
            parts, fragments = [json.dumps(document, default=_decoded, **options)], []
        for part, fragment in zip(parts, fragments, strict=False):  # one part more than fragments
            file.write(part)
            line = part[part.rfind("\n") + 1 :]
            # JSON text holds no newline but between values: each one starts a line at the value's depth.
            file.write(fragment.replace("\n", "\n" + line[: len(line) - len(line.lstrip())]))
        file.write(parts[-1])


def default_jobs() -> int:
    """Return the number of cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - platforms without sched_getaffinity (macOS, Windows)


@contextlib.contextmanager
def shared(cov: coverage.Coverage, jobs: int = 1, cache: ParseCache | None = None) -> Iterator[bool]:
    """Make every report `cov` writes inside the block reuse one analysis per file; yield whether it does.

    With `jobs` above 1 and enough files, the analyses are computed by that
    many worker processes before the first report needs them. With `cache`,
    they are computed beforehand in any case, from the kept parses of the
    files that did not change.
    """
    if not supported(cov):
        yield False
        return
    # Before any report remaps the data to an in-memory copy ([paths]), note the file the workers will read.
    data_file = cov.get_data().data_filename()
    original_reporters = cov._get_file_reporters
    original_analyze = cov._analyze
    original_prepare = cov._prepare_data_for_reporting
    original_one_file = coverage.jsonreport.JsonReporter.report_one_file
    reporters: list[tuple[FileReporter, Any]] | None = None
    analyses: dict[str, Packed | Exception] = {}
    prepared = False

    def prepare_data_for_reporting() -> None:
        # Every report remaps the data ([paths]) into a new in-memory copy and keeps the old ones until the end.
        # Remapping mapped data changes nothing: once is enough.
        nonlocal prepared
        if not prepared:
            original_prepare()
            prepared = True

    def get_file_reporters(morfs: Any = None) -> list[tuple[FileReporter, Any]]:
        nonlocal reporters
        if morfs:
            return original_reporters(morfs)
        if reporters is None:
            # Made once: making them reads the data file, which a forked writer must not do.
            reporters = original_reporters(morfs)
            computed = analyze_in_workers(cov, data_file, [morf for _fr, morf in reporters], jobs, cache)
            for file_reporter, morf in reporters:
                if morf in computed:
                    analyses[morf], regions = computed[morf]
                    # The JSON report asks each file for its functions and classes, parsing it again: answer from the
                    # worker's parse. `code_regions` is public FileReporter API; this shadows it on one instance.
                    file_reporter.code_regions = functools.partial(unpack_regions, regions)  # type: ignore[method-assign]
        # The reporters pop from the list they get: give each one its own.
        return list(reporters)

    def report_one_file(reporter: coverage.jsonreport.JsonReporter, *args: Any, **kwargs: Any) -> Any:
        # Encoded at once: the reporter keeps every file's part until it writes them all.
        indent = 4 if reporter.config.json_pretty_print else None
        return EncodedJson(original_one_file(reporter, *args, **kwargs), indent)

    def analyze(morf: Any, file_reporter: FileReporter | None = None) -> Analysis:
        # Reporters pass the measured file name; anything else (a module object) takes the plain path.
        if not isinstance(morf, str):
            return original_analyze(morf, file_reporter=file_reporter)
        if morf not in analyses:
            try:
                # Without the kept file reporter: coverage.py makes a new one, whose parsed source is dropped after.
                analyses[morf] = Packed(original_analyze(morf))
            except Exception as err:
                # Kept too: a forked writer must meet the same error without reading the data file.
                analyses[morf] = err
        result = analyses[morf]
        if isinstance(result, Exception):
            raise result
        return result.unpack()

    # Instance attributes shadow the methods for this object only, and go when the block ends.
    cov._get_file_reporters = get_file_reporters  # type: ignore[method-assign]
    cov._analyze = analyze  # type: ignore[method-assign]
    cov._prepare_data_for_reporting = prepare_data_for_reporting  # type: ignore[method-assign]
    setattr(coverage.jsonreport, "json", StreamingJson)  # noqa: B010 - a module global, not an attribute mypy knows
    coverage.jsonreport.JsonReporter.report_one_file = report_one_file  # type: ignore[method-assign,assignment]
    setattr(coverage.xmlreport, "xml", LIGHT_XML)  # noqa: B010
    try:
        yield True
    finally:
        del cov._get_file_reporters
        del cov._analyze
        del cov._prepare_data_for_reporting
        setattr(coverage.jsonreport, "json", json)  # noqa: B010
        coverage.jsonreport.JsonReporter.report_one_file = original_one_file  # type: ignore[method-assign]
        setattr(coverage.xmlreport, "xml", xml)  # noqa: B010


# How `Packed` keeps a value, and makes it again.
_AS_IS, _LINES, _ARCS, _COUNTS, _DEFAULT_COUNTS = range(5)


class Packed:
    """An `Analysis`, kept as its fields in arrays: a tenth of its memory, made again for each report that asks.

    coverage.py's `Analysis` is a dataclass whose fields are made from its
    constructor's arguments: sets of line numbers, sets of arcs (pairs of
    line numbers) and counts by line. Those go into arrays of 32-bit numbers;
    any other field is kept as it is.
    """

    __slots__ = ("fields",)

    def __init__(self, result: Analysis) -> None:
        self.fields = [(field.name, *_pack(getattr(result, field.name))) for field in _ANALYSIS_FIELDS]

    def unpack(self) -> Analysis:
        """Make the analysis again."""
        return Analysis(**{name: _unpack(how, value) for name, how, value in self.fields})


# A coverage.py whose Analysis is not a dataclass is not supported: `shared` then takes the plain path.
_ANALYSIS_FIELDS = (
    [field for field in dataclasses.fields(Analysis) if field.init] if dataclasses.is_dataclass(Analysis) else []
)


def _pack(value: object) -> tuple[int, object]:
    try:
        if isinstance(value, set):
            if all(type(item) is int for item in value):
                return _LINES, array("i", value)
            if all(type(item) is tuple and len(item) == 2 for item in value):
                return _ARCS, array("i", chain.from_iterable(value))
        elif type(value) is dict or (type(value) is collections.defaultdict and value.default_factory is int):
            return (_COUNTS if type(value) is dict else _DEFAULT_COUNTS), array("i", chain.from_iterable(value.items()))
    except (TypeError, OverflowError):  # not numbers, or beyond 32 bits
        pass
    return _AS_IS, value


def _unpack(how: int, value: Any) -> Any:
    if how == _LINES:
        return set(value)
    if how == _ARCS:
        return set(zip(value[::2], value[1::2], strict=True))
    if how == _COUNTS:
        return dict(zip(value[::2], value[1::2], strict=True))
    if how == _DEFAULT_COUNTS:
        return collections.defaultdict(int, zip(value[::2], value[1::2], strict=True))
    return value


def pack_regions(regions: Iterable[CodeRegion]) -> list[CodeRegion]:
    """Keep the line numbers of each of a file's functions and classes in an array."""
    return [dataclasses.replace(region, lines=array("i", region.lines)) for region in regions]  # type: ignore[arg-type]


def unpack_regions(regions: Iterable[CodeRegion]) -> list[CodeRegion]:
    """Make the regions `pack_regions` kept again."""
    return [dataclasses.replace(region, lines=set(region.lines)) for region in regions]


def _learn_escapes(attribute: bool) -> dict[int, str]:
    # minidom's escaping changed in Python 3.13 (tabs and newlines in attributes): ask the one that is running.
    document = xml.dom.minidom.getDOMImplementation().createDocument(None, "a", None)
    table = {}
    for char in "&<>\"\r\n\t'":
        element = document.createElement("b")
        if attribute:
            element.setAttribute("v", char)
            escaped = element.toxml()[len('<b v="') : -len('"/>')]
        else:
            element.appendChild(document.createTextNode(char))
            escaped = element.toxml()[len("<b>") : -len("</b>")]
        if escaped != char:
            table[ord(char)] = escaped
    return table


_ATTRIBUTE_ESCAPES = _learn_escapes(attribute=True)
_TEXT_ESCAPES = _learn_escapes(attribute=False)
_XML_HEADER = xml.dom.minidom.getDOMImplementation().createDocument(None, "a", None).toprettyxml().split("<a")[0]


class LightText:
    """A text node."""

    __slots__ = ("data",)

    def __init__(self, data: str) -> None:
        self.data = data

    def render(self, indent: str, newline: str, step: str) -> str:
        """Return this node as minidom's pretty printer writes it."""
        return f"{indent}{self.data}{newline}".translate(_TEXT_ESCAPES)


class LightComment(LightText):
    """A comment."""

    __slots__ = ()

    def render(self, indent: str, newline: str, step: str) -> str:
        """Return this node as minidom's pretty printer writes it."""
        return f"{indent}<!--{self.data}-->{newline}"


class LightElement:
    """An element: a tag, attributes in the order first set, and children.

    The attributes are kept as the text they print as (`attributes`): a
    report has an element for every statement, and a string is a fraction of
    a dict. An escaped value holds no ``"``, so ``' name="'`` finds `name`'s.
    """

    __slots__ = ("attributes", "childNodes", "tagName")

    def __init__(self, tag: str) -> None:
        self.tagName = tag
        self.attributes = ""
        self.childNodes: list[LightElement | LightText] | None = None

    def setAttribute(self, name: str, value: str) -> None:
        """Set an attribute; a new one goes last, as in minidom."""
        printed = f' {name}="{value.translate(_ATTRIBUTE_ESCAPES)}"'
        start = self.attributes.find(f' {name}="')
        if start < 0:
            self.attributes += printed
        else:
            end = self.attributes.index('"', start + len(name) + 3) + 1
            self.attributes = self.attributes[:start] + printed + self.attributes[end:]

    def appendChild(self, node: LightElement | LightText) -> LightElement | LightText:
        """Append a child node and return it."""
        if self.childNodes is None:
            self.childNodes = []
        self.childNodes.append(node)
        return node

    def render(self, indent: str, newline: str, step: str) -> str:
        """Return this element and its children as minidom's ``writexml`` writes them when pretty printing."""
        children = self.childNodes
        if not children:
            return f"{indent}<{self.tagName}{self.attributes}/>{newline}"
        if len(children) == 1 and type(children[0]) is LightText:
            inner = children[0].render("", "", "")
            return f"{indent}<{self.tagName}{self.attributes}>{inner}</{self.tagName}>{newline}"
        inner = "".join([node.render(indent + step, newline, step) for node in children])
        return f"{indent}<{self.tagName}{self.attributes}>{newline}{inner}{indent}</{self.tagName}>{newline}"


class LightDocument:
    """The part of a minidom document coverage.py's XML reporter uses."""

    def __init__(self, root: str) -> None:
        self.documentElement = LightElement(root)

    def createElement(self, tag: str) -> LightElement:
        """Make an element."""
        return LightElement(tag)

    def createComment(self, data: str) -> LightComment:
        """Make a comment."""
        return LightComment(data)

    def createTextNode(self, data: str) -> LightText:
        """Make a text node."""
        return LightText(data)

    def toprettyxml(self, indent: str = "\t", newl: str = "\n") -> str:
        """Serialize as minidom's ``toprettyxml`` does."""
        return _XML_HEADER.rstrip("\n") + newl + self.documentElement.render("", newl, indent)


class LightImplementation:
    """Stands in for ``xml.dom.minidom.getDOMImplementation()``."""

    def createDocument(self, namespace: str | None, root: str, doctype: object) -> LightDocument:
        """Make a document with a root element named `root`."""
        return LightDocument(root)


LIGHT_XML = types.SimpleNamespace(
    dom=types.SimpleNamespace(
        minidom=types.SimpleNamespace(
            getDOMImplementation=LightImplementation, Document=LightDocument, Element=LightElement
        )
    )
)


def run_concurrently(cov: coverage.Coverage, writers: Sequence[Callable[[], None]], jobs: int) -> None:
    """Call each of `writers`; with `jobs` above 1, run all but the last in forked processes meanwhile.

    Before forking, every file is analysed here, so the children find every
    analysis in the memo and never read the data file (an SQLite connection
    must not cross a fork). A child's failure is raised here as a
    `CoverageException` with its message, after every child has ended.
    """
    if jobs < 2 or len(writers) < 2 or not can_fork():
        for writer in writers:
            writer()
        return
    _analyze_everything(cov)
    forked = writers[: min(jobs, len(writers)) - 1]
    children = [_fork(writer) for writer in forked]
    try:
        for writer in writers[len(forked) :]:
            writer()
    finally:
        results = [_wait(child) for child in children]
    failures = [message for ok, message in results if not ok]
    if failures:
        raise CoverageException(str(failures[0]))


def _analyze_everything(cov: coverage.Coverage) -> None:
    cov._prepare_data_for_reporting()
    for file_reporter, morf in cov._get_file_reporters():
        # A file that cannot be analysed fails in its report, as coverage.py reports it.
        with contextlib.suppress(Exception):
            cov._analyze(morf, file_reporter=file_reporter)


def can_fork() -> bool:
    """Tell whether this process may fork: it can, and has one thread (a child of a threaded process may deadlock).

    testfloor forks with plain ``os.fork``: multiprocessing's pools start threads of their own.
    """
    return hasattr(os, "fork") and _thread_count() == 1


def _thread_count() -> int:
    # Threads started outside the threading module (execnet's, for one) count too, as they do for Python's own check.
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # pragma: no cover - systems without /proc (macOS, Windows)
        return threading.active_count()


def _fork(work: Callable[[], object]) -> tuple[int, int]:
    """Start `work` in a forked child; return its pid and the pipe its pickled result (or error) comes back on."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in a forked child, which coverage.py does not follow; tests check its work
        status = 0
        try:
            os.close(read_end)
            try:
                payload = b"\0" + pickle.dumps(work())
            except BaseException as err:
                payload, status = b"\1" + (str(err) or type(err).__name__).encode("utf-8", "replace"), 1
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
        finally:
            # No atexit handlers, no flushing of buffers the parent also holds, no closing of its database.
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _wait(child: tuple[int, int]) -> tuple[bool, object]:
    """Collect a forked child: ``(True, result)``, or ``(False, message)`` when it failed."""
    pid, read_end = child
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    _pid, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 0 and payload[:1] == b"\0":
        return True, pickle.loads(payload[1:])
    return False, payload[1:].decode("utf-8", "replace") or f"a report writer ended with status {code}"


def analyze_in_workers(
    cov: coverage.Coverage, data_file: str, morfs: Sequence[Any], jobs: int, cache: ParseCache | None = None
) -> dict[str, tuple[Packed, list[CodeRegion]]]:
    """Analyse the files named by `morfs` in `jobs` processes (this one, and forked ones), reading `data_file`.

    Returns each file's analysis and code regions by file name, or nothing
    when one process would do and there is no `cache` (few files, one job),
    or when `morfs` holds names that are not file names. A file a worker
    cannot analyse, or all of a worker's files if it fails, are left out: the
    reporter analyses them itself and reports any problem as coverage.py
    does. When every worker succeeded, the cache keeps only what they used.
    """
    names = [morf for morf in morfs if isinstance(morf, str)]
    if len(names) != len(morfs):
        return {}
    workers = min(jobs, len(names) // MIN_FILES_PER_WORKER)
    if workers < 2 or not can_fork():
        if cache is None:
            return {}
        workers = 1
    config_file = cov.config.config_file or False
    chunks = [names[index::workers] for index in range(workers)]
    work = functools.partial(analyze_chunk, data_file, config_file, cache=cache)
    children = [_fork(functools.partial(work, chunk)) for chunk in chunks[1:]]
    analyses: dict[str, tuple[Packed, list[CodeRegion]]] = {}
    used: list[str] = []
    results: list[tuple[bool, object]] = []
    # This process takes the first share itself rather than wait; if it fails, the reporters take it.
    try:
        results.append((True, work(chunks[0])))
    except Exception as err:
        results.append((False, err))
    results += [_wait(child) for child in children]
    for ok, result in results:
        if ok:
            chunk_analyses, chunk_keys = cast("tuple[dict[str, tuple[Packed, list[CodeRegion]]], list[str]]", result)
            analyses.update(chunk_analyses)
            used += chunk_keys
    if cache is not None and all(ok for ok, _result in results):
        cache.prune(used)
    return analyses


def analyze_chunk(
    data_file: str, config_file: str | bool, names: Sequence[str], cache: ParseCache | None = None
) -> tuple[dict[str, tuple[Packed, list[CodeRegion]]], list[str]]:
    """Analyse the files `names` as a worker: a `Coverage` of its own, reading `data_file` with `config_file`.

    Returns each file's analysis and regions by name, and the cache entries used.
    """
    cov = coverage.Coverage(data_file=data_file, config_file=config_file)
    try:
        cov.load()
        cov._prepare_data_for_reporting()
        analyses = {}
        used: list[str] = []
        for name in names:
            try:
                file_reporter = cov._get_file_reporter(name)
                if cache is not None and type(file_reporter) is PythonFileReporter:
                    result, regions = _analyze_with_cache(cov, name, file_reporter, cache, used)
                else:
                    result, regions = cov._analyze(name, file_reporter=file_reporter), file_reporter.code_regions()
                analyses[name] = (Packed(result), pack_regions(regions))
            except Exception:  # the reporter meets the same error and handles it as coverage.py does
                continue
        return analyses, used
    finally:
        cov.get_data().close(force=True)


def _analyze_with_cache(
    cov: coverage.Coverage, name: str, file_reporter: PythonFileReporter, cache: ParseCache, used: list[str]
) -> tuple[Analysis, Iterable[CodeRegion]]:
    # coverage.py applies the data to the parser it finds on the file reporter: a kept one, or its own new one.
    text = file_reporter.source()
    key = cache.key(file_reporter.relative_filename(), text)
    kept = cache.load(key, file_reporter.filename, text)
    if kept is not None:
        file_reporter._parser, regions = kept
        used.append(key)
        return cov._analyze(name, file_reporter=file_reporter), regions
    result = cov._analyze(name, file_reporter=file_reporter)
    regions = list(file_reporter.code_regions())
    if cache.store(key, file_reporter.parser, regions):
        used.append(key)
    return result, regions
