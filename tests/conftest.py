"""testfloor's own suite runs under testfloor's pytest plugin, as a user's suite does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import GOLDEN, clean_environ

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    # `-p testfloor` in addopts loads the plugin even where entry points are not autoloaded;
    # without it this suite would not test what users get.
    if not config.pluginmanager.has_plugin("testfloor"):
        raise pytest.UsageError("testfloor's pytest plugin is not active: install testfloor (pip install -e .)")


@pytest.fixture(autouse=True)
def _no_outer_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # CI's own variables must not leak into what the tests observe.
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    for name in [name for name in os.environ if name.startswith("TESTFLOOR_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def restored_import_system() -> Iterator[None]:
    """Give the test back sys.meta_path and sys.modules as they were, with testfloor's stubs uninstalled."""
    from testfloor import stubs

    meta_path = list(sys.meta_path)
    modules = dict(sys.modules)
    yield
    stubs.uninstall()
    sys.meta_path[:] = meta_path
    for name in set(sys.modules) - set(modules):
        del sys.modules[name]
    sys.modules.update(modules)


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # Inner runs skip hypothesis's plugin (a second of imports each time, nothing to test there) and set
    # the fixture loop scope that pytest-asyncio otherwise warns about.
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -o asyncio_default_fixture_loop_scope=function")
    return pytester


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """testfloor built from this source tree, as a wheel."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=Path(__file__).resolve().parents[1],
        env=clean_environ(),
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("testfloor-*.whl")
    return built


@pytest.fixture(scope="module", params=["branch", "lines"])
def golden_measured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The golden project, measured with or without branches, and coverage.py's own reports of it."""
    mode: str = request.param
    root = tmp_path_factory.mktemp(mode)
    shutil.copytree(GOLDEN / "project", root, dirs_exist_ok=True)
    run = [sys.executable, "-m", "coverage"]
    env = clean_environ()
    branch = ["--branch"] if mode == "branch" else []
    subprocess.run([*run, "run", *branch, "main.py"], cwd=root, env=env, check=True, capture_output=True)
    for args in (["xml", "-o", "own.xml"], ["json", "-o", "own.json"]):
        subprocess.run([*run, *args], cwd=root, env=env, check=True, capture_output=True)
    for name, args in (("own.md", ["--format=markdown"]), ("own.txt", [])):
        result = subprocess.run([*run, "report", *args], cwd=root, env=env, check=True, capture_output=True, text=True)
        (root / name).write_text(result.stdout)
    return mode, root


@pytest.fixture
def golden_project(
    golden_measured: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Path]:
    """A copy of the measured golden project to change, as the working directory."""
    mode, root = golden_measured
    shutil.copytree(root, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    return mode, tmp_path
