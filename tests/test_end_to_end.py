"""Real nox, real pytest and real coverage on small projects these tests create."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import NOXFILE, clean_environ, make_file, measured_lines, nox, tree_digest

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

pytestmark = pytest.mark.slow


def test_the_wheel_carries_the_command_the_module_and_the_plugin(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "uv", "pip", "install", "--python", sys.executable, "--no-deps", "--target",
         str(target), str(wheel)],
        check=True, capture_output=True, env=clean_environ(),
    )  # fmt: skip
    env = clean_environ(PYTHONPATH=str(target))
    where = subprocess.run(
        [sys.executable, "-c", "import testfloor; print(testfloor.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(target)
    version = subprocess.run(
        [sys.executable, "-m", "testfloor", "--version"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert version.returncode == 0
    assert version.stdout.startswith("testfloor 0.")
    command = subprocess.run([target / "bin" / "testfloor", "--help"], cwd=tmp_path, env=env, capture_output=True)
    assert command.returncode == 0
    assert b"exit codes:" in command.stdout
    make_file(
        tmp_path / "test_probe.py",
        'def test_probe(pytestconfig):\n    print(pytestconfig.pluginmanager.get_plugin("testfloor").__file__)\n',
    )
    probe = subprocess.run(
        [sys.executable, "-m", "pytest", "-s", "-q", "-p", "no:cacheprovider", "test_probe.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stdout
    assert str(target / "testfloor" / "plugin.py") in probe.stdout


@pytest.fixture
def project(tmp_path: Path, wheel: Path) -> Path:
    """A service whose settings are read at import time, with a declared placeholder for them."""
    root = tmp_path / "service"
    make_file(
        root / "pyproject.toml",
        f"""
        [project]
        name = "service"
        version = "1"

        [tool.pytest.ini_options]
        pythonpath = ["src"]
        testpaths = ["tests"]
        asyncio_default_fixture_loop_scope = "function"

        [tool.coverage.run]
        branch = true
        relative_files = true
        source = ["src"]

        [tool.testfloor]
        python = ["{PYTHON}"]

        [tool.testfloor.env]
        DATABASE_URL = "postgresql://app:hunter2@localhost:5432/app"
        """,
    )
    make_file(root / "requirements-test.txt", f"{wheel}\npytest\ncoverage\n")
    make_file(root / "noxfile.py", NOXFILE)
    make_file(
        root / "src" / "service.py",
        """
        import os

        DATABASE_URL = os.environ["DATABASE_URL"]


        def price(amount, discount):
            if discount:
                return amount - discount
            return amount
        """,
    )
    make_file(
        root / "tests" / "test_plain.py",
        "from service import price\n\ndef test_plain():\n    assert price(3, 0) == 3\n",
    )
    make_file(
        root / "tests" / "test_off.py", "from service import price\n\ndef test_off():\n    assert price(3, 1) == 2\n"
    )
    return root


def test_a_project_goes_through_the_gate_the_run_the_report_and_the_baseline(project: Path) -> None:
    first = nox(project, "-s", "coverage")
    assert first.returncode == 0, first.stderr
    assert "collected 2 tests" in first.stderr
    assert "hunter2" not in first.stdout + first.stderr
    totals = json.loads((project / "coverage.json").read_text())["totals"]
    assert (totals["covered_lines"], totals["num_statements"]) == (6, 6)
    assert (project / "coverage.xml").is_file()
    assert "| **TOTAL** " in (project / "coverage.md").read_text()

    update = subprocess.run(
        [sys.executable, "-m", "testfloor", "baseline", "update"], cwd=project, env=clean_environ(), text=True,
        capture_output=True,
    )  # fmt: skip
    assert update.returncode == 0, update.stderr
    assert json.loads((project / "coverage-baseline.json").read_text())["totals"]["covered_lines"] == 6

    (project / "tests" / "test_off.py").unlink()
    dropped = nox(project, "-R", "-s", "baseline")
    assert dropped.returncode != 0
    assert (
        "src/service.py: lines 6/6 -> 5/6 (-16.67 pts), branches 2/2 -> 1/2 (-50.00 pts), "
        "combined 100.00% -> 75.00%  [FAIL]"
    ) in dropped.stdout
    assert "coverage dropped below coverage-baseline.json: total, src/service.py" in dropped.stdout


def test_the_gate_stops_the_chain_on_a_collection_error(project: Path) -> None:
    make_file(project / "tests" / "test_broken.py", "import not_installed_anywhere\n")
    result = nox(project, "-s", "coverage")
    assert result.returncode != 0
    assert "the collect gate failed: collection was interrupted by errors" in result.stderr
    # Each error once, in the classified report: the session's message is the verdict alone.
    assert result.stderr.count("tests/test_broken.py: ") == 1
    # The same classified report as `testfloor doctor`, with the fix it would apply.
    assert "1  missing_light: a light dependency is not installed" in result.stderr
    assert (
        "tests/test_broken.py: ModuleNotFoundError: No module named 'not_installed_anywhere' (tests/test_broken.py:1)"
        " [fix: install]"
    ) in result.stderr
    assert "Prerequisite session collect was not successful" in result.stderr
    assert not (project / "coverage.json").exists()


def test_heavy_imports_inside_a_fixture_or_a_test_body_are_skipped_through_nox(project: Path) -> None:
    make_file(
        project / "tests" / "test_cluster.py",
        """
        import pytest


        @pytest.fixture(scope="module")
        def cluster():
            import ray

            return ray.init()


        def test_uses_the_cluster(cluster):
            assert cluster


        def test_trains():
            import torch

            assert torch.zeros(1)
        """,
    )
    result = nox(project, "-s", "tests", "--", "-rs")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SKIPPED [1] tests/test_cluster.py:11: test needs heavy module 'ray' (not installed)" in output
    assert "SKIPPED [1] tests/test_cluster.py:15: test needs heavy module 'torch' (not installed)" in output
    assert "2 passed, 2 skipped" in output


MESSY_PYTEST_INI = """
[pytest]
addopts = -n auto --timeout=5 --cov-fail-under=90 --strict-markers --strict-config
testpaths = tests
pythonpath = src

