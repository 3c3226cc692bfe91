from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from helpers import make_file
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
    assert "pyproject.toml" not in files
    assert ".coveragerc" not in files
    assert (tmp_path / "pyproject.toml").read_text() == before
    assert (tmp_path / "tests" / "conftest.py").read_text().startswith(conftest + "\n\n# >>> testfloor >>>")
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
    assert f"test environment: building .nox/.cache/testfloor-env on Python {PYTHON} with uv" in out
    assert f"environment: .nox/.cache/testfloor-env (Python {PYTHON})" in out
    assert "pass 1: 1 errors: quarantined tests/test_bug.py" in out
    # The baseline is what the project's own sessions measured, and they ran on the environment's Python.
    assert f"nox > Running session tests-{PYTHON}" in out
    assert f"wrote coverage-baseline.json: the first coverage baseline (the sessions, Python {PYTHON})" in out
    from testfloor.baseline import read_baseline

    assert read_baseline(tmp_path / "coverage-baseline.json").files["calc.py"].covered_lines == 3
    assert main(["init", str(tmp_path), "--no-install", *requirement]) == ExitCode.QUARANTINED
    again = capsys.readouterr().out
    assert "wrote " not in again
    assert "test environment: reused .nox/.cache/testfloor-env" in again


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
