from __future__ import annotations

from pathlib import Path

import pytest

from helpers import make_file
from testfloor.classify import Diagnosis, classify, distribution, find_local_package, plugin_distributions
from testfloor.collect import Cause, CollectError


def error(*chain: Cause, message: str = "E   boom", nodeid: str = "tests/test_x.py") -> CollectError:
    return CollectError(nodeid, message, chain)


def missing(name: str, path: str = "tests/test_x.py") -> Cause:
    return Cause("builtins.ModuleNotFoundError", f"No module named '{name}'", name, path, 1)


def test_a_missing_heavy_module_is_stubbed(tmp_path: Path) -> None:
    wrapped = Cause("_pytest.nodes.Collector.CollectError", "ImportError while importing test module")
    diagnosis = classify(error(wrapped, missing("ray.tune")), tmp_path)
    cause = "ModuleNotFoundError: No module named 'ray.tune'"
    assert diagnosis == Diagnosis("tests/test_x.py", "missing_heavy", "ray", cause, "tests/test_x.py", 1, "stub")
    assert not diagnosis.is_project_bug
    assert diagnosis.where == "tests/test_x.py:1"


def test_a_missing_light_module_is_installed(tmp_path: Path) -> None:
    assert classify(error(missing("freezegun")), tmp_path).fix == "install"


def test_a_heavy_module_behind_a_broken_fallback_is_found_in_the_context(tmp_path: Path) -> None:
    name_error = Cause("builtins.NameError", "name 'log' is not defined", None, "app/model.py", 5)
    diagnosis = classify(error(name_error, missing("torch", "app/model.py")), tmp_path)
    assert (diagnosis.kind, diagnosis.subject, diagnosis.where) == ("missing_heavy", "torch", "app/model.py:1")


def test_a_missing_module_the_project_has_is_a_path_problem(tmp_path: Path) -> None:
    make_file(tmp_path / "libs" / "shared" / "common" / "__init__.py")
    make_file(tmp_path / "node_modules" / "other" / "__init__.py")
    diagnosis = classify(error(missing("common.util")), tmp_path)
    assert (diagnosis.kind, diagnosis.subject, diagnosis.fix) == ("missing_local", "libs/shared", "pythonpath")
    assert find_local_package(tmp_path, "other") is None
    make_file(tmp_path / "helpers.py")
    assert find_local_package(tmp_path, "helpers") == "."


def test_a_missing_submodule_of_the_standard_library_is_not_installed(tmp_path: Path) -> None:
    assert classify(error(missing("os.nothing")), tmp_path).kind == "other"


def test_settings_that_fail_validation_get_env_values(tmp_path: Path) -> None:
    cause = Cause("pydantic_core._pydantic_core.ValidationError", "2 validation errors for Settings", None,
                  "app/config.py", 9, "Settings", ("database_url", "jwt_secret"))  # fmt: skip
    diagnosis = classify(error(cause), tmp_path)
    assert (diagnosis.kind, diagnosis.subject, diagnosis.fix) == ("settings", "Settings", "env")
    assert diagnosis.cause == "Settings: missing or invalid database_url, jwt_secret"


def test_a_validation_error_of_another_library_is_not_settings(tmp_path: Path) -> None:
    cause = Cause("marshmallow.exceptions.ValidationError", "bad", None, "app/schema.py", 3)
    assert classify(error(cause), tmp_path).kind == "other"


@pytest.mark.parametrize(
    ("type_name", "kind", "fix"),
    [
        ("pydantic_settings.exceptions.SettingsError", "settings_parse", None),
        ("_pytest.pathlib.ImportPathMismatchError", "import_mismatch", "subprojects"),
        ("builtins.SystemExit", "script", "testpaths"),
        ("builtins.SyntaxError", "syntax", None),
        ("builtins.ImportError", "import_name", None),
        ("builtins.RuntimeError", "other", None),
    ],
)
def test_each_kind_of_error_has_its_fix_or_is_a_project_bug(
    tmp_path: Path, type_name: str, kind: str, fix: str | None
) -> None:
    diagnosis = classify(error(Cause(type_name, "message", None, "src/m.py", 2)), tmp_path)
    assert (diagnosis.kind, diagnosis.fix, diagnosis.is_project_bug) == (kind, fix, fix is None)
    assert diagnosis.cause.endswith(": message")


