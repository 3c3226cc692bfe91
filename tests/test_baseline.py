from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import make_file
from testfloor.baseline import (
    FORMAT,
    Baseline,
    Change,
    Counts,
    Policy,
    badge_svg,
    compare,
    describe_changes,
    from_coverage_json,
    read_baseline,
    show_delta,
    show_percent,
    to_markdown,
    write_baseline,
)
from testfloor.config import NEW_FILE_TOTAL, Overrides, load_config
from testfloor.errors import ConfigError, DataError


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


_ENTRY = '{"statements": 2, "covered_lines": 1, "branches": 0, "covered_branches": 0}'


def _text(*entries: tuple[str, str]) -> str:
    """A baseline's text with `entries` as written, duplicates included."""
    return '{"format": 1, "files": {' + ", ".join(f"{json.dumps(name)}: {entry}" for name, entry in entries) + "}}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "not found: testfloor baseline update writes the first baseline"),
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
        ('{"format": true, "files": {}}', "unknown baseline format True"),
        ('{"format": 1.0, "files": {}}', "unknown baseline format 1.0"),
        ('{"format": 1, "format": 1, "files": {}}', "invalid JSON: the key 'format' appears twice"),
        (_text(("a.py", "{}"), ("a.py", "{}")), "the key 'a.py' appears twice"),
        (_text(("src/a.py", _ENTRY), ("src/./a.py", _ENTRY)), "the same file as"),
        (_text(("/etc/a.py", _ENTRY)), "'/etc/a.py': expected a relative path inside"),
        (_text(("../a.py", _ENTRY)), "expected a relative path inside the project"),
        (_text(("", _ENTRY)), "'': expected a relative path inside the project"),
        (_text(("a\0.py", _ENTRY)), "expected a relative path inside the project"),
        (_text(("a.py", _ENTRY.replace('"covered_lines": 1', '"covered_lines": 9'))), "more covered than there is"),
        ('{"format": ' + "1" * 5000 + "}", "invalid JSON: Exceeds the limit"),
        ("[" * 100_000 + "]" * 100_000, "invalid JSON: nested too deeply"),
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


@pytest.mark.parametrize("name", ["a.json\ud800", "x" * 6000 + ".json", "dir\0.json", "missing/base.json", "."])
def test_a_baseline_path_the_system_cannot_read_is_one_line(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataError, match=r": (not found|cannot read: )") as excinfo:
        read_baseline(tmp_path / name)
    assert "\n" not in str(excinfo.value)


def _summary(statements: int, covered: int, branches: int = 0, covered_branches: int = 0) -> dict[str, object]:
    return {
        "summary": {
            "num_statements": statements,
            "covered_lines": covered,
            "num_branches": branches,
            "covered_branches": covered_branches,
        }
    }


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.py": _summary(7, 26)}, "a.py: more covered than there is \\(lines 26/7, branches 0/0\\)"),
        ({"a.py": _summary(2, 1, 2, 3)}, "a.py: more covered than there is"),
        ({"src/a.py": _summary(2, 1), "src/./a.py": _summary(2, 2)}, "'src/./a.py': the same file as .*src/a.py"),
        ({"/abs/a.py": _summary(2, 1)}, "'/abs/a.py': expected a relative path inside the project"),
        ({"../up/a.py": _summary(2, 1)}, "'../up/a.py': expected a relative path inside the project"),
    ],
)
def test_a_coverage_report_with_impossible_counts_or_paths_is_refused(
    tmp_path: Path, files: dict[str, object], message: str
) -> None:
    path = make_file(tmp_path / "coverage.json", json.dumps({"files": files}))
    with pytest.raises(DataError, match=message):
        from_coverage_json(path)


def test_dot_parts_of_a_coverage_report_are_dropped_from_baseline_names(tmp_path: Path) -> None:
    path = make_file(tmp_path / "coverage.json", json.dumps({"files": {"./src//a.py": _summary(2, 1)}}))
    assert list(from_coverage_json(path).files) == ["src/a.py"]


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
    assert describe_changes(comparison) == []


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
    assert describe_changes(comparison) == [
        "gone.py: deleted (was lines 0/10, combined 0.00%)",
        "new.py: new file, lines 10/10, branches 2/2, combined 100.00%",
    ]


