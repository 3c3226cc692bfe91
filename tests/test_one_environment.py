"""`testfloor init` in a virtualenv that holds everything, then the sessions in a fresh clone: one environment.

Each project declares its dependencies another way (Poetry, PEP 735 groups, setup.py, a requirements folder, a
sub-project under backend/) and depends on packages from a wheelhouse the tests make: `calcdep` (light, pinned to
1.0 while 2.0 exists), `tinytest` (needed by the tests only) and `gymnasium` (heavy: stubbed, never installed).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helpers import clean_environ, make_file, tree_digest
from wheelhouse import make_wheel

if TYPE_CHECKING:
    from collections.abc import Callable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
NEWEST = "3.13"
pytestmark = [
    pytest.mark.slow,
    # Each runs real nox on the Pythons its project declares (3.12 and 3.13): once, from the newest, is enough.
    pytest.mark.skipif(PYTHON != NEWEST, reason=f"runs once, on Python {NEWEST}: its sessions run the others"),
]

CORE = """
import calcdep


def total(values):
    if not values:
        return 0
    return sum(values) * calcdep.FACTOR
"""
TEST_CORE = """
import tinytest

from {package}.core import total


def test_total():
    assert tinytest.check()
    assert total([1, 2]) == 3
"""
HEAVY_MODEL = """
import gymnasium


class Env(gymnasium.Env):
    pass
"""


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """Wheels of the packages the projects depend on, and testfloor's; no index has the first three."""
    directory = tmp_path_factory.mktemp("wheelhouse")
    make_wheel(directory, "calcdep", "1.0", {"calcdep.py": "FACTOR = 1\n"})
    make_wheel(directory, "calcdep", "2.0", {"calcdep.py": "FACTOR = 2\n"})
    make_wheel(directory, "tinytest", "1.0", {"tinytest.py": "def check():\n    return True\n"})
    make_wheel(directory, "gymnasium", "999.0", {"gymnasium/__init__.py": "class Env:\n    pass\n"})
    shutil.copy(wheel, directory)
    return directory


def environ(wheelhouse: Path) -> dict[str, str]:
    return clean_environ(UV_FIND_LINKS=str(wheelhouse), PIP_FIND_LINKS=str(wheelhouse), NOX_DOWNLOAD_PYTHON="never")


def poetry(root: Path) -> str:
    make_file(
        root / "pyproject.toml",
        """
        [tool.poetry]
        name = "svc"
        version = "0.1.0"
        description = ""
        authors = []
        packages = [{ include = "svc" }]

        [tool.poetry.dependencies]
        python = "^3.12"
        calcdep = "1.0"

        [tool.poetry.group.dev.dependencies]
        tinytest = "^1.0"

        [build-system]
        requires = ["poetry-core>=1.9"]
        build-backend = "poetry.core.masonry.api"
        """,
    )
    make_file(root / "svc" / "__init__.py")
    make_file(root / "svc" / "core.py", CORE)
    make_file(root / "tests" / "test_core.py", TEST_CORE.format(package="svc"))
    return "svc"


def dependency_groups(root: Path) -> str:
    make_file(
        root / "pyproject.toml",
        """
        [project]
        name = "svc"
        version = "0.1.0"
        requires-python = ">=3.12"
        dependencies = ["calcdep==1.0"]

        [dependency-groups]
        test = ["tinytest>=1"]
        dev = [{ include-group = "test" }]

        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        """,
    )
    make_file(root / "src" / "svc" / "__init__.py")
    make_file(root / "src" / "svc" / "core.py", CORE)
    make_file(root / "tests" / "test_core.py", TEST_CORE.format(package="svc"))
    return "src/svc"


def setup_py_with_a_heavy_dependency(root: Path) -> str:
    make_file(
        root / "setup.py",
        """
        from setuptools import setup

        setup(
            name="svc",
            version="0.1.0",
            packages=["svc"],
            install_requires=["calcdep==1.0", "gymnasium>=1"],
            extras_require={"test": ["tinytest"]},
            python_requires=">=3.12",
        )
        """,
    )
    make_file(root / "svc" / "__init__.py")
    make_file(root / "svc" / "core.py", CORE)
    make_file(root / "svc" / "model.py", HEAVY_MODEL)
    make_file(root / "tests" / "test_core.py", TEST_CORE.format(package="svc") + "\nfrom svc.model import Env\n")
    return "svc"


def requirements_folder(root: Path) -> str:
    make_file(root / "requirements" / "base.txt", "calcdep==1.0\n")
    make_file(root / "requirements" / "test.txt", "-r base.txt\ntinytest\n")
    make_file(root / "pyproject.toml", '[tool.pytest.ini_options]\npythonpath = ["."]\n')
    make_file(root / "svc" / "__init__.py")
    make_file(root / "svc" / "core.py", CORE)
    make_file(root / "tests" / "test_core.py", TEST_CORE.format(package="svc"))
    return "svc"


