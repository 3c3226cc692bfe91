"""A `-p NAME` whose module an installed plugin's entry point loads too: loaded once, and said so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import make_file
from testfloor import doctor
from testfloor.classify import classify

# A plugin that says in the header how often pytest registered it, and adds an option (a second registration
# would add it again, which pytest refuses).
PLUGIN = """
import pytest

REGISTERED = []


def pytest_addoption(parser):
    parser.addoption("--twice-flag", action="store_true")


def pytest_plugin_registered(plugin, plugin_name, manager):
    if plugin is __import__("pytest_twice"):
        REGISTERED.append(plugin_name)


def pytest_report_header(config):
    return f"pytest-twice registered as {', '.join(REGISTERED)}"
"""
ADDOPTS = '[tool.pytest.ini_options]\naddopts = "-p pytest_twice"\n'


@pytest.fixture
def twice(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """An installed distribution whose `pytest11` entry point ``twice`` loads the module ``pytest_twice``."""
    site = pytester.path / "site"
    make_file(site / "pytest_twice.py", PLUGIN)
    make_file(
        site / "pytest_twice-1.0.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: pytest-twice\nVersion: 1.0\n"
    )
    make_file(site / "pytest_twice-1.0.dist-info" / "entry_points.txt", "[pytest11]\ntwice = pytest_twice\n")
    pytester.syspathinsert(site)
    monkeypatch.setenv("PYTHONPATH", str(site))  # for the runs in a subprocess
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    return pytester


def test_a_plugin_named_with_p_and_installed_with_an_entry_point_is_loaded_once_and_said_so(
    twice: pytest.Pytester,
) -> None:
    twice.makepyprojecttoml(f"{ADDOPTS}\n[tool.testfloor]\n")
    report = twice.path / "collect.json"
    result = twice.runpytest("--twice-flag", "-p", "testfloor", f"--testfloor-collect-report={report}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["pytest-twice registered as pytest_twice", "testfloor overrides: plugins: -p pytest_twice"]
    )
    overrides = json.loads(report.read_text())["overrides"]
    assert (
        "plugins: -p pytest_twice: installed plugin 'twice' is the same module: loaded once, its entry point skipped"
        in overrides
    )


def test_without_testfloor_settings_pytest_refuses_the_plugin_twice_as_it_does_alone(twice: pytest.Pytester) -> None:
    twice.makepyprojecttoml(ADDOPTS)
    result = twice.runpytest_subprocess("-p", "testfloor")
    assert result.ret != 0
    assert "Plugin already registered under a different name: twice=" in result.stdout.str() + result.stderr.str()


def test_doctor_reads_the_refusal_as_a_configuration_problem_not_as_pluggys_dump_of_plugins(
    twice: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fake plugin is installed through PYTHONPATH, which doctor's probes leave out (a fresh clone has none).
    monkeypatch.setattr(doctor, "fresh", dict)
    twice.makepyprojecttoml(ADDOPTS)
    result = twice.runpytest_subprocess("-p", "testfloor")
    output = result.stdout.str() + "\n" + result.stderr.str()
    assert any(line.startswith("{") and "0x" in line for line in output.splitlines())  # pluggy's dict, last
    line = doctor.error_line(output)
    assert line is not None
    assert line.startswith("ValueError: Plugin already registered under a different name: twice=")
    (error,) = doctor.probe(twice.path).errors
    assert "0x" not in error.message
    assert str(twice.path / "site") not in error.message
    diagnosis = classify(error, twice.path)
    assert (diagnosis.kind, diagnosis.subject, diagnosis.fix, diagnosis.where) == (
        "plugin_twice",
        "pytest_twice",
        "configure",
        "<root>",
    )
    assert not diagnosis.is_project_bug


def test_with_entry_points_off_the_plugin_is_loaded_once_by_its_p_and_nothing_is_overridden(
    twice: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    twice.makepyprojecttoml(f"{ADDOPTS}\n[tool.testfloor]\n")
    result = twice.runpytest("-p", "testfloor")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["pytest-twice registered as pytest_twice"])
    result.stdout.no_fnmatch_line("*overrides: plugins*")


def test_a_local_plugin_named_with_p_has_no_entry_point_to_skip(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\naddopts = "-p localplugin"\n\n[tool.testfloor]\n')
    pytester.makepyfile(localplugin="def pytest_report_header(config):\n    return 'local plugin'\n")
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "testfloor")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["local plugin"])
    result.stdout.no_fnmatch_line("*overrides: plugins*")


def test_unreadable_testfloor_settings_stop_the_run_on_themselves_not_on_the_plugin(twice: pytest.Pytester) -> None:
    twice.makepyprojecttoml(f'{ADDOPTS}\n[tool.testfloor]\nstub_mode = "sometimes"\n')
    result = twice.runpytest_subprocess("-p", "testfloor")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*testfloor: *stub_mode*"])
    assert "Plugin already registered" not in result.stdout.str() + result.stderr.str()


def test_the_probe_keeps_the_last_error_line_and_never_a_dump() -> None:
    output = "\n".join(
        [
            "Error while loading plugin.",
            "ERROR: first problem",
            "E   ModuleNotFoundError: No module named 'x'",
            "INTERNALERROR> {'1': <object at 0x7f00>}",
            "[1, 2]",
            "   ",
        ]
    )
    assert doctor.error_line(output) == "E   ModuleNotFoundError: No module named 'x'"
    assert doctor.error_line("collected 0 items\n{'a': 1}\n") == "collected 0 items"
    assert doctor.error_line("{'a': <b at 0x7f00>}\n") is None


def test_a_project_without_settings_gets_them_from_the_configure_fix(tmp_path: Path) -> None:
    from collections import Counter

    from testfloor.classify import Diagnosis
    from testfloor.config import load_config
    from testfloor.fixes import apply_fixes

    make_file(tmp_path / "pyproject.toml", ADDOPTS)
    found = Diagnosis("", "plugin_twice", "pytest_twice", "Plugin already registered", fix="configure")
    applied: list[str] = []
    changes = apply_fixes(tmp_path, [found], install=False, fixes=Counter(), applied=applied)
    assert changes == ["added [tool.testfloor] (its plugin loads a plugin named with -p once)"]
    assert applied == ["configure"]
    assert load_config(tmp_path).configured
    assert apply_fixes(tmp_path, [found], install=False, fixes=Counter()) == []
