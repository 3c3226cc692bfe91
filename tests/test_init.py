from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from helpers import make_file
from testfloor import init
from testfloor.cli import ExitCode, main
from testfloor.config import load_config
from testfloor.errors import InitError


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
    assert (tmp_path / "requirements-test.txt").read_text().splitlines()[1:] == ["testfloor"]
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
    assert load_config(tmp_path).stubs == ("torch", "ray")
    assert (tmp_path / "requirements-test.txt").read_text().splitlines()[1:] == [
        "/wheels/testfloor.whl",
        "-e .",
        "fastapi>=0.110",
        "# torch>=2.1  (stubbed by testfloor)",
        "# ray[tune]>=2.9  (stubbed by testfloor)",
        "# Ray>=2  (stubbed by testfloor)",
    ]
    assert "source = src" in (tmp_path / ".coveragerc").read_text()


def test_requirements_come_from_requirements_txt_without_declared_dependencies(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n')
    make_file(tmp_path / "requirements.txt", "# pinned\nredis==5.0\n-r base.txt\n\nnumba>=0.58\n")
    make_file(tmp_path / "setup.py", "")
    written(tmp_path)
    assert (tmp_path / "requirements-test.txt").read_text().splitlines()[1:] == [
        "testfloor",
        "-e .",
        "redis==5.0",
        "# numba>=0.58  (stubbed by testfloor)",
    ]


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


def test_init_runs_doctor_and_writes_the_first_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n')
    make_file(tmp_path / "calc.py", "def double(x):\n    if x:\n        return 2 * x\n    return 0\n")
    make_file(
        tmp_path / "tests" / "test_calc.py",
        "from calc import double\n\ndef test_double():\n    assert double(2) == 4\n",
    )
    make_file(tmp_path / "tests" / "test_bug.py", "VALUE = Missing.NAME\n")
    assert main(["init", str(tmp_path), "--no-install"]) == ExitCode.QUARANTINED
    out = capsys.readouterr().out
    assert "pass 1: 1 errors: quarantined tests/test_bug.py" in out
    assert "wrote coverage-baseline.json: the first coverage baseline (one run on this Python)" in out
    from testfloor.baseline import read_baseline

    assert read_baseline(tmp_path / "coverage-baseline.json").files["calc.py"].covered_lines == 3
    assert main(["init", str(tmp_path), "--no-install"]) == ExitCode.QUARANTINED
    assert "wrote " not in capsys.readouterr().out


def test_a_suite_that_does_not_collect_gets_no_baseline(tmp_path: Path) -> None:
    make_file(tmp_path / "conftest.py", "raise RuntimeError('boom')\n")
    assert main(["init", str(tmp_path), "--no-install"]) == ExitCode.COLLECTION
    assert not (tmp_path / "coverage-baseline.json").exists()


def test_a_first_run_that_stops_is_an_init_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    make_file(tmp_path / ".coveragerc", "[run]\nconcurrency = gevent\n")
    real_run = subprocess.run
    commands: list[list[str]] = []

    def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        if "pytest" in command:
            return subprocess.CompletedProcess(command, 3, "", "")
        return real_run(command, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(subprocess, "run", run)
    with pytest.raises(InitError, match=r"the first coverage run stopped \(pytest exit 3\)"):
        init.first_baseline(tmp_path)
    assert any(part.startswith("--rcfile=") for part in commands[0])


def test_the_first_baseline_of_a_project_without_coverage_settings(tmp_path: Path) -> None:
    make_file(tmp_path / "calc.py", "def double(x):\n    return 2 * x\n")
    make_file(tmp_path / "test_calc.py", "from calc import double\n\ndef test_double():\n    assert double(2) == 4\n")
    from testfloor.baseline import read_baseline

    path = init.first_baseline(tmp_path)
    assert read_baseline(path).files["calc.py"].covered_lines == 2


def test_the_first_baseline_of_a_monorepo_runs_each_sub_project(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\nsubprojects = ["billing", "search"]\n')
    make_file(tmp_path / ".coveragerc", "[run]\nconcurrency = thread\n")
    for name in ("billing", "search"):
        make_file(tmp_path / name / f"{name}_core.py", "def name():\n    return __name__\n")
        make_file(tmp_path / name / "tests" / "__init__.py")
        make_file(
            tmp_path / name / "tests" / "conftest.py",
            "import sys\nfrom pathlib import Path\n\nsys.path.insert(0, str(Path(__file__).parents[1]))\n",
        )
        make_file(
            tmp_path / name / "tests" / "test_core.py",
            f"from {name}_core import name\n\ndef test_name():\n    assert name()\n",
        )
    from testfloor.baseline import read_baseline

    files = read_baseline(init.first_baseline(tmp_path)).files
    assert files["billing/billing_core.py"].covered_lines == files["search/search_core.py"].covered_lines == 2
