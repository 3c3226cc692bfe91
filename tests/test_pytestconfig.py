from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import make_file
from testfloor.pytestconfig import (
    Override,
    convert_like,
    read_ini_sections,
    registered_markers,
    split_addopts,
    stranded_options,
    used_markers,
)


def test_absent_plugin_options_and_their_values_leave_addopts() -> None:
    addopts = ["-n", "auto", "--timeout=5", "-ra", "--cov-fail-under=90", "--strict-markers", "-nauto", "--reruns", "2",
               "--cov", "src", "--cov", "--cov-report=xml"]  # fmt: skip
    args, overrides = split_addopts([*addopts, "tests"], addopts, ["-n", "--timeout=5", "-nauto", "--reruns"])
    assert args == ["-ra", "--strict-markers", "tests"]
    assert [override.change for override in overrides] == [
        "addopts: removed -n auto",
        "addopts: removed --timeout=5",
        "addopts: removed --cov-fail-under=90",
        "addopts: removed -nauto",
        "addopts: removed --reruns 2",
        "addopts: removed --cov src",
        "addopts: removed --cov",
        "addopts: removed --cov-report=xml",
    ]
    assert "measure coverage themselves" in overrides[-1].reason
    assert overrides[0].reason == "its plugin is not installed"
    assert "per-run coverage threshold" in overrides[2].reason


def test_a_coverage_threshold_with_a_separate_value_goes_whole() -> None:
    args, overrides = split_addopts(["--cov-fail-under", "90", "-q"], ["--cov-fail-under", "90", "-q"], [])
    assert args == ["-q"]
    assert str(overrides[0]) == (
        "addopts: removed --cov-fail-under 90: a per-run coverage threshold; "
        "testfloor checks the combined report and the baseline instead"
    )


def test_options_typed_on_the_command_line_stay() -> None:
    args, overrides = split_addopts(["-ra", "-n", "2"], ["-ra"], ["-n"])
    assert (args, overrides) == (["-ra", "-n", "2"], [])


def test_an_unknown_flag_at_the_end_of_addopts_takes_no_value_with_it() -> None:
    assert split_addopts(["-n", "tests"], ["-n"], ["-n"])[0] == ["tests"]


def test_pytest_ini_sections_are_read_as_text(tmp_path: Path) -> None:
    ini = make_file(
        tmp_path / "pytest.ini", "[pytest]\naddopts = -ra\n[coverage:run]\nbranch = true\nasyncio_mode = auto\n"
    )
    own, sections = read_ini_sections(ini)
    assert own == "pytest"
    assert sections == {"pytest": {"addopts": "-ra"}, "coverage:run": {"branch": "true", "asyncio_mode": "auto"}}
    assert stranded_options(ini) == [("coverage:run", "asyncio_mode", "auto"), ("coverage:run", "branch", "true")]


def test_setup_cfg_keeps_pytest_under_tool_pytest_and_strands_nothing(tmp_path: Path) -> None:
    cfg = make_file(tmp_path / "setup.cfg", "[tool:pytest]\naddopts = -ra\n[coverage:run]\nbranch = true\n")
    assert read_ini_sections(cfg)[0] == "tool:pytest"
    assert stranded_options(cfg) == []
    assert read_ini_sections(make_file(tmp_path / "tox.ini", "[tox]\nx = 1\n"))[0] is None


PYTEST_TOML = 'markers = ["a: x", "b"]\nxfail_strict = true\n'


@pytest.mark.parametrize(
    ("name", "text", "section"),
    [
        ("pyproject.toml", f"[tool.pytest.ini_options]\n{PYTEST_TOML}", "tool.pytest.ini_options"),
        ("pyproject.toml", f"[tool.pytest]\n{PYTEST_TOML}", "tool.pytest"),
        ("pytest.toml", f"[pytest]\n{PYTEST_TOML}", "pytest"),
    ],
)  # fmt: skip
def test_toml_configs_become_ini_text(tmp_path: Path, name: str, text: str, section: str) -> None:
    own, sections = read_ini_sections(make_file(tmp_path / name, text))
    assert own == section
    assert sections == {section: {"markers": "a: x\nb", "xfail_strict": "true"}}


def test_used_markers_are_found_in_test_files_but_not_in_skipped_directories(tmp_path: Path) -> None:
    make_file(
        tmp_path / "tests" / "test_a.py", "import pytest\n\n@pytest.mark.slow\n@pytest.mark.skip\ndef test(): pass\n"
    )
    make_file(tmp_path / "tests" / "sub" / "test_b.py", "pytestmark = [pytest.mark.performance(5)]\n")
    make_file(tmp_path / "tests" / ".venv" / "test_c.py", "pytest.mark.vendored\n")
    make_file(tmp_path / "tests" / "notes.txt", "pytest.mark.prose\n")
    single = make_file(tmp_path / "test_root.py", "pytest.mark.rooted\n")
    assert used_markers([tmp_path / "tests", single, tmp_path / "missing"]) == {"slow", "performance", "rooted"}


