from __future__ import annotations

import json
from pathlib import Path

import pytest

from testfloor.collect import CollectError, Outcome, read_outcome
from testfloor.errors import CollectionError, DataError

# pytest 8.2.1 lets a SystemExit raised while collecting end the run; before, pytest reported it as the
# module's collection error itself and testfloor's hook never sees it. The nox session `compat` runs pytest 8.0.
EXIT_ENDS_THE_RUN = pytest.version_tuple >= (8, 2, 1)
exit_ends_the_run = pytest.mark.skipif(not EXIT_ENDS_THE_RUN, reason="before pytest 8.2.1 pytest reports it itself")


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
    (error,) = outcome.errors
    assert (error.nodeid, error.message) == (
        "test_broken.py",
        "E   ModuleNotFoundError: No module named 'no_such_module_here'",
    )
    # The exception chain keeps what the text loses: pytest's wrapper, then the ModuleNotFoundError and its name.
    assert [cause.short_type for cause in error.chain] == ["CollectError", "ModuleNotFoundError"]
    assert (error.chain[1].name, error.chain[1].path, error.chain[1].line) == (
        "no_such_module_here",
        "test_broken.py",
        1,
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


def test_a_module_that_exits_at_import_is_that_modules_error(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.testfloor]\n")
    pytester.makepyfile(test_ok="def test_one(): pass\n", test_script="import sys\nprint('hi')\nsys.exit(3)\n")
    result, outcome = collect(pytester)
    assert result.ret == 2
    (error,) = outcome.errors
    assert error.nodeid == "test_script.py"
    if EXIT_ENDS_THE_RUN:
        assert error.message == "SystemExit(3) raised while importing at test_script.py:3: a script, not a test module"
    else:
        assert error.message.endswith("SystemExit: 3")
    assert [(cause.short_type, cause.line) for cause in error.chain] == [("SystemExit", 3)]
    assert outcome.nodeids == ("test_ok.py::test_one",)


@exit_ends_the_run
def test_without_testfloor_settings_an_exit_at_import_still_ends_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_script="raise SystemExit(1)\n")
    result = pytester.runpytest_inprocess("--collect-only")
    assert result.ret != 2


@exit_ends_the_run
def test_outside_a_recorded_run_an_exit_at_import_is_still_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.testfloor]\n")
    pytester.makepyfile(test_script="raise SystemExit(0)\n")
    result = pytester.runpytest("--collect-only")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*SystemExit(0) raised while importing at test_script.py:1*"])


def test_a_root_conftest_that_fails_is_recorded_before_pytest_stops(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("import os\n\nSECRET = os.environ['NOT_SET_ANYWHERE']\n")
    pytester.makepyfile(test_a="def test_a(): pass\n")
    result, outcome = collect(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert outcome.exitstatus == 4
    (error,) = outcome.errors
    assert error.nodeid == "conftest.py"
    assert error.message == "KeyError: 'NOT_SET_ANYWHERE'"
    assert error.chain[-1].path == "conftest.py"


def test_a_failure_before_collection_without_a_report_option_is_left_to_pytest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("raise RuntimeError('broken conftest')\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert not list(pytester.path.glob("*.json"))


def test_outcomes_of_sub_projects_merge_with_paths_from_the_root() -> None:
    from testfloor.collect import Cause, merge, relocate

    cause = Cause("builtins.KeyError", "x", None, "tests/conftest.py", 2, trail=("tests/conftest.py:2",))
    first = relocate(Outcome(0, ("tests/test_a.py::t",), (), ("override a",)), "billing")
    second = relocate(
        Outcome(2, (), (CollectError("tests", "E", (cause, Cause("builtins.X", "y"))),), ("override a",)), "search"
    )
    merged = merge([first, second])
    assert merged.exitstatus == 2
    assert merged.nodeids == ("billing/tests/test_a.py::t",)
    assert merged.errors[0].nodeid == "search/tests"
    assert [item.path for item in merged.errors[0].chain] == ["search/tests/conftest.py", None]
    assert merged.errors[0].chain[0].trail == ("search/tests/conftest.py:2",)
    assert merged.overrides == ("override a",)
    assert relocate(merged, "") is merged
    assert relocate(Outcome(2, (), (CollectError("", "E"),)), "search").errors[0].nodeid == "search"


def test_a_settings_error_keeps_the_model_and_fields_but_never_the_values(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_settings="""
        from pydantic import BaseModel, Field

        class Settings(BaseModel):
            url: str
            secret: str = Field(min_length=32)

        Settings(secret="hunter2")
        """
    )
    _result, outcome = collect(pytester)
    (cause,) = outcome.errors[0].chain
    assert (cause.short_type, cause.title, cause.fields) == ("ValidationError", "Settings", ("url", "secret"))
    assert "hunter2" not in (pytester.path / "collect.json").read_text()


def test_a_syntax_error_is_placed_at_its_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_syntax="def test_a():\n    pass\n\nx = (\n")
    _result, outcome = collect(pytester)
    syntax = outcome.errors[0].chain[-1]
    assert (syntax.short_type, syntax.path) == ("SyntaxError", "test_syntax.py")


def test_an_error_raised_inside_a_virtualenv_in_the_project_is_placed_at_the_import(pytester: pytest.Pytester) -> None:
    site = pytester.mkdir(".venv") / "lib" / "site-packages"
    site.mkdir(parents=True)
    (site / "vendored_broken_lib.py").write_text("raise RuntimeError('broken vendored library')\n")
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(site)!r})\n")
    pytester.makepyfile(test_uses="import vendored_broken_lib\n")
    _result, outcome = collect(pytester)
    chain = outcome.errors[0].chain
    assert [(cause.short_type, cause.path) for cause in chain] == [("RuntimeError", "test_uses.py")]


