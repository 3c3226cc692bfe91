from __future__ import annotations

import collections
import contextlib
import importlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import coverage
import coverage.jsonreport
import coverage.python
import coverage.xmlreport
import pytest
from coverage.exceptions import CoverageException, CoverageWarning

from helpers import FAST_PATH, GOLDEN, clean_environ, needs_fast_path
from testfloor import analysis
from testfloor.errors import DataError
from testfloor.report import Outputs, write_reports

# In a threaded process (an xdist worker) testfloor does not fork, and these tests have nothing to check.
needs_fork = pytest.mark.skipif(not analysis.can_fork(), reason="this process has threads: testfloor will not fork")


def normalized_xml(text: str) -> str:
    """The XML without what changes from run to run (the time) or from release to release (the version)."""
    return re.sub(r'timestamp="\d+"', 'timestamp="0"', re.sub(r"\d+\.\d+\.\d+", "VERSION", text))


def normalized_json(text: str) -> dict[str, object]:
    document = json.loads(text)
    document["meta"].update(timestamp="0", version="VERSION")
    return document


def write_all(root: Path, jobs: int) -> str:
    outputs = Outputs(xml=root / "ours.xml", json=root / "ours.json", markdown=root / "ours.md")
    _total, table = write_reports(root / ".coverage", outputs, jobs=jobs)
    return table


