from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import clean_environ, make_file
from testfloor import init
from testfloor.cli import ExitCode, main
from testfloor.config import load_config
from testfloor.errors import InitError

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def written(root: Path, **kwargs: object) -> dict[str, str]:
    changes = init.plan(root, **kwargs)  # type: ignore[arg-type]
    init.apply(changes)
    return {change.path.relative_to(root).as_posix(): change.why for change in changes}


def test_an_empty_project_gets_every_file(tmp_path: Path) -> None:
    files = written(tmp_path)
    assert sorted(files) == [
        ".coveragerc",
        ".github/workflows/testfloor.yml",
        ".gitignore",
        "noxfile.py",
        "pyproject.toml",
        "requirements-test.txt",
        "tests/conftest.py",
    ]
    assert load_config(tmp_path).configured
    assert (tmp_path / "noxfile.py").read_text() == init.NOXFILE
    assert (tmp_path / "requirements-test.txt").read_text().splitlines()[2:] == ["testfloor"]
    assert "source = ." in (tmp_path / ".coveragerc").read_text()
    assert init.plan(tmp_path) == []


def test_declared_heavy_dependencies_are_stubbed_and_not_installed(tmp_path: Path) -> None:
    make_file(
        tmp_path / "pyproject.toml",
        """
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "svc"
        dependencies = ["fastapi>=0.110", "torch>=2.1", "ray[tune]>=2.9", "Ray>=2"]
        """,
    )
    (tmp_path / "src").mkdir()
    written(tmp_path, requirement="/wheels/testfloor.whl")
    config = load_config(tmp_path)
    assert (config.stubs, config.install) == (("torch", "ray"), (".",))
    assert (tmp_path / "requirements-test.txt").read_text().splitlines()[2:] == [
        "/wheels/testfloor.whl",
        "fastapi>=0.110",
        "# torch>=2.1  (stubbed by testfloor)",
        "# ray[tune]>=2.9  (stubbed by testfloor)",
    ]
    assert "source = src" in (tmp_path / ".coveragerc").read_text()


def test_requirements_come_from_requirements_txt_without_declared_dependencies(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n')
    make_file(tmp_path / "requirements.txt", "# pinned\nredis==5.0\n-r base.txt\n\nnumba>=0.58\n")
    make_file(tmp_path / "base.txt", "attrs>=23\n")
    make_file(tmp_path / "setup.py", "")
    written(tmp_path)
    assert (tmp_path / "requirements-test.txt").read_text().splitlines()[2:] == [
        "testfloor",
        "redis==5.0",
        "attrs>=23",
        "# numba>=0.58  (stubbed by testfloor)",
    ]
    assert load_config(tmp_path).install == (".",)


def test_existing_files_are_kept_and_extended(tmp_path: Path) -> None:
    conftest = "import pytest\n\n\n@pytest.fixture\ndef user():\n    return 'ada'"
    make_file(tmp_path / "tests" / "conftest.py", conftest)
    make_file(tmp_path / "requirements-test.txt", "pytest>=8\n")
    make_file(tmp_path / "noxfile.py", 'import nox\n\n\n@nox.session\ndef lint(session):\n    session.run("true")')
    make_file(
        tmp_path / "pyproject.toml", '# mine\n[tool.coverage.run]\nbranch = true\n\n[tool.testfloor]\nstubs = ["ray"]\n'
    )
    before = (tmp_path / "pyproject.toml").read_text()
    files = written(tmp_path)
    assert files["pyproject.toml"] == "testfloor's settings, those it lacked"
    assert ".coveragerc" not in files
    # The stubs the project set are kept; the Pythons it lacked are added after them.
    after = (tmp_path / "pyproject.toml").read_text()
    assert after.startswith(before + "python = [")
    assert load_config(tmp_path).stubs == ("ray",)
    assert (tmp_path / "tests" / "conftest.py").read_text().startswith(conftest + "\n\n\n# >>> testfloor >>>")
    assert (tmp_path / "requirements-test.txt").read_text() == "pytest>=8\ntestfloor\n"
    noxfile = (tmp_path / "noxfile.py").read_text()
    assert noxfile.startswith(
        'import nox\n\n\n@nox.session\ndef lint(session):\n    session.run("true")\n\n# >>> testfloor'
    )
    assert "def baseline(session: nox.Session)" in noxfile
    assert init.plan(tmp_path) == []


def test_a_requirements_file_that_names_testfloor_is_left_alone(tmp_path: Path) -> None:
    make_file(tmp_path / "requirements-test.txt", "testfloor==0.1\n")
    assert "requirements-test.txt" not in written(tmp_path)
    make_file(tmp_path / "other" / "requirements-test.txt", "-e ../testfloor\n")
    assert "requirements-test.txt" not in written(tmp_path / "other", requirement="../testfloor")


def test_a_conftest_block_that_changed_is_refreshed(tmp_path: Path) -> None:
    make_file(tmp_path / "test" / "conftest.py", f"x = 1\n{init.BEGIN}\nold\n{init.END}\ny = 2\n")
    written(tmp_path)
    text = (tmp_path / "test" / "conftest.py").read_text()
    assert text.startswith("x = 1\n" + init.BEGIN)
    assert text.endswith(f"{init.END}\ny = 2\n")
    assert "old" not in text
    assert not (tmp_path / "tests").exists()


@pytest.mark.parametrize("name", ["tests", "durations"])
def test_a_noxfile_with_a_session_of_the_same_name_is_not_touched_without_force(tmp_path: Path, name: str) -> None:
    make_file(tmp_path / "noxfile.py", f"import nox\n\n@nox.session\ndef {name}(session):\n    pass\n")
    with pytest.raises(InitError, match=rf"noxfile.py: already defines a session named '{name}'; rename it"):
        init.plan(tmp_path)
    written(tmp_path, force=True)
    assert (tmp_path / "noxfile.py").read_text() == init.NOXFILE


def test_a_workflow_of_the_projects_own_is_not_replaced_without_force(tmp_path: Path) -> None:
    make_file(tmp_path / ".github" / "workflows" / "testfloor.yml", "name: mine\n")
    with pytest.raises(InitError, match="exists with other content"):
        init.plan(tmp_path)
    written(tmp_path, force=True)
    assert (tmp_path / ".github" / "workflows" / "testfloor.yml").read_text() == init.WORKFLOW


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: make_file(root / "pyproject.toml", "[tool\n"), "pyproject.toml: invalid TOML"),
        (lambda root: (root / "noxfile.py").mkdir(), "noxfile.py: cannot read"),
        (lambda root: make_file(root / "missing" / ".keep"), None),
    ],
)
def test_what_cannot_be_read_is_a_one_line_error(tmp_path: Path, setup: object, message: str | None) -> None:
    setup(tmp_path)  # type: ignore[operator]
    target = tmp_path if message else tmp_path / "nowhere"
    with pytest.raises(InitError, match=message or "not a directory") as excinfo:
        init.plan(target)
    assert "\n" not in str(excinfo.value)


