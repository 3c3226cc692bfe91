from __future__ import annotations

import argparse
import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import testfloor
from helpers import clean_environ, make_file
from testfloor import __version__
from testfloor.baseline import Baseline, Counts, read_baseline, write_baseline
from testfloor.cli import ExitCode, build_parser, exit_code_for, main
from testfloor.errors import TestfloorError


def coverage_json(path: Path, files: dict[str, tuple[int, int]]) -> Path:
    summaries = {name: {"summary": {"num_statements": s, "covered_lines": c}} for name, (s, c) in files.items()}
    return make_file(path, json.dumps({"files": summaries}))


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["--version"])
    assert excinfo.value.code == 0
    assert capsys.readouterr().out == f"testfloor {__version__}\n"


def test_no_command_prints_help_and_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == ExitCode.USAGE
    assert "exit codes:" in capsys.readouterr().err


def test_help_documents_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for code in ExitCode:
        assert f"{code.value}  {code.name.lower()}" in out


def test_an_error_of_an_unmapped_class_is_a_data_error() -> None:
    class Odd(TestfloorError):
        pass

    assert exit_code_for(Odd("x")) == ExitCode.DATA


def test_config_shows_the_settings_with_secrets_masked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_file(
        tmp_path / "pyproject.toml",
        """
        [tool.testfloor]
        stubs = ["torch"]
        python = ["3.12"]
        [tool.testfloor.env]
        JWT_SECRET = "hunter2hunter2hunter2hunter2hunter2"
        DATABASE_URL = { value = "postgresql://u:hunter2@localhost/db", override = true }
        """,
    )
    assert main(["config", str(tmp_path)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "stubs:    torch (mode: missing)" in out
    assert "python:   3.12" in out
    assert "  DATABASE_URL=postgresql://u:****@localhost/db (overrides the environment)" in out
    assert "  JWT_SECRET=****" in out
    assert "hunter2" not in out


def test_config_as_json_applies_the_command_line_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_file(
        tmp_path / "pyproject.toml", '[tool.testfloor]\nbaseline = "a.json"\n[tool.testfloor.env]\nTOKEN = "t0k"\n'
    )
    args = ["config", str(tmp_path), "--json", "--baseline", "b.json", "--python", "3.11,3.12", "--stubs", "ray"]
    assert main([*args, "--stub-mode", "always"]) == ExitCode.OK
    document = json.loads(capsys.readouterr().out)
    assert document == {
        "baseline": "b.json",
        "configured": True,
        "env": {"TOKEN": {"override": False, "value": "****"}},
        "python": ["3.11", "3.12"],
        "root": str(tmp_path),
        "stub_mode": "always",
        "stubs": ["ray"],
        "warnings": [],
    }


def test_config_of_a_project_without_settings_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", str(tmp_path)]) == ExitCode.OK
    assert "(no [tool.testfloor]: defaults)" in capsys.readouterr().out


def test_a_bad_setting_is_one_line_on_stderr_with_its_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_file(tmp_path / "pyproject.toml", "[tool.testfloor]\npython = [3.10]\n")
    assert main(["config", str(tmp_path)]) == ExitCode.CONFIG
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"testfloor: {tmp_path / 'pyproject.toml'}: [tool.testfloor] python: 3.1 is a TOML float; "
        'write versions as strings, like "3.10"\n'
    )


def test_warnings_go_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_file(tmp_path / "pyproject.toml", "[tool.testfloor]\nsurprise = 1\n")
    assert main(["config", str(tmp_path)]) == ExitCode.OK
    assert "testfloor: warning: " in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["config", "--python", "3.1x"], "expected versions like"),
        (["report", "--fail-under", "lots"], "expected a percentage, got 'lots'"),
        (["report", "--fail-under", "101"], "expected a percentage from 0 to 100, got 101"),
        (["baseline"], "required: ACTION"),
    ],
)
def test_bad_arguments_are_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(args)
    assert excinfo.value.code == ExitCode.USAGE
    assert message in capsys.readouterr().err


def test_report_without_data_is_a_data_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--data-file", str(tmp_path / ".coverage")]) == ExitCode.DATA
    assert capsys.readouterr().err.startswith("testfloor: ")


