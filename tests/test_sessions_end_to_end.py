"""Real nox on the noxfile `testfloor init` writes: environments reused, rebuilt, and kept to what they run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from helpers import clean_environ, make_file
from testfloor.init import NOXFILE
from wheelhouse import make_wheel

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

pytestmark = pytest.mark.slow


def run_nox(root: Path, wheelhouse: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = clean_environ(UV_FIND_LINKS=str(wheelhouse), PIP_FIND_LINKS=str(wheelhouse), NOX_DOWNLOAD_PYTHON="never")
    return subprocess.run(
        [sys.executable, "-m", "nox", "--no-color", *args], cwd=root, env=environ, capture_output=True, text=True
    )


def installed(root: Path, place: str, module: str) -> bool:
    return any((root / ".nox").glob(f"{place}*/lib/python*/site-packages/{module}.py"))


SHARED = f".cache/testfloor-env-{PYTHON}"


def installs(output: str) -> list[str]:
    return [line for line in output.splitlines() if "pip install" in line]


@pytest.fixture
def project(tmp_path: Path, wheel: Path) -> tuple[Path, Path]:
    wheelhouse = tmp_path / "wheelhouse"
    make_wheel(wheelhouse, "labelkit", "1.0", {"labelkit.py": "def label(x):\n    return f'<{x}>'\n"})
    make_wheel(wheelhouse, "otherkit", "1.0", {"otherkit.py": "VALUE = 1\n"})
    root = tmp_path / "shop"
    make_file(
        root / "pyproject.toml", f'[project]\nname = "shop"\nversion = "1"\n\n[tool.testfloor]\npython = ["{PYTHON}"]\n'
    )
    make_file(root / "shop.py", "import labelkit\n\n\ndef tag(x):\n    return labelkit.label(x)\n")
    make_file(root / "test_shop.py", "from shop import tag\n\n\ndef test_tag():\n    assert tag(1) == '<1>'\n")
    make_file(root / "noxfile.py", NOXFILE)
    # The pins of this Python's own test environment: pytest and coverage as requirements-test.txt gives them here.
    pins = f"pytest=={version('pytest')}\ncoverage=={version('coverage')}"
    make_file(root / "requirements-test.txt", f"{wheel}\n{pins}\nlabelkit==1.0\n")
    return root, wheelhouse


def test_collect_and_reporting_share_one_environment_that_a_second_run_reuses_and_new_requirements_rebuild(
    project: tuple[Path, Path],
) -> None:
    root, wheelhouse = project
    first = run_nox(root, wheelhouse, "--session", "coverage")
    assert first.returncode == 0, first.stderr
    assert (root / "coverage.json").is_file()
    # collect builds the shared environment, with the uv that comes with testfloor (no session installs it); coverage
    # reports in it; tests gets nox's own environment, made with the same uv.
    assert first.stderr.count(f"test environment: building .nox/{SHARED} on Python {PYTHON} with uv") == 1
    assert "uv = " in (root / ".nox" / SHARED / "pyvenv.cfg").read_text()
    assert "reporting in the test environment" in first.stderr
    assert first.stderr.count("Creating virtual environment (uv)") == 1
    assert len(installs(first.stderr)) == 1  # the tests session's
    assert installed(root, SHARED, "labelkit")
    assert installed(root, "tests", "labelkit")

    second = run_nox(root, wheelhouse, "--session", "coverage")
    assert second.returncode == 0, second.stderr
    assert "building" not in second.stderr
    assert "Creating virtual environment" not in second.stderr
    assert installs(second.stderr) == []
    assert f"test environment: reused .nox/{SHARED}" in second.stderr
    assert "its inputs are unchanged" in second.stderr  # tests

    make_file(
        root / "requirements-test.txt", (root / "requirements-test.txt").read_text().replace("labelkit", "otherkit")
    )
    make_file(root / "shop.py", "def tag(x):\n    return f'<{x}>'\n")
    third = run_nox(root, wheelhouse, "--session", "tests")
    assert third.returncode == 0, third.stderr
    assert f"test environment: building .nox/{SHARED}" in third.stderr
    assert "its inputs changed" in third.stderr  # tests
    for place in (SHARED, "tests"):
        assert installed(root, place, "otherkit")
        assert not installed(root, place, "labelkit")  # made again from nothing, not installed over


def test_a_job_that_only_reports_builds_an_environment_of_testfloor_and_coverage_alone(
    project: tuple[Path, Path],
) -> None:
    root, wheelhouse = project
    assert run_nox(root, wheelhouse, "--session", "tests").returncode == 0
    shutil.rmtree(root / ".nox")  # the shards stay, as a CI job downloads them
    report = run_nox(root, wheelhouse, "--session", "coverage", "baseline", "--no-dependencies")
    assert f"reporting environment: building .nox/.cache/testfloor-report-{PYTHON}" in report.stderr
    assert f"reporting environment: reused .nox/.cache/testfloor-report-{PYTHON}" in report.stderr  # baseline
    assert (root / "coverage.json").is_file()
    assert not installed(root, ".cache/testfloor-report", "labelkit")
    assert not (root / ".nox" / SHARED).exists()