def test_dry_run_prints_diffs_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n')
    before = digest(tmp_path)
    assert main(["init", str(tmp_path), "--dry-run"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "--- a/pyproject.toml\n+++ b/pyproject.toml\n" in out
    assert "--- /dev/null\n+++ b/noxfile.py\n" in out
    assert "+[tool.testfloor]\n" in out
    assert digest(tmp_path) == before


def test_without_fix_init_only_writes_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path), "--no-fix"]) == ExitCode.OK
    assert "wrote noxfile.py: the collect, tests, coverage, baseline and durations sessions" in capsys.readouterr().out
    assert not (tmp_path / "coverage-baseline.json").exists()


def test_a_refused_init_is_its_own_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_file(tmp_path / "noxfile.py", "def coverage(session):\n    pass\n")
    assert main(["init", str(tmp_path)]) == ExitCode.INIT
    assert capsys.readouterr().err.startswith(f"testfloor: {tmp_path / 'noxfile.py'}: already defines")


@pytest.mark.slow
def test_init_verifies_in_the_sessions_environment_and_takes_the_first_baseline_from_the_sessions(
    tmp_path: Path, wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_file(tmp_path / "pyproject.toml", f'[project]\nname = "svc"\nrequires-python = "=={PYTHON}.*"\n')
    make_file(tmp_path / "calc.py", "def double(x):\n    if x:\n        return 2 * x\n    return 0\n")
    make_file(
        tmp_path / "tests" / "test_calc.py",
        "from calc import double\n\ndef test_double():\n    assert double(2) == 4\n",
    )
    make_file(tmp_path / "tests" / "test_bug.py", "VALUE = Missing.NAME\n")
    requirement = ["--requirement", str(wheel)]
    assert main(["init", str(tmp_path), "--no-install", *requirement]) == ExitCode.QUARANTINED
    out = capsys.readouterr().out
    assert f"test environment: building .nox/.cache/testfloor-env-{PYTHON} on Python {PYTHON} with uv" in out
    assert f"environment: .nox/.cache/testfloor-env-{PYTHON} (Python {PYTHON})" in out
    assert "pass 1: 1 error: quarantined tests/test_bug.py" in out
    # The baseline is what the project's own sessions measured, and they ran on the environment's Python.
    assert f"nox > Running session tests-{PYTHON}" in out
    assert f"wrote coverage-baseline.json: the first coverage baseline (the sessions, Python {PYTHON})" in out
    from testfloor.baseline import read_baseline

    assert read_baseline(tmp_path / "coverage-baseline.json").files["calc.py"].covered_lines == 3
    # It ends with what ran and what to commit: its files, what doctor wrote into them, the baseline.
    summary = out.splitlines()[-8:]
    assert summary[:5] == [
        "status: quarantined", "tests collected: 1", "errors remaining: 0", "quarantined: 1 (1 new)", "fixes: none"
    ]  # fmt: skip
    committed = summary[5].removeprefix("commit: ").split()
    assert {"pyproject.toml", "requirements-test.txt", "noxfile.py", "coverage-baseline.json"} <= set(committed)
    assert len(committed) == len(set(committed))
    assert summary[7].startswith("next: nox -s collect coverage baseline")
    assert main(["init", str(tmp_path), "--no-install", *requirement]) == ExitCode.QUARANTINED
    again = capsys.readouterr().out
    assert "wrote " not in again
    assert "nothing to commit: the project already had what init writes" in again.splitlines()
    assert f"test environment: reused .nox/.cache/testfloor-env-{PYTHON}" in again


@pytest.mark.slow
def test_a_suite_that_does_not_collect_gets_no_baseline(tmp_path: Path, wheel: Path) -> None:
    make_file(tmp_path / "conftest.py", "raise RuntimeError('boom')\n")
    assert main(["init", str(tmp_path), "--no-install", "--requirement", str(wheel)]) == ExitCode.COLLECTION
    assert not (tmp_path / "coverage-baseline.json").exists()


def test_sessions_that_fail_are_an_init_error_with_their_last_lines(tmp_path: Path) -> None:
    make_file(
        tmp_path / "noxfile.py",
        "import nox\n\n\n@nox.session(python=False)\ndef coverage(session):\n    session.error('no data here')\n",
    )
    lines: list[str] = []
    with pytest.raises(InitError, match=r"the project's sessions failed \(nox --session coverage exited 1\)"):
        init.first_baseline(tmp_path, PYTHON, out=lines.append)
    assert lines[0] == f"running: nox --session coverage (collect, tests and coverage on Python {PYTHON})"
    assert any(line.startswith("  | ") and "no data here" in line for line in lines)
    assert not (tmp_path / "coverage-baseline.json").exists()


def pytest_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest in `root` as a user would, unmeasured and without this suite's settings."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
    ]
    return subprocess.run([*command, *args], cwd=root, env=clean_environ(), capture_output=True, text=True)


