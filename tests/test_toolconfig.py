from __future__ import annotations

from pathlib import Path

import pytest

from helpers import make_file
from testfloor.errors import ConfigError
from testfloor.toolconfig import add_quarantine, add_values, editing, extend_list

COMMENTED = """\
# Service settings: keep this comment.
[project]
name = "service"   # inline comment

[tool.testfloor]
stubs = ["ray"]  # torch comes later
"""


def test_lists_grow_without_duplicates_and_comments_stay(tmp_path: Path) -> None:
    pyproject = make_file(tmp_path / "pyproject.toml", COMMENTED)
    assert extend_list(pyproject, "stubs", ["torch", "ray", "torch"]) == ["torch"]
    assert extend_list(pyproject, "pythonpath", ["src"]) == ["src"]
    text = pyproject.read_text()
    assert text.startswith(COMMENTED.split("stubs")[0])
    assert 'stubs = ["ray", "torch"]  # torch comes later' in text
    assert 'pythonpath = ["src"]' in text


def test_values_never_overwrite_what_is_there(tmp_path: Path) -> None:
    pyproject = make_file(tmp_path / "pyproject.toml", COMMENTED + '\n[tool.testfloor.env]\nA = "mine"\n')
    assert add_values(pyproject, {"A": "theirs", "B": "new"}, "env") == ["B"]
    assert 'A = "mine"' in pyproject.read_text()
    assert 'B = "new"' in pyproject.read_text()


def test_a_missing_file_is_created_with_only_the_table(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    add_values(pyproject, {"A": "1"}, "env")
    assert pyproject.read_text() == '[tool.testfloor.env]\nA = "1"\n'


def test_quarantine_entries_are_added_once(tmp_path: Path) -> None:
    pyproject = make_file(tmp_path / "pyproject.toml", COMMENTED)
    assert add_quarantine(pyproject, {"tests/test_b.py": "bug b", "tests/test_a.py": "bug a"}) == [
        "tests/test_a.py",
        "tests/test_b.py",
    ]
    assert add_quarantine(pyproject, {"tests/test_a.py": "again"}) == []
    assert pyproject.read_text().count("[[tool.testfloor.quarantine]]") == 2


def test_an_unchanged_document_is_not_rewritten(tmp_path: Path) -> None:
    pyproject = make_file(tmp_path / "pyproject.toml", COMMENTED)
    before = pyproject.stat().st_mtime_ns
    with editing(pyproject):
        pass
    assert pyproject.stat().st_mtime_ns == before


@pytest.mark.parametrize(
    ("text", "call", "message"),
    [
        ("[tool\n", lambda p: extend_list(p, "stubs", ["x"]), "cannot update"),
        (
            "[tool]\ntestfloor = 1\n",
            lambda p: extend_list(p, "stubs", ["x"]),
            r"\[tool.testfloor\]: testfloor is not a table",
        ),
        ("[tool.testfloor]\nstubs = 1\n", lambda p: extend_list(p, "stubs", ["x"]), "stubs: expected an array"),
        (
            "[tool.testfloor]\nquarantine = 1\n",
            lambda p: add_quarantine(p, {"a": "b"}),
            "quarantine: expected an array",
        ),
    ],
)
def test_a_file_that_cannot_be_edited_is_a_config_error(tmp_path: Path, text: str, call: object, message: str) -> None:
    pyproject = make_file(tmp_path / "pyproject.toml", text)
    with pytest.raises(ConfigError, match=message):
        call(pyproject)  # type: ignore[operator]
    assert pyproject.read_text() == text