def test_report_combines_writes_and_appends_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_file(tmp_path / "mod.py", "def f(x):\n    return x\n\nf(1)\n")
    subprocess.run([sys.executable, "-m", "coverage", "run", "--data-file=shard", "mod.py"], cwd=tmp_path,
                   env=clean_environ(), check=True)  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    args = ["report", "--shard", "shard", "--json", "coverage.json", "--markdown", "coverage.md", "--xml", "c.xml"]
    assert main([*args, "--fail-under", "100", "--cache", "parses"]) == ExitCode.OK
    assert "mod.py" in capsys.readouterr().out
    assert (tmp_path / "summary.md").read_text() == (tmp_path / "coverage.md").read_text()
    assert (tmp_path / "c.xml").is_file()
    assert [path.suffix for path in (tmp_path / "parses").glob("*/*")] == [".parse"]  # mod.py's parse, kept


def test_report_of_existing_data_prints_the_table_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_file(tmp_path / "mod.py", "X = 1\n")
    subprocess.run([sys.executable, "-m", "coverage", "run", "mod.py"], cwd=tmp_path, env=clean_environ(), check=True)
    monkeypatch.chdir(tmp_path)
    assert main(["report"]) == ExitCode.OK
    assert "mod.py" in capsys.readouterr().out
    assert sorted(path.name for path in tmp_path.iterdir()) == [".coverage", "mod.py"]