def test_the_templates_are_files_of_the_package_and_the_noxfile_block_holds_the_same_sessions() -> None:
    assert init.NOXFILE.startswith("# /// script\n")
    assert init.NOXFILE_BLOCK.startswith(f"\n{init.BEGIN} ")
    assert init.SESSIONS in init.NOXFILE_BLOCK
    assert init.SESSIONS.startswith("PROJECT = floor.load()\n")
    assert init.CONFTEST_BLOCK.endswith(f"{init.END}\n")
    assert init.workflow("testfloor") == init.WORKFLOW


PLUGIN_MISSING = "ERROR: testfloor's pytest plugin is not active: pip install testfloor"


def test_the_conftest_check_stops_a_run_without_the_plugin_and_leaves_the_projects_hooks_working(
    tmp_path: Path,
) -> None:
    make_file(
        tmp_path / "tests" / "conftest.py",
        """
        import pytest


        def pytest_configure(config):
            config.addinivalue_line("markers", "fast: a marker the project registers itself")


        @pytest.fixture
        def user():
            return "ada"
        """,
    )
    make_file(
        tmp_path / "tests" / "test_user.py",
        "import pytest\n\n@pytest.mark.fast\ndef test_user(user):\n    assert user == 'ada'\n",
    )
    init.apply(init.plan(tmp_path))
    without = pytest_run(tmp_path, "-p", "no:testfloor", "--strict-markers")
    assert without.returncode == 4, without.stdout + without.stderr
    assert PLUGIN_MISSING in without.stderr
    with_plugin = pytest_run(tmp_path, "--strict-markers")
    assert with_plugin.returncode == 0, with_plugin.stdout + with_plugin.stderr
    assert "1 passed" in with_plugin.stdout


def test_the_conftest_check_runs_for_tests_deep_in_the_tree(tmp_path: Path) -> None:
    make_file(tmp_path / "backend" / "app" / "__init__.py")
    make_file(tmp_path / "backend" / "app" / "tests" / "unit" / "test_a.py", "def test_a():\n    pass\n")
    make_file(tmp_path / "backend" / "app" / "tests" / "api" / "test_b.py", "def test_b():\n    pass\n")
    files = written(tmp_path)
    assert [name for name in files if name.endswith("conftest.py")] == ["backend/app/tests/conftest.py"]
    for args in ([], ["backend/app/tests/api/test_b.py"], ["--collect-only"]):
        without = pytest_run(tmp_path, "-p", "no:testfloor", *args)
        assert without.returncode == 4, without.stdout + without.stderr
        assert PLUGIN_MISSING in without.stderr
    with_plugin = pytest_run(tmp_path)
    assert with_plugin.returncode == 0, with_plugin.stdout + with_plugin.stderr
    assert "2 passed" in with_plugin.stdout


