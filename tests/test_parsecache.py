from __future__ import annotations

import collections
import json
import marshal
import re
import subprocess
import sys
from pathlib import Path

import coverage.python
import pytest
from coverage.parser import PythonParser
from coverage.plugin import CodeRegion

from helpers import clean_environ, needs_fast_path
from testfloor import analysis
from testfloor.errors import DataError
from testfloor.parsecache import ParseCache
from testfloor.report import Outputs, write_reports

PYTHON_FILES = ["empty.py", "shapes.py", "unused.py"]


@pytest.fixture
def project(golden_project: tuple[str, Path]) -> Path:
    return golden_project[1]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files coverage.py parses, for statements or for regions, as they are parsed."""
    seen: list[str] = []
    parse_source, regions = PythonParser.parse_source, coverage.python.code_regions

    def counting_parse(parser: PythonParser) -> None:
        seen.append(Path(parser.filename).name)
        parse_source(parser)

    def counting_regions(source: str) -> list[CodeRegion]:
        seen.append("regions")
        return regions(source)

    monkeypatch.setattr(PythonParser, "parse_source", counting_parse)
    monkeypatch.setattr(coverage.python, "code_regions", counting_regions)
    return seen


def own_reports(root: Path) -> tuple[str, dict[str, object]]:
    run = [sys.executable, "-m", "coverage"]
    for args in (["xml", "-o", "own.xml"], ["json", "-o", "own.json"]):
        subprocess.run([*run, *args], cwd=root, env=clean_environ(), check=True, capture_output=True)
    return read_reports(root, "own")


def read_reports(root: Path, name: str) -> tuple[str, dict[str, object]]:
    xml = re.sub(r'timestamp="\d+"', "", (root / f"{name}.xml").read_text())
    document = json.loads((root / f"{name}.json").read_text())
    document["meta"].pop("timestamp")
    return xml, document


def report(root: Path, cache: Path | None, jobs: int = 1) -> tuple[str, dict[str, object]]:
    write_reports(root / ".coverage", Outputs(xml=root / "ours.xml", json=root / "ours.json"), jobs=jobs, cache=cache)
    return read_reports(root, "ours")


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*/*"))


@needs_fast_path
@pytest.mark.parametrize("jobs", [1, 2])
def test_kept_parses_give_the_reports_coverage_writes_without_parsing_again(
    project: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    monkeypatch.setattr(analysis, "MIN_FILES_PER_WORKER", 1)
    own = own_reports(project)
    cache = project / "cache"
    parses.clear()
    assert report(project, cache, jobs) == own
    assert len(entries(cache)) == len(PYTHON_FILES)
    first = {path: path.read_bytes() for path in entries(cache)}
    parses.clear()
    assert report(project, cache, jobs) == own
    assert parses == []  # forked workers parse out of sight: the entries must be the same ones, untouched
    assert {path: path.read_bytes() for path in entries(cache)} == first


@needs_fast_path
def test_a_changed_file_is_parsed_again_and_its_old_parse_goes(project: Path, parses: list[str]) -> None:
    cache = project / "cache"
    report(project, cache)
    before = set(entries(cache))
    with open(project / "unused.py", "a") as source:
        source.write("\n# a comment changes the text, not the statements\n")
    parses.clear()
    assert report(project, cache) == own_reports(project)
    assert parses == ["unused.py", "regions"]
    after = set(entries(cache))
    assert len(after) == len(PYTHON_FILES)
    assert len(after - before) == len(before - after) == 1


@needs_fast_path
def test_other_exclusion_patterns_use_other_entries_and_remove_the_old_ones(project: Path, parses: list[str]) -> None:
    cache = project / "cache"
    report(project, cache)
    (old_settings,) = cache.iterdir()
    with open(project / ".coveragerc", "a") as config:
        config.write("exclude_also =\n    def describe\n")
    parses.clear()
    assert report(project, cache) == own_reports(project)
    assert sorted(name for name in parses if name != "regions") == PYTHON_FILES
    (new_settings,) = cache.iterdir()
    assert new_settings != old_settings


@needs_fast_path
@pytest.mark.parametrize("damage", [b"", b"\0\0\0", b"not marshal data", None])
def test_a_damaged_entry_is_a_miss_and_is_written_again(project: Path, parses: list[str], damage: bytes | None) -> None:
    cache = project / "cache"
    report(project, cache)
    entry = next(path for path in entries(cache) if path.stat().st_size > 100)
    whole = entry.read_bytes()
    entry.write_bytes(whole[: len(whole) // 2] if damage is None else damage)
    parses.clear()
    assert report(project, cache) == own_reports(project)
    assert len([name for name in parses if name != "regions"]) == 1
    # The same parse, written again (marshal's bytes may differ with reference counts, so compare what they hold).
    assert marshal.loads(entry.read_bytes()) == marshal.loads(whole)


@needs_fast_path
def test_a_cache_that_cannot_be_written_only_costs_time(project: Path, parses: list[str]) -> None:
    cache = project / "cache"
    cache.write_text("a file, not a directory\n")
    assert report(project, cache) == own_reports(project)
    assert report(project, cache) == own_reports(project)
    # Once a report: the reporters do not parse again what the cache could not keep.
    assert sorted(name for name in parses if name != "regions") == sorted(PYTHON_FILES * 2)
    assert cache.read_text() == "a file, not a directory\n"


def test_files_of_other_kinds_are_not_kept(project: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    class OnlyThisKind:
        pass

    monkeypatch.setattr(analysis, "PythonFileReporter", OnlyThisKind)  # no file reporter is of this kind
    cache = project / "cache"
    assert report(project, cache) == own_reports(project)
    assert entries(cache) == []


def parsed(project: Path) -> PythonParser:
    parser = PythonParser(filename=str(project / "shapes.py"))
    parser.parse_source()
    parser.arcs()
    return parser


def test_a_parse_holding_more_than_plain_data_is_not_kept(project: Path) -> None:
    cache = ParseCache(project / "cache", [])
    parser = parsed(project)
    parser.unknown = object()  # type: ignore[attr-defined]
    assert not cache.store("k", parser, [])
    del parser.unknown  # type: ignore[attr-defined]
    parser.counts = collections.defaultdict(dict)  # type: ignore[attr-defined]
    assert not cache.store("k", parser, [])
    assert entries(project / "cache") == []
    del parser.counts  # type: ignore[attr-defined]
    assert cache.store("k", parser, [])
    assert [path.name for path in entries(project / "cache")] == ["k.parse"]


@needs_fast_path
def test_a_kept_parse_answers_as_the_parser_did(project: Path) -> None:
    cache = ParseCache(project / "cache", [True])
    parser = parsed(project)
    regions = list(coverage.python.code_regions(parser.text))
    assert cache.store("k", parser, regions)
    kept = cache.load("k", "elsewhere.py", parser.text)
    assert kept is not None
    again, kept_regions = kept
    assert kept_regions == regions
    assert again.filename == "elsewhere.py"
    assert again.text == parser.text
    for answer in ("statements", "excluded", "multiline_map"):
        assert getattr(again, answer) == getattr(parser, answer)
    assert again.arcs() == parser.arcs()
    assert again.exit_counts() == parser.exit_counts()
    assert type(again._missing_arc_fragments) is type(parser._missing_arc_fragments)
    start, end = next(iter(sorted(parser.arcs())))
    assert again.missing_arc_description(start, end) == parser.missing_arc_description(start, end)
    assert cache.load("other", "x.py", "") is None


def test_keys_tell_names_and_texts_apart(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path, [])
    keys = {cache.key("a.py", "x = 1\n"), cache.key("b.py", "x = 1\n"), cache.key("a.py", "x = 2\n")}
    assert len(keys) == 3
    assert cache.key("a.py", "x = 1\n") in keys
    assert ParseCache(tmp_path, [True]).directory != ParseCache(tmp_path, [False]).directory


def test_pruning_a_cache_that_was_never_written_is_quiet(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path / "missing", [])
    cache.prune([])
    assert not (tmp_path / "missing").exists()


@needs_fast_path
@pytest.mark.parametrize("jobs", [1, 3])
def test_the_cache_is_pruned_only_after_every_file_was_analysed(
    project: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    monkeypatch.setattr(analysis, "MIN_FILES_PER_WORKER", 1)
    cache = project / "cache"
    report(project, cache)
    (settings,) = cache.iterdir()
    stale = settings / "stale.parse"
    stale.write_bytes(b"")
    real = analysis.analyze_chunk

    def fail_on_empty(data_file: str, config_file: str | bool, names: list[str], cache: object = None) -> object:
        if "empty.py" in names:  # this process's share, with any number of jobs
            raise MemoryError
        return real(data_file, config_file, names, cache=cache)  # type: ignore[arg-type]

    with monkeypatch.context() as failing:
        failing.setattr(analysis, "analyze_chunk", fail_on_empty)
        assert report(project, cache, jobs) == own_reports(project)
    assert stale.exists()
    report(project, cache, jobs)
    assert not stale.exists()
    assert len(entries(cache)) == len(PYTHON_FILES)


def test_a_cache_on_the_project_itself_is_refused_and_every_file_stays(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from testfloor.cli import ExitCode, main

    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    before = sorted(path for path in project.rglob("*"))
    assert main(["report", "--cache", ".", "--json", "ours.json"]) == ExitCode.DATA
    assert sorted(path for path in project.rglob("*")) == before
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("testfloor: .: not a parse cache (it holds ")


@pytest.mark.parametrize(
    "stranger",
    ["notes.txt", "0123456789abcdef01234567/notes.txt", "0123456789abcdef01234567/sub/a.parse", "short/a.parse"],
)
def test_a_cache_holding_anything_it_did_not_make_is_refused_and_kept(project: Path, stranger: str) -> None:
    cache = project / "cache"
    report(project, cache)
    (cache / stranger).parent.mkdir(parents=True, exist_ok=True)
    (cache / stranger).write_text("mine\n")
    before = sorted(cache.rglob("*"))
    with pytest.raises(DataError, match=r"cache: not a parse cache \(it holds "):
        report(project, cache)
    assert sorted(cache.rglob("*")) == before


def test_a_cache_directory_that_cannot_be_listed_is_one_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = project / "cache"
    cache.mkdir()

    def refuse(self: Path) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", refuse)
    with pytest.raises(DataError, match=r"cache: cannot use as a parse cache: .*Permission denied"):
        report(project, cache)


def test_pruning_removes_other_settings_the_cache_made_and_nothing_else(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path, [])
    other = tmp_path / ("f" * 24)
    other.mkdir()
    (other / "a.parse").write_bytes(b"")
    (other / "a.1.tmp").write_bytes(b"")
    cache.directory.mkdir()
    (cache.directory / "old.parse").write_bytes(b"")
    (cache.directory / "kept.parse").write_bytes(b"")
    (cache.directory / "inside").mkdir()
    cache.prune(["kept"])
    assert sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*")) == [
        f"{cache.directory.name}",
        f"{cache.directory.name}/inside",
        f"{cache.directory.name}/kept.parse",
    ]