[coverage:run]
asyncio_mode = auto
"""


def test_a_project_with_a_config_that_cannot_run_is_measured_without_editing_it(project: Path) -> None:
    make_file(project / "pytest.ini", MESSY_PYTEST_INI)
    make_file(project / ".coveragerc", "[run]\nbranch = True\nconcurrency = gevent\nsource = src\n")
    make_file(
        project / "tests" / "test_async.py",
        """
        import asyncio

        import pytest


        @pytest.mark.performance
        async def test_runs_in_auto_mode():
            await asyncio.sleep(0)
        """,
    )
    before = tree_digest(project)
    result = nox(project, "-s", "coverage")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for line in (
        "override addopts: removed -n auto: its plugin is not installed",
        "override addopts: removed --timeout=5: its plugin is not installed",
        "override addopts: removed --cov-fail-under=90: a per-run coverage threshold",
        "override ini: applied stranded asyncio_mode = auto: written under [coverage:run] in pytest.ini",
        "override markers: registered 'performance': used by the tests but never declared",
        "override coverage: concurrency without gevent: not installed, though .coveragerc asks",
        "collected 3 tests",
    ):
        assert line in output
    assert "3 passed" in output
    assert json.loads((project / "coverage.json").read_text())["totals"]["covered_lines"] == 6
    assert tree_digest(project) == before


PARTS = ["one", "two", "three", "four"]


def test_a_split_suite_runs_each_group_as_its_own_session_and_the_report_needs_every_shard(
    tmp_path: Path, wheel: Path
) -> None:
    root = tmp_path / "parts"
    make_file(
        root / "pyproject.toml",
        f"""
        [project]
        name = "parts"
        version = "1"

        [tool.pytest.ini_options]
        pythonpath = ["src"]
        testpaths = ["tests"]

        [tool.coverage.run]
        branch = true
        relative_files = true
        source = ["src"]

        [tool.testfloor]
        python = ["{PYTHON}"]
        splits = 2
        """,
    )
    make_file(root / "requirements-test.txt", f"{wheel}\npytest\ncoverage\n")
    make_file(root / "noxfile.py", NOXFILE)
    # One function per test, the body of function i on line 4 * i + 2: a shard's lines say which tests it ran.
    make_file(root / "src" / "parts.py", "".join(f"def {name}():\n    return {name!r}\n\n\n" for name in PARTS))
    for name in PARTS:
        make_file(
            root / "tests" / f"test_{name}.py",
            f"import time\n\nfrom parts import {name}\n\n\ndef test_{name}():\n"
            f"    time.sleep(0.05)\n    assert {name}() == {name!r}\n",
        )

    listed = nox(root, "--list", "--json", "--no-dependencies", "-s", "tests")
    assert [session["session"] for session in json.loads(listed.stdout)] == [
        f"tests-{PYTHON}(1of2)",
        f"tests-{PYTHON}(2of2)",
    ]
    durations = nox(root, "-s", "durations")
    assert durations.returncode == 0, durations.stdout + durations.stderr
    recorded = json.loads((root / ".test_durations").read_text())
    assert sorted(recorded) == sorted(f"tests/test_{name}.py::test_{name}" for name in PARTS)

    run = nox(root, "-s", "coverage")
    assert run.returncode == 0, run.stdout + run.stderr
    shards = sorted(root.glob(".coverage.*"))
    assert [shard.name.rpartition("-")[2] for shard in shards] == ["1of2", "2of2"]
    assert shards[0].name != shards[1].name
    ran = [{name for i, name in enumerate(PARTS) if 4 * i + 2 in measured_lines(shard, "parts.py")} for shard in shards]
    assert all(ran)
    assert ran[0].isdisjoint(ran[1])
    assert ran[0] | ran[1] == set(PARTS)
    totals = json.loads((root / "coverage.json").read_text())["totals"]
    assert (totals["covered_lines"], totals["num_statements"]) == (8, 8)

    shards[1].unlink()
    lost = nox(root, "-s", "coverage", "--no-dependencies")
    assert lost.returncode != 0
    assert f"missing coverage data: {shards[1]}" in lost.stdout + lost.stderr
