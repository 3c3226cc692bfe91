from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import make_file
from testfloor import testenv
from testfloor.config import load_config
from testfloor.errors import EnvironmentBuildError
from testfloor.project import describe

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_the_recipe_is_the_requirements_then_the_projects_own_packages_without_dependencies(tmp_path: Path) -> None:
    assert testenv.install_arguments(load_config(tmp_path)) == []
    assert testenv.install_arguments(load_config(tmp_path), "extra") == [["extra"]]
    make_file(tmp_path / "requirements-test.txt", "attrs\n")
    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\nsplits = 2\ninstall = [".", "libs/core"]\n')
    assert testenv.install_arguments(load_config(tmp_path)) == [
        ["-r", str(tmp_path / "requirements-test.txt"), "pytest-split"],
        ["--no-deps", "-e", str(tmp_path), "-e", str(tmp_path / "libs" / "core")],
    ]
    # A splitter named by the caller is not asked for twice.
    assert testenv.install_arguments(load_config(tmp_path), "pytest-split==0.11")[0][-1] == "pytest-split==0.11"


def test_an_environment_is_built_on_the_newest_python_and_reused_until_its_inputs_change(tmp_path: Path) -> None:
    make_file(tmp_path / "requirements-test.txt", "# nothing yet\n")
    make_file(
        tmp_path / "pyproject.toml", '[project]\nname = "calc"\nversion = "1"\n[tool.testfloor]\ninstall = ["."]\n'
    )
    make_file(tmp_path / "calc.py", "VALUE = 1\n")
    lines: list[str] = []
    config = load_config(tmp_path)
    built = testenv.build(config, ["2.7", PYTHON], progress=lines.append)
    assert built.version == PYTHON
    assert built.location == tmp_path / ".nox" / ".cache" / f"testfloor-env-{PYTHON}"
    assert lines == [f"test environment: building .nox/.cache/testfloor-env-{PYTHON} on Python {PYTHON} with uv"]
    # The project is installed from its path, without dependencies, editable: its module is importable there.
    shown = subprocess.run([str(built.python), "-c", "import calc, sys; print(calc.__file__, sys.version_info[:2])"],
                           capture_output=True, text=True, check=True, cwd="/")  # fmt: skip
    assert shown.stdout.startswith(str(tmp_path / "calc.py"))
    marker = built.location / "made-by-the-first-build"
    marker.touch()
    assert testenv.build(config, [PYTHON], progress=lines.append) == built
    assert lines[-1] == f"test environment: reused .nox/.cache/testfloor-env-{PYTHON} (Python {PYTHON})"
    assert marker.exists()
    (tmp_path / "requirements-test.txt").write_text("# changed\n")
    testenv.build(config, [PYTHON], progress=lines.append)
    assert lines[-1].startswith("test environment: building")
    assert not marker.exists()


def test_without_uv_the_environment_is_made_with_venv_and_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(testenv, "find_uv", lambda: None)
    make_file(tmp_path / "requirements-test.txt", "# nothing\n")
    lines: list[str] = []
    built = testenv.build(load_config(tmp_path), [PYTHON], progress=lines.append)
    assert lines[0].endswith("with pip")
    pip = subprocess.run([str(built.python), "-m", "pip", "--version"], capture_output=True, text=True, check=True)
    assert str(built.location) in pip.stdout


def test_no_installed_python_of_the_project_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentBuildError, match=r"none of the project's Pythons \(2\.6, 2\.7\) is installed here"):
        testenv.build(load_config(tmp_path), ["2.6", "2.7"])


def test_a_failed_install_names_what_failed_and_try_install_says_no(tmp_path: Path) -> None:
    make_file(tmp_path / "requirements-test.txt", "# nothing\n")
    built = testenv.build(load_config(tmp_path), [PYTHON])
    with pytest.raises(EnvironmentBuildError, match=r"cannot install ./no-such-dir: "):
        testenv.install(built, ["./no-such-dir"], cwd=tmp_path)
    assert testenv.try_install(built, ["./no-such-dir"], cwd=tmp_path) is False
    assert testenv.try_install(built, ["-r", "requirements-test.txt"], cwd=tmp_path) is True