def test_unreadable_files_are_passed_over(tmp_path: Path) -> None:
    (tmp_path / "test_dir.py").mkdir()
    (tmp_path / "test_gone.py").symlink_to(tmp_path / "nowhere.py")
    make_file(tmp_path / "test_ok.py", "pytest.mark.ok\n")
    assert used_markers([tmp_path]) == {"ok"}


def test_registered_markers_are_the_names_before_colon_or_parenthesis() -> None:
    assert registered_markers(["slow: takes long", "only(name): pick", "bare", "  "]) == {"slow", "only", "bare"}


@pytest.mark.parametrize(
    ("current", "text", "value"),
    [([], "a\n b \n\n", ["a", "b"]), (False, "True", True), (True, "off", False), (3, "7", 7), (0.5, "1.5", 1.5),
     ("strict", " auto ", "auto")],
)  # fmt: skip
def test_stranded_text_takes_the_type_of_the_current_value(current: object, text: str, value: object) -> None:
    assert convert_like(current, text) == value


def test_an_override_prints_as_change_and_reason() -> None:
    assert str(Override("x", "y")) == "x: y"


MESSY_INI = """
[pytest]
addopts = -n auto --timeout=5 --cov-fail-under=90 --strict-markers --strict-config
testpaths = tests
markers =
    slow: takes long
import_mode = importlib

[coverage:run]
branch = true
concurrency = gevent
asyncio_mode = auto
xfail_strict = true
timeout = 10
filterwarnings =
    ignore::UserWarning
"""

MESSY_TEST = """
import pytest

@pytest.mark.slow
def test_slow():
    assert True

@pytest.mark.performance
def test_fast():
    assert True

async def test_async_runs_in_auto_mode():
    assert True

@pytest.mark.xfail
def test_expected_to_fail():
    assert True

def test_warns_under_filterwarnings_from_the_stranded_section():
    import warnings
    warnings.warn(UserWarning("ignored by the stranded filterwarnings"))
    assert True
"""


@pytest.fixture
def messy(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".ini", pytest=MESSY_INI)
    pytester.makepyprojecttoml("[tool.testfloor]\n")
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_messy.py").write_text(MESSY_TEST)
    return pytester


def test_a_messy_config_runs_under_testfloor_and_every_override_is_listed(messy: pytest.Pytester) -> None:
    before = {path: path.read_bytes() for path in messy.path.rglob("*") if path.is_file()}
    result = messy.runpytest("-p", "no:xdist", "-W", "ignore::DeprecationWarning")
    # xfail_strict (stranded, applied): the passing xfail test fails; asyncio_mode = auto (stranded, applied):
    # the async test runs without a mark.
    result.assert_outcomes(passed=4, failed=1)
    assert "warnings summary" not in result.stdout.str()
    headers = [line for line in result.outlines if line.startswith("testfloor overrides:")]
    assert {"addopts", "ini", "markers"} <= {line.split(": ")[1] for line in headers}
    assert len(headers) == len({line.split(": ")[1] for line in headers})
    assert all(len(line) <= 120 for line in headers)
    # Every change in full: in the collect report, which nox -s collect logs.
    report = messy.path.parent / "collect.json"
    messy.runpytest("-p", "no:xdist", "--collect-only", "-q", f"--testfloor-collect-report={report}")
    header = " | ".join(json.loads(report.read_text())["overrides"])
    for change in (
        "addopts: removed -n auto",
        "addopts: removed --timeout=5",
        "addopts: removed --cov-fail-under=90",
        "ini: declared unknown key 'import_mode'",
        "ini: applied stranded asyncio_mode = auto",
        "ini: applied stranded xfail_strict = true",
        "ini: ignored stranded timeout = 10",
        "markers: registered 'performance'",
        "ini: applied stranded filterwarnings = ignore::UserWarning",
    ):
        assert change in header
    assert "'slow'" not in header
    assert {path: path.read_bytes() for path in messy.path.rglob("*") if path.is_file() and path in before} == before


def test_without_testfloor_the_messy_config_does_not_even_start(messy: pytest.Pytester) -> None:
    messy.makepyprojecttoml("")
    result = messy.runpytest("-p", "no:xdist")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unrecognized arguments: -n*"])


def test_the_collect_report_carries_every_override_with_its_reason(messy: pytest.Pytester) -> None:
    from testfloor.collect import read_outcome

    report = messy.path / "collect.json"
    messy.runpytest("-p", "no:xdist", "--collect-only", f"--testfloor-collect-report={report}")
    overrides = read_outcome(report).overrides
    assert "addopts: removed -n auto: its plugin is not installed" in overrides
    assert any(
        line.startswith("ini: applied stranded asyncio_mode = auto: written under [coverage:run]") for line in overrides
    )
    assert "markers: registered 'performance': used by the tests but never declared" in overrides


def test_without_a_config_file_there_is_nothing_to_repair() -> None:
    from types import SimpleNamespace

    from testfloor import repair

    no_file = SimpleNamespace(inipath=None)
    assert repair.stranded(no_file) == []  # type: ignore[arg-type]
    assert repair._unknown_ini_keys(no_file, None) == []  # type: ignore[arg-type]