def assert_same_as_coverage(root: Path, table: str) -> None:
    own_xml, ours_xml = (root / "own.xml").read_text(), (root / "ours.xml").read_text()
    assert re.sub(r'timestamp="\d+"', "", ours_xml) == re.sub(r'timestamp="\d+"', "", own_xml)
    own_json, ours_json = json.loads((root / "own.json").read_text()), json.loads((root / "ours.json").read_text())
    assert own_json.pop("meta").pop("timestamp") != ""
    assert ours_json.pop("meta").pop("timestamp") != ""
    assert ours_json == own_json
    assert (root / "ours.json").read_text().count("\n") == (root / "own.json").read_text().count("\n")
    assert (root / "ours.md").read_text() == (root / "own.md").read_text()
    assert table == (root / "own.txt").read_text()


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_report_equals_what_coverage_itself_writes(
    golden_project: tuple[str, Path], jobs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mode, root = golden_project
    monkeypatch.setattr(analysis, "MIN_FILES_PER_WORKER", 1)
    assert_same_as_coverage(root, write_all(root, jobs))


def test_the_reports_match_the_committed_golden_files(golden_project: tuple[str, Path]) -> None:
    mode, root = golden_project
    expected = GOLDEN / "expected"
    if normalized_json((root / "own.json").read_text()) != json.loads((expected / f"{mode}.json").read_text()):
        # Not testfloor's doing: `test_every_report_equals_what_coverage_itself_writes` holds on every release.
        pytest.skip(f"the golden files are another coverage.py's reports than {coverage.__version__}'s")
    table = write_all(root, 1)
    assert normalized_xml((root / "ours.xml").read_text()) == (expected / f"{mode}.xml").read_text()
    assert normalized_json((root / "ours.json").read_text()) == json.loads((expected / f"{mode}.json").read_text())
    assert (root / "ours.md").read_text() == (expected / f"{mode}.md").read_text()
    assert table == (expected / f"{mode}.txt").read_text()


@needs_fast_path
def test_each_file_is_analysed_once_for_all_the_reports(
    golden_project: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _mode, root = golden_project
    calls: list[str] = []
    original = coverage.Coverage._analyze

    def counting(self: coverage.Coverage, morf: object, file_reporter: object = None) -> object:
        calls.append(str(morf))
        return original(self, morf, file_reporter=file_reporter)  # type: ignore[arg-type]

    monkeypatch.setattr(coverage.Coverage, "_analyze", counting)
    write_all(root, 1)
    assert sorted(calls) == ["empty.py", "shapes.py", "unused.py"]


@pytest.mark.parametrize("version", [(7, 9, 0), (8, 0, 0)])
def test_an_unknown_coverage_version_takes_the_plain_path_with_the_same_reports(
    golden_project: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, version: tuple[int, int, int]
) -> None:
    _mode, root = golden_project
    monkeypatch.setattr(coverage, "version_info", (*version, "final", 0))
    with coverage_object(root) as cov, analysis.shared(cov, jobs=2) as sharing:
        assert not sharing
        assert "_analyze" not in vars(cov)
    assert_same_as_coverage(root, write_all(root, 2))


@needs_fast_path
def test_missing_hooks_are_not_supported(golden_project: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _mode, root = golden_project
    with coverage_object(root) as cov:
        assert analysis.supported(cov)
        monkeypatch.setattr(coverage.Coverage, "_analyze", lambda self, morf: None)
        assert not analysis.supported(cov)
        monkeypatch.delattr(coverage.Coverage, "_get_file_reporters")
        assert not analysis.supported(cov)
        monkeypatch.undo()
        assert analysis.supported(cov)
        monkeypatch.delattr(coverage.jsonreport.JsonReporter, "report_one_file")
        assert not analysis.supported(cov)
        monkeypatch.undo()
        monkeypatch.setattr(analysis, "_ANALYSIS_FIELDS", [])  # an Analysis that is not a dataclass
        assert not analysis.supported(cov)


@needs_fast_path
def test_the_hooks_go_when_the_block_ends_and_other_callers_take_the_plain_path(
    golden_project: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _mode, root = golden_project
    monkeypatch.syspath_prepend(str(root))
    one = io.StringIO()
    own_one_file = coverage.jsonreport.JsonReporter.report_one_file
    with coverage_object(root) as cov:
        with analysis.shared(cov, jobs=1) as sharing:
            assert sharing
            assert "_analyze" in vars(cov)
            # A report on named files, and an analysis of a module object, go to coverage.py itself.
            cov.report(morfs=[str(root / "shapes.py")], file=one)
            shapes = importlib.import_module("shapes")
            try:
                assert cov._analyze(shapes).numbers.n_statements == 26
            finally:
                sys.modules.pop("shapes")
        assert "_analyze" not in vars(cov)
        assert "_get_file_reporters" not in vars(cov)
        assert coverage.jsonreport.JsonReporter.report_one_file is own_one_file
        assert coverage.jsonreport.json is json
    assert "shapes.py" in one.getvalue()
    assert "unused.py" not in one.getvalue()


@needs_fast_path
@needs_fork
def test_workers_are_used_only_for_enough_files_and_when_forking_is_safe(
    golden_project: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _mode, root = golden_project
    names = ["empty.py", "shapes.py", "unused.py"]
    with coverage_object(root) as cov:
        data_file = str(root / ".coverage")
        assert analysis.analyze_in_workers(cov, data_file, names, jobs=2) == {}  # too few files per worker
        monkeypatch.setattr(analysis, "MIN_FILES_PER_WORKER", 1)
        assert analysis.analyze_in_workers(cov, data_file, [*names, sys], jobs=2) == {}  # not all file names
        with monkeypatch.context() as threaded:
            threaded.setattr(analysis, "_thread_count", lambda: 2)
            assert analysis.analyze_in_workers(cov, data_file, names, jobs=2) == {}  # threads: forking is unsafe
        assert sorted(analysis.analyze_in_workers(cov, data_file, names, jobs=2)) == names


@needs_fast_path
def test_a_worker_leaves_out_a_file_it_cannot_analyse(golden_project: tuple[str, Path]) -> None:
    _mode, root = golden_project
    (root / "unused.py").write_text("def broken(:\n")
    names = ["shapes.py", "unused.py"]
    result, used = analysis.analyze_chunk(str(root / ".coverage"), str(root / ".coveragerc"), names)
    assert list(result) == ["shapes.py"]
    assert used == []  # no cache
    regions = sorted(region.name for region in result["shapes.py"][1])
    assert regions == ["Shape", "Shape.__init__", "Shape.describe", "Shape.grow", "area", "never_called"]


def test_default_jobs_is_the_cores_this_process_may_use() -> None:
    assert 1 <= analysis.default_jobs() <= 4096


class coverage_object:  # a context manager, named like open()
    """A loaded `Coverage` of the project's data, closed at the end."""

    def __init__(self, root: Path) -> None:
        self.cov = coverage.Coverage(data_file=str(root / ".coverage"))

    def __enter__(self) -> coverage.Coverage:
        self.cov.load()
        return self.cov

    def __exit__(self, *exc: object) -> None:
        self.cov.get_data().close(force=True)


@pytest.mark.parametrize("ignore_errors", [True, False])
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_file_that_does_not_parse_is_reported_as_coverage_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ignore_errors: bool, jobs: int
) -> None:
    shutil.copytree(GOLDEN / "project", tmp_path, dirs_exist_ok=True)
    with open(tmp_path / ".coveragerc", "a") as config:
        config.write(f"ignore_errors = {ignore_errors}\n")
    run = [sys.executable, "-m", "coverage"]
    env = clean_environ()
    subprocess.run([*run, "run", "--branch", "main.py"], cwd=tmp_path, env=env, check=True, capture_output=True)
    (tmp_path / "unused.py").write_text("def broken(:\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(analysis, "MIN_FILES_PER_WORKER", 1)
    own = subprocess.run([*run, "json", "-o", "own.json"], cwd=tmp_path, env=env, capture_output=True, text=True)
    if ignore_errors:
        with pytest.warns(CoverageWarning, match="Couldn't parse Python file"):
            table = write_all(tmp_path, jobs)
        assert "unused.py" not in table
        own_json, ours_json = (json.loads((tmp_path / name).read_text()) for name in ("own.json", "ours.json"))
        own_json["meta"].pop("timestamp")
        ours_json["meta"].pop("timestamp")
        assert ours_json == own_json
    else:
        assert own.returncode != 0
        with pytest.raises(DataError, match=r"cannot report: Couldn't parse '.*unused\.py' as Python"):
            write_all(tmp_path, jobs)
        assert not (tmp_path / "ours.xml").exists()


@needs_fork
def test_concurrent_writers_report_a_failing_child_as_one_line(golden_project: tuple[str, Path]) -> None:
    _mode, root = golden_project
    written: list[str] = []

    def fail() -> None:
        raise ValueError("the disk is full")

    def quiet_failure() -> None:
        raise KeyboardInterrupt

    def vanish() -> None:
        os._exit(3)

    with coverage_object(root) as cov, analysis.shared(cov, jobs=4):
        analysis.run_concurrently(cov, [lambda: (root / "child.txt").write_text("child"), lambda: None], jobs=2)
        assert (root / "child.txt").read_text() == "child"
        for writer, message in ((fail, "the disk is full"), (quiet_failure, "KeyboardInterrupt")):
            with pytest.raises(CoverageException, match=f"^{message}$"):
                analysis.run_concurrently(cov, [writer, lambda: written.append("parent")], jobs=2)
        with pytest.raises(CoverageException, match=r"^a report writer ended with status 3$"):
            analysis.run_concurrently(cov, [vanish, fail, lambda: None], jobs=3)
        with pytest.raises(ValueError, match="the disk is full"):
            analysis.run_concurrently(cov, [lambda: None, fail], jobs=2)
        analysis.run_concurrently(cov, [lambda: written.append("one"), lambda: written.append("two")], jobs=1)
    assert written == ["parent", "parent", "one", "two"]


TRICKY = "a&b<c>d\"e'f\tg\nh\ri"


def test_the_light_document_prints_as_minidom_does() -> None:
    import xml.dom.minidom

    real = xml.dom.minidom.getDOMImplementation().createDocument(None, "coverage", None)
    light = analysis.LightImplementation().createDocument(None, "coverage", None)
    for document in (real, light):
        root = document.documentElement
        root.setAttribute("version", TRICKY)
        root.appendChild(document.createComment(" a comment "))
        sources = document.createElement("sources")
        root.appendChild(sources)
        source = document.createElement("source")
        sources.appendChild(source)
        source.appendChild(document.createTextNode(TRICKY))
        mixed = document.createElement("mixed")
        root.appendChild(mixed)
        mixed.appendChild(document.createTextNode("text"))
        mixed.appendChild(document.createElement("empty"))
        root.setAttribute("late", "1")
        root.setAttribute("line-rate", "0.5")
        root.setAttribute("rate", "1")  # a name that ends another one's
        root.setAttribute("version", "again")
        root.setAttribute("line-rate", TRICKY)
        root.setAttribute("rate", "")
    assert light.toprettyxml() == real.toprettyxml()


@pytest.mark.parametrize("encoded_with", [None, 4, "\t"])
@pytest.mark.parametrize("indent", [None, 4, "\t"])
def test_streaming_json_writes_what_json_dump_writes(indent: int | str | None, encoded_with: int | str | None) -> None:
    part = {"x": 'ü\n"', "y": [], "z": {"deep": [1, [2, {}]]}}
    document = {"b": [1, 2.5, None, True], "a": {"x": 'ü\n"', "y": []}, "c": 1e-7, "files": {"p.py": part, "q": part}}
    expected, ours = io.StringIO(), io.StringIO()
    json.dump(document, expected, indent=indent)
    # Parts encoded beforehand, at two depths; encoded for other options, they are encoded again.
    encoded = {**document, "files": {"p.py": analysis.EncodedJson(part, encoded_with), "q": part}}
    encoded["a"] = {**document["a"], "y": analysis.EncodedJson([], encoded_with)}  # type: ignore[dict-item]
    analysis.StreamingJson.dump(encoded, ours, indent=indent)
    assert ours.getvalue() == expected.getvalue()


def test_streaming_json_writes_a_document_holding_its_mark_as_json_dump_does() -> None:
    part = {"name": analysis._MARK, "lines": [1, 2]}
    document = {"files": {analysis._MARK: analysis.EncodedJson(part, None), "b": analysis._MARK}}
    expected, ours = io.StringIO(), io.StringIO()
    json.dump({"files": {analysis._MARK: part, "b": analysis._MARK}}, expected)
    analysis.StreamingJson.dump(document, ours)
    assert ours.getvalue() == expected.getvalue()


def test_streaming_json_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        analysis.StreamingJson.dump({"a": {1}}, io.StringIO())


def test_a_pretty_printed_json_report_equals_what_coverage_itself_writes(
    golden_project: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _mode, root = golden_project
    with open(root / ".coveragerc", "a") as config:
        config.write("[json]\npretty_print = True\n")
    own = [sys.executable, "-m", "coverage", "json", "-o", "own.json"]
    subprocess.run(own, cwd=root, env=clean_environ(), check=True, capture_output=True)
    monkeypatch.setattr(analysis, "MIN_FILES_PER_WORKER", 1)
    write_all(root, 2)
    own_text, ours_text = ((root / name).read_text() for name in ("own.json", "ours.json"))
    assert "\n        " in own_text
    assert re.sub(r'"timestamp": "[^"]*"', "", ours_text) == re.sub(r'"timestamp": "[^"]*"', "", own_text)


def test_a_packed_analysis_is_made_again_equal(golden_project: tuple[str, Path]) -> None:
    mode, root = golden_project
    with coverage_object(root) as cov:
        for name in ("empty.py", "shapes.py", "unused.py"):
            original = cov._analyze(name)
            again = analysis.Packed(original).unpack()
            assert again == original
            assert vars(again) == vars(original)  # what __post_init__ made from the fields, too
            assert type(again.exit_counts) is type(original.exit_counts)
        assert mode == "lines" or original.arc_possibilities


@pytest.mark.parametrize(
    "value",
    [
        {"a", "b"},
        {(1, 2, 3)},
        {2**40},
        {"a": 1},
        {1: 2**40},
        collections.defaultdict(list, {1: [2]}),
        7,
        "name",
        frozenset({1}),
    ],
)
def test_what_is_not_numbers_is_kept_as_it_is(value: object) -> None:
    how, kept = analysis._pack(value)
    assert kept is value
    assert analysis._unpack(how, kept) is value


@pytest.mark.parametrize(
    "value", [set(), {1, -2, 300}, {(1, -2), (3, 4)}, {1: 2, -1: 3}, collections.defaultdict(int, {5: 2})]
)
def test_numbers_are_packed_and_made_again(value: object) -> None:
    how, kept = analysis._pack(value)
    assert kept is not value
    again = analysis._unpack(how, kept)
    assert again == value
    assert type(again) is type(value)


def test_packed_regions_are_made_again_equal(golden_project: tuple[str, Path]) -> None:
    _mode, root = golden_project
    reporter = coverage.python.PythonFileReporter(str(root / "shapes.py"))
    regions = list(reporter.code_regions())
    assert regions
    packed = analysis.pack_regions(regions)
    assert all(not isinstance(region.lines, set) for region in packed)
    assert analysis.unpack_regions(packed) == regions


@pytest.mark.parametrize(("module", "name"), [(coverage.jsonreport, "json"), (coverage.xmlreport, "xml")])
def test_a_reporter_module_that_changed_is_not_supported(
    golden_project: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, module: object, name: str
) -> None:
    _mode, root = golden_project
    with coverage_object(root) as cov:
        monkeypatch.setattr(module, name, object())
        assert not analysis.supported(cov)


@needs_fast_path
@needs_fork
def test_a_failing_worker_leaves_its_files_to_the_reporters(
    golden_project: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _mode, root = golden_project
    real = analysis.analyze_chunk

    def fail_on_shapes(data_file: str, config_file: str | bool, names: list[str], cache: object = None) -> object:
        if "shapes.py" in names:
            raise MemoryError
        return real(data_file, config_file, names)

    monkeypatch.setattr(analysis, "MIN_FILES_PER_WORKER", 1)
    monkeypatch.setattr(analysis, "analyze_chunk", fail_on_shapes)
    with coverage_object(root) as cov:
        names = ["empty.py", "shapes.py", "unused.py"]  # one each: this process, a failing child, a working one
        computed = analysis.analyze_in_workers(cov, str(root / ".coverage"), names, 3)
    assert sorted(computed) == ["empty.py", "unused.py"]
    assert_same_as_coverage(root, write_all(root, 2))


def test_forking_needs_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis, "_thread_count", lambda: 3)
    assert not analysis.can_fork()
    monkeypatch.setattr(analysis, "_thread_count", lambda: 1)
    assert analysis.can_fork() == hasattr(os, "fork")


@pytest.mark.parametrize("pretty", [False, True])
def test_the_fallback_writes_byte_for_byte_the_reports_of_the_fast_path(
    golden_project: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, pretty: bool
) -> None:
    # What a coverage.py whose private hooks changed gets: coverage.py's own reporters, slower, the same bytes.
    _mode, root = golden_project
    if pretty:
        with open(root / ".coveragerc", "a") as config:
            config.write("[json]\npretty_print = True\n")
    taken: list[bool] = []
    original = analysis.shared

    @contextlib.contextmanager
    def spied(*args: Any, **kwargs: Any) -> Iterator[bool]:
        with original(*args, **kwargs) as sharing:
            taken.append(sharing)
            yield sharing

    monkeypatch.setattr(analysis, "shared", spied)
    reports = {}
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(analysis, "supported", lambda cov: False)
        table = write_all(root, 1)
        reports[fast] = [table] + [
            re.sub(r'(timestamp="\d+"|"timestamp": "[^"]*")', "", (root / name).read_text(encoding="utf-8"))
            for name in ("ours.xml", "ours.json", "ours.md")
        ]
    assert taken == [FAST_PATH, False]
    assert reports[False] == reports[True]
    assert ('\n    "meta"' in reports[True][2]) is pretty
