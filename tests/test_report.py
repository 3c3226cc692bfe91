from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import clean_environ, make_file
from testfloor.errors import DataError, RegressionError
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