def test_a_duplicate_conftest_seen_only_in_text_is_an_import_mismatch(tmp_path: Path) -> None:
    cause = Cause("builtins.ValueError", "Plugin already registered under a different name")
    diagnosis = classify(error(cause, message="ValueError: Plugin already registered under a different name"), tmp_path)
    assert diagnosis.kind == "import_mismatch"


@pytest.mark.parametrize("in_chain", [False, True])
def test_a_plugin_module_registered_under_two_names_is_configuration_never_a_bug(
    tmp_path: Path, in_chain: bool
) -> None:
    text = "Plugin already registered under a different name: randomly=<module 'pytest_randomly' from 'x.py'>"
    chain = (Cause("builtins.ValueError", text, None, "tests/conftest.py", 1),) if in_chain else ()
    diagnosis = classify(error(*chain, message=text if not in_chain else "E   boom", nodeid=""), tmp_path)
    assert (diagnosis.kind, diagnosis.subject, diagnosis.fix) == ("plugin_twice", "pytest_randomly", "configure")
    assert diagnosis.cause == "Plugin already registered under a different name: randomly=pytest_randomly"
    assert diagnosis.where == ("tests/conftest.py:1" if in_chain else "<root>")
    assert not diagnosis.is_project_bug


def test_a_conftest_registered_under_two_names_stays_an_import_mismatch(tmp_path: Path) -> None:
    text = (
        "Plugin already registered under a different name: /p/b/conftest.py=<module 'conftest' from '/p/a/conftest.py'>"
    )
    cause = Cause("builtins.ValueError", text)
    assert classify(error(cause, message=f"ValueError: {text}"), tmp_path).kind == "import_mismatch"


def test_without_a_chain_the_text_still_names_a_missing_module(tmp_path: Path) -> None:
    diagnosis = classify(error(message="E   ModuleNotFoundError: No module named 'torch'"), tmp_path)
    assert (diagnosis.kind, diagnosis.subject, diagnosis.where) == ("missing_heavy", "torch", "tests/test_x.py")
    other = classify(error(message="E   something else", nodeid=""), tmp_path)
    assert (other.kind, other.where) == ("other", "<root>")


def test_the_error_is_placed_where_the_project_raised_it(tmp_path: Path) -> None:
    outer = Cause("builtins.RuntimeError", "wrapped")
    inner = Cause("builtins.KeyError", "'x'", None, "src/app.py", 7)
    assert classify(error(outer, inner), tmp_path).where == "src/app.py:7"
    assert classify(error(outer), tmp_path).where == "tests/test_x.py"
    located = Diagnosis("n", "other", "", "c", "src/a.py")
    assert located.where == "src/a.py"


@pytest.mark.parametrize(
    ("module", "name"),
    [("yaml", "PyYAML"), ("sklearn", "scikit-learn"), ("some_lib", "some-lib"), ("google.protobuf.x", "protobuf")],
)
def test_distributions_are_named_as_pypi_names_them(module: str, name: str) -> None:
    assert distribution(module) == name


@pytest.mark.parametrize(
    ("name", "distributions"),
    [
        ("xdist", ("pytest-xdist",)),
        ("xdist.looponfail", ("pytest-xdist",)),
        ("randomly", ("pytest-randomly",)),
        ("cov", ("pytest-cov",)),
        ("timeout", ("pytest-timeout",)),
        ("httpx", ("pytest-httpx",)),
        ("pytest_timeout", ("pytest-timeout",)),
        ("pytest_django", ("pytest-django",)),
        ("pytest_foo_bar", ("pytest-foo-bar",)),
        ("foo_bar", ("pytest-foo-bar", "foo-bar")),
    ],
)
def test_a_plugin_is_named_as_its_pytest_distribution_never_as_a_namesake(
    name: str, distributions: tuple[str, ...]
) -> None:
    assert plugin_distributions(name) == distributions