def test_a_full_run_with_the_report_option_records_test_failures_only_as_a_status(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_fails():\n    assert False\n")
    report = pytester.path / "run.json"
    result = pytester.runpytest(f"--testfloor-collect-report={report}")
    assert result.ret == 1
    assert read_outcome(report) == Outcome(1, ("test_a.py::test_fails",), ())


def test_the_report_never_holds_a_secret_of_the_environment_or_a_url(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyprojecttoml('[tool.testfloor.env]\nSESSION_COOKIE_SIGNER = "declared-signer"\n')
    monkeypatch.setenv("GITHUB_PAT", "ghp_from_the_environment")
    pytester.makepyfile(
        test_db="""
        import os
        raise RuntimeError(
            "cannot connect to postgresql://admin:p@ss/w:rd@db/app with " + os.environ["GITHUB_PAT"]
            + " and " + os.environ["SESSION_COOKIE_SIGNER"] + " " + "x" * 300
        )
        """,
        test_script="import os, sys\nsys.exit('exit with ' + os.environ['GITHUB_PAT'])\n",
    )
    report = pytester.path / "collect.json"
    pytester.runpytest("--collect-only", "-q", f"--testfloor-collect-report={report}")
    text = report.read_text()
    assert "cannot connect to postgresql://admin:****@db/app with **** and ****" in text
    assert not [secret for secret in ("p@ss", "w:rd", "ghp_from", "declared-signer") if secret in text]
    if EXIT_ENDS_THE_RUN:
        assert "SystemExit('exit with ****') raised while importing" in text


def test_every_frame_of_the_project_on_the_way_to_an_error_is_kept_innermost_first(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        helper="def build(url):\n    raise TypeError('got None')\n",
        settings="import helper\n\nENGINE = helper.build(None)\n",
        test_uses="import settings\n",
    )
    _result, outcome = collect(pytester)
    (cause,) = outcome.errors[0].chain
    assert (cause.path, cause.line) == ("helper.py", 2)
    assert cause.trail == ("helper.py:2", "settings.py:3", "test_uses.py:1")


def test_a_report_written_before_trails_were_kept_still_reads(tmp_path: Path) -> None:
    cause = {"type": "builtins.X", "message": "m", "name": None, "path": "a.py", "line": 1, "title": None, "fields": []}
    document = {"errors": [{"chain": [cause], "message": "E", "nodeid": "a.py"}], "exitstatus": 2, "nodeids": []}
    (tmp_path / "old.json").write_text(json.dumps(document))
    assert read_outcome(tmp_path / "old.json").errors[0].chain[0].trail == ()


def test_a_conftest_that_fails_below_the_root_is_recorded_with_its_own_path(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="raise RuntimeError('the registry is not configured')\n")
    pytester.makepyfile(**{"tests/conftest": "import app\n", "tests/test_a": "def test_a(): pass\n"})
    pytester.syspathinsert()
    _result, outcome = collect(pytester)
    (error,) = outcome.errors
    assert error.nodeid == "tests/conftest.py"
    assert [(cause.short_type, cause.path) for cause in error.chain] == [
        ("ConftestImportFailure", "tests/conftest.py"),
        ("RuntimeError", "app.py"),
    ]


def test_a_conftest_that_fails_to_import_is_a_place_without_a_line() -> None:
    from testfloor.collect import describe_exception

    class ConftestImportFailure(Exception):  # pytest's, by name and path: its signature differs between releases
        def __init__(self, path: Path) -> None:
            super().__init__(str(path))
            self.path = path

    root = Path.cwd()
    (cause,) = describe_exception(ConftestImportFailure(root / "tests" / "conftest.py"), root)
    assert (cause.path, cause.line, cause.trail) == ("tests/conftest.py", None, ("tests/conftest.py",))
    assert describe_exception(ConftestImportFailure(root.parent / "elsewhere" / "conftest.py"), root)[0].trail == ()
