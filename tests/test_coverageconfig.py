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