def test_a_plugin_pytest_cannot_import_is_a_plugin_to_install_not_a_light_module(tmp_path: Path) -> None:
    message = """ERROR: Error importing plugin "xdist": No module named 'xdist'"""
    diagnosis = classify(CollectError("", message), tmp_path)
    assert (diagnosis.kind, diagnosis.subject, diagnosis.fix) == ("missing_plugin", "xdist", "install")
    assert diagnosis.cause == """Error importing plugin "xdist": No module named 'xdist'"""
    # Any other missing module at the root stays a light one.
    other = classify(CollectError("", "E   ModuleNotFoundError: No module named 'xdist'"), tmp_path)
    assert (other.kind, other.subject) == ("missing_light", "xdist")


@pytest.mark.parametrize(
    ("kind", "message", "version"),
    [
        ("RuntimeError", "svc requires Python 3.12", "3.12"),
        ("RuntimeError", "This package requires Python >= 3.11.", "3.11"),
        ("ImportError", "Python 3.12+ is required", "3.12"),
        ("SystemExit", "python 3.13 or newer is required to run this", "3.13"),
        ("RuntimeError", "only supports Python version 3.12 and above", "3.12"),
        ("Exception", "needs python>=3.11 (found 3.10)", "3.11"),
    ],
)
def test_code_that_states_a_python_requirement_at_import_is_an_interpreter_problem(
    tmp_path: Path, kind: str, message: str, version: str
) -> None:
    diagnosis = classify(error(Cause(f"builtins.{kind}", message, None, "svc/__init__.py", 3)), tmp_path)
    assert (diagnosis.kind, diagnosis.subject, diagnosis.fix) == ("python_version", version, "python")
    assert not diagnosis.is_project_bug


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("RuntimeError", "cannot reach the database at 3.12.0.1"),
        ("ValueError", "requires Python 3.12"),  # a value the code checks, not the interpreter it runs on
        ("RuntimeError", "the python client requires a token"),
    ],
)
def test_other_errors_that_mention_python_are_not_an_interpreter_problem(
    tmp_path: Path, kind: str, message: str
) -> None:
    assert classify(error(Cause(f"builtins.{kind}", message, None, "svc/x.py", 3)), tmp_path).kind == "other"


@pytest.mark.parametrize(
    ("message", "package"),
    [
        ("The starlette.testclient module requires the httpx package to be installed.", "httpx"),
        ('Form data requires "python-multipart" to be installed.', "python-multipart"),
        ("redis is not available: run `pip install redis` first", "redis"),
    ],
)
def test_code_that_asks_for_a_package_by_name_gets_it_installed(tmp_path: Path, message: str, package: str) -> None:
    diagnosis = classify(error(Cause("builtins.RuntimeError", message, None, "app/api.py", 3)), tmp_path)
    assert (diagnosis.kind, diagnosis.subject, diagnosis.fix) == ("missing_light", package, "install")


def test_a_heavy_name_is_never_a_local_file_of_the_same_name(tmp_path: Path) -> None:
    make_file(tmp_path / "schemas" / "pkg" / "datasets.py")
    assert classify(error(missing("datasets")), tmp_path).kind == "missing_heavy"


def test_an_import_root_that_would_shadow_the_standard_library_is_never_chosen(tmp_path: Path) -> None:
    make_file(tmp_path / "schemas" / "pkg" / "mymod.py")
    make_file(tmp_path / "schemas" / "pkg" / "secrets.py")
    assert find_local_package(tmp_path, "mymod") is None
    make_file(tmp_path / "schemas" / "pkg" / "email" / "notes.txt")  # a plain directory shadows nothing
    (tmp_path / "schemas" / "pkg" / "secrets.py").unlink()
    assert find_local_package(tmp_path, "mymod") == "schemas/pkg"