def test_the_conftest_check_runs_in_each_sub_project(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\nsubprojects = ["billing", "search"]\n')
    for name in ("billing", "search"):
        make_file(tmp_path / name / "tests" / f"test_{name}.py", f"def test_{name}():\n    pass\n")
    files = written(tmp_path)
    assert [name for name in files if name.endswith("conftest.py")] == [
        "billing/tests/conftest.py",
        "search/tests/conftest.py",
    ]
    for args in ([], ["search"], ["--rootdir", "billing", "billing"]):
        without = pytest_run(tmp_path, "-p", "no:testfloor", *args)
        assert without.returncode == 4, without.stdout + without.stderr
        assert PLUGIN_MISSING in without.stderr
    with_plugin = pytest_run(tmp_path)
    assert with_plugin.returncode == 0, with_plugin.stdout + with_plugin.stderr
    assert "2 passed" in with_plugin.stdout
    assert init.plan(tmp_path) == []


def coverage_json(root: Path) -> dict[str, Any]:
    """Run the suite under coverage with the project's settings, as the sessions do, and return coverage's JSON."""
    environ = clean_environ()
    for command in (["run", "-m", "pytest", "-q", "-p", "no:cacheprovider"], ["combine"], ["json", "-o", "cov.json"]):
        result = subprocess.run(
            [sys.executable, "-m", "coverage", *command], cwd=root, env=environ, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((root / "cov.json").read_text())  # type: ignore[no-any-return]


def test_the_coverage_settings_measure_the_projects_packages_only(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[tool.pytest.ini_options]\npythonpath = ["src", "scripts", "."]\n')
    make_file(tmp_path / "src" / "pkg" / "__init__.py", "def double(x):\n    return 2 * x\n")
    make_file(tmp_path / "src" / "pkg" / "unused.py", "VALUE = 1\n")
    make_file(tmp_path / "scripts" / "release.py", "def version():\n    return '1.0'\n")
    make_file(tmp_path / "manage.py", "NAME = 'svc'\n")
    make_file(tmp_path / "tests" / "helpers.py", "ADA = 'ada'\n")
    make_file(
        tmp_path / "tests" / "unit" / "test_pkg.py",
        """
        import manage
        import release
        from pkg import double

        from helpers import ADA


        def test_double():
            assert double(2) == 4 and release.version() and manage.NAME and ADA
        """,
    )
    make_file(
        tmp_path / "tests" / "conftest.py",
        "import sys, pathlib\n\nsys.path.insert(0, str(pathlib.Path(__file__).parent))\n",
    )
    init.apply(init.plan(tmp_path))
    files = coverage_json(tmp_path)["files"]
    assert sorted(files) == ["src/pkg/__init__.py", "src/pkg/unused.py"]
    assert files["src/pkg/__init__.py"]["summary"]["covered_lines"] == 2


def test_the_coverage_settings_without_packages_measure_the_root_less_the_test_modules(tmp_path: Path) -> None:
    make_file(tmp_path / "scripts" / "calc.py", "def double(x):\n    return 2 * x\n")
    make_file(
        tmp_path / "test_calc.py",
        "import sys\n\nsys.path.insert(0, 'scripts')\nfrom calc import double\n\n"
        "def test_double():\n    assert double(2) == 4\n",
    )
    files = written(tmp_path)
    assert "conftest.py" in files
    assert sorted(coverage_json(tmp_path)["files"]) == ["scripts/calc.py"]


def test_coverage_settings_stranded_in_pytest_ini_are_carried_over(tmp_path: Path) -> None:
    make_file(
        tmp_path / "pytest.ini",
        """
        [pytest]
        pythonpath = .
        testpaths = checks

        [coverage:run]
        source = calc
        omit =
            calc/generated.py

        [coverage:report]
        exclude_also =
            def __repr__
        """,
    )
    make_file(tmp_path / "calc" / "__init__.py", "def double(x):\n    return 2 * x\n")
    make_file(tmp_path / "calc" / "generated.py", "X = 1\n")
    make_file(tmp_path / "other" / "__init__.py", "Y = 2\n")
    make_file(
        tmp_path / "checks" / "test_calc.py",
        "import calc.generated, other\nfrom calc import double\n\ndef test_double():\n    assert double(2) == 4\n",
    )
    written(tmp_path)
    assert "[coverage:*] settings of pytest.ini" in (tmp_path / ".coveragerc").read_text()
    assert sorted(coverage_json(tmp_path)["files"]) == ["calc/__init__.py"]
    import coverage

    settings = coverage.Coverage(config_file=str(tmp_path / ".coveragerc"))
    assert settings.get_option("run:branch") is True
    assert "def __repr__" in settings.get_option("report:exclude_also")  # type: ignore[operator]


def test_a_sub_projects_own_source_is_measured_from_the_root(tmp_path: Path) -> None:
    import coverage

    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\nsubprojects = ["billing", "search"]\n')
    make_file(tmp_path / "billing" / "pyproject.toml", '[tool.coverage.run]\nsource = ["app", "billing_shared"]\n')
    make_file(tmp_path / "billing" / "app" / "__init__.py")
    make_file(tmp_path / "search" / "setup.cfg", "[coverage:run]\nsource = engine\n")
    make_file(tmp_path / "search" / "engine" / "__init__.py")
    written(tmp_path)
    settings = coverage.Coverage(config_file=str(tmp_path / ".coveragerc"))
    assert settings.get_option("run:source") == ["billing/app", "billing_shared", "search/engine"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({".coveragerc": "[run\nsource = x\n"}, ": cannot read the coverage settings: File contains no section"),
        (
            {"pyproject.toml": '[tool.testfloor]\nsubprojects = ["api"]\n', "api/.coveragerc": "[run\n"},
            "api: cannot read the coverage settings: ",
        ),
        (
            {
                "pyproject.toml": '[tool.testfloor]\ntestpaths = ["tests"]\n',
                "pytest.ini": "[cov\n",
                "tests/test_a.py": "",
            },
            "pytest.ini: cannot read: File contains no section headers",
        ),
    ],
)
def test_unreadable_coverage_settings_are_a_one_line_error(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        make_file(tmp_path / name, text)
    with pytest.raises(InitError, match=message) as excinfo:
        init.plan(tmp_path)
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("pytest.ini", "testpaths = tests\n", "pytest.ini: cannot read: File contains no section headers"),
        ("pyproject.toml", "[tool.testfloor]\nsplits = 0\n", r"\[tool.testfloor\] splits: expected a number of jobs"),
    ],
)
def test_a_configuration_init_cannot_use_is_a_one_line_error_naming_the_file(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    make_file(tmp_path / name, text)
    with pytest.raises(InitError, match=message) as excinfo:
        init.plan(tmp_path)
    assert str(tmp_path / name) in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def git(root: Path, *args: str) -> str:
    identity = ["-c", "user.name=testfloor", "-c", "user.email=testfloor@example.org", "-c", "commit.gpgsign=false"]
    result = subprocess.run(["git", *identity, *args], cwd=root, capture_output=True, text=True, check=True)
    return result.stdout


def test_what_the_sessions_write_is_ignored_by_git(tmp_path: Path) -> None:
    make_file(tmp_path / "calc.py", "def double(x):\n    return 2 * x\n")
    make_file(
        tmp_path / "tests" / "test_calc.py",
        "from calc import double\n\ndef test_double():\n    assert double(2) == 4\n",
    )
    make_file(tmp_path / "pyproject.toml", '[tool.pytest.ini_options]\npythonpath = ["."]\n')
    git(tmp_path, "init", "-q")
    written(tmp_path)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "testfloor init")
    coverage_json(tmp_path)
    (tmp_path / "cov.json").rename(tmp_path / "coverage.json")
    subprocess.run(
        [sys.executable, "-m", "coverage", "xml"], cwd=tmp_path, env=clean_environ(), check=True, capture_output=True
    )
    make_file(tmp_path / "coverage.md", "| total |\n")
    make_file(tmp_path / ".nox" / "tests-3-12" / "pyvenv.cfg")
    make_file(tmp_path / ".coverage.host.1.2")
    make_file(tmp_path / "calc.egg-info" / "PKG-INFO")  # a setuptools project's editable install leaves it
    assert (tmp_path / "coverage.xml").is_file()
    assert (tmp_path / ".coverage").is_file()
    assert git(tmp_path, "status", "--porcelain", "--untracked-files=all") == ""
    assert init.plan(tmp_path) == []


def test_a_gitignore_of_the_projects_own_gets_only_what_it_lacks_once(tmp_path: Path) -> None:
    make_file(tmp_path / ".gitignore", "/.nox\n.coverage\n*.pyc")
    written(tmp_path)
    text = (tmp_path / ".gitignore").read_text()
    assert text == (
        f"/.nox\n.coverage\n*.pyc\n\n{init.BEGIN} (written by `testfloor init`: what the sessions write)\n"
        f".coverage.*\ncoverage.xml\ncoverage.json\ncoverage.md\n*.egg-info/\n{init.END}\n"
    )
    make_file(tmp_path / ".gitignore", text.replace("coverage.md\n", ""))  # the project's to edit from now on
    assert all(change.path.name != ".gitignore" for change in init.plan(tmp_path))
    make_file(tmp_path / ".gitignore", "\n".join(init.GENERATED) + "\n")
    assert all(change.path.name != ".gitignore" for change in init.plan(tmp_path))


def fake_testfloor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, direct_url: str | None) -> None:
    from importlib import metadata

    info = make_file(
        tmp_path / "testfloor-1.2.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: testfloor\nVersion: 1.2\n"
    )
    if direct_url is not None:
        make_file(info.parent / "direct_url.json", direct_url)
    monkeypatch.setattr(metadata, "distribution", lambda name: metadata.PathDistribution(info.parent))