def test_an_uninstall_without_uv_asks_the_environments_pip_and_a_failure_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def pip(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    environment = testenv.Environment(tmp_path, tmp_path / "bin" / "python", PYTHON)
    monkeypatch.setattr(testenv, "find_uv", lambda: None)
    monkeypatch.setattr(subprocess, "run", pip)
    testenv.uninstall(environment, ["xdist"], cwd=tmp_path)
    assert calls == [[str(environment.python), "-m", "pip", "uninstall", "--yes", "--quiet", "xdist"]]
    monkeypatch.undo()
    with pytest.raises(EnvironmentBuildError, match=r"^cannot uninstall xdist: "):
        testenv.uninstall(environment, ["xdist"], cwd=tmp_path)


def test_an_installer_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    environment = testenv.Environment(tmp_path, tmp_path / "no-python", PYTHON)
    with pytest.raises(EnvironmentBuildError, match="cannot install attrs: "):
        testenv.install(environment, ["attrs"], cwd=tmp_path, uv=str(tmp_path / "no-uv"))


def test_something_else_where_the_environment_goes_is_never_deleted(tmp_path: Path) -> None:
    make_file(tmp_path / ".nox" / ".cache" / f"testfloor-env-{PYTHON}" / "notes.txt", "mine\n")
    with pytest.raises(EnvironmentBuildError, match="exists and is not a virtualenv"):
        testenv.build(load_config(tmp_path), [PYTHON])
    assert (tmp_path / ".nox" / ".cache" / f"testfloor-env-{PYTHON}" / "notes.txt").read_text() == "mine\n"


def test_a_failing_command_without_output_names_its_exit_status(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentBuildError, match=r"cannot do it: exit 3"):
        testenv._run([sys.executable, "-c", "raise SystemExit(3)"], tmp_path, "do it")


def test_testfloor_comes_as_it_is_installed_here_unless_the_requirements_name_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, ...]] = []

    def build(config: object, versions: list[str], *packages: str, progress: object) -> str:
        asked.append(packages)
        return "built"

    monkeypatch.setattr(testenv, "build", build)
    assert testenv.for_project(describe(tmp_path)) == "built"  # type: ignore[comparison-overlap]
    for line in (
        "TestFloor @ file:///somewhere",
        "dist/testfloor-1.0-py3-none-any.whl",
        "git+https://example.org/testfloor.git@4f2a  # pinned",
    ):
        make_file(tmp_path / "requirements-test.txt", f"# pins\n\n{line}\n")
        testenv.for_project(describe(tmp_path))
    make_file(tmp_path / "requirements-test.txt", "# testfloor is not here\nattrs\n")
    testenv.for_project(describe(tmp_path))
    assert asked == [(testenv.testfloor_requirement(),), (), (), (), (testenv.testfloor_requirement(),)]


def test_the_interpreter_of_a_windows_virtualenv_is_under_scripts() -> None:
    assert testenv.interpreter(Path("env"), windows=True) == Path("env/Scripts/python.exe")
    assert testenv.interpreter(Path("env"), windows=False) == Path("env/bin/python")


def test_uv_is_found_on_path_when_the_package_has_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uv

    def missing() -> str:
        raise FileNotFoundError

    monkeypatch.setattr(uv, "find_uv_bin", missing)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert testenv.find_uv() is None
    make_file(tmp_path / "uv", "#!/bin/sh\n").chmod(0o755)
    assert testenv.find_uv() == str(tmp_path / "uv")
    monkeypatch.setenv("PATH", "")
    assert testenv._find_python(PYTHON, None) is None


def test_a_dry_run_tells_what_an_install_would_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wheelhouse import make_wheel

    wheels = tmp_path / "wheels"
    make_wheel(wheels, "gymnasium", "999.0", {"gymnasium/__init__.py": ""})
    make_wheel(wheels, "evaluate-ish", "1.0", {"evaluate_ish.py": ""}, requires=["gymnasium"])
    make_file(tmp_path / "requirements-test.txt", "# nothing\n")
    built = testenv.build(load_config(tmp_path), [PYTHON])
    offline = ["--no-index", "--find-links", str(wheels)]
    assert sorted(testenv.would_install(built, [*offline, "evaluate-ish"], cwd=tmp_path) or []) == [
        "evaluate-ish",
        "gymnasium",
    ]
    # Nothing was installed by asking.
    assert testenv.would_install(built, [*offline, "gymnasium"], cwd=tmp_path) == ["gymnasium"]
    assert testenv.would_install(built, [*offline, "no-such-thing"], cwd=tmp_path) is None
    monkeypatch.setattr(testenv, "find_uv", lambda: None)
    assert testenv.would_install(built, ["gymnasium"], cwd=tmp_path) is None