def test_a_dotted_import_finds_the_root_of_a_namespace_package_not_a_module_of_the_same_name(tmp_path: Path) -> None:
    make_file(tmp_path / "a" / "evaluator.py")
    make_file(tmp_path / "services" / "jobs" / "evaluator" / "definition.py", "class Definition:\n    pass\n")
    make_file(tmp_path / "tests" / "test_x.py", "from evaluator.definition import Definition\n")
    cause = Cause("builtins.ModuleNotFoundError", "No module named 'evaluator'", "evaluator", "tests/test_x.py", 1)
    assert classify(error(cause), tmp_path).subject == "services/jobs"
    # Without the source line, the module of that name is what there is to go on.
    assert classify(error(missing("evaluator", "tests/gone.py")), tmp_path).subject == "a"
    assert classify(error(message="E   ModuleNotFoundError: No module named 'evaluator'"), tmp_path).subject == "a"


def test_a_quarantine_reason_is_short_stable_relative_and_says_what_kind_of_problem_it_is(tmp_path: Path) -> None:
    site = "/opt/venv/lib/python3.12/site-packages/pydantic/main.py"
    long = "x" * 300
    bug = Cause("builtins.TypeError", f"<Model object at 0x7f3a2b1c9d80> in {site} and {tmp_path}/src/a.py {long}")
    reason = classify(error(bug), tmp_path).quarantine_reason
    assert reason.startswith(
        "project bug: TypeError: <Model object at 0x...> in site-packages/pydantic/main.py and src/a.py"
    )
    assert reason.endswith("... (tests/test_x.py)")
    assert len(reason) < 240
    assert str(tmp_path) not in reason
    service = Cause("redis.exceptions.ConnectionError", "Error 111 connecting to localhost:6379. Connection refused.")
    assert classify(error(service), tmp_path).quarantine_reason.startswith("needs a service: ConnectionError: ")
    network = Cause("socket.gaierror", "[Errno -3] Temporary failure in name resolution")
    assert classify(error(network), tmp_path).quarantine_reason.startswith("needs the network: gaierror: ")


def test_sub_projects_are_found_at_any_depth_with_their_own_configuration_or_metadata(tmp_path: Path) -> None:
    from testfloor.classify import find_subprojects

    test = "def test_it():\n    pass\n"
    make_file(tmp_path / "platform" / "services" / "backend" / "pytest.ini", "[pytest]\nasyncio_mode = auto\n")
    make_file(tmp_path / "platform" / "services" / "backend" / "app" / "tests" / "test_api.py", test)
    make_file(tmp_path / "jobs" / "ingest" / "pyproject.toml", '[project]\nname = "ingest"\n')
    make_file(tmp_path / "jobs" / "ingest" / "test_ingest.py", test)
    make_file(tmp_path / "sdk" / "tests" / "conftest.py")  # the older sign: a tests/conftest.py of its own
    make_file(tmp_path / "sdk" / "tests" / "test_sdk.py", test)
    make_file(tmp_path / "schemas" / "pyproject.toml", "[tool.ruff]\nline-length = 100\n")  # tool settings only
    make_file(tmp_path / "schemas" / "test_schemas.py", test)
    make_file(tmp_path / "docs" / "setup.py", "")  # metadata, but no tests
    make_file(tmp_path / "jobs" / "ingest" / "plugins" / "pytest.ini", "[pytest]\n")  # inside another: part of it
    make_file(tmp_path / "jobs" / "ingest" / "plugins" / "test_plugin.py", test)
    make_file(tmp_path / "broken" / "pyproject.toml", "[tool.pytest.ini_options\n")
    make_file(tmp_path / "broken" / "test_broken.py", test)
    assert find_subprojects(tmp_path) == ["jobs/ingest", "platform/services/backend", "sdk"]


