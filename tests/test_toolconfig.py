from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helpers import make_file
from testfloor.errors import ConfigError
from testfloor.toolconfig import add_quarantine, add_values, editing, extend_list, set_value, with_missing

if TYPE_CHECKING:
    from collections.abc import Callable

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

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


def read_settings(pyproject: Path) -> dict[str, object]:
    return tomllib.loads(pyproject.read_text())["tool"]["testfloor"]  # type: ignore[no-any-return]


EDITS = {
    "stubs": (lambda p: extend_list(p, "stubs", ["torch"]), {"stubs": ["torch"]}),
    "quarantine": (lambda p: add_quarantine(p, {"t2.py": "bug"}), {"quarantine": [{"node": "t2.py", "reason": "bug"}]}),
    "env": (lambda p: add_values(p, {"B": "2"}, "env"), {"env": {"B": "2"}}),
    "python": (lambda p: set_value(p, "python", ["3.12"]), {"python": ["3.12"]}),
}
LAYOUTS = {
    "dotted keys under [tool]": (
        '[project]\nname = "x"\n\n[tool]\ntestfloor.baseline = "b.json"\n\n[tool.other]\nk = 1\n'
    ),
    "top-level dotted keys": 'tool.testfloor.baseline = "b.json"\n\n[tool.testfloor.env]\nA = "1"\n',
    "an inline table": '[project]\nname = "x"\n\n[tool]\ntestfloor = { baseline = "b.json" }\n',
    "an inline quarantine array": (
        '[tool.testfloor]\nbaseline = "b.json"\nquarantine = [{ node = "t.py", reason = "r" }]\n'
    ),
    "CRLF line ends": '# top\r\n[project]\r\nname = "x"\r\n\r\n[tool.testfloor]\r\nbaseline = "b.json"\r\n',
}


def outside_lines(lines: list[str]) -> list[str]:
    """The lines of the fixed layouts above that are not testfloor's settings."""
    kept, ours = [], False
    for line in lines:
        if line.startswith("["):
            ours = "testfloor" in line
        if not ours and not line.startswith(("testfloor", "tool.testfloor")):
            kept.append(line)
    return kept


def merged(before: dict[str, object], change: dict[str, object]) -> dict[str, object]:
    result = dict(before)
    for key, value in change.items():
        old = result.get(key)
        if isinstance(old, list) and isinstance(value, list):
            result[key] = old + value
        elif isinstance(old, dict) and isinstance(value, dict):
            result[key] = {**old, **value}
        else:
            result[key] = value
    return result


@pytest.mark.parametrize("edit", sorted(EDITS))
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_is_edited_exactly_or_refused_untouched(tmp_path: Path, layout: str, edit: str) -> None:
    text = LAYOUTS[layout]
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_bytes(text.encode())
    call, change = EDITS[edit]
    before = tomllib.loads(text)
    try:
        call(pyproject)
    except ConfigError as err:
        refused = str(err)
    else:
        refused = ""
    if refused:
        assert pyproject.read_bytes() == text.encode()
        assert refused.startswith(f"{pyproject}: cannot update [tool.testfloor] written as ")
        assert "\n" not in refused
        return
    new = pyproject.read_bytes().decode()
    after = tomllib.loads(new)
    assert read_settings(pyproject) == merged(before["tool"]["testfloor"], change)
    assert {k: v for k, v in after.items() if k != "tool"} == {k: v for k, v in before.items() if k != "tool"}
    old_lines = text.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    outside = outside_lines(old_lines)
    remaining = iter(new_lines)
    assert all(line in remaining for line in outside)  # kept, in order, byte for byte
    if "\r\n" in text:
        assert new.count("\n") == new.count("\r\n")


@pytest.mark.parametrize(
    ("layout", "edit"),
    [("CRLF line ends", "quarantine"), ("CRLF line ends", "env"), ("an inline quarantine array", "quarantine")],
)
def test_the_layouts_testfloor_can_keep_are_edited(tmp_path: Path, layout: str, edit: str) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_bytes(LAYOUTS[layout].encode())
    EDITS[edit][0](pyproject)
    assert read_settings(pyproject) != tomllib.loads(LAYOUTS[layout])["tool"]["testfloor"]