@pytest.mark.parametrize(
    ("direct_url", "requirement"),
    [
        (None, "testfloor==1.2"),
        ('{"url": "file:///srv/my%20floor", "dir_info": {"editable": true}}', "/srv/my floor"),
        ('{"url": "file:///srv/floor", "dir_info": {}}', "/srv/floor"),
        (
            '{"url": "https://example.org/floor.git", "vcs_info": {"vcs": "git", "commit_id": "4f2a"}}',
            "git+https://example.org/floor.git@4f2a",
        ),
        (
            '{"url": "https://example.org/mono.git", "subdirectory": "floor",'
            ' "vcs_info": {"vcs": "git", "commit_id": "4f2a"}}',
            "git+https://example.org/mono.git@4f2a#subdirectory=floor",
        ),
        ('{"url": "https://example.org/floor", "vcs_info": {"vcs": "hg"}}', "hg+https://example.org/floor"),
        (
            '{"url": "file:///wheels/testfloor-1.2-py3-none-any.whl", "archive_info": {"hashes": {}}}',
            "/wheels/testfloor-1.2-py3-none-any.whl",
        ),
        (
            '{"url": "https://example.org/testfloor-1.2.tar.gz", "archive_info": {}}',
            "testfloor @ https://example.org/testfloor-1.2.tar.gz",
        ),
        ("{not json", "testfloor==1.2"),
        ('{"dir_info": {}}', "testfloor==1.2"),
        ("[]", "testfloor==1.2"),
    ],
)
def test_the_requirement_is_how_testfloor_was_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, direct_url: str | None, requirement: str
) -> None:
    fake_testfloor(monkeypatch, tmp_path, direct_url)
    assert init.testfloor_requirement() == requirement