def test_tests_outside_every_sub_project_are_a_run_of_their_own(tmp_path: Path) -> None:
    from testfloor.config import load_config

    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\nsubprojects = ["billing"]\n')
    make_file(tmp_path / "billing" / "tests" / "test_api.py")
    assert load_config(tmp_path).pytest_runs == [("billing", ["--rootdir", "billing", "billing"])]
    make_file(tmp_path / "schemas" / "test_schemas.py")
    make_file(tmp_path / "tests" / "test_root.py")
    assert load_config(tmp_path).pytest_runs[1] == ("", ["--ignore=billing", "schemas", "tests"])


def test_a_name_missing_from_a_module_another_folder_also_has_is_a_name_clash(tmp_path: Path) -> None:
    wrong = Cause("builtins.ImportError", "cannot import name 'Tracker' from 'model'", "model", "b/test_b.py", 1)
    assert classify(error(wrong), tmp_path).kind == "import_name"
    for folder in ("a", "b"):
        make_file(tmp_path / folder / "model.py")
        make_file(tmp_path / folder / f"test_{folder}.py")
    diagnosis = classify(error(wrong), tmp_path)
    assert (diagnosis.kind, diagnosis.fix) == ("import_mismatch", "subprojects")
    nameless = Cause("builtins.ImportError", "cannot import name 'x' from partially initialised module", None)
    assert classify(error(nameless), tmp_path).kind == "import_name"


def test_an_error_raised_through_a_conftest_names_the_conftest_and_the_place_it_was_raised(tmp_path: Path) -> None:
    failure = Cause("_pytest.config.ConftestImportFailure", "RuntimeError: x", None, "tests/conftest.py")
    raised = Cause("builtins.RuntimeError", "x", None, "app.py", 3)
    diagnosis = classify(error(failure, raised, nodeid="tests/conftest.py"), tmp_path)
    assert (diagnosis.conftest, diagnosis.where) == ("tests/conftest.py", "app.py:3")
    assert classify(error(raised, nodeid="tests/legacy/conftest.py"), tmp_path).conftest == "tests/legacy/conftest.py"
    assert classify(error(raised), tmp_path).conftest is None


def test_sibling_folders_that_clash_are_sub_projects_unless_inside_one(tmp_path: Path) -> None:
    from testfloor.classify import find_subprojects

    for folder in ("examples/a", "examples/b", "tools/x/one", "tools/x/two"):
        make_file(tmp_path / folder / "model.py")
        make_file(tmp_path / folder / "test_api.py")
    make_file(tmp_path / "tools" / "x" / "pytest.ini", "[pytest]\n")
    assert find_subprojects(tmp_path) == ["examples/a", "examples/b", "tools/x"]


def test_a_syntax_error_says_its_place_once_relative_to_the_project(tmp_path: Path) -> None:
    cause = Cause("builtins.SyntaxError", "invalid syntax (test_broken.py, line 1)", None, "tests/test_broken.py", 1)
    diagnosis = classify(error(cause), tmp_path)
    assert diagnosis.quarantine_reason == "project bug: SyntaxError: invalid syntax (tests/test_broken.py:1)"


def test_the_places_on_the_way_to_an_error_are_its_python_files_innermost_first_each_once() -> None:
    diagnosis = Diagnosis(
        "tests/test_db.py",
        "other",
        "",
        "TypeError: got None",
        "app/engine.py",
        4,
        trail=("app/engine.py:4", "app/fast.pyx:9", "app/db.py:7", "tests/conftest.py", "app/db.py:2"),
    )
    assert diagnosis.places == {"app/engine.py": 4, "app/db.py": 7, "tests/conftest.py": None}
    assert Diagnosis("tests/test_db.py", "other", "", "E").places == {}