def backend_sub_project(root: Path) -> str:
    make_file(
        root / "backend" / "pyproject.toml",
        """
        [project]
        name = "svc-backend"
        version = "0.1.0"
        requires-python = ">=3.12"
        dependencies = ["calcdep==1.0", "tinytest"]

        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [tool.hatch.build.targets.wheel]
        packages = ["app"]
        """,
    )
    make_file(root / "backend" / "app" / "__init__.py")
    make_file(root / "backend" / "app" / "core.py", CORE)
    make_file(root / "backend" / "app" / "tests" / "__init__.py")
    make_file(root / "backend" / "app" / "tests" / "test_core.py", TEST_CORE.format(package="app"))
    make_file(root / "scripts" / "deploy.py", "print('deploying')\n")
    return "backend/app"


def a_threshold_above_what_is_reached(root: Path) -> str:
    measured = dependency_groups(root)
    with (root / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n[tool.coverage.report]\nfail_under = 99\n")
    make_file(root / "src" / "svc" / "unused.py", "def never():\n    return 1\n")
    return measured


SHAPES: list[Callable[[Path], str]] = [
    poetry,
    dependency_groups,
    setup_py_with_a_heavy_dependency,
    requirements_folder,
    backend_sub_project,
    a_threshold_above_what_is_reached,
]


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def session_environments(root: Path) -> list[Path]:
    # nox's own (the tests sessions) and the ones testfloor shares between collect, coverage and baseline.
    places = [*(root / ".nox").iterdir(), *(root / ".nox" / ".cache").glob("testfloor-*")]
    return [path for path in places if (path / "pyvenv.cfg").is_file()]


def probe(python: Path, code: str) -> str:
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: shape.__name__)
def test_init_in_a_full_virtualenv_then_the_sessions_pass_in_a_fresh_clone(
    tmp_path: Path, wheelhouse: Path, wheel: Path, shape: Callable[[Path], str]
) -> None:
    env = environ(wheelhouse)
    project = tmp_path / "project"
    source = shape(project)
    # The developer's virtualenv holds everything, the heavy package and calcdep 2.0 included.
    user = tmp_path / "venv"
    uv = [sys.executable, "-m", "uv"]
    assert run([*uv, "venv", "--quiet", "--python", PYTHON, str(user)], tmp_path, env).returncode == 0
    python = user / "bin" / "python"
    every = [str(wheel), "calcdep==2.0", "tinytest", "gymnasium"]
    installed = run([*uv, "pip", "install", "--quiet", "--python", str(python), *every], tmp_path, env)
    assert installed.returncode == 0, installed.stderr

    first = run([str(python), "-m", "testfloor", "init"], project, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "status: clean" in first.stdout
    settled = tree_digest(project)
    second = run([str(python), "-m", "testfloor", "init"], project, env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert tree_digest(project) == settled

    settings = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["testfloor"]
    declared = shape is not requirements_folder  # it states no Python: the one running init is chosen
    pythons = ["3.12", "3.13"] if declared else [PYTHON]
    assert settings["python"] == pythons
    requirements = (project / "requirements-test.txt").read_text()
    assert "calcdep==1.0" in requirements
    assert "tinytest" in requirements

    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        assert run(["git", *command], project, env).returncode == 0
    clone = tmp_path / "clone"
    assert run(["git", "clone", "-q", str(project), str(clone)], tmp_path, env).returncode == 0
    listed = run([str(python), "-m", "nox", "--list", "--json"], clone, env)
    names = {session["session"] for session in json.loads(listed.stdout)}
    assert {"collect", *(f"tests-{version}" for version in pythons), "coverage", "baseline"} <= names
    sessions = run([str(python), "-m", "nox", "--no-color", "-s", "collect", "coverage", "baseline"], clone, env)
    assert sessions.returncode == 0, sessions.stdout + sessions.stderr

    for environment in session_environments(clone):
        interpreter = environment / "bin" / "python"
        heavy = "import importlib.util; print(importlib.util.find_spec('gymnasium') is not None)"
        assert probe(interpreter, heavy) == "False", environment.name
    pins = "import importlib.metadata as m; print(m.version('calcdep'))"
    # collect ran in the shared test environment of the newest Python: the project's pin, not the newer release.
    (shared,) = (clone / ".nox" / ".cache").glob("testfloor-env-*")
    assert probe(shared / "bin" / "python", pins) == "1.0"
    files = json.loads((clone / "coverage.json").read_text())["files"]
    assert all(name.startswith(source) for name in files), sorted(files)
