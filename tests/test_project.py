from __future__ import annotations

from pathlib import Path

import pytest

from helpers import make_file
from testfloor.errors import ConfigError
from testfloor.project import describe


def test_a_project_is_read_once_into_one_description(tmp_path: Path) -> None:
    make_file(
        tmp_path / "pyproject.toml",
        """
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "svc"
        requires-python = ">=3.12"
        dependencies = ["fastapi>=0.110", "torch"]

        [tool.coverage.run]
        branch = true

        [tool.testfloor]
        stubs = ["torch"]
        """,
    )
    make_file(tmp_path / "src" / "svc" / "__init__.py")
    make_file(tmp_path / "backend" / "app" / "tests" / "test_api.py", "def test_api():\n    pass\n")
    project = describe(tmp_path)
    assert project.root == tmp_path
    assert project.config.stubs == ("torch",)
    assert [item.requirement for item in project.metadata.requirements] == ["fastapi>=0.110", "torch"]
    assert project.metadata.local == (".",)
    assert project.pythons == ("3.12", "3.13")
    assert project.test_roots == ("backend/app/tests",)
    assert project.packages == ("svc",)
    assert project.coverage is not None
    assert project.coverage.sections["run"]["branch"] == "true"


def test_the_environment_overrides_the_settings_only_when_asked(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\npython = ["3.11", "3.12"]\n')
    assert describe(tmp_path).pythons == ("3.11", "3.12")
    assert describe(tmp_path, environ={"TESTFLOOR_PYTHON": "3.13"}).pythons == ("3.13",)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("pytest.ini", "no section here\n", r"pytest.ini"),
        (".coveragerc", "[run\n", r": cannot read the coverage settings: File contains no section headers"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_line_naming_it(tmp_path: Path, name: str, text: str, message: str) -> None:
    make_file(tmp_path / name, text)
    with pytest.raises(ConfigError, match=message) as raised:
        describe(tmp_path)
    assert "\n" not in str(raised.value)
