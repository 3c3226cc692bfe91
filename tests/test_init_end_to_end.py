"""`testfloor init` on generated projects of different shapes, then the project's own nox sessions; and the demo."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import clean_environ, make_file, nox, tree_digest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

pytestmark = pytest.mark.slow
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
CALC = "def double(x):\n    if x:\n        return 2 * x\n    return 0\n"
TEST_CALC = "from calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n"


def run_testfloor(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "testfloor", *args], cwd=root, env=clean_environ(),
                          capture_output=True, text=True)  # fmt: skip


def pyproject_only(root: Path) -> None:
    make_file(root / "pyproject.toml", f'[project]\nname = "calc"\nrequires-python = "=={PYTHON}.*"\n')
    make_file(root / "src" / "calc.py", CALC)
    make_file(root / "tests" / "test_calc.py", TEST_CALC)
    make_file(root / "tests" / "conftest.py", "import sys\n\nsys.path.insert(0, 'src')\n")


def setup_cfg_and_pytest_ini(root: Path) -> None:
    make_file(root / "setup.cfg", "[metadata]\nname = calc\n\n[coverage:run]\nbranch = True\nsource = calc\n")
    make_file(root / "pytest.ini", "[pytest]\naddopts = --timeout=10 -ra\ntestpaths = tests\npythonpath = .\n")
    make_file(root / "calc" / "__init__.py", CALC)
    make_file(root / "tests" / "test_calc.py", TEST_CALC)
    make_file(root / "pyproject.toml", f'[tool.testfloor]\npython = ["{PYTHON}"]\n')


def existing_noxfile(root: Path) -> None:
    pyproject_only(root)
    make_file(
        root / "noxfile.py", 'import nox\n\n\n@nox.session(python=False)\ndef lint(session):\n    session.log("lint")\n'
    )


def split_in_two(root: Path) -> None:
    pyproject_only(root)
    with (root / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n[tool.testfloor]\nsplits = 2\n")
    make_file(root / "tests" / "test_calc_again.py", TEST_CALC.replace("double(2) == 4", "double(3) == 6"))


@pytest.mark.parametrize("shape", [pyproject_only, setup_cfg_and_pytest_ini, existing_noxfile, split_in_two])
def test_init_gives_any_project_sessions_that_pass_and_a_second_init_changes_nothing(
    tmp_path: Path, wheel: Path, shape: object
) -> None:
    shape(tmp_path)  # type: ignore[operator]
    dry = tmp_path.parent / f"{tmp_path.name}-dry"
    shape(dry)  # type: ignore[operator]
    before = tree_digest(dry)
    assert run_testfloor(dry, "init", "--dry-run").returncode == 0
    assert tree_digest(dry) == before

    first = run_testfloor(tmp_path, "init", "--requirement", str(wheel), "--no-install")
    assert first.returncode == 0, first.stdout + first.stderr
    assert (tmp_path / "coverage-baseline.json").is_file()
    settled = tree_digest(tmp_path)
    result = nox(tmp_path, "-s", "collect", "coverage", "baseline")
    assert result.returncode == 0, result.stdout + result.stderr
    # Split, each group is a session of its own and leaves its own shard.
    split = shape is split_in_two
    assert (f"Session tests-{PYTHON}(1of2) was successful" in result.stderr) is split
    assert (f"Session tests-{PYTHON}(2of2) was successful" in result.stderr) is split
    assert len(list(tmp_path.glob(".coverage.*"))) == (2 if split else 1)
    assert json.loads((tmp_path / "coverage.json").read_text())["totals"]["covered_lines"] == 3
    second = run_testfloor(tmp_path, "init", "--requirement", str(wheel), "--no-install")
    assert second.returncode == 0
    assert "wrote" not in second.stdout
    assert tree_digest(tmp_path) == settled


def test_init_runs_each_sub_project_on_its_own_package_of_a_shared_name_and_counts_every_run(
    tmp_path: Path, wheel: Path
) -> None:
    make_file(
        tmp_path / "pyproject.toml", f'[project]\nname = "root"\nversion = "0"\nrequires-python = "=={PYTHON}.*"\n'
    )
    for name in ("alpha", "beta"):
        sub = tmp_path / "svc" / name
        make_file(
            sub / "pyproject.toml",
            f'[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
            f'[project]\nname = "{name}"\nversion = "0"\n\n[tool.hatch.build.targets.wheel]\npackages = ["app"]\n',
        )
        make_file(sub / "app" / "__init__.py")
        make_file(sub / "app" / "core.py", f"def {name}():\n    return {name!r}\n")
        make_file(
            sub / "tests" / "test_core.py",
            f"from app.core import {name}\n\n\ndef test_it():\n    assert {name}() == {name!r}\n",
        )
    make_file(tmp_path / "svc" / "alpha" / "tests" / "test_more.py", "def test_fails():\n    assert False\n")
    skipped = "import pytest\n\n\n@pytest.mark.skip\ndef test_skipped():\n    pass\n"
    make_file(tmp_path / "svc" / "beta" / "tests" / "test_more.py", skipped)
    init = run_testfloor(tmp_path, "init", "--requirement", str(wheel), "--no-install")
    assert init.returncode == 0, init.stdout + init.stderr
    settings = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["testfloor"]
    assert settings["install"] == settings["subprojects"] == ["svc/alpha", "svc/beta"]
    # Both runs of the tests session counted: alpha "1 failed, 1 passed", beta "1 passed, 1 skipped".
    assert f"tests on Python {PYTHON}: 1 failed, 2 passed, 1 skipped" in init.stdout.splitlines()
    result = nox(tmp_path, "-s", "collect", f"tests-{PYTHON}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "collected 4 tests" in result.stderr
    assert re.search(r"=+ 1 failed, 1 passed in .*\n(.*\n)*=+ 1 passed, 1 skipped in ", result.stdout + result.stderr)


def test_the_demo_replays_the_seed_plan_and_its_summary_matches_the_files(tmp_path: Path, wheel: Path) -> None:
    demo = Path(__file__).resolve().parents[1] / "examples" / "demo.py"
    result = subprocess.run([sys.executable, str(demo), "--workdir", str(tmp_path), "--testfloor", str(wheel)],
                            env=clean_environ(), capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    project = tmp_path / "service"
    settings = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["testfloor"]
    totals = json.loads((project / "coverage.json").read_text())["totals"]
    assert summary["before"]["exit"] != 0
    assert summary["stubbed"] == settings["stubs"] == ["torch", "ray", "numba"]
    assert summary["env"] == sorted(settings["env"]) == ["DATABASE_URL", "JWT_SECRET", "REDIS_URL"]
    assert summary["quarantined"] == [
        {"node": item["node"], "reason": item["reason"]} for item in settings["quarantine"]
    ]
    assert [item["node"] for item in summary["quarantined"]] == ["tests/test_webhook_worker.py"]
    assert "CircuitBreaker" in summary["quarantined"][0]["reason"]
    assert summary["coverage"]["covered_lines"] == totals["covered_lines"] > 0
    assert summary["coverage"]["statements"] == totals["num_statements"]
    baseline = json.loads((project / "coverage-baseline.json").read_text())
    assert summary["baseline"] is True
    assert baseline["totals"]["covered_lines"] <= totals["covered_lines"]
    assert summary["after"]["status"] == "quarantined"
    assert f"coverage: {summary['coverage']['percent']}%" in result.stdout


def test_init_after_doctor_fix_writes_the_pythons_and_the_install_and_the_sessions_install_the_project(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    build = '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    make_file(project / "pyproject.toml", f'[project]\nname = "pkg"\nversion = "0"\nrequires-python = "=={PYTHON}.*"\n')
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + build)
    make_file(project / "pkg" / "__init__.py", CALC)
    # No conftest puts the project on sys.path: the test imports pkg only where the sessions install it.
    make_file(project / "tests" / "test_pkg.py", TEST_CALC.replace("from calc", "from pkg"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    doctor = run_testfloor(project, "doctor", "--fix", "--no-install")
    assert "[tool.testfloor]" in (project / "pyproject.toml").read_text(), doctor.stdout + doctor.stderr
    # init installs testfloor as doctor did (an explicit --requirement would add a second, clashing line).
    first = run_testfloor(project, "init", "--no-install")
    assert first.returncode == 0, first.stdout + first.stderr
    settings = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["testfloor"]
    assert (settings["python"], settings["install"]) == ([PYTHON], ["."])
    settled = tree_digest(project)
    second = run_testfloor(project, "init", "--no-install")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "wrote" not in second.stdout
    assert tree_digest(project) == settled
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "testfloor"], cwd=project, check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    result = nox(clone, "-s", "collect")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "collected 1 tests" in result.stderr


def test_init_on_a_project_of_tests_alone_measures_the_tests_and_writes_a_baseline(tmp_path: Path, wheel: Path) -> None:
    make_file(tmp_path / "pyproject.toml", f'[project]\nname = "r"\nversion = "0"\nrequires-python = "=={PYTHON}.*"\n')
    make_file(tmp_path / "tests" / "test_a.py", "def test_a():\n    assert True\n")
    result = run_testfloor(tmp_path, "init", "--requirement", str(wheel), "--no-install")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wrote .coveragerc: coverage settings: the project has no code outside its tests" in result.stdout
    measured = json.loads((tmp_path / "coverage-baseline.json").read_text())
    assert "tests/test_a.py" in json.dumps(measured)