UV_CONFLICT = """\
Using Python 3.11.7 environment at: env
error: No solution found when resolving dependencies
  cause: Because nox>=2026.10.20 depends on attrs>=24.1 and you require attrs==23.2.0, we can conclude that your
         requirements and nox>=2026.10.20 are incompatible.
         And because you require nox==2026.10.20, we can conclude that your requirements are unsatisfiable.
"""
UV_TTY_CONFLICT = """\
  \u00d7 No solution found when resolving dependencies:
  \u2570\u2500\u25b6 Because nox>=2026.10.20 depends on attrs>=24.1 and you require attrs==23.2.0, we can conclude that
      your requirements and nox>=2026.10.20 are incompatible.
  hint: Pre-releases are available for attrs
"""
PIP_CONFLICT = """\
ERROR: Cannot install attrs==23.2.0 and nox==2026.10.20 because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested attrs==23.2.0
    nox 2026.10.20 depends on attrs>=24.1

To fix this you could try to:
1. loosen the range of package versions you've specified

ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/
"""


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            UV_CONFLICT,
            "No solution found when resolving dependencies: Because nox>=2026.10.20 depends on attrs>=24.1 and you"
            " require attrs==23.2.0, we can conclude that your requirements and nox>=2026.10.20 are incompatible."
            " And because you require nox==2026.10.20, we can conclude that your requirements are unsatisfiable.",
        ),
        (
            UV_TTY_CONFLICT,
            "No solution found when resolving dependencies: Because nox>=2026.10.20 depends on attrs>=24.1 and you"
            " require attrs==23.2.0, we can conclude that your requirements and nox>=2026.10.20 are incompatible.",
        ),
        (
            PIP_CONFLICT,
            "Cannot install attrs==23.2.0 and nox==2026.10.20 because these package versions have conflicting"
            " dependencies: The user requested attrs==23.2.0 nox 2026.10.20 depends on attrs>=24.1",
        ),
        ("Building wheel\nsomething went wrong\n", "something went wrong"),
        ("", "exit 2"),
    ],
    ids=["uv", "uv-tty", "pip", "no-error-line", "no-output"],
)
def test_an_installers_failure_is_one_line_saying_which_pin_conflicts_and_why(output: str, expected: str) -> None:
    assert testenv.installer_error(output, 2) == expected


def test_a_reporting_install_takes_only_testfloor_coverage_and_where_packages_come_from(tmp_path: Path) -> None:
    make_file(
        tmp_path / "requirements-test.txt",
        """
        --index-url https://example.invalid/simple  # where the pins come from
        requests==2.32.0
        testfloor==0.3.0 \\
            # the tool itself
        coverage==7.16.2 ; python_full_version < '3.11'
        coverage[toml]==7.17.5 ; python_full_version >= '3.11'
        -e ./lib
        pytest==9.2.0
        """,
    )
    assert testenv.reporting_arguments(load_config(tmp_path)) == [
        [
            "--index-url",
            "https://example.invalid/simple",
            "testfloor==0.3.0",
            "coverage==7.16.2 ; python_full_version < '3.11'",
            "coverage[toml]==7.17.5 ; python_full_version >= '3.11'",
        ]
    ]


def test_a_reporting_install_keeps_an_editable_testfloor_and_lets_packages_replace_it(tmp_path: Path) -> None:
    make_file(tmp_path / "requirements-test.txt", "-e ../testfloor\ncoverage==7.17.5\n")
    assert testenv.reporting_arguments(load_config(tmp_path)) == [["-e", "../testfloor", "coverage==7.17.5"]]
    assert testenv.reporting_arguments(load_config(tmp_path), "-c", "pins.txt", ".") == [
        ["-c", "pins.txt", ".", "coverage==7.17.5"]
    ]


