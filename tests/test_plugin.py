from __future__ import annotations

import os

import pytest

from testfloor.env import MASK

PYPROJECT = """
[tool.testfloor.env]
DATABASE_URL = "postgresql://app:hunter2@localhost:5432/app"
JWT_SECRET = "test-jwt-secret-0123456789abcdef0123"
FORCED = { value = "declared", override = true }
KEPT = "placeholder"
"""

# Settings built at import time, in the root conftest, as service code does.
CONFTEST = """
import os

SETTINGS = {name: os.environ.get(name) for name in ("DATABASE_URL", "JWT_SECRET", "FORCED", "KEPT")}
"""

TEST = """
from conftest import SETTINGS

def test_settings_saw_the_environment():
    assert SETTINGS == {
        "DATABASE_URL": "postgresql://app:hunter2@localhost:5432/app",
        "JWT_SECRET": "test-jwt-secret-0123456789abcdef0123",
        "FORCED": "declared",
        "KEPT": "real",
    }
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makepyprojecttoml(PYPROJECT)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_settings=TEST)
    monkeypatch.setenv("FORCED", "outer")
    monkeypatch.setenv("KEPT", "real")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    return pytester


def test_declared_env_is_set_before_the_root_conftest_is_imported(project: pytest.Pytester) -> None:
    result = project.runpytest()
    result.assert_outcomes(passed=1)


def test_the_environment_is_restored_after_the_run(project: pytest.Pytester) -> None:
    project.runpytest()
    assert "DATABASE_URL" not in os.environ
    assert os.environ["FORCED"] == "outer"


def test_the_header_lists_the_env_with_secrets_masked(project: pytest.Pytester) -> None:
    result = project.runpytest("-v")
    result.stdout.fnmatch_lines(["testfloor: *pyproject.toml", "testfloor env: *"])
    header = "\n".join(line for line in result.outlines if line.startswith("testfloor env:"))
    assert f"DATABASE_URL=postgresql://app:{MASK}@localhost:5432/app (declared)" in header
    assert f"JWT_SECRET={MASK} (declared)" in header
    assert "FORCED=declared (declared, overrides the environment)" in header
    assert "KEPT=real (kept from the environment)" in header
    assert "hunter2" not in result.stdout.str()
    assert "0123456789abcdef" not in result.stdout.str()


def test_a_bad_setting_stops_pytest_with_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.testfloor]\nstubs = "torch"\n')
    pytester.makepyfile(test_a="def test_a(): pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: testfloor: *pyproject.toml: [[]tool.testfloor[]] stubs: expected an array*"])


def test_warnings_about_the_settings_show_in_the_header(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.testfloor]\nstubz = ["torch"]\n')
    pytester.makepyfile(test_a="def test_a(): pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["testfloor: warning: *unknown key 'stubz' (ignored)"])


def test_a_project_without_settings_gets_no_header(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_a(): pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert not any(line.startswith("testfloor") for line in result.outlines)


def test_a_plugin_registered_late_by_a_conftest_stays_quiet(pytester: pytest.Pytester) -> None:
    # Too late to set the environment before conftests load; it must not break the run either.
    pytester.makepyprojecttoml('[tool.testfloor.env]\nLATE = "x"\n')
    pytester.makeconftest('pytest_plugins = ["testfloor.plugin"]\n')
    pytester.makepyfile(test_a="import os\n\ndef test_a():\n    assert 'LATE' not in os.environ\n")
    result = pytester.runpytest("-p", "no:testfloor")
    result.assert_outcomes(passed=1)
    assert not any(line.startswith("testfloor") for line in result.outlines)