def test_report_below_the_floor_is_a_regression_and_still_writes_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_file(tmp_path / "mod.py", "def f(x):\n    return x\n\ndef g():\n    return 2\n\nf(1)\n")
    subprocess.run([sys.executable, "-m", "coverage", "run", "mod.py"], cwd=tmp_path, env=clean_environ(), check=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    assert main(["report", "--markdown", "coverage.md", "--fail-under", "90"]) == ExitCode.REGRESSION
    assert "below the required 90.0%" in capsys.readouterr().err
    assert "mod.py" in (tmp_path / "summary.md").read_text()


def test_baseline_check_passes_when_nothing_dropped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_baseline(tmp_path / "coverage-baseline.json", Baseline({"a.py": Counts(4, 2)}))
    report = coverage_json(tmp_path / "coverage.json", {"a.py": (4, 3)})
    assert main(["baseline", "check", str(tmp_path), "--coverage-json", str(report)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "a.py: lines 2/4 -> 3/4 (+25.00 pts), combined 50.00% -> 75.00%\n" in out
    assert "total (files in both): lines 2/4 -> 3/4 (+25.00 pts), combined 50.00% -> 75.00%\n" in out


def test_baseline_check_fails_on_a_drop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_baseline(tmp_path / "coverage-baseline.json", Baseline({"a.py": Counts(4, 3)}))
    report = coverage_json(tmp_path / "coverage.json", {"a.py": (4, 2)})
    assert main(["baseline", "check", str(tmp_path), "--coverage-json", str(report)]) == ExitCode.REGRESSION
    assert capsys.readouterr().err == "testfloor: coverage dropped below coverage-baseline.json: total, a.py\n"


def test_baseline_check_without_a_baseline_is_a_data_error(tmp_path: Path) -> None:
    report = coverage_json(tmp_path / "coverage.json", {"a.py": (4, 2)})
    assert main(["baseline", "check", str(tmp_path), "--coverage-json", str(report)]) == ExitCode.DATA


def test_baseline_update_writes_a_first_baseline_and_then_only_tightens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "coverage-baseline.json"
    args = ["baseline", "update", str(tmp_path), "--coverage-json"]
    assert main([*args, str(coverage_json(tmp_path / "one.json", {"a.py": (4, 2)}))]) == ExitCode.OK
    assert read_baseline(target).files == {"a.py": Counts(4, 2)}
    assert main([*args, str(coverage_json(tmp_path / "two.json", {"a.py": (4, 3)}))]) == ExitCode.OK
    assert read_baseline(target).files == {"a.py": Counts(4, 3)}
    lower = str(coverage_json(tmp_path / "three.json", {"a.py": (4, 1)}))
    assert main([*args, lower]) == ExitCode.REGRESSION
    assert "see --allow-decrease" in capsys.readouterr().err
    assert read_baseline(target).files == {"a.py": Counts(4, 3)}
    assert main([*args, lower, "--allow-decrease"]) == ExitCode.OK
    assert read_baseline(target).files == {"a.py": Counts(4, 1)}


def test_python_dash_m_runs_the_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["testfloor", "config", "--json"])
    with pytest.raises(SystemExit) as excinfo:
        # run_path, not run_module: pytest's assertion rewriter claims testfloor's modules and cannot serve runpy.
        runpy.run_path(str(Path(testfloor.__file__).parent / "__main__.py"), run_name="__main__")
    assert excinfo.value.code == 0
    assert json.loads(capsys.readouterr().out)["configured"] is True


def test_a_reader_that_closes_the_pipe_early_gets_exit_141_and_no_traceback(tmp_path: Path) -> None:
    # `testfloor config | head -1`, with head gone before testfloor writes: the pipe has no reader.
    make_file(tmp_path / "pyproject.toml", "[tool.testfloor]\n")
    reader, writer = os.pipe()
    os.close(reader)
    try:
        result = subprocess.run([sys.executable, "-m", "testfloor", "config", str(tmp_path)], stdout=writer,
                                stderr=subprocess.PIPE, text=True, check=False)  # fmt: skip
    finally:
        os.close(writer)
    assert (result.returncode, result.stderr) == (ExitCode.BROKEN_PIPE, "")
    assert ExitCode.BROKEN_PIPE == 141


def test_the_installed_command_runs_in_a_subprocess() -> None:
    # The outer coverage run measures this subprocess too (patch = subprocess): keep its variables.
    result = subprocess.run([sys.executable, "-m", "testfloor", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "baseline" in result.stdout


def test_doctor_reports_and_exits_by_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from testfloor import doctor
    from testfloor.collect import Cause, CollectError, Outcome

    broken = CollectError("tests/t.py", "E", (Cause("builtins.NameError", "name 'x' is not defined", None, "t.py", 1),))
    steps = iter([Outcome(2, (), (broken,)), Outcome(2, (), (broken,)), Outcome(0, ("tests/u.py::t",), ())])
    probed: list[str] = []

    def probe(root: Path, python: str) -> Outcome:
        probed.append(str(python))
        return next(steps)

    monkeypatch.setattr(doctor, "probe", probe)
    # --fix builds the sessions' environment and probes there; a diagnosis alone looks at this interpreter.
    from testfloor import testenv

    built = testenv.Environment(tmp_path / "env", tmp_path / "env" / "bin" / "python", "3.12")
    monkeypatch.setattr(testenv, "for_project", lambda config, progress: built)
    assert main(["doctor", str(tmp_path)]) == ExitCode.COLLECTION
    out = capsys.readouterr().out
    assert "[project bug]" in out
    assert f"environment: {sys.executable}" in out
    assert out.splitlines()[-3:] == [
        "fixes: none",
        "commit: nothing: no file changed",
        "next: testfloor doctor --fix (it would: quarantine tests/t.py)",
    ]
    assert probed == [sys.executable]
    assert (
        main(["doctor", str(tmp_path), "--fix", "--json", "--no-install", "--max-passes", "2"]) == ExitCode.QUARANTINED
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out)["quarantined"] == ["tests/t.py"]
    assert "pass 1: 1 error: quarantined tests/t.py" in captured.err
    assert json.loads(captured.out)["python"] == "env (Python 3.12)"
    summary = json.loads(captured.out)["summary"]
    assert (summary["commit"], summary["next"]) == (
        ["pyproject.toml", "requirements-test.txt"],
        "testfloor init (the sessions, CI and the first baseline)",
    )
    # The environment is built from requirements-test.txt: --fix writes it as init would, once.
    assert "wrote requirements-test.txt" in captured.err
    from testfloor.testenv import testfloor_requirement

    assert testfloor_requirement() in (tmp_path / "requirements-test.txt").read_text().splitlines()
    steps = iter([Outcome(0, ("tests/u.py::t",), ())])
    assert main(["doctor", str(tmp_path), "--fix"]) == ExitCode.QUARANTINED
    assert "wrote requirements-test.txt" not in capsys.readouterr().err
    assert probed[1:3] == [str(built.python)] * 2
    monkeypatch.setattr(doctor, "probe", lambda root, python: Outcome(0, ("tests/u.py::t",), ()))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert main(["doctor", str(tmp_path)]) == ExitCode.OK


def test_doctor_refuses_a_nonsense_number_of_passes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["doctor", "--max-passes", "0"])
    assert "expected a whole number from 1, got '0'" in capsys.readouterr().err


def test_baseline_check_writes_markdown_json_and_a_badge_and_appends_the_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_baseline(tmp_path / "coverage-baseline.json", Baseline({"a.py": Counts(4, 3)}))
    report = coverage_json(tmp_path / "coverage.json", {"a.py": (4, 2)})
    (tmp_path / "summary.md").write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    outputs = ["--markdown", str(tmp_path / "out" / "b.md"), "--json", str(tmp_path / "b.json")]
    outputs += ["--badge", str(tmp_path / "badge.svg")]
    args = ["baseline", "check", str(tmp_path), "--coverage-json", str(report), *outputs]
    assert main(args) == ExitCode.REGRESSION
    assert capsys.readouterr().out.startswith(
        "a.py: lines 3/4 -> 2/4 (-25.00 pts), combined 75.00% -> 50.00%  [FAIL]\n"
    )
    markdown = (tmp_path / "out" / "b.md").read_text()
    assert "**Coverage dropped**" in markdown
    assert (tmp_path / "summary.md").read_text() == "earlier step\n" + markdown
    document = json.loads((tmp_path / "b.json").read_text())
    assert document["result"] == "regression"
    assert document["total"]["lines"] == {"old": 75.0, "new": 50.0, "delta": -25.0}
    assert "<title>coverage: 50.0%</title>" in (tmp_path / "badge.svg").read_text()


def test_baseline_check_prints_json_to_stdout_for_a_dash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_baseline(tmp_path / "coverage-baseline.json", Baseline({"a.py": Counts(4, 3)}))
    report = coverage_json(tmp_path / "coverage.json", {"a.py": (4, 3)})
    assert main(["baseline", "check", str(tmp_path), "--coverage-json", str(report), "--json", "-"]) == ExitCode.OK
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert (document["result"], document["files"], document["regressions"]) == ("ok", [], [])
    assert "coverage is at or above coverage-baseline.json" in captured.err


def test_fail_if_tighter_exits_12_only_when_the_baseline_can_be_tightened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_baseline(tmp_path / "coverage-baseline.json", Baseline({"a.py": Counts(4, 2)}))
    args = ["baseline", "check", str(tmp_path), "--fail-if-tighter", "--coverage-json"]
    same = str(coverage_json(tmp_path / "same.json", {"a.py": (4, 2)}))
    better = str(coverage_json(tmp_path / "better.json", {"a.py": (4, 3)}))
    assert main([*args, same]) == ExitCode.OK
    assert main([*args, better]) == ExitCode.TIGHTER == 12
    assert "would tighten it" in capsys.readouterr().out
    assert main(["baseline", "check", str(tmp_path), "--coverage-json", better]) == ExitCode.OK


def test_tolerance_options_let_a_small_drop_pass_but_update_still_refuses_it(tmp_path: Path) -> None:
    write_baseline(tmp_path / "coverage-baseline.json", Baseline({"a.py": Counts(100, 90)}))
    report = str(coverage_json(tmp_path / "coverage.json", {"a.py": (100, 89)}))
    check = ["baseline", "check", str(tmp_path), "--coverage-json", report]
    assert main(check) == ExitCode.REGRESSION
    assert main([*check, "--tolerance", "1"]) == ExitCode.OK
    assert main([*check, "--tolerance-lines", "1"]) == ExitCode.OK
    assert main([*check, "--tolerance", "0.5"]) == ExitCode.REGRESSION
    update = ["baseline", "update", str(tmp_path), "--coverage-json", report, "--tolerance", "5"]
    assert main(update) == ExitCode.REGRESSION
    assert read_baseline(tmp_path / "coverage-baseline.json").files == {"a.py": Counts(100, 90)}


def test_new_file_minimum_option_holds_new_files_to_it(tmp_path: Path) -> None:
    write_baseline(tmp_path / "coverage-baseline.json", Baseline({"a.py": Counts(10, 5)}))
    report = str(coverage_json(tmp_path / "coverage.json", {"a.py": (10, 5), "new.py": (10, 6)}))
    check = ["baseline", "check", str(tmp_path), "--coverage-json", report]
    assert main(check) == ExitCode.OK
    assert main([*check, "--new-file-minimum", "100"]) == ExitCode.REGRESSION
    assert main([*check, "--new-file-minimum", "total"]) == ExitCode.OK


@pytest.mark.parametrize(
    "option", [["--tolerance", "-1"], ["--tolerance", "x"], ["--tolerance-lines", "1.5"], ["--new-file-minimum", "a"]]
)
def test_a_bad_policy_option_is_a_usage_error(
    tmp_path: Path, option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["baseline", "check", str(tmp_path), *option])
    assert excinfo.value.code == ExitCode.USAGE
    assert "error: argument" in capsys.readouterr().err


BAD_REPORTS = [
    ("empty", ""),
    ("truncated", '{"files": {"a.py": {"summary": {"num_statements": 4, "cov'),
    ("not an object", "[1, 2]"),
    ("files is a list", '{"files": []}'),
    ("count is a string", '{"files": {"a.py": {"summary": {"num_statements": "4", "covered_lines": 2}}}}'),
    ("count is a bool", '{"files": {"a.py": {"summary": {"num_statements": true, "covered_lines": 2}}}}'),
    ("summary is null", '{"files": {"a.py": {"summary": null}}}'),
]


@pytest.mark.parametrize(("case", "text"), BAD_REPORTS, ids=[case for case, _text in BAD_REPORTS])
@pytest.mark.parametrize("action", ["check", "update"])
def test_a_bad_coverage_report_is_one_line_and_exit_4_and_leaves_the_baseline_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, text: str, action: str
) -> None:
    write_baseline(tmp_path / "coverage-baseline.json", Baseline({"a.py": Counts(4, 2)}))
    before = (tmp_path / "coverage-baseline.json").read_bytes()
    report = make_file(tmp_path / "coverage.json", text)
    assert main(["baseline", action, str(tmp_path), "--coverage-json", str(report)]) == ExitCode.DATA
    err = capsys.readouterr().err
    assert err.startswith(f"testfloor: {report}: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert (tmp_path / "coverage-baseline.json").read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["coverage-baseline.json", "coverage.json"]


@pytest.mark.parametrize(
    "text",
    [
        '{"format": 2, "files": {}}',
        '{"format": "1", "files": {}}',
        '{"format": 1, "files": {"a.py": {"statements": []}}}',
    ],
)
def test_a_baseline_of_another_format_or_wrong_types_is_one_line_and_exit_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    make_file(tmp_path / "coverage-baseline.json", text)
    report = coverage_json(tmp_path / "coverage.json", {"a.py": (4, 2)})
    for action in ("check", "update"):
        assert main(["baseline", action, str(tmp_path), "--coverage-json", str(report)]) == ExitCode.DATA
        err = capsys.readouterr().err
        assert err.startswith("testfloor: ")
        assert err.count("\n") == 1
        assert (tmp_path / "coverage-baseline.json").read_text() == text


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_a_corrupt_data_file_is_one_line_and_exit_4_and_writes_no_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    make_file(tmp_path / "mod.py", "def f(x):\n    return x\n\nf(1)\n")
    env = clean_environ(COVERAGE_FILE="good")
    subprocess.run([sys.executable, "-m", "coverage", "run", "mod.py"], cwd=tmp_path, env=env, check=True)
    good = (tmp_path / "good").read_bytes()
    (tmp_path / "bad").write_bytes(
        {"empty": b"", "truncated": good[: len(good) // 2], "garbage": b"\x00junk" * 99}[damage]
    )
    monkeypatch.chdir(tmp_path)
    outputs = ["--xml", "coverage.xml", "--json", "coverage.json", "--markdown", "coverage.md"]
    for args in (["--shard", "good", "--shard", "bad"], ["--data-file", "bad"]):
        assert main(["report", *args, *outputs]) == ExitCode.DATA
        err = capsys.readouterr().err
        assert err.startswith("testfloor: ")
        assert "bad" in err
        assert err.count("\n") == 1
        assert not [path.name for path in tmp_path.iterdir() if path.name.startswith(("coverage.", ".coverage"))]


def test_a_baseline_update_killed_at_any_moment_leaves_the_old_or_the_new_baseline(tmp_path: Path) -> None:
    import random
    import signal
    import time

    names = [f"src/pkg/module_{index:04}.py" for index in range(4000)]
    write_baseline(tmp_path / "coverage-baseline.json", Baseline({name: Counts(100, 50, 10, 5) for name in names}))
    old = (tmp_path / "coverage-baseline.json").read_bytes()
    summaries = {name: (100, 60) for name in names}
    report = coverage_json(tmp_path / "coverage.json", summaries)
    command = [sys.executable, "-m", "testfloor", "baseline", "update", str(tmp_path), "--coverage-json", str(report)]
    started = time.perf_counter()
    subprocess.run(command, env=clean_environ(), check=True, capture_output=True)
    duration = time.perf_counter() - started
    new = (tmp_path / "coverage-baseline.json").read_bytes()
    assert new != old
    rng = random.Random(7)
    seen = set()
    for _trial in range(25):
        (tmp_path / "coverage-baseline.json").write_bytes(old)
        process = subprocess.Popen(command, env=clean_environ(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0, duration * 1.2))
        process.send_signal(signal.SIGKILL)
        process.wait()
        content = (tmp_path / "coverage-baseline.json").read_bytes()
        assert content in (old, new)
        seen.add(content == new)
    assert seen == {False, True}, "the kills should land both before and after the replace"


def test_report_combines_a_glob_of_shards_and_checks_their_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_file(tmp_path / "mod.py", "def f(x):\n    return x\n\nf(1)\n")
    for name in ("a", "b"):
        env = clean_environ(COVERAGE_FILE=f".coverage.{name}")
        subprocess.run([sys.executable, "-m", "coverage", "run", "mod.py"], cwd=tmp_path, env=env, check=True)
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--shard", ".coverage.*", "--expect", "3"]) == ExitCode.DATA
    assert capsys.readouterr().err == "testfloor: expected 3 coverage shards, found 2: .coverage.a, .coverage.b\n"
    assert main(["report", "--shard", ".coverage.*", "--expect", "2", "--jobs", "1"]) == ExitCode.OK
    assert "mod.py" in capsys.readouterr().out
    assert main(["report", "--expect", "1"]) == ExitCode.DATA
    assert "found 0: none" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--expect", "0"], ["--jobs", "two"]])
def test_a_bad_count_is_a_usage_error(option: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["report", *option])
    assert excinfo.value.code == ExitCode.USAGE
    assert "expected" in capsys.readouterr().err


def test_config_of_a_directory_that_does_not_exist_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "does/not/exist"]) == ExitCode.CONFIG
    assert capsys.readouterr().err == "testfloor: does/not/exist: no such project directory\n"


def test_a_baseline_whose_parent_is_a_file_is_one_output_error_and_exit_14(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_file(tmp_path / "file", "mine\n")
    report = coverage_json(tmp_path / "coverage.json", {"a.py": (4, 2)})
    args = ["baseline", "update", str(tmp_path), "--baseline", "file/x.json", "--coverage-json", str(report)]
    assert main(args) == ExitCode.OUTPUT
    assert capsys.readouterr().err == f"testfloor: {tmp_path}/file/x.json: cannot write: File exists\n"
    assert (tmp_path / "file").read_text() == "mine\n"


@pytest.mark.parametrize("option", ["--markdown", "--json", "--badge"])
def test_a_baseline_output_that_is_a_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    write_baseline(tmp_path / "coverage-baseline.json", Baseline({"a.py": Counts(4, 2)}))
    report = coverage_json(tmp_path / "coverage.json", {"a.py": (4, 2)})
    args = ["baseline", "check", str(tmp_path), "--coverage-json", str(report), option, str(tmp_path)]
    assert main(args) == ExitCode.OUTPUT
    assert capsys.readouterr().err == f"testfloor: {tmp_path}: cannot write: Is a directory\n"


def test_a_step_summary_that_is_a_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_baseline(tmp_path / "coverage-baseline.json", Baseline({"a.py": Counts(4, 2)}))
    report = coverage_json(tmp_path / "coverage.json", {"a.py": (4, 2)})
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))
    assert main(["baseline", "check", str(tmp_path), "--coverage-json", str(report)]) == ExitCode.OUTPUT
    err = capsys.readouterr().err
    assert err == f"testfloor: {tmp_path} ($GITHUB_STEP_SUMMARY): cannot write: Is a directory\n"


@pytest.mark.parametrize("option", ["--xml", "--markdown", "--data-file"])
def test_a_report_output_that_is_a_directory_is_one_line_and_exit_14(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    make_file(tmp_path / "mod.py", "X = 1\n")
    subprocess.run([sys.executable, "-m", "coverage", "run", "--data-file=shard", "mod.py"], cwd=tmp_path,
                   env=clean_environ(), check=True)  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", "out")
    assert main(["report", "--shard", "shard", option, "out"]) == ExitCode.OUTPUT
    assert capsys.readouterr().err == "testfloor: out: cannot write: Is a directory\n"
    assert list((tmp_path / "out").iterdir()) == []


def test_a_report_step_summary_that_is_a_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_file(tmp_path / "mod.py", "X = 1\n")
    subprocess.run([sys.executable, "-m", "coverage", "run", "mod.py"], cwd=tmp_path, env=clean_environ(), check=True)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", "out")
    assert main(["report", "--markdown", "summary.md"]) == ExitCode.OUTPUT
    assert capsys.readouterr().err == "testfloor: out ($GITHUB_STEP_SUMMARY): cannot write: Is a directory\n"


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        ('[tool.testfloor]\nbaseline = "a\\u0000b.json"\n', "baseline: a path cannot hold a NUL character"),
        ('[tool.testfloor.env]\nTOKEN = "a\\u0000b"\n', "TOKEN: an environment value cannot hold a NUL character"),
        ("x = " + "[" * 3000 + "]" * 3000 + "\n", "invalid TOML: nested too deeply"),
    ],
)
def test_settings_the_system_cannot_use_are_one_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pyproject: str, message: str
) -> None:
    make_file(tmp_path / "pyproject.toml", pyproject)
    assert main(["config", str(tmp_path)]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert err.startswith(f"testfloor: {tmp_path}/pyproject.toml: ")
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("path", ["a\0b", "a\ud800b", "x" * 6000])
def test_a_project_path_the_system_cannot_name_is_one_line(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", path]) == ExitCode.CONFIG
    assert capsys.readouterr().err.endswith(": no such project directory\n")


def test_a_baseline_option_with_a_nul_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["baseline", "check", "--baseline", "a\0b"])
    assert excinfo.value.code == ExitCode.USAGE
    assert "a path cannot hold a NUL character" in capsys.readouterr().err


def test_an_error_message_is_masked_before_it_is_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\npython = ["https://user:p@ss/w:rd@host"]\n')
    assert main(["config", str(tmp_path)]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "got 'https://user:****@host'" in err
    assert "p@ss" not in err


def readme_table(header: str) -> list[list[str]]:
    """The rows of the README table that starts with `header`, split into cells."""
    lines = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(header) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_the_readme_names_every_exit_code_and_every_command_with_the_codes_it_returns() -> None:
    meanings = {int(code): meaning.split(":")[0] for code, meaning in readme_table("| code | meaning |")}
    assert meanings == {1: "an unexpected crash (a bug in testfloor)"} | {
        code.value: code.name.lower().replace("_", " ") for code in ExitCode
    }
    rows = readme_table("| command | exits with |")
    parser = build_parser()
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    named = set()
    for name, sub in commands.choices.items():
        actions = [action for action in sub._actions if isinstance(action, argparse._SubParsersAction)]
        named |= {f"`testfloor {name} {action}`" for group in actions for action in group.choices} or {
            f"`testfloor {name}`"
        }
    assert {row[0] for row in rows} == named
    for _command, codes in rows:
        numbers = {int(number) for number in re.findall(r"(?:^|, )(\d+)", codes)}
        assert numbers <= {code.value for code in ExitCode}
        assert ExitCode.OK in numbers
