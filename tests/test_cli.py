from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import testfloor
from helpers import clean_environ, make_file
from testfloor import __version__
from testfloor.baseline import Baseline, Counts, read_baseline, write_baseline
from testfloor.cli import ExitCode, exit_code_for, main
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
    assert main([*args, "--fail-under", "100"]) == ExitCode.OK
    assert "mod.py" in capsys.readouterr().out
    assert (tmp_path / "summary.md").read_text() == (tmp_path / "coverage.md").read_text()
    assert (tmp_path / "c.xml").is_file()


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
    assert "a.py: lines 2/4 -> lines 3/4" in out
    assert "total (files in both): lines 2/4 -> lines 3/4" in out


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
    monkeypatch.setattr(doctor, "probe", lambda root: next(steps))
    assert main(["doctor", str(tmp_path)]) == ExitCode.COLLECTION
    assert "[project bug]" in capsys.readouterr().out
    assert (
        main(["doctor", str(tmp_path), "--fix", "--json", "--no-install", "--max-passes", "2"]) == ExitCode.QUARANTINED
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out)["quarantined"] == ["tests/t.py"]
    assert "pass 1: 1 errors: quarantined tests/t.py" in captured.err
    monkeypatch.setattr(doctor, "probe", lambda root: Outcome(0, ("tests/u.py::t",), ()))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert main(["doctor", str(tmp_path)]) == ExitCode.OK


def test_doctor_refuses_a_nonsense_number_of_passes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["doctor", "--max-passes", "0"])
    assert "expected a whole number from 1, got '0'" in capsys.readouterr().err