def test_describe_lists_dropped_files_first_with_the_numbers_compared(tmp_path: Path) -> None:
    old = Baseline({"a.py": Counts(10, 5), "b.py": Counts(4, 4, 2, 2)})
    new = Baseline({"a.py": Counts(10, 6), "b.py": Counts(4, 4, 2, 1)})
    assert describe_changes(compare(old, new, tmp_path)) == [
        "b.py: lines 4/4 -> 4/4 (+0.00 pts), branches 2/2 -> 1/2 (-50.00 pts), combined 100.00% -> 83.33%  [FAIL]",
        "a.py: lines 5/10 -> 6/10 (+10.00 pts), combined 50.00% -> 60.00%",
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
    def rate(hit: int, total: int) -> Fraction:
        return Fraction(hit, total) if total else Fraction(1)

    expected = rate(new.covered_lines, new.statements) < rate(old.covered_lines, old.statements) or rate(
        new.covered_branches, new.branches
    ) < rate(old.covered_branches, old.branches)
    assert Change("x.py", old, new).dropped == expected


def test_a_drop_within_the_points_tolerance_passes_and_beyond_it_fails(tmp_path: Path) -> None:
    old = Baseline({"a.py": Counts(1000, 900)})
    policy = Policy(tolerance_points=Fraction(1, 2))
    assert compare(old, Baseline({"a.py": Counts(1000, 895)}), tmp_path, policy).regressions == ()
    failing = compare(old, Baseline({"a.py": Counts(1000, 894)}), tmp_path, policy)
    assert [change.path for change in failing.regressions] == ["total", "a.py"]


def test_a_drop_of_at_most_the_tolerated_lines_passes(tmp_path: Path) -> None:
    old = Baseline({"a.py": Counts(10, 10, 4, 4)})
    policy = Policy(tolerance_lines=2)
    assert compare(old, Baseline({"a.py": Counts(12, 10, 4, 2)}), tmp_path, policy).regressions == ()
    assert compare(old, Baseline({"a.py": Counts(12, 9, 4, 4)}), tmp_path, policy).regressions != ()
    assert compare(old, Baseline({"a.py": Counts(10, 10, 4, 1)}), tmp_path, policy).regressions != ()


def test_a_new_file_must_reach_the_baseline_total_by_default(tmp_path: Path) -> None:
    old = Baseline({"a.py": Counts(10, 8)})
    at_total = compare(old, Baseline({"a.py": Counts(10, 8), "n.py": Counts(5, 4)}), tmp_path)
    assert at_total.regressions == ()
    assert at_total.improved
    below = compare(old, Baseline({"a.py": Counts(10, 8), "n.py": Counts(10, 7)}), tmp_path)
    assert [change.path for change in below.regressions] == ["n.py"]
    assert describe_changes(below) == ["n.py: new file, lines 7/10, combined 70.00%  [FAIL]"]


def test_a_configured_minimum_for_new_files_replaces_the_total(tmp_path: Path) -> None:
    old = Baseline({"a.py": Counts(10, 2)})
    new = Baseline({"a.py": Counts(10, 2), "n.py": Counts(3, 2, 1, 1)})
    assert compare(old, new, tmp_path, Policy(new_file_minimum=Fraction(75))).regressions == ()
    assert compare(old, new, tmp_path, Policy(new_file_minimum=Fraction(76))).regressions != ()


def test_a_deleted_file_never_counts_as_an_improvement(tmp_path: Path) -> None:
    old = Baseline({"a.py": Counts(10, 5), "gone.py": Counts(10, 0)})
    comparison = compare(old, Baseline({"a.py": Counts(10, 5)}), tmp_path)
    assert comparison.regressions == ()
    assert not comparison.improved
    assert comparison.to_json()["result"] == "ok"


def test_a_policy_reads_floats_as_the_decimals_written() -> None:
    assert Policy.from_settings(0.1, 3, NEW_FILE_TOTAL) == Policy(Fraction(1, 10), 3, None)
    assert Policy.from_settings(0, 0, 80.5).new_file_minimum == Fraction(161, 2)


def test_the_json_comparison_holds_numbers_for_lines_branches_and_combined(tmp_path: Path) -> None:
    old = Baseline({"a.py": Counts(10, 5, 2, 2), "gone.py": Counts(1, 1)})
    new = Baseline({"a.py": Counts(10, 6, 2, 1), "n.py": Counts(4, 4)})
    document = compare(old, new, tmp_path, Policy(tolerance_points=Fraction(60))).to_json()
    assert document["result"] == "tighter"
    assert document["policy"] == {"new_file_minimum": 800 / 13, "tolerance_lines": 0, "tolerance_points": 60.0}
    assert document["regressions"] == []
    files = {entry["path"]: entry for entry in document["files"]}
    assert files["a.py"]["lines"] == {"old": 50.0, "new": 60.0, "delta": 10.0}
    assert files["a.py"]["branches"] == {"old": 100.0, "new": 50.0, "delta": -50.0}
    assert files["a.py"]["combined"]["delta"] == pytest.approx(0.0)
    assert files["n.py"]["status"] == "new"
    assert files["n.py"]["lines"] == {"old": None, "new": 100.0, "delta": None}
    assert files["gone.py"]["status"] == "deleted"
    assert files["gone.py"]["new"] is None
    assert document["total"]["old"] == {"branches": 2, "covered_branches": 2, "covered_lines": 5, "statements": 10}


def test_the_markdown_summary_shows_the_verdict_and_the_counts(tmp_path: Path) -> None:
    old = Baseline({"a.py": Counts(10, 5), "b.py": Counts(2, 2)})
    dropped = to_markdown(compare(old, Baseline({"a.py": Counts(10, 4), "b.py": Counts(2, 2)}), tmp_path), "base.json")
    assert "**Coverage dropped** below `base.json`: `total`, `a.py`" in dropped
    assert "| `a.py` | fail | 5/10 → 4/10 | 0/0 → 0/0 | 50.00% → 40.00% |" in dropped
    assert "b.py" not in dropped
    tighter = to_markdown(compare(old, Baseline({"a.py": Counts(10, 6), "n.py": Counts(1, 1)}), tmp_path), "b.json")
    assert "the baseline can be tightened" in tighter
    assert "| `n.py` | new | – → 1/1 |" in tighter
    assert "| `b.py` | deleted | 2/2 → – |" in tighter
    same = to_markdown(compare(old, old, tmp_path), "b.json")
    assert "Coverage is at or above `b.json`.\n" in same


@pytest.mark.parametrize(
    ("rate", "shown", "color"),
    [
        (Fraction(1), "100.0%", "#4c1"),
        (Fraction(9999, 10000), "99.9%", "#4c1"),
        (Fraction(80, 100), "80.0%", "#dfb317"),
        (Fraction(60, 100), "60.0%", "#fe7d37"),
        (Fraction(1, 1000), "0.1%", "#e05d44"),
    ],
)
def test_the_badge_shows_the_rate_in_a_colour_for_its_band(rate: Fraction, shown: str, color: str) -> None:
    svg = badge_svg(rate)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert f"<title>coverage: {shown}</title>" in svg
    assert f'fill="{color}"' in svg


def test_shown_numbers_never_round_to_100_0_or_no_change() -> None:
    assert show_percent(Fraction(99999, 100000)) == "99.99%"
    assert show_delta(Fraction(1, 2), Fraction(50001, 100000)) == "+0.01"
    assert show_delta(Fraction(1, 2), Fraction(49999, 100000)) == "-0.01"
    assert show_delta(Fraction(1, 2), Fraction(1, 2)) == "+0.00"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('baseline_tolerance = "1"', "baseline_tolerance: expected percentage points like 0.5, got string"),
        ("baseline_tolerance = true", "baseline_tolerance: expected percentage points like 0.5, got boolean"),
        ("baseline_tolerance = 101", "baseline_tolerance: expected percentage points from 0 to 100, got 101"),
        ("baseline_tolerance_lines = -1", "baseline_tolerance_lines: expected a number of lines, 0 or more, got -1"),
        (
            "baseline_tolerance_lines = 1.5",
            "baseline_tolerance_lines: expected a number of lines, 0 or more, got float",
        ),
        ('new_file_minimum = "all"', "new_file_minimum: expected a percentage or \"total\", got 'all'"),
        ("new_file_minimum = -5", 'new_file_minimum: expected a percentage from 0 to 100 or "total", got -5'),
    ],
)
def test_a_wrong_baseline_setting_is_a_config_error(tmp_path: Path, body: str, message: str) -> None:
    make_file(tmp_path / "pyproject.toml", f"[tool.testfloor]\n{body}\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(tmp_path)
    assert str(excinfo.value) == f"{tmp_path / 'pyproject.toml'}: [tool.testfloor] {message}"


def test_baseline_settings_come_from_pyproject_then_the_environment_then_the_command_line(tmp_path: Path) -> None:
    make_file(
        tmp_path / "pyproject.toml",
        "[tool.testfloor]\nbaseline_tolerance = 0.5\nbaseline_tolerance_lines = 3\nnew_file_minimum = 80\n",
    )
    config = load_config(tmp_path)
    assert (config.baseline_tolerance, config.baseline_tolerance_lines, config.new_file_minimum) == (0.5, 3, 80.0)
    environ = {"TESTFLOOR_BASELINE_TOLERANCE": "1", "TESTFLOOR_NEW_FILE_MINIMUM": "total"}
    config = load_config(tmp_path, environ=environ, overrides=Overrides(baseline_tolerance_lines=0))
    assert (config.baseline_tolerance, config.baseline_tolerance_lines, config.new_file_minimum) == (1.0, 0, "total")
    with pytest.raises(ConfigError, match="TESTFLOOR_BASELINE_TOLERANCE_LINES: expected a number of lines"):
        load_config(tmp_path, environ={"TESTFLOOR_BASELINE_TOLERANCE_LINES": "2.5"})
    with pytest.raises(ConfigError, match=r"TESTFLOOR_BASELINE_TOLERANCE: expected percentage points like 0\.5"):
        load_config(tmp_path, environ={"TESTFLOOR_BASELINE_TOLERANCE": "half"})


def test_the_defaults_tolerate_nothing_and_hold_new_files_to_the_total(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert (config.baseline_tolerance, config.baseline_tolerance_lines, config.new_file_minimum) == (0.0, 0, "total")


# Properties of the comparison. An independent oracle over exact fractions decides what must happen.

policies = st.builds(
    Policy,
    st.fractions(min_value=0, max_value=100, max_denominator=1000),
    st.integers(0, 50),
    st.none() | st.fractions(min_value=0, max_value=100, max_denominator=1000),
)


def rate(hit: int, total: int) -> Fraction:
    return Fraction(hit, total) if total else Fraction(1)


def drop_beyond(policy: Policy, old_hit: int, old_all: int, new_hit: int, new_all: int) -> bool:
    fall = (rate(old_hit, old_all) - rate(new_hit, new_all)) * 100
    # The fewest covered lines to add (with no other change) to get back to the old rate.
    needed = next(k for k in range(new_all + 1) if rate(new_hit + k, new_all) >= rate(old_hit, old_all))
    return fall > 0 and fall > policy.tolerance_points and needed > policy.tolerance_lines


@settings(deadline=None)  # the oracle is slow on purpose: it counts line by line
@given(old=counts, new=counts, policy=policies)
def test_no_drop_beyond_the_tolerance_passes(old: Counts, new: Counts, policy: Policy) -> None:
    expected = drop_beyond(policy, old.covered_lines, old.statements, new.covered_lines, new.statements) or (
        drop_beyond(policy, old.covered_branches, old.branches, new.covered_branches, new.branches)
    )
    assert Change("x.py", old, new).dropped_under(policy) == expected


@settings(deadline=None)  # the oracle is slow on purpose: it counts line by line
@given(old=counts, new=counts, policy=policies)
def test_no_improvement_fails(old: Counts, new: Counts, policy: Policy) -> None:
    if new.line_rate >= old.line_rate and new.branch_rate >= old.branch_rate:
        assert not Change("x.py", old, new).dropped_under(policy)
        assert compare(Baseline({"x.py": old}), Baseline({"x.py": new}), Path("/nonexistent"), policy).regressions == ()


@settings(deadline=None)  # the oracle is slow on purpose: it counts line by line
@given(old=counts, scale_old=st.integers(1, 50), scale_new=st.integers(1, 50), lost=st.integers(1, 1000))
def test_rounding_never_decides(old: Counts, scale_old: int, scale_new: int, lost: int) -> None:
    # The same rates at any scale compare equal, however they would round...
    scaled_old = Counts(*(value * scale_old for value in old.to_json().values()))
    scaled_new = Counts(*(value * scale_new for value in old.to_json().values()))
    assert not Change("x.py", scaled_old, scaled_new).dropped
    # ...and one line lost out of a million still fails, though it shows as the same percentage.
    big = Counts(1_000_000 * (old.statements + 1), 1_000_000 * (old.statements + 1))
    slightly_less = Counts(big.statements, big.covered_lines - min(lost, big.covered_lines))
    assert Change("x.py", big, slightly_less).dropped


def test_a_coverage_report_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    from testfloor.baseline import from_coverage_json

    with pytest.raises(DataError, match=r"coverage\.json: not found\Z"):
        from_coverage_json(tmp_path / "coverage.json")
