from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import make_file
from testfloor.baseline import (
    FORMAT,
    Baseline,
    Change,
    Counts,
    compare,
    describe_changes,
    from_coverage_json,
    read_baseline,
    write_baseline,
)
from testfloor.errors import DataError


def coverage_json(path: Path, files: dict[str, dict[str, int]]) -> Path:
    document = {"meta": {"format": 3}, "files": {name: {"summary": summary} for name, summary in files.items()}}
    return make_file(path, json.dumps(document))


def test_counts_add_up_with_sum() -> None:
    total = sum([Counts(10, 5, 4, 2), Counts(2, 2, 0, 0)], Counts())
    assert total == Counts(12, 7, 4, 2)
    assert sum([Counts(1, 1)]) == Counts(1, 1)


def test_the_combined_percent_counts_lines_and_branches_together() -> None:
    assert Counts(8, 6, 2, 1).percent == 70.0
    assert Counts().percent == 100.0


def test_a_coverage_report_becomes_exact_per_file_counts(tmp_path: Path) -> None:
    report = coverage_json(
        tmp_path / "coverage.json",
        {
            "src/a.py": {"num_statements": 10, "covered_lines": 7, "num_branches": 4, "covered_branches": 3},
            "src\\b.py": {"num_statements": 3, "covered_lines": 3},
        },
    )
    current = from_coverage_json(report)
    assert current.files == {"src/a.py": Counts(10, 7, 4, 3), "src\\b.py": Counts(3, 3, 0, 0)}
    assert current.totals == Counts(13, 10, 4, 3)


def test_the_baseline_file_is_sorted_versioned_and_round_trips(tmp_path: Path) -> None:
    baseline = Baseline({"z.py": Counts(1, 1), "a.py": Counts(4, 2, 2, 1)})
    write_baseline(tmp_path / "base.json", baseline)
    text = (tmp_path / "base.json").read_text()
    assert text.endswith("}\n")
    document = json.loads(text)
    assert document["format"] == FORMAT
    assert list(document["files"]) == ["a.py", "z.py"]
    assert document["totals"] == {"branches": 2, "covered_branches": 1, "covered_lines": 3, "statements": 5}
    assert read_baseline(tmp_path / "base.json") == baseline


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "not found"),
        ("{", "invalid JSON"),
        ("[]", "expected a JSON object"),
        ('{"format": 99, "files": {}}', "unknown baseline format 99"),
        ('{"format": 1, "files": []}', "'files' must be a table"),
        ('{"format": 1, "files": {"a.py": 3}}', "a.py: expected a table of counts"),
        ('{"format": 1, "files": {"a.py": {"statements": "3"}}}', "a.py: branches: expected a count, got None"),
        (
            '{"format": 1, "files": {"a.py": {"statements": -1, "covered_lines": 0, "branches": 0, '
            '"covered_branches": 0}}}',
            "a.py: statements: expected a count, got -1",
        ),
    ],
)
def test_a_bad_baseline_is_a_one_line_data_error(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "base.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DataError, match=f"^{path}: .*{message}") as excinfo:
        read_baseline(path)
    assert "\n" not in str(excinfo.value)


def test_an_unreadable_baseline_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "base.json").write_bytes(b"\xff\xfe")
    with pytest.raises(DataError, match="cannot read"):
        read_baseline(tmp_path / "base.json")


@pytest.mark.parametrize(
    ("document", "message"),
    [({"meta": {}}, "not a coverage.py JSON report"), ({"files": {"a.py": {}}}, "a.py: no summary")],
)
def test_a_report_that_is_not_coverage_json_is_a_data_error(tmp_path: Path, document: object, message: str) -> None:
    path = make_file(tmp_path / "coverage.json", json.dumps(document))
    with pytest.raises(DataError, match=message):
        from_coverage_json(path)


def test_a_drop_in_lines_or_branches_is_a_regression(tmp_path: Path) -> None:
    old = Baseline({"a.py": Counts(10, 10, 4, 4), "b.py": Counts(10, 5, 0, 0)})
    new = Baseline({"a.py": Counts(10, 10, 4, 3), "b.py": Counts(20, 11, 0, 0)})
    comparison = compare(old, new, tmp_path)
    assert [change.path for change in comparison.regressions] == ["total", "a.py"]
    assert comparison.improved


def test_more_code_at_the_same_rate_is_not_a_regression(tmp_path: Path) -> None:
    old = Baseline({"a.py": Counts(10, 5, 2, 1)})
    new = Baseline({"a.py": Counts(20, 10, 4, 2)})
    assert compare(old, new, tmp_path).regressions == ()


def test_an_unchanged_run_is_neither_a_regression_nor_an_improvement(tmp_path: Path) -> None:
    same = Baseline({"a.py": Counts(10, 5, 2, 1)})
    comparison = compare(same, same, tmp_path)
    assert comparison.regressions == ()
    assert not comparison.improved
    assert describe_changes(comparison.changes) == []


def test_a_file_missing_from_the_data_but_present_on_disk_means_lost_data(tmp_path: Path) -> None:
    for name in ("a.py", "b.py", "c.py", "d.py", "e.py", "f.py", "g.py"):
        make_file(tmp_path / name)
    old = Baseline({name: Counts(1, 1) for name in ("a.py", "b.py", "c.py", "d.py", "e.py", "f.py", "g.py")})
    with pytest.raises(DataError, match=r"no record of a\.py, b\.py, c\.py, d\.py, e\.py and 2 more, which still"):
        compare(old, Baseline({}), tmp_path)


def test_deleted_and_new_files_are_reported_but_do_not_move_the_total(tmp_path: Path) -> None:
    old = Baseline({"kept.py": Counts(10, 5), "gone.py": Counts(10, 0)})
    new = Baseline({"kept.py": Counts(10, 5), "new.py": Counts(10, 10, 2, 2)})
    comparison = compare(old, new, tmp_path)
    assert comparison.regressions == ()
    assert comparison.total == Change("total", Counts(10, 5), Counts(10, 5))
    assert describe_changes(comparison.changes) == [
        "gone.py: deleted (was lines 0/10)",
        "new.py: new file, lines 10/10, branches 2/2",
    ]


def test_describe_lists_dropped_files_first_with_the_numbers_compared(tmp_path: Path) -> None:
    old = Baseline({"a.py": Counts(10, 5), "b.py": Counts(4, 4, 2, 2)})
    new = Baseline({"a.py": Counts(10, 6), "b.py": Counts(4, 4, 2, 1)})
    assert describe_changes(compare(old, new, tmp_path).changes) == [
        "b.py: lines 4/4, branches 2/2 -> lines 4/4, branches 1/2",
        "a.py: lines 5/10 -> lines 6/10",
    ]


counts = st.builds(
    lambda statements, covered, branches, covered_branches: Counts(
        statements, min(covered, statements), branches, min(covered_branches, branches)
    ),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
)


@given(old=counts, new=counts)
def test_a_drop_is_decided_by_exact_fractions(old: Counts, new: Counts) -> None:
    from fractions import Fraction

    def rate(hit: int, total: int) -> Fraction:
        return Fraction(hit, total) if total else Fraction(1)

    expected = rate(new.covered_lines, new.statements) < rate(old.covered_lines, old.statements) or rate(
        new.covered_branches, new.branches
    ) < rate(old.covered_branches, old.branches)
    assert Change("x.py", old, new).dropped == expected
