from __future__ import annotations

import os
from pathlib import Path

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


def test_quarantined_modules_and_nodes_are_left_out_and_said_so(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        """
        [[tool.testfloor.quarantine]]
        node = "tests/test_bug.py"
        reason = "NameError: name 'UserRole' is not defined (src/schema.py:1)"

        [[tool.testfloor.quarantine]]
        node = "tests/test_ok.py::test_flaky"
        reason = "a bug"

        [[tool.testfloor.quarantine]]
        node = "tests/test_gone.py::test_renamed"
        reason = "a node that no longer exists"
        """
    )
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_bug.py").write_text("DEFAULT = UserRole.ADMIN\n")
    (pytester.path / "tests" / "test_ok.py").write_text("def test_ok(): pass\n\ndef test_flaky(): assert False\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["testfloor overrides: *quarantine: tests/test_bug.py, tests/test_ok.py::test_flaky*"])
    assert pytester.runpytest("tests/test_ok.py::test_ok").parseoutcomes() == {"passed": 1}


def test_a_path_outside_the_project_is_never_quarantined(tmp_path: Path) -> None:
    from testfloor.config import Config, Quarantined
    from testfloor.repair import quarantined

    settings = Config(tmp_path / "project", quarantine=(Quarantined("tests", "bug"),))
    assert quarantined(None, settings, tmp_path / "project" / "tests")  # type: ignore[arg-type]
    assert not quarantined(None, settings, tmp_path / "elsewhere" / "tests")  # type: ignore[arg-type]


def test_pythonpath_testpaths_and_import_mode_reach_the_run(pytester: pytest.Pytester) -> None:
    import sys

    pytester.makepyprojecttoml(
        '[tool.testfloor]\npythonpath = ["libs"]\ntestpaths = ["tests"]\nimport_mode = "importlib"\n'
    )
    pytester.mkdir("libs")
    (pytester.path / "libs" / "shared_helpers_for_testfloor.py").write_text("VALUE = 42\n")
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_lib.py").write_text(
        "from shared_helpers_for_testfloor import VALUE\n\ndef test_value(request):\n"
        "    assert VALUE == 42\n    assert request.config.getoption('importmode') == 'importlib'\n"
    )
    (pytester.path / "test_elsewhere.py").write_text("def test_not_collected(): assert False\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "testfloor overrides: pythonpath: added libs",
            "testfloor overrides: testpaths: tests",
            "testfloor overrides: import mode: importlib",
        ]
    )
    assert not any(entry.endswith("libs") for entry in sys.path)


def test_a_pythonpath_entry_already_on_the_path_is_not_added_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    from types import SimpleNamespace

    from testfloor.config import Config
    from testfloor.repair import _paths

    monkeypatch.syspath_prepend(str(tmp_path.resolve()))
    before = list(sys.path)
    assert _paths(SimpleNamespace(rootpath=tmp_path), [], Config(tmp_path, pythonpath=(".",))) == []  # type: ignore[arg-type]
    assert sys.path == before


