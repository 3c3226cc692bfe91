from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import clean_environ, make_file
from testfloor import atomic
from testfloor.errors import DataError, OutputError, RegressionError
from testfloor.report import Outputs, combine, display_percent, find_shards, write_reports


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small project measured twice, each run taking a different branch: two shards."""
    root = tmp_path_factory.mktemp("measured")
    make_file(root / ".coveragerc", "[run]\nbranch = True\nrelative_files = True\n")
    make_file(
        root / "calc.py",
        """
        def sign(n):
            if n < 0:
                return -1
            return 1
        """,
    )
    for name, argument in (("shard-a", "-5"), ("shard-b", "5")):
        make_file(root / f"run_{argument}.py", f"import calc\ncalc.sign({argument})\n")
        subprocess.run(
            [sys.executable, "-m", "coverage", "run", f"--data-file={name}", "--include=calc.py", f"run_{argument}.py"],
            cwd=root,
            env=clean_environ(),
            check=True,
        )
    return root


@pytest.fixture
def project(shards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(shards, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_shards_combine_into_one_file_and_are_kept(project: Path) -> None:
    combine([project / "shard-a", project / "shard-b"], project / ".coverage")
    assert (project / ".coverage").is_file()
    assert (project / "shard-a").is_file()
    assert (project / "shard-b").is_file()
    total, table = write_reports(project / ".coverage", Outputs())
    assert total == 100.0
    assert "calc.py" in table


def test_one_shard_alone_covers_less(project: Path) -> None:
    combine([project / "shard-b"], project / ".coverage")
    total, _table = write_reports(project / ".coverage", Outputs())
    assert total < 100.0


def test_every_report_is_written_from_the_combined_data(project: Path) -> None:
    combine([project / "shard-a", project / "shard-b"], project / ".coverage")
    outputs = Outputs(xml=project / "out" / "coverage.xml", json=project / "coverage.json", markdown=project / "c.md")
    write_reports(project / ".coverage", outputs, fail_under=100)
    assert json.loads((project / "coverage.json").read_text())["totals"]["percent_covered"] == 100.0
    assert 'line-rate="1"' in (project / "out" / "coverage.xml").read_text()
    assert re.search(r"^\| calc.py +\|", (project / "c.md").read_text(), re.MULTILINE)


def test_a_total_below_the_floor_fails_after_writing_the_reports(project: Path) -> None:
    combine([project / "shard-b"], project / ".coverage")
    with pytest.raises(RegressionError, match=r"^total coverage \d+% is below the required 100.0%$"):
        write_reports(project / ".coverage", Outputs(json=project / "coverage.json"), fail_under=100.0)
    assert (project / "coverage.json").is_file()


def test_a_missing_shard_is_named(project: Path) -> None:
    with pytest.raises(
        DataError, match=r"^missing coverage data: .*shard-c: run the tests sessions .* \[tool.testfloor\] python$"
    ):
        combine([project / "shard-a", project / "shard-c"], project / ".coverage")
    assert not (project / ".coverage").exists()


@pytest.mark.parametrize("content", [b"", b"not a database", b"SQLite format 3\x00" + b"\x00" * 50])
def test_an_unreadable_shard_is_named(project: Path, content: bytes) -> None:
    (project / "shard-bad").write_bytes(content)
    with pytest.raises(DataError, match=r"shard-bad: (unreadable coverage data|coverage data measured no files)"):
        combine([project / "shard-a", project / "shard-bad"], project / ".coverage")
    assert not (project / ".coverage").exists()
    assert (project / "shard-bad").read_bytes() == content  # the check reads, never writes


@pytest.mark.parametrize(
    "damage",
    [
        "update meta set value = 'garbage' where key = 'has_arcs'",
        "update file set path = x'80ff'",
        "drop table meta",
    ],
)
def test_a_shard_with_garbage_inside_is_one_line(project: Path, damage: str) -> None:
    import sqlite3

    with contextlib.closing(sqlite3.connect(project / "shard-b")) as database:
        database.execute(damage)
        database.commit()
    with pytest.raises(DataError, match=r"(shard-b: unreadable coverage data|\.coverage: cannot combine): "):
        combine([project / "shard-a", project / "shard-b"], project / ".coverage")


def test_shards_of_lines_and_of_branches_are_refused_before_anything_is_written(project: Path) -> None:
    make_file(project / "lines.rc", "[run]\nrelative_files = True\n")
    subprocess.run(
        [sys.executable, "-m", "coverage", "run", "--rcfile=lines.rc", "--data-file=shard-lines", "run_5.py"],
        cwd=project,
        env=clean_environ(),
        check=True,
    )
    with pytest.raises(DataError, match=r"shard-lines: measured lines only, but .*shard-a measured branches"):
        combine([project / "shard-a", project / "shard-lines"], project / ".coverage")
    assert not (project / ".coverage").exists()


def test_a_temporary_file_left_by_a_killed_write_is_never_a_shard(project: Path) -> None:
    shutil.copy(project / "shard-a", project / ".coverage.one")
    make_file(project / ".coverage.json", "{}\n")

    def killed(temporary: Path) -> None:
        temporary.write_text("half")
        (project / "names").write_text(temporary.name)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), atomic.replacing(project / ".coverage.json") as temporary:
        killed(temporary)
    leftover = project / (project / "names").read_text()  # what a SIGKILL would have left behind
    leftover.write_text("half")
    assert not leftover.match(".coverage.*")
    (project / ".coverage.json").unlink()
    assert find_shards([Path(".coverage.*")]) == [Path(".coverage.one")]


def test_a_leftover_named_as_a_temporary_is_skipped_by_a_glob_that_would_match_it(project: Path) -> None:
    shutil.copy(project / "shard-a", project / ".tshard")
    make_file(project / ".testfloor-tmp-x.abc.tmp", "half")
    assert find_shards([Path(".t*")]) == [Path(".tshard")]


@pytest.mark.parametrize("report", ["xml", "json", "markdown"])
def test_a_report_path_that_is_a_directory_is_one_output_error_and_nothing_is_written(
    project: Path, report: str
) -> None:
    combine([project / "shard-a"], project / ".coverage")
    (project / "out").mkdir()
    others = {name: project / f"r.{name}" for name in ("xml", "json", "markdown") if name != report}
    with pytest.raises(OutputError, match=r"out: cannot write: Is a directory$"):
        write_reports(project / ".coverage", Outputs(**{report: project / "out"}, **others))
    assert list((project / "out").iterdir()) == []
    assert not any(path.exists() for path in others.values())


def test_a_report_whose_parent_is_a_file_is_one_output_error(project: Path) -> None:
    combine([project / "shard-a"], project / ".coverage")
    with pytest.raises(OutputError, match=r"calc.py/r.xml: cannot write: "):
        write_reports(project / ".coverage", Outputs(xml=project / "calc.py" / "r.xml"))


def test_combining_into_a_directory_is_one_output_error(project: Path) -> None:
    (project / "data").mkdir()
    with pytest.raises(OutputError, match=r"data: cannot write: Is a directory$"):
        combine([project / "shard-a"], project / "data")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_source_that_cannot_be_decoded_is_one_line(project: Path, jobs: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from testfloor import analysis

    monkeypatch.setattr(analysis, "MIN_FILES_PER_WORKER", 1)
    combine([project / "shard-a"], project / ".coverage")
    (project / "calc.py").write_bytes(b"# -*- coding: bogus -*-\ndef sign(n):\n    return '\xff\xfe'\n")
    with pytest.raises(DataError, match=r"\.coverage: cannot report: .*bogus"):
        write_reports(project / ".coverage", Outputs(json=project / "coverage.json"), jobs=jobs)
    assert not (project / "coverage.json").exists()


def test_a_combine_that_measures_nothing_is_an_error(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import coverage

    monkeypatch.setattr(coverage.CoverageData, "measured_files", lambda self: set())
    monkeypatch.setattr("testfloor.report._check_readable", lambda path: None)
    with pytest.raises(DataError, match="measured no files"):
        combine([project / "shard-a"], project / ".coverage")


def test_a_failing_combine_is_a_data_error(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from coverage.exceptions import NoDataError

    def refuse(*args: object, **kwargs: object) -> None:
        raise NoDataError("No data to combine")

    monkeypatch.setattr("coverage.Coverage.combine", refuse)
    with pytest.raises(DataError, match="cannot combine: No data to combine"):
        combine([project / "shard-a"], project / ".coverage")


def test_reporting_without_data_is_a_data_error(project: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        write_reports(project / "nothing", Outputs())


def test_reporting_on_broken_data_is_a_data_error(project: Path) -> None:
    (project / "broken").write_bytes(b"not a database")
    with pytest.raises(DataError, match="broken: cannot report"):
        write_reports(project / "broken", Outputs())


@pytest.mark.parametrize(
    ("value", "precision", "shown"),
    [(99.999, 2, "99.99"), (100.0, 0, "100"), (0.001, 1, "0.1"), (0.0, 0, "0"), (71.65, 0, "72"), (50.0, 2, "50.00")],
)
def test_percentages_never_show_100_or_0_unless_exact(value: float, precision: int, shown: str) -> None:
    assert display_percent(value, precision) == shown


def test_a_glob_finds_the_shards_and_the_expected_count_is_checked(project: Path) -> None:
    assert find_shards([project / "shard-*"], expect=2) == [project / "shard-a", project / "shard-b"]
    assert find_shards([project / "shard-a", project / "shard-?", project / "shard-a"]) == [
        project / "shard-a",
        project / "shard-b",
    ]
    combine([project / "shard-*"], project / ".coverage", expect=2)
    assert write_reports(project / ".coverage", Outputs())[0] == 100.0


def test_a_lost_shard_fails_the_expected_count_naming_what_was_found(project: Path) -> None:
    (project / "shard-b").unlink()
    with pytest.raises(DataError, match=r"^expected 2 coverage shards, found 1: .*shard-a$"):
        combine([project / "shard-*"], project / ".coverage", expect=2)
    with pytest.raises(DataError, match=r"^expected 1 coverage shards, found 0: none$"):
        find_shards([], expect=1)
    assert not (project / ".coverage").exists()


def test_a_glob_that_matches_nothing_is_named_as_missing(project: Path) -> None:
    with pytest.raises(DataError, match=r"^missing coverage data: .*nothing-\*\.db \(no match\): run the tests"):
        combine([project / "shard-a", project / "nothing-*.db"], project / ".coverage")


def test_a_shard_that_cannot_be_opened_is_one_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from testfloor import report

    def refuse(*args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(report, "open", refuse, raising=False)
    with pytest.raises(DataError, match=r"shard-a: unreadable coverage data: Permission denied$"):
        combine([project / "shard-a"], project / ".coverage")


def test_a_shard_that_measured_nothing_is_refused_unchanged(project: Path) -> None:
    import coverage

    empty = coverage.CoverageData(basename=str(project / "shard-empty"))
    empty.add_lines({})
    empty.write()
    empty.close(force=True)
    before = (project / "shard-empty").read_bytes()
    with pytest.raises(DataError, match=r"shard-empty: coverage data measured no files$"):
        combine([project / "shard-a", project / "shard-empty"], project / ".coverage")
    assert (project / "shard-empty").read_bytes() == before