def test_without_a_testfloor_distribution_the_requirement_is_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    def missing(name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    assert init.testfloor_requirement() == "testfloor"


def test_init_installs_testfloor_the_way_it_was_installed_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    fake_testfloor(
        monkeypatch,
        tmp_path,
        '{"url": "https://example.org/floor.git", "vcs_info": {"vcs": "git", "commit_id": "4f2a"}}',
    )
    assert main(["init", str(project), "--no-fix"]) == ExitCode.OK
    assert (project / "requirements-test.txt").read_text().splitlines()[2] == "git+https://example.org/floor.git@4f2a"
    assert (project / ".github" / "workflows" / "testfloor.yml").read_text() == init.workflow(
        "git+https://example.org/floor.git@4f2a"
    )
    assert "a path on this machine" not in capsys.readouterr().out
    assert main(["init", str(project), "--no-fix", "--requirement", "testfloor>=1"]) == ExitCode.OK
    assert 'INSTALL_TESTFLOOR: "testfloor>=1"' in (project / ".github" / "workflows" / "testfloor.yml").read_text()
    assert "wrote .github/workflows/testfloor.yml" in capsys.readouterr().out
    # An absolute path works here, and is said to be one that CI will not have.
    checkout = str(tmp_path / "testfloor-checkout")
    assert main(["init", str(project), "--dry-run", "--requirement", checkout]) == ExitCode.OK
    assert "a path on this machine" in capsys.readouterr().out  # said before anything is written too
    assert main(["init", str(project), "--no-fix", "--requirement", checkout]) == ExitCode.OK
    out = capsys.readouterr().out
    assert f"note: the sessions and the CI workflow install testfloor from {checkout}, a path on this machine" in out


@pytest.mark.parametrize(
    "requirement", ["testfloor==1.2", "git+https://example.org/floor.git@4f2a", "/srv/my floor: 2", 'a"b']
)
def test_the_workflow_passes_actionlint_and_installs_the_requirement(tmp_path: Path, requirement: str) -> None:
    actionlint = Path(sysconfig.get_path("scripts")) / "actionlint"
    path = make_file(tmp_path / ".github" / "workflows" / "testfloor.yml", init.workflow(requirement))
    result = subprocess.run([str(actionlint), "-no-color", str(path)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [line for line in path.read_text().splitlines() if line.startswith("  INSTALL_TESTFLOOR: ")]
    assert json.loads(line.split(": ", 1)[1]) == requirement
    assert path.read_text().count('python -m pip install nox "$INSTALL_TESTFLOOR"') == 3


def test_development_tools_a_dev_group_lists_are_left_out_of_the_sessions(tmp_path: Path) -> None:
    make_file(tmp_path / "requirements.txt", "attrs==24.2.0\n")
    make_file(
        tmp_path / "requirements-dev.txt", "-r requirements.txt\nfreezegun==1.5.1\nruff\nflake8-bugbear\nmypy>=1\n"
    )
    written(tmp_path, requirement="testfloor==1")
    assert (tmp_path / "requirements-test.txt").read_text().splitlines()[2:] == [
        "testfloor==1",
        "attrs==24.2.0",
        "freezegun==1.5.1",
        "# ruff  (a development tool: the tests do not need it)",
        "# flake8-bugbear  (a development tool: the tests do not need it)",
        "# mypy>=1  (a development tool: the tests do not need it)",
    ]


FAKE_SESSIONS = """
import nox


@nox.session(python=False)
def collect(session):
    session.log("collected 2 tests")


@nox.session(python=False, requires=["collect"])
def tests(session):
    session.run("python", "-c", {script!r}, *session.posargs)


@nox.session(python=False, requires=["tests"])
def coverage(session):
    session.run("python", "-c", "open('coverage.json', 'w').write('{{\\"files\\": {{}}}}')")
"""

# What pytest -v prints for a test that never ends: its node id, without the result.
HANGING = (
    "import sys, time; print('t.py::test_fast PASSED'); print('t.py::test_hangs ', end='', flush=True); time.sleep(60)"
)


def test_a_first_run_far_longer_than_the_suite_should_take_is_stopped_naming_the_running_test(tmp_path: Path) -> None:
    make_file(tmp_path / "noxfile.py", FAKE_SESSIONS.format(script=HANGING))
    lines: list[str] = []
    limits = init.Limits(slack=1.0, per_test=0.5, heartbeat=0.5)
    started = time.monotonic()
    with pytest.raises(InitError) as raised:
        init.first_baseline(tmp_path, PYTHON, out=lines.append, limits=limits)
    assert time.monotonic() - started < 30
    assert str(raised.value) == (
        f"{tmp_path}: stopped the project's sessions: the tests ran over 2 s (0.5 s for each of 2 tests); "
        "t.py::test_hangs was running: run nox --session tests -- -v to watch it, then quarantine or fix it"
    )
    assert "  nox > Running session collect" in lines
    assert "  nox > collected 2 tests" in lines
    assert any(line.startswith("  ... t.py::test_hangs (still running after ") for line in lines)
    assert not (tmp_path / "coverage-baseline.json").exists()


def test_recorded_durations_set_the_first_runs_limit(tmp_path: Path) -> None:
    make_file(tmp_path / "noxfile.py", FAKE_SESSIONS.format(script="import time; time.sleep(60)"))
    make_file(tmp_path / ".test_durations", '{"t.py::test_a": 0.1, "t.py::test_b": 0.1}')
    with pytest.raises(InitError, match=r"over 2 s \(5 times the 0 s .test_durations records\); no test had started"):
        init.first_baseline(tmp_path, PYTHON, out=[].append, limits=init.Limits(slack=1.0, heartbeat=60))


@pytest.mark.parametrize(
    ("summary", "said", "warned"),
    [
        ("=== 3 passed, 1 skipped in 0.50s ===", "3 passed, 1 skipped", False),
        ("=== 1 failed, 1 error in 0.50s ===", "1 failed, 1 error", True),
        ("=== 60 errors, 2 warnings in 3.10s ===", "60 errors, 2 warnings", True),
        ("nothing like a summary", "no summary from pytest", False),
        # One line per pytest run (sub-projects, groups): all of them add up.
        (
            "=== 1 failed, 1 passed in 0.1s ===\n=== 1 passed, 1 skipped, 2 errors in 0.2s ===",
            "1 failed, 2 passed, 1 skipped, 2 errors",
            False,
        ),
    ],
)
def test_the_first_run_says_how_the_tests_went_and_when_none_passed(
    tmp_path: Path, summary: str, said: str, warned: bool
) -> None:
    make_file(tmp_path / "noxfile.py", FAKE_SESSIONS.format(script=f"print({summary!r})"))
    make_file(tmp_path / ".test_durations", "[]")  # not durations: the per-test limit applies
    lines: list[str] = []
    init.first_baseline(tmp_path, PYTHON, out=lines.append)
    assert f"tests on Python {PYTHON}: {said}" in lines
    assert any(line.startswith("warning: no test passed") for line in lines) is warned
    assert (tmp_path / "coverage-baseline.json").is_file()


def test_init_ends_with_a_summary_what_to_commit_and_what_exit_10_means(tmp_path: Path) -> None:
    from testfloor.doctorreport import Report

    quarantined = Report(
        (), (), ("tests/test_bug.py",), collected=3, exitstatus=0, fixes={"stub": 2, "quarantine": 1},
        changed=("pyproject.toml", "requirements-test.txt"),
    )  # fmt: skip
    result = init.Result(("noxfile.py", "pyproject.toml"), quarantined, tmp_path / "coverage-baseline.json")
    assert init.next_steps(tmp_path, result) == [
        "status: quarantined",
        "tests collected: 3",
        "errors remaining: 0",
        "quarantined: 1 (1 new)",
        "fixes: 2 stubs",
        # init's files, then what doctor changed besides (once), then the baseline
        "commit: noxfile.py pyproject.toml requirements-test.txt coverage-baseline.json",
        "exit 10: the suite runs, with 1 project bug quarantined in [tool.testfloor] quarantine: "
        "fix them, then remove them from the list",
        "next: nox -s collect coverage baseline (the gate, the measured run and the ratchet, as in CI)",
    ]
    failing = init.next_steps(tmp_path, init.Result((), Report((), (), (), 0, 5, "no tests were collected"), None))
    assert failing[-2:] == [
        "nothing to commit: the project already had what init writes",
        "next: fix what is listed above, then run testfloor init again",
    ]
    assert init.next_steps(tmp_path, init.Result(("noxfile.py",), None, None)) == [
        "commit: noxfile.py",
        "next: testfloor init, without --no-fix: doctor --fix and the first baseline",
    ]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (  # a table follows: one blank line between them
            '[tool.black]\nline-length = 100\n\n[build-system]\nrequires = ["hatchling"]\n',
            "[tool.black]\nline-length = 100\n\n[tool.testfloor]\n{settings}\n\n"
            '[build-system]\nrequires = ["hatchling"]\n',
        ),
        (  # the last table: the file ends with it, without a blank line
            '[build-system]\nrequires = ["hatchling"]\n',
            '[build-system]\nrequires = ["hatchling"]\n\n[tool.testfloor]\n{settings}\n',
        ),
    ],
)
def test_tool_testfloor_is_inserted_with_a_blank_line_before_the_next_table(
    tmp_path: Path, before: str, after: str
) -> None:
    make_file(tmp_path / "pyproject.toml", before)
    (change,) = [change for change in init.plan(tmp_path) if change.path.name == "pyproject.toml"]
    settings = change.after.split("[tool.testfloor]\n")[1].split("\n\n")[0].rstrip("\n")
    assert settings.startswith("# testfloor's settings")
    assert change.after == after.format(settings=settings)


def test_force_writes_the_requirements_again_from_the_declarations_and_keeps_what_doctor_added(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\ndependencies = ["attrs>=23.1,<24", "torch"]\n')
    written(tmp_path, requirement="testfloor==1")
    with (tmp_path / "requirements-test.txt").open("a") as requirements:
        requirements.write("freezegun\n")  # what doctor --fix installed and recorded
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\ndependencies = ["attrs>=24.1", "torch"]\n')
    assert "requirements-test.txt" not in written(tmp_path, requirement="testfloor==1")  # a file of the project stays
    changed = written(tmp_path, requirement="testfloor==1", force=True)
    assert changed["requirements-test.txt"] == "what the sessions install, from the declarations now"
    assert (tmp_path / "requirements-test.txt").read_text().splitlines()[2:] == [
        "testfloor==1",
        "attrs>=24.1",
        "freezegun",
        "# torch  (stubbed by testfloor)",
    ]


def test_a_project_of_tests_and_setup_py_alone_has_its_tests_measured(tmp_path: Path) -> None:
    make_file(tmp_path / "setup.py", "from setuptools import setup\n\nsetup(name='r')\n")
    make_file(tmp_path / "tests" / "test_a.py", "def test_a():\n    assert True\n")
    files = written(tmp_path)
    assert files[".coveragerc"].endswith(
        "the project has no code outside its tests, so the tests themselves are measured"
    )
    rc = (tmp_path / ".coveragerc").read_text()
    assert "source = .\nomit =\n    noxfile.py\n    conftest.py\n\n" in rc
    make_file(tmp_path / "other" / "tool.py", "x = 1\n")
    (tmp_path / ".coveragerc").unlink()
    assert written(tmp_path)[".coveragerc"] == "coverage settings"
    assert "    tests/*\n" in (tmp_path / ".coveragerc").read_text()


def test_a_table_doctor_left_empty_gets_every_setting_of_init_and_a_second_plan_changes_nothing(tmp_path: Path) -> None:
    make_file(
        tmp_path / "pyproject.toml",
        f'[project]\nname = "svc"\nversion = "0"\nrequires-python = "=={PYTHON}.*"\n'
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n[tool.testfloor]\n',
    )
    make_file(tmp_path / "svc" / "__init__.py")
    make_file(tmp_path / "tests" / "test_svc.py", "import svc\n")
    assert written(tmp_path)["pyproject.toml"] == "testfloor's settings, those it lacked"
    config = load_config(tmp_path)
    assert (config.python, config.install) == ((PYTHON,), (".",))
    assert init.plan(tmp_path) == []


def test_a_testfloor_table_init_cannot_extend_is_one_error_line(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", "[tool]\ntestfloor = 3\n")
    with pytest.raises(InitError, match=r"pyproject\.toml: \[tool\.testfloor\]: expected a table"):
        init.plan(tmp_path)


def test_requirements_naming_a_testfloor_checkout_of_another_name_get_no_second_testfloor(tmp_path: Path) -> None:
    from testfloor.dependencies import read_metadata

    make_file(tmp_path / "checkout" / "pyproject.toml", '[project]\nname = "testfloor"\nversion = "1"\n')
    project = tmp_path / "project"
    make_file(project / "pyproject.toml", '[project]\nname = "svc"\n')
    make_file(project / "requirements-test.txt", "../checkout\npytest\n")
    change = init.requirements(project, "testfloor==9.9", read_metadata(project))
    assert change.after == "../checkout\npytest\n"
