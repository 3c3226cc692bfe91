from __future__ import annotations

import pytest

from testfloor.poetry import dependencies, python_marker, requirement, specifier


def wanted(name: str) -> bool:
    return name in ("dev", "test")


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("^1.2.3", ">=1.2.3,<2.0.0"),
        ("^0.2.3", ">=0.2.3,<0.3.0"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("^0.0", ">=0.0,<0.1"),
        ("^1", ">=1,<2"),
        ("~1.2", ">=1.2,<1.3"),
        ("~1.2.3", ">=1.2.3,<1.3.0"),
        ("~1", ">=1,<2"),
        ("~=1.2", "~=1.2"),
        ("*", ""),
        ("", ""),
        ("1.2.3", "==1.2.3"),
        ("=1.2.3", "==1.2.3"),
        ("1.2.*", "==1.2.*"),
        (">=1,<2", ">=1,<2"),
        (">= 1 < 2", ">=1,<2"),
        ("^1.2, !=1.3.0", ">=1.2,<2.0,!=1.3.0"),
        ("^1.0 || ^2.0", ""),
    ],
)
def test_poetry_constraints_become_pep_440_specifiers(constraint: str, expected: str) -> None:
    assert specifier(constraint) == expected


@pytest.mark.parametrize("constraint", ["^banana", ">=1.*", "=<1", "^1 || >=1.*"])
def test_a_constraint_that_is_not_one_raises_value_error(constraint: str) -> None:
    with pytest.raises(ValueError, match=r"Invalid"):
        specifier(constraint)


def test_a_python_constraint_becomes_a_marker() -> None:
    assert python_marker("^3.10") == 'python_version >= "3.10" and python_version < "4.0"'
    assert python_marker(">=3.8.1") == 'python_full_version >= "3.8.1"'
    assert python_marker("*") == ""


def test_a_table_keeps_extras_and_joins_python_and_markers() -> None:
    table = {"version": "^2.0", "extras": ["asyncio"], "python": ">=3.11", "markers": "sys_platform == 'linux'"}
    assert requirement("sqlalchemy", table) == (
        "sqlalchemy[asyncio]>=2.0,<3.0; (python_version >= \"3.11\") and (sys_platform == 'linux')"
    )
    assert requirement("httpx", {"version": "*", "optional": True}) == "httpx"
    assert requirement("pytest", "^8.0") == "pytest>=8.0,<9.0"
    assert requirement("uvloop", {"markers": "sys_platform != 'win32'"}) == "uvloop; sys_platform != 'win32'"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"version": 2}, "version, python and markers must be strings"),
        ({"extras": "asyncio"}, "extras must be a list of strings"),
        ({"markers": "sys_platform ="}, "Expected"),
    ],
)
def test_a_table_that_cannot_be_read_raises_value_error(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        requirement("x", table)


def test_dependencies_come_from_main_wanted_groups_and_legacy_dev_dependencies() -> None:
    table = {
        "dependencies": {
            "python": "^3.12",
            "fastapi": "^0.110",
            "redis": {"version": "^5", "optional": True},
            "orjson": {"version": "^3", "optional": True},
            "httpx": [{"version": "^0.27", "python": "<3.12"}, {"version": "^0.28", "python": ">=3.12"}],
        },
        "extras": {"test": ["orjson"], "cache": ["redis"]},
        "group": {"dev": {"dependencies": {"pytest": "^8"}}, "docs": {"dependencies": {"sphinx": "*"}}},
        "dev-dependencies": {"freezegun": "*", "python": "*"},
    }
    assert list(dependencies(table, wanted)) == [
        ("tool.poetry.dependencies", "fastapi", "^0.110"),
        ("tool.poetry.dependencies", "orjson", {"version": "^3", "optional": True}),
        ("tool.poetry.dependencies", "httpx", {"version": "^0.27", "python": "<3.12"}),
        ("tool.poetry.dependencies", "httpx", {"version": "^0.28", "python": ">=3.12"}),
        ("tool.poetry.group.dev", "pytest", "^8"),
        ("tool.poetry.dev-dependencies", "freezegun", "*"),
        ("tool.poetry.dev-dependencies", "python", "*"),
    ]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"dependencies": []}, "dependencies must be a table"),
        ({"group": {"dev": []}}, "dev must be a table"),
        ({"extras": {"test": "orjson"}}, "extras must list dependency names"),
    ],
)
def test_poetry_tables_of_the_wrong_type_raise_value_error(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        list(dependencies(table, wanted))
