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