@pytest.mark.parametrize(
    ("layout", "edit", "named"),
    [
        ("dotted keys under [tool]", "quarantine", r"dotted keys under \[tool\]"),
        ("an inline table", "env", "an inline table"),
        ("an inline table", "quarantine", "an inline table"),
    ],
)
def test_a_layout_the_edit_cannot_keep_is_named_and_nothing_is_written(
    tmp_path: Path, layout: str, edit: str, named: str
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_bytes(LAYOUTS[layout].encode())
    with pytest.raises(ConfigError, match=f"cannot update \\[tool.testfloor\\] written as {named}"):
        EDITS[edit][0](pyproject)
    assert pyproject.read_bytes() == LAYOUTS[layout].encode()


def test_new_tables_are_set_off_by_a_blank_line(tmp_path: Path) -> None:
    pyproject = make_file(tmp_path / "pyproject.toml", '[project]\nname = "x"\n[tool.testfloor]\nstubs = ["ray"]\n')
    add_quarantine(pyproject, {"t.py": "bug"})
    add_values(pyproject, {"A": "1"}, "env")
    text = pyproject.read_text()
    assert '[project]\nname = "x"\n[tool.testfloor]\n' in text  # the project's own layout stays
    assert 'stubs = ["ray"]\n\n[[tool.testfloor.quarantine]]\n' in text
    assert '\n\n[tool.testfloor.env]\nA = "1"\n' in text


TABLES_AFTER = '[project]\nname = "x"\n\n[tool.black]\nline-length = 88\n[build-system]\nrequires = []\n'
SETTINGS_THEN_RUFF = '[tool.testfloor]\npython = ["3.11"]\n\n[tool.ruff]\nline-length = 100\n'
QUARANTINE_THEN_RUFF = (
    '[tool.testfloor]\npython = ["3.11"]\n\n[[tool.testfloor.quarantine]]\nnode = "a.py"\nreason = "r"\n\n'
    "[tool.ruff]\nline-length = 100\n"
)


@pytest.mark.parametrize(
    ("before", "edit", "after"),
    [
        (
            TABLES_AFTER,
            lambda p: extend_list(p, "stubs", ["torch"]),
            '[project]\nname = "x"\n\n[tool.black]\nline-length = 88\n\n[tool.testfloor]\nstubs = ["torch"]\n\n'
            "[build-system]\nrequires = []\n",
        ),
        (
            TABLES_AFTER,
            lambda p: add_values(p, {"B": "2"}, "env"),
            '[project]\nname = "x"\n\n[tool.black]\nline-length = 88\n\n[tool.testfloor.env]\nB = "2"\n\n'
            "[build-system]\nrequires = []\n",
        ),
        (
            SETTINGS_THEN_RUFF,
            lambda p: add_quarantine(p, {"b.py": "bug"}),
            '[tool.testfloor]\npython = ["3.11"]\n\n[[tool.testfloor.quarantine]]\nnode = "b.py"\nreason = "bug"\n\n'
            "[tool.ruff]\nline-length = 100\n",
        ),
        (
            QUARANTINE_THEN_RUFF,
            lambda p: add_quarantine(p, {"b.py": "bug"}),
            '[tool.testfloor]\npython = ["3.11"]\n\n[[tool.testfloor.quarantine]]\nnode = "a.py"\nreason = "r"\n\n'
            '[[tool.testfloor.quarantine]]\nnode = "b.py"\nreason = "bug"\n\n[tool.ruff]\nline-length = 100\n',
        ),
        (
            SETTINGS_THEN_RUFF.replace("\n", "\r\n"),
            lambda p: add_values(p, {"B": "2"}, "env"),
            '[tool.testfloor]\r\npython = ["3.11"]\r\n\r\n[tool.testfloor.env]\r\nB = "2"\r\n\r\n'
            "[tool.ruff]\r\nline-length = 100\r\n",
        ),
        (
            '[tool.testfloor]\nstubs = ["ray"]\n[tool.ruff]\nline-length = 100\n',
            lambda p: extend_list(p, "stubs", ["torch"]),
            '[tool.testfloor]\nstubs = ["ray", "torch"]\n[tool.ruff]\nline-length = 100\n',
        ),
    ],
    ids=["settings", "env table", "quarantine", "second quarantine entry", "CRLF", "a value edit keeps the layout"],
)
def test_a_table_added_before_another_table_is_followed_by_a_blank_line(
    tmp_path: Path, before: str, edit: Callable[[Path], object], after: str
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_bytes(before.encode())
    edit(pyproject)
    assert pyproject.read_bytes() == after.encode()


def test_toml_nested_too_deeply_is_one_config_error(tmp_path: Path) -> None:
    text = "x = " + "[" * 3000 + "]" * 3000 + "\n"
    pyproject = make_file(tmp_path / "pyproject.toml", text)
    with pytest.raises(ConfigError, match="cannot update: "):
        extend_list(pyproject, "stubs", ["x"])
    assert pyproject.read_text() == text


def test_an_edit_that_would_read_back_otherwise_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tomlkit

    pyproject = make_file(tmp_path / "pyproject.toml", COMMENTED)
    monkeypatch.setattr(tomlkit, "dumps", lambda document: COMMENTED.replace("[project]", "[tool.testfloor.env]"))
    with pytest.raises(ConfigError, match="cannot update this layout: the edit would not read back"):
        extend_list(pyproject, "stubs", ["torch"])
    assert pyproject.read_text() == COMMENTED


def test_an_edit_that_changes_a_line_outside_the_table_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tomlkit

    pyproject = make_file(tmp_path / "pyproject.toml", COMMENTED)
    real = tomlkit.dumps
    monkeypatch.setattr(tomlkit, "dumps", lambda document: real(document).replace("keep this", "dropped"))
    with pytest.raises(ConfigError, match="the edit would not read back"):
        extend_list(pyproject, "stubs", ["torch"])
    assert pyproject.read_text() == COMMENTED


def test_an_edit_the_layout_would_lose_silently_is_refused(tmp_path: Path) -> None:
    from testfloor.errors import ConfigError
    from testfloor.toolconfig import add_quarantine

    text = "[[tool.testfloor.quarantine]]\n[project]\n[[tool.testfloor.quarantine]]\n"
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(text)
    with pytest.raises(ConfigError, match="cannot update"):
        add_quarantine(pyproject, {"tests/t9.py": "bug"})
    assert pyproject.read_text() == text


def test_with_missing_adds_only_the_keys_the_table_lacks_and_keeps_the_rest_byte_for_byte(tmp_path: Path) -> None:
    text = '[tool.testfloor]\npython = ["3.9"]\n\n[tool.testfloor.env]\nA = "1"\n\n[tool.other]\nx = 1\n'
    values = {"python": ["3.12"], "install": ["."]}
    after = with_missing(tmp_path / "pyproject.toml", text, values, {"install": "installed without dependencies"})
    settings = tomllib.loads(after)["tool"]
    assert settings["testfloor"] == {"python": ["3.9"], "install": ["."], "env": {"A": "1"}}
    assert settings["other"] == {"x": 1}
    assert 'install = ["."]  # installed without dependencies\n\n[tool.testfloor.env]' in after
    assert with_missing(tmp_path / "pyproject.toml", after, values, {}) == after


@pytest.mark.parametrize("text", ["[tool]\ntestfloor = 3\n", '[tool]\ntestfloor = "x"\n'])
def test_with_missing_refuses_a_layout_it_cannot_extend(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match=r"pyproject\.toml: cannot update"):
        with_missing(tmp_path / "pyproject.toml", text, {"python": ["3.12"]}, {"python": "the Pythons"})
