"""Real nox on the noxfile `testfloor init` writes: environments reused, rebuilt, and kept to what they run."""

from __future__ import annotations

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


def installed(root: Path, session: str, module: str) -> bool:
    return any((root / ".nox").glob(f"{session}*/lib/python*/site-packages/{module}.py"))


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


def test_sessions_reuse_their_environments_rebuild_on_new_requirements_and_report_without_the_project(
    project: tuple[Path, Path],
) -> None:
    root, wheelhouse = project
    first = run_nox(root, wheelhouse, "--session", "coverage")
    assert first.returncode == 0, first.stderr
    assert (root / "coverage.json").is_file()
    assert len(installs(first.stderr)) == 3  # collect, tests, coverage: each built once
    assert first.stderr.count("Creating virtual environment (uv)") == 3  # the uv that comes with testfloor
    # The report needs testfloor and coverage, not the project's stack.
    assert installed(root, "tests", "labelkit")
    assert not installed(root, "coverage", "labelkit")

    second = run_nox(root, wheelhouse, "--session", "coverage")
    assert second.returncode == 0, second.stderr
    assert installs(second.stderr) == []
    assert second.stderr.count("its inputs are unchanged") == 3

    make_file(
        root / "requirements-test.txt", (root / "requirements-test.txt").read_text().replace("labelkit", "otherkit")
    )
    make_file(root / "shop.py", "def tag(x):\n    return f'<{x}>'\n")
    third = run_nox(root, wheelhouse, "--session", "tests")
    assert third.returncode == 0, third.stderr
    assert third.stderr.count("its inputs changed") == 2  # collect and tests
    assert installed(root, "tests", "otherkit")
    assert not installed(root, "tests", "labelkit")  # made again from nothing, not installed over
