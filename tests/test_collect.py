from __future__ import annotations

from pathlib import Path

import pytest

from testfloor.collect import CollectError, Outcome, read_outcome
from testfloor.errors import CollectionError, DataError


def collect(pytester: pytest.Pytester) -> tuple[pytest.RunResult, Outcome]:
    report = pytester.path / "collect.json"
    result = pytester.runpytest("--collect-only", "-q", f"--testfloor-collect-report={report}")
    return result, read_outcome(report)


def test_a_clean_collection_records_every_node_id(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_one(): pass\ndef test_two(): pass\n")
    result, outcome = collect(pytester)
    assert result.ret == 0
    assert outcome == Outcome(0, ("test_a.py::test_one", "test_a.py::test_two"), ())
    assert outcome.check() == 2


def test_collection_errors_are_recorded_with_their_last_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_one(): pass\n", test_broken="import no_such_module_here\n")
    result, outcome = collect(pytester)
    assert result.ret == 2
    assert outcome.exitstatus == 2
    assert outcome.errors == (
        CollectError("test_broken.py", "E   ModuleNotFoundError: No module named 'no_such_module_here'"),
    )
    with pytest.raises(CollectionError) as excinfo:
        outcome.check()
    assert str(excinfo.value).splitlines() == [
        "the collect gate failed: collection was interrupted by errors",
        "  test_broken.py: E   ModuleNotFoundError: No module named 'no_such_module_here'",
    ]


def test_an_empty_suite_fails_the_gate(pytester: pytest.Pytester) -> None:
    result, outcome = collect(pytester)
    assert result.ret == 5
    with pytest.raises(CollectionError, match="no tests were collected"):
        outcome.check()


@pytest.mark.parametrize(
    ("status", "meaning"),
    [(0, "no tests were collected"), (3, "internal error"), (4, "used wrongly"), (7, "exited with status 7")],
)
def test_every_failing_status_is_explained(status: int, meaning: str) -> None:
    with pytest.raises(CollectionError, match=meaning):
        Outcome(status, (), (CollectError("", "boom"),)).check()


def test_an_error_without_text_still_gets_a_line(pytester: pytest.Pytester) -> None:
    from testfloor.collect import Recorder

    recorder = Recorder(pytester.path / "r.json")
    report = pytest.CollectReport("x.py", "failed", "   \n", [])
    recorder.pytest_collectreport(report)
    assert recorder.errors == [CollectError("x.py", "error")]


def test_no_report_means_pytest_stopped_before_collecting(tmp_path: Path) -> None:
    with pytest.raises(CollectionError, match="used wrongly"):
        read_outcome(tmp_path / "missing.json")


@pytest.mark.parametrize("text", ["{", "{}", '{"exitstatus": 0, "nodeids": [], "errors": [1]}'])
def test_a_broken_report_is_a_data_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "r.json").write_text(text)
    with pytest.raises(DataError, match="unreadable collect report"):
        read_outcome(tmp_path / "r.json")
