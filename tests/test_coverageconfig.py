from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import clean_environ, make_file
from testfloor.coverageconfig import read_coverage_settings


def test_a_project_without_coverage_settings_has_none(tmp_path: Path) -> None:
    make_file(tmp_path / "setup.cfg", "[metadata]\nname = x\n")
    make_file(tmp_path / "pyproject.toml", "[tool.black]\nline-length = 1\n")
    assert read_coverage_settings(tmp_path) is None


RUN = "branch = True\nconcurrency = gevent,thread\n"
REPORT = "fail_under = 90\n"
CR = "[coverage:report]\n"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (".coveragerc", f"[run]\n{RUN}[report]\n{REPORT}"),
        (
            ".coveragerc",
            f"[coverage:run]\nbranch = True\nconcurrency =\n  gevent\n  thread\n{CR}{REPORT}",
        ),
        (
            "setup.cfg",
            f"[metadata]\nname = x\n[coverage:run]\nconcurrency = gevent thread\n{CR}{REPORT}",
        ),
        ("tox.ini", f"[tox]\nenvlist = py\n[coverage:run]\nconcurrency = gevent, thread\n{CR}{REPORT}"),
        (
            "pyproject.toml",
            '[tool.coverage.run]\nconcurrency = ["gevent", "thread"]\n[tool.coverage.report]\n' + REPORT,
        ),
    ],
)
def test_settings_are_read_where_coverage_reads_them(tmp_path: Path, name: str, text: str) -> None:
    make_file(tmp_path / name, text)
    settings = read_coverage_settings(tmp_path)
    assert settings is not None
    assert settings.source == tmp_path / name
    assert settings.concurrency() == ["gevent", "thread"]
    assert settings.sections["report"]["fail_under"] == "90"