def test_no_header_line_holds_a_secret(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_PAT", "ghp_from_the_environment")
    pytester.makepyprojecttoml(
        '[tool.testfloor]\n"https://user:p@ss/w:rd@host" = 1\n\n'
        '[tool.testfloor.env]\nCLONE = "git ghp_from_the_environment"\n'
    )
    pytester.makepyfile(test_a="def test_a(): pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    header = "\n".join(line for line in result.outlines if line.startswith("testfloor"))
    assert f"unknown key 'https://user:{MASK}@host'" in header
    assert f"CLONE=git {MASK} (declared)" in header
    assert not [secret for secret in ("p@ss", "w:rd", "ghp_from") if secret in header]


def test_the_header_says_each_kind_of_override_in_one_short_line() -> None:
    from testfloor.pytestconfig import Override
    from testfloor.repair import header_lines

    nodes = ", ".join(f"tests/test_module_{number}.py" for number in range(40))
    overrides = [
        Override("addopts: removed -n auto", "xdist is not installed"),
        Override(f"quarantine: {nodes}", "project bugs"),
        Override("addopts: removed --timeout=5", "pytest-timeout is not installed"),
    ]
    assert header_lines(overrides) == [
        "testfloor overrides: addopts: removed -n auto; removed --timeout=5",
        "testfloor overrides: quarantine: tests/test_module_0.py, tests/test_module_1.py"
        " ... (nox -s collect lists them all)",
    ]
    # One change longer than the line is cut where it must be.
    assert header_lines([Override("ini: " + "x" * 200, "why")], width=70) == [
        "testfloor overrides: ini: xxxxxxxx ... (nox -s collect lists them all)"
    ]


BROKEN_CONFTEST = "raise RuntimeError('the fixtures file moved')\n"


@pytest.mark.parametrize("node", ["tests", "tests/conftest.py"])
def test_a_quarantined_directory_leaves_out_its_conftest_even_where_pytest_imports_it_first(
    pytester: pytest.Pytester, node: str
) -> None:
    import sys

    pytester.makepyprojecttoml(
        f"""
        [tool.testfloor]
        quarantine = [{{node = "{node}", reason = "project bug: RuntimeError"}}]

        [tool.pytest.ini_options]
        testpaths = ["tests", "other"]
        """
    )
    pytester.makepyfile(
        **{
            "tests/conftest": BROKEN_CONFTEST,
            "tests/test_t": "def test_t(): pass\n",
            "other/test_o": "def test_o(): pass\n",
        }
    )
    for args in [(), ("tests", "other"), ("--import-mode=importlib",)]:
        result = pytester.runpytest(*args)
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["other/test_o.py .*"])
    # Given nothing else, pytest collects the quarantined directory it was asked for; its conftest stays out.
    pytester.runpytest("tests").assert_outcomes(passed=1)
    assert not any(type(finder).__name__ == "QuarantinedConftests" for finder in sys.meta_path)


def test_a_sub_project_run_imports_the_sub_projects_own_modules(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyprojecttoml('[tool.testfloor]\nsubprojects = ["examples/track"]\n')
    pytester.makepyfile(
        **{
            "examples/track/model": "class Tracker:\n    pass\n",
            "examples/track/tests/test_api": "from model import Tracker\n\ndef test_api():\n    assert Tracker\n",
        }
    )
    monkeypatch.setenv("_TESTFLOOR_ROOT", str(pytester.path))
    result = pytester.runpytest("--rootdir", "examples/track", "examples/track")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["testfloor overrides: pythonpath: added examples/track"])


def test_a_sub_project_run_imports_its_own_package_before_a_siblings_of_the_same_name(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib
    import sys

    pytester.makepyprojecttoml('[tool.testfloor]\nsubprojects = ["svc/alpha", "svc/beta"]\n')
    pytester.makepyfile(
        **{
            "svc/alpha/app/__init__": "",
            "svc/alpha/app/core": "def alpha():\n    return 'alpha'\n",
            "svc/beta/src/app/__init__": "",
            "svc/beta/src/app/core": "def beta():\n    return 'beta'\n",
            "svc/beta/tests/test_core": "from app.core import beta\n\ndef test_it():\n    assert beta() == 'beta'\n",
        }
    )
    # As the editable installs of both leave them: every root on the path, alpha's first, and its `app` imported.
    for entry in ["svc/beta/src", "svc/beta", "svc/alpha"]:
        monkeypatch.syspath_prepend(str(pytester.path / entry))
    assert importlib.import_module("app.core").__file__ == str(pytester.path / "svc/alpha/app/core.py")
    before = list(sys.path)
    monkeypatch.setenv("_TESTFLOOR_ROOT", str(pytester.path))
    result = pytester.runpytest_inprocess("--rootdir", "svc/beta", "svc/beta")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["testfloor overrides: pythonpath: put svc/beta first; put svc/beta/src first"])
    assert sys.path == before


def test_a_sub_project_root_already_first_on_the_path_is_left_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    from types import SimpleNamespace

    from testfloor.config import Config
    from testfloor.repair import _paths

    own = tmp_path / "svc" / "beta"
    (own / "src").mkdir(parents=True)
    (own / "src" / "__init__.py").write_text("")  # a package named src: the root alone goes on the path
    monkeypatch.syspath_prepend(str(own))
    before = list(sys.path)
    assert _paths(SimpleNamespace(rootpath=own), [], Config(tmp_path)) == []  # type: ignore[arg-type]
    assert sys.path == before


def test_a_module_of_the_project_with_another_name_is_kept_when_a_sub_project_run_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    from types import ModuleType, SimpleNamespace

    from testfloor.config import Config
    from testfloor.repair import _paths

    own = tmp_path / "svc" / "beta"
    (own / "app").mkdir(parents=True)
    elsewhere = {
        "tf_sibling_only": str(tmp_path / "svc" / "alpha" / "tf_sibling_only.py"),  # beta has no module of its name
        "tf_beta_own": str(own / "tf_beta_own.py"),  # beta's own
        "tf_outside": str(tmp_path.parent / "tf_outside.py"),  # not the project's
    }
    for name, file in elsewhere.items():
        module = ModuleType(name)
        module.__file__ = file
        monkeypatch.setitem(sys.modules, name, module)
    namespace = ModuleType("app")
    namespace.__path__ = [str(tmp_path / "svc" / "alpha" / "app")]  # a namespace package of a sibling: forgotten
    monkeypatch.setitem(sys.modules, "app", namespace)
    monkeypatch.setitem(sys.modules, "app.core", ModuleType("app.core"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    _paths(SimpleNamespace(rootpath=own), [], Config(tmp_path))  # type: ignore[arg-type]
    assert set(elsewhere) <= set(sys.modules)
    assert "app" not in sys.modules
    assert "app.core" not in sys.modules


def test_the_quarantined_conftests_finder_answers_only_for_their_conftests(tmp_path: Path) -> None:
    from testfloor.config import Config, Quarantined
    from testfloor.repair import QuarantinedConftests, blank_conftests

    (tmp_path / "conftest.py").write_text(BROKEN_CONFTEST)
    finder = QuarantinedConftests([tmp_path / "elsewhere" / "conftest.py"])
    assert finder.find_spec("app", [str(tmp_path)]) is None
    assert finder.find_spec("conftest", [str(tmp_path)]) is None  # not quarantined: pytest imports it
    assert finder.find_spec("conftest", [str(tmp_path / "nowhere")]) is None
    assert blank_conftests(Config(tmp_path, quarantine=(Quarantined("tests", "bug"),))) is None