def test_a_reporting_install_without_the_requirements_takes_testfloor_as_installed_here(tmp_path: Path) -> None:
    assert testenv.reporting_arguments(load_config(tmp_path)) == [[testenv.testfloor_requirement()]]


def test_requirements_that_cannot_be_installed_say_how_to_write_them_again(tmp_path: Path) -> None:
    make_file(tmp_path / "requirements-test.txt", "./no-such-directory\n")
    with pytest.raises(EnvironmentBuildError, match=r"cannot install -r requirements-test.txt: .*") as raised:
        testenv.build(load_config(tmp_path), [PYTHON])
    assert str(raised.value).endswith("then `testfloor init --force` writes requirements-test.txt again)")


def test_an_install_that_fails_outside_the_requirements_keeps_its_own_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def install(environment: object, arguments: list[str], **kwargs: object) -> None:
        raise EnvironmentBuildError("cannot install ./lib: the build failed")

    monkeypatch.setattr(testenv, "install", install)
    with pytest.raises(EnvironmentBuildError, match=r"\Acannot install ./lib: the build failed\Z"):
        testenv.build(load_config(tmp_path), [PYTHON], "./lib")


def test_a_current_environment_is_reused_before_any_interpreter_is_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_file(tmp_path / "requirements-test.txt", "# nothing\n")
    config = load_config(tmp_path)
    built = testenv.build(config, [PYTHON])
    monkeypatch.setattr(testenv, "find_uv", lambda: pytest.fail("the warm path started a process"))
    assert testenv.build(config, ["2.7", PYTHON]) == built
    assert testenv.reusable(config, PYTHON, testenv.install_arguments(config)) == built
    assert testenv.reusable(config, PYTHON, [["attrs"]]) is None  # other inputs
    (tmp_path / "lib").mkdir()
    assert testenv.reusable(config, PYTHON, [["lib"]]) is None  # a directory built as it is now: never reused


def test_an_older_installed_python_s_environment_is_reused_when_the_newest_is_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_file(tmp_path / "requirements-test.txt", "# nothing\n")
    config = load_config(tmp_path)
    built = testenv.build(config, [PYTHON])
    lines: list[str] = []
    assert testenv.build(config, [PYTHON, "9.99"], progress=lines.append) == built
    assert lines == [f"test environment: reused .nox/.cache/testfloor-env-{PYTHON} (Python {PYTHON})"]


def test_a_reporting_environment_has_its_own_place_and_only_testfloor_and_coverage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_file(tmp_path / "requirements-test.txt", "testfloor==0.3\nlabelkit==1.0\ncoverage==7.17.5\n")
    made: list[tuple[list[list[str]], Path]] = []

    def make(config: object, calls: list[list[str]], environment: testenv.Environment, *rest: object) -> object:
        made.append((calls, environment.location))
        return environment

    monkeypatch.setattr(testenv, "_make", make)
    lines: list[str] = []
    testenv.build(load_config(tmp_path), [PYTHON], progress=lines.append, reporting=True)
    assert made == [
        ([["testfloor==0.3", "coverage==7.17.5"]], tmp_path / ".nox" / ".cache" / f"testfloor-report-{PYTHON}")
    ]
    assert lines == [
        f"reporting environment: building .nox/.cache/testfloor-report-{PYTHON} on Python {PYTHON} with uv"
    ]


def test_a_checkout_of_testfloor_under_another_name_is_known_by_its_pyproject(tmp_path: Path) -> None:
    make_file(tmp_path / "main" / "pyproject.toml", '[project]\nname = "testfloor"\nversion = "1"\n')
    make_file(tmp_path / "other" / "pyproject.toml", '[project]\nname = "calc"\n')
    make_file(tmp_path / "project" / "README.md")
    project = tmp_path / "project"
    assert testenv.installs_testfloor(str(tmp_path / "main"))
    assert testenv.installs_testfloor("../main", project)
    assert testenv.installs_testfloor("-e ../main  # testfloor from a checkout", project)
    assert not testenv.installs_testfloor("../other", project)
    assert not testenv.installs_testfloor("../missing", project)
    assert not testenv.installs_testfloor("pytest", project)
