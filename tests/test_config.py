from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import make_file
from testfloor.config import (
    DEFAULT_BASELINE,
    EnvValue,
    Overrides,
    Quarantined,
    find_project_root,
    load_config,
    read_tool_table,
    toml_type,
)
from testfloor.errors import ConfigError


def write_pyproject(root: Path, text: str) -> Path:
    return make_file(root / "pyproject.toml", text)


def test_a_project_without_pyproject_gets_the_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.configured is False
    assert config.env == {}
    assert config.stubs == ()
    assert config.stub_mode == "missing"
    assert config.baseline == DEFAULT_BASELINE
    assert config.baseline_path == tmp_path / DEFAULT_BASELINE
    assert config.python == ()
    assert config.splits == 1
    assert config.warnings == ()


def test_a_pyproject_without_the_table_is_not_configured(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[project]\nname = "x"\n')
    assert load_config(tmp_path).configured is False


def test_every_key_is_read_into_its_type(tmp_path: Path) -> None:
    write_pyproject(
        tmp_path,
        """
        [tool.testfloor]
        stubs = ["torch", "ray", "torch"]
        stub_mode = "always"
        baseline = "cov/base.json"
        python = ["3.11", "3.12", "3.11"]
        loop_scope = "module"
        pythonpath = ["src", "libs", "src"]
        testpaths = ["tests"]
        import_mode = "importlib"
        subprojects = ["billing"]
        splits = 3

        [tool.testfloor.env]
        DATABASE_URL = "postgresql://u:p@localhost/db"
        WORKERS = 4
        RATIO = 0.5
        DEBUG = true
        QUIET = false
        JWT_SECRET = { value = "x" , override = true }
        PLAIN = { value = 1 }

        [[tool.testfloor.quarantine]]
        node = "tests/test_bug.py"
        reason = "NameError"
        """,
    )
    config = load_config(tmp_path)
    assert config.configured is True
    assert config.stubs == ("torch", "ray")
    assert config.stub_mode == "always"
    assert config.baseline_path == tmp_path / "cov" / "base.json"
    assert config.python == ("3.11", "3.12")
    assert (config.loop_scope, config.pythonpath, config.testpaths) == ("module", ("src", "libs"), ("tests",))
    assert (config.import_mode, config.subprojects, config.splits) == ("importlib", ("billing",), 3)
    assert config.quarantine == (Quarantined("tests/test_bug.py", "NameError"),)
    assert dict(config.env) == {
        "DATABASE_URL": EnvValue("postgresql://u:p@localhost/db"),
        "WORKERS": EnvValue("4"),
        "RATIO": EnvValue("0.5"),
        "DEBUG": EnvValue("true"),
        "QUIET": EnvValue("false"),
        "JWT_SECRET": EnvValue("x", override=True),
        "PLAIN": EnvValue("1"),
    }


def test_unknown_keys_warn_instead_of_failing(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.testfloor]\nstubz = ["torch"]\nbaseline = "b.json"\n')
    config = load_config(tmp_path)
    assert config.baseline == "b.json"
    assert config.warnings == (f"{tmp_path / 'pyproject.toml'}: [tool.testfloor]: unknown key 'stubz' (ignored)",)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('stubs = "torch"', 'stubs: expected an array of module names like ["torch"], got string'),
        ('stubs = ["torch.nn"]', "stubs: 'torch.nn' is not a top-level module name (submodules follow their package)"),
        ('stubs = ["9lives"]', "stubs: '9lives' is not a module name"),
        ("stubs = [1]", "stubs: expected module names (strings), got integer"),
        ('stub_mode = "sometimes"', "stub_mode: expected one of 'missing', 'always', got 'sometimes'"),
        ("stub_mode = true", "stub_mode: expected one of 'missing', 'always', got boolean"),
        ("baseline = 3", "baseline: expected a file path, got integer"),
        ('baseline = " "', "baseline: expected a file path, got an empty string"),
        ("python = [3.10]", 'python: 3.1 is a TOML float; write versions as strings, like "3.10"'),
        ('python = "3.12"', 'python: expected an array of versions like ["3.12"], got string'),
        ('python = ["3"]', "python: expected versions like \"3.12\", got '3'"),
        ("python = [[1]]", 'python: expected versions like "3.12", got array'),
        ("env = 1", "env: expected a table of NAME = value, got integer"),
        ("env = { A = [1] }", "env: A: expected a string, number or boolean, got array"),
        ("env = { A = 1979-05-27 }", "env: A: expected a string, number or boolean, got date"),
        ("env = { A = 1979-05-27T07:32:00 }", "env: A: expected a string, number or boolean, got datetime"),
        ("env = { A = 07:32:00 }", "env: A: expected a string, number or boolean, got time"),
        ('env = { A = { valu = "x" } }', 'env: A: expected a table with "value" and optionally "override"'),
        ('env = { A = { value = "x", extra = 1 } }', 'env: A: expected a table with "value" and optionally "override"'),
        ('env = { A = { value = "x", override = "yes" } }', "env: A: override: expected a boolean, got string"),
        ("env = { A = { value = {} } }", "env: A: expected a string, number or boolean, got table"),
        ('env = { "A=B" = "x" }', "env: 'A=B' is not a valid environment variable name"),
        ('env = { "" = "x" }', "env: '' is not a valid environment variable name"),
        (
            'loop_scope = "forever"',
            "loop_scope: expected one of 'session', 'package', 'module', 'class', 'function', 'keep', got 'forever'",
        ),
        ('pythonpath = "src"', 'pythonpath: expected an array of paths like ["src"], got string'),
        ('testpaths = [""]', 'testpaths: expected an array of paths like ["src"], got array'),
        ('import_mode = "importlb"', "import_mode: expected one of 'prepend', 'append', 'importlib', got 'importlb'"),
        ("quarantine = 1", "quarantine: expected an array of tables with node and reason, got integer"),
        ('quarantine = [{ node = "t.py" }]', 'quarantine: each entry needs exactly "node" and "reason"'),
        ('quarantine = [{ node = "t.py", reason = " " }]', 'quarantine: "node" and "reason" must be non-empty strings'),
        ("splits = 0", "splits: expected a number of jobs, 1 or more, got 0"),
        ("splits = -1", "splits: expected a number of jobs, 1 or more, got -1"),
        ('splits = "two"', "splits: expected a number of jobs, 1 or more, got string"),
        ('splits = "2"', "splits: expected a number of jobs, 1 or more, got string"),
        ("splits = true", "splits: expected a number of jobs, 1 or more, got boolean"),
        ("splits = 2.0", "splits: expected a number of jobs, 1 or more, got float"),
    ],
)
def test_a_wrong_value_is_one_line_naming_the_file_and_key(tmp_path: Path, body: str, message: str) -> None:
    write_pyproject(tmp_path, f"[tool.testfloor]\n{body}\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(tmp_path)
    assert str(excinfo.value) == f"{tmp_path / 'pyproject.toml'}: [tool.testfloor] {message}"
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool.testfloor\n", "invalid TOML"),
        ("tool = 1\n", "[tool]: expected a table, got integer"),
        ("[tool]\ntestfloor = 1\n", "[tool.testfloor]: expected a table, got integer"),
    ],
)
def test_a_broken_pyproject_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    write_pyproject(tmp_path, text)
    with pytest.raises(ConfigError, match=re.escape(message)) as excinfo:
        load_config(tmp_path)
    assert str(excinfo.value).startswith(f"{tmp_path / 'pyproject.toml'}: ")