def test_a_missing_concurrency_library_is_left_out(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[tool.coverage.run]\nconcurrency = ["gevent", "thread"]\n')
    settings = read_coverage_settings(tmp_path)
    assert settings is not None
    assert settings.without_concurrency({"gevent"}).concurrency() == ["thread"]
    assert "concurrency" not in settings.without_concurrency({"gevent", "thread"}).sections["run"]
    assert settings.concurrency() == ["gevent", "thread"]


def test_the_written_rcfile_is_what_coverage_reads(tmp_path: Path) -> None:
    make_file(
        tmp_path / "pyproject.toml",
        """
        [tool.coverage.run]
        branch = true
        concurrency = ["gevent"]
        source = ["src"]
        [tool.coverage.paths]
        source = ["src", "*/site-packages"]
        [tool.coverage.report]
        precision = 1
        """,
    )
    settings = read_coverage_settings(tmp_path)
    assert settings is not None
    rcfile = make_file(tmp_path / "rc", settings.without_concurrency({"gevent"}).to_ini())
    probe = (
        "import coverage, json; c = coverage.Coverage(config_file='rc').config; "
        "print(json.dumps([c.branch, c.concurrency, c.source, c.precision, c.paths]))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=clean_environ(), capture_output=True,
                            text=True, check=True)  # fmt: skip
    assert result.stdout.strip() == '[true, [], ["src"], 1, {"source": ["src", "*/site-packages"]}]'
    assert rcfile.read_text().startswith("# The coverage settings of pyproject.toml")


def test_settings_that_name_no_source_measure_the_projects_packages_and_not_its_tests(tmp_path: Path) -> None:
    from testfloor.coverageconfig import runnable_rcfile

    make_file(
        tmp_path / "pyproject.toml", "[tool.coverage.report]\nfail_under = 99\n\n[tool.coverage.run]\nomit = ['x/*']\n"
    )
    make_file(tmp_path / "src" / "svc" / "__init__.py")
    make_file(tmp_path / "src" / "svc" / "core.py", "def total():\n    return 1\n")
    make_file(
        tmp_path / "tests" / "test_core.py", "from svc.core import total\n\n\ndef test_total():\n    assert total()\n"
    )
    make_file(tmp_path / "scripts" / "deploy.py", "print('deploying')\n")
    rcfile, missing, _settings = runnable_rcfile(tmp_path, lambda: tmp_path / ".nox", set)
    assert missing == set()
    assert rcfile == [f"--rcfile={tmp_path / '.nox' / 'coveragerc'}"]
    # What coverage.py measures with it, for real: the package, not the tests, and the project's own omit kept.
    environ = clean_environ(PYTHONPATH=str(tmp_path / "src"))
    run = [sys.executable, "-m", "coverage"]
    subprocess.run([*run, "run", *rcfile, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:testfloor"],
                   cwd=tmp_path, env=environ, check=True, capture_output=True)  # fmt: skip
    subprocess.run([*run, "combine", *rcfile], cwd=tmp_path, env=environ, capture_output=True, check=False)
    files = subprocess.run(
        [*run, "json", *rcfile, "-o", "-"], cwd=tmp_path, env=environ, capture_output=True, text=True
    )
    import json

    assert sorted(json.loads(files.stdout)["files"]) == ["src/svc/__init__.py", "src/svc/core.py"]
    text = (tmp_path / ".nox" / "coveragerc").read_text()
    assert "x/*" in text
    assert "tests/*" in text


def test_settings_that_name_their_source_or_a_project_without_packages_need_no_copy(tmp_path: Path) -> None:
    from testfloor.coverageconfig import runnable_rcfile

    make_file(tmp_path / ".coveragerc", "[run]\nbranch = True\n")
    assert runnable_rcfile(tmp_path, lambda: tmp_path / ".nox", set)[0] == []
    make_file(tmp_path / "svc" / "__init__.py")
    make_file(tmp_path / ".coveragerc", "[run]\nsource_pkgs = svc\n")
    assert runnable_rcfile(tmp_path, lambda: tmp_path / ".nox", set)[0] == []
    assert not (tmp_path / ".nox").exists()


def test_a_missing_gevent_or_eventlet_becomes_greenlet_only_when_greenlet_can_run(tmp_path: Path) -> None:
    from testfloor.coverageconfig import replacement

    make_file(tmp_path / ".coveragerc", "[run]\nconcurrency = eventlet\n    thread\n")
    settings = read_coverage_settings(tmp_path)
    assert settings is not None
    assert settings.without_concurrency({"eventlet"}, greenlet=True).concurrency() == ["thread", "greenlet"]
    assert settings.without_concurrency({"eventlet"}).concurrency() == ["thread"]
    assert settings.without_concurrency({"thread"}, greenlet=True).concurrency() == ["eventlet"]
    assert replacement({"eventlet"}, settings.without_concurrency({"eventlet"}, greenlet=True)) == "greenlet"
    assert replacement({"eventlet"}, settings.without_concurrency({"eventlet"})) is None
    make_file(tmp_path / ".coveragerc", "[run]\nconcurrency = gevent\n    greenlet\n")
    settings = read_coverage_settings(tmp_path)
    assert settings is not None
    assert settings.without_concurrency({"gevent"}, greenlet=True).concurrency() == ["greenlet"]


GREEN_TASKS = """
import greenlet


def task(n):
    total = 0
    for i in range(n):
        total += i
        greenlet.getcurrent().parent.switch(total)
    if total > 1:
        total = -total
    return total
"""

GREEN_RUNNER = """
import greenlet

from svc.tasks import task


def run(n):
    worker = greenlet.greenlet(task)
    results = [worker.switch(n)]
    while not worker.dead:
        results.append(worker.switch())
    return results
"""


def _measure(root: Path, rcfile: Path) -> dict[str, object]:
    environ = clean_environ(PYTHONPATH=str(root))
    run = [sys.executable, "-m", "coverage"]
    for data in root.glob(".coverage*"):
        data.unlink()
    pytest_run = ["run", f"--rcfile={rcfile}", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:testfloor"]
    subprocess.run([*run, *pytest_run, "tests"], cwd=root, env=environ, capture_output=True, check=True)
    report = subprocess.run(
        [*run, "json", f"--rcfile={rcfile}", "-o", "-"], cwd=root, env=environ, capture_output=True, text=True
    )
    import json

    files = json.loads(report.stdout)["files"]
    return {name: (data["executed_lines"], data["executed_branches"]) for name, data in sorted(files.items())}


def test_a_gevent_suite_without_gevent_measures_what_greenlet_concurrency_measures(tmp_path: Path) -> None:
    from testfloor.coverageconfig import replacement, runnable_rcfile
    from testfloor.imports import absent

    make_file(tmp_path / ".coveragerc", "[run]\nbranch = True\nconcurrency = gevent\nsource = svc\n")
    make_file(tmp_path / "svc" / "__init__.py")
    make_file(tmp_path / "svc" / "tasks.py", GREEN_TASKS)
    make_file(tmp_path / "svc" / "runner.py", GREEN_RUNNER)
    make_file(
        tmp_path / "tests" / "test_runner.py",
        "from svc.runner import run\n\n\ndef test_run():\n    assert run(3) == [0, 1, 3, -3]\n",
    )
    rcfile, missing, runnable = runnable_rcfile(
        tmp_path, lambda: tmp_path / ".nox", lambda names: set(absent(sys.executable, names))
    )
    assert missing == {"gevent"}
    assert runnable is not None
    assert replacement(missing, runnable) == "greenlet"
    greenlet_rc = make_file(tmp_path / "greenlet.rc", "[run]\nbranch = True\nconcurrency = greenlet\nsource = svc\n")
    dropped_rc = make_file(tmp_path / "dropped.rc", "[run]\nbranch = True\nsource = svc\n")
    measured = _measure(tmp_path, Path(rcfile[0].removeprefix("--rcfile=")))
    assert measured == _measure(tmp_path, greenlet_rc)
    # Dropping the concurrency instead (what testfloor did before) follows the greenlets differently.
    assert measured != _measure(tmp_path, dropped_rc)