def test_an_unreadable_pyproject_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ConfigError, match="cannot read"):
        read_tool_table(tmp_path / "pyproject.toml")


def test_a_pyproject_that_is_a_directory_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)


def test_the_environment_overrides_pyproject_and_the_command_line_overrides_both(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.testfloor]\nbaseline = "a.json"\npython = ["3.10"]\nstubs = ["torch"]\n')
    environ = {
        "TESTFLOOR_BASELINE": "b.json",
        "TESTFLOOR_PYTHON": "3.11, 3.12,",
        "TESTFLOOR_STUBS": "ray",
        "TESTFLOOR_STUB_MODE": "always",
        "UNRELATED": "x",
    }
    from_env = load_config(tmp_path, environ=environ)
    assert (from_env.baseline, from_env.python, from_env.stubs, from_env.stub_mode) == (
        "b.json",
        ("3.11", "3.12"),
        ("ray",),
        "always",
    )
    from_cli = load_config(tmp_path, environ=environ, overrides=Overrides(baseline="c.json", stub_mode="missing"))
    assert (from_cli.baseline, from_cli.python, from_cli.stub_mode) == ("c.json", ("3.11", "3.12"), "missing")


def test_splits_come_from_the_environment_as_a_whole_number(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "[tool.testfloor]\nsplits = 2\n")
    assert load_config(tmp_path).splits == 2
    assert load_config(tmp_path, environ={"TESTFLOOR_SPLITS": "4"}).splits == 4
    for text, shown in [("0", "0"), ("-1", "-1"), ("two", "string"), ("true", "string"), ("2.5", "float")]:
        with pytest.raises(ConfigError) as excinfo:
            load_config(tmp_path, environ={"TESTFLOOR_SPLITS": text})
        assert str(excinfo.value) == f"environment: TESTFLOOR_SPLITS: expected a number of jobs, 1 or more, got {shown}"


def test_the_environment_is_ignored_unless_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTFLOOR_BASELINE", "b.json")
    assert load_config(tmp_path).baseline == DEFAULT_BASELINE


def test_an_unknown_testfloor_variable_warns(tmp_path: Path) -> None:
    config = load_config(tmp_path, environ={"TESTFLOOR_BASLINE": "x"})
    assert config.warnings == ("environment: unknown variable TESTFLOOR_BASLINE (ignored)",)


def test_a_bad_testfloor_variable_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^environment: TESTFLOOR_STUBS: 'torch\.nn' is not a top-level"):
        load_config(tmp_path, environ={"TESTFLOOR_STUBS": "torch.nn"})


def test_the_project_root_is_the_nearest_directory_with_a_pyproject(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_project_root(nested) == tmp_path.resolve()


def test_without_any_pyproject_the_start_is_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Path, "is_file", lambda self: False)
    assert find_project_root(tmp_path) == tmp_path.resolve()


def test_toml_types_are_named_as_toml_names_them() -> None:
    assert [toml_type(value) for value in (True, 1, 1.5, "s", [], {})] == [
        "boolean",
        "integer",
        "float",
        "string",
        "array",
        "table",
    ]


def test_a_sub_project_run_takes_the_root_its_session_names(tmp_path: Path) -> None:
    write_pyproject(tmp_path / "billing", '[project]\nname = "billing"\n')
    assert find_project_root(tmp_path / "billing") == (tmp_path / "billing").resolve()
    environ = {"_TESTFLOOR_ROOT": str(tmp_path)}
    assert find_project_root(tmp_path / "billing", environ) == tmp_path.resolve()
    assert find_project_root(tmp_path / "billing", {"_TESTFLOOR_ROOT": ""}) == (tmp_path / "billing").resolve()
