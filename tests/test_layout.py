from __future__ import annotations

from pathlib import Path

import pytest

from helpers import make_file
from testfloor import layout
from testfloor.config import load_config
from testfloor.layout import packages, pytest_options


def roots(root: Path) -> list[str]:
    return layout.test_roots(root, load_config(root))


def test_a_project_without_tests_has_no_test_roots(tmp_path: Path) -> None:
    make_file(tmp_path / "app" / "main.py")
    make_file(tmp_path / "tests" / "helpers.py")
    assert roots(tmp_path) == []


def test_each_tree_of_test_files_counts_once_from_its_top_most_test_directory(tmp_path: Path) -> None:
    for name in ("unit/test_models.py", "integration/api/test_views.py", "conftest.py"):
        make_file(tmp_path / "backend" / "app" / "tests" / name)
    make_file(tmp_path / "src" / "pkg" / "checks_test.py")  # beside the code it tests
    make_file(tmp_path / "src" / "pkg" / "sub" / "test_deep.py")
    make_file(tmp_path / "e2e_tests" / "test_flow.py")
    assert roots(tmp_path) == ["backend/app/tests", "e2e_tests", "src/pkg"]


def test_test_files_at_the_root_make_the_root_the_one_test_root(tmp_path: Path) -> None:
    make_file(tmp_path / "test_calc.py")
    make_file(tmp_path / "tests" / "test_more.py")
    assert roots(tmp_path) == ["."]


@pytest.mark.parametrize("skipped", [".venv/lib/tests", "node_modules/pkg", "build/lib", "venv", "env", "x.egg"])
def test_directories_pytest_does_not_recurse_into_hold_no_test_roots(tmp_path: Path, skipped: str) -> None:
    make_file(tmp_path / skipped / "test_vendored.py")
    if skipped == "env":
        make_file(tmp_path / "env" / "pyvenv.cfg")
    assert roots(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pytest.ini", "[pytest]\ntestpaths = app/tests integration\n"),
        (".pytest.ini", "[pytest]\ntestpaths =\n    app/tests\n    integration\n"),
        ("pytest.toml", '[pytest]\ntestpaths = ["app/tests", "integration"]\n'),
        ("pyproject.toml", '[tool.pytest.ini_options]\ntestpaths = ["app/tests", "integration"]\n'),
        ("pyproject.toml", '[tool.pytest]\ntestpaths = ["app/tests", "integration"]\n'),
        ("tox.ini", "[tox]\nenvlist = py3\n\n[pytest]\ntestpaths = app/tests integration\n"),
        ("setup.cfg", "[metadata]\nname = x\n\n[tool:pytest]\ntestpaths = app/tests integration\n"),
        ("pytest.ini", "[pytest]\ntestpaths = app/test* integ*ion missing ../outside\n"),
    ],
)
def test_the_testpaths_of_the_pytest_configuration_are_the_test_roots(tmp_path: Path, name: str, text: str) -> None:
    make_file(tmp_path / name, text)
    make_file(tmp_path / "app" / "tests" / "unit" / "test_a.py")
    make_file(tmp_path / "integration" / "test_b.py")
    make_file(tmp_path / "scratch" / "test_ignored.py")
    assert roots(tmp_path) == ["app/tests", "integration"]


def test_pytest_reads_the_first_configuration_file_in_its_order(tmp_path: Path) -> None:
    make_file(tmp_path / "pytest.ini", "[other]\nkey = 1\n")  # pytest reads it even without [pytest]
    make_file(tmp_path / "pyproject.toml", '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    make_file(tmp_path / "tox.ini", "[pytest]\ntestpaths = tests\n")
    make_file(tmp_path / "tests" / "test_a.py")
    make_file(tmp_path / "other" / "test_b.py")
    assert pytest_options(tmp_path) == (tmp_path / "pytest.ini", {})
    assert roots(tmp_path) == ["other", "tests"]
    (tmp_path / "pytest.ini").unlink()
    assert pytest_options(tmp_path) == (tmp_path / "pyproject.toml", {"testpaths": "tests"})
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')  # without a pytest table pytest reads on
    assert pytest_options(tmp_path) == (tmp_path / "tox.ini", {"testpaths": "tests"})
    make_file(tmp_path / "tox.ini", "[tox]\n")
    make_file(tmp_path / "setup.cfg", "[metadata]\n")
    assert pytest_options(tmp_path) is None


def test_a_testpath_that_names_a_file_gives_its_directory(tmp_path: Path) -> None:
    make_file(tmp_path / "pytest.ini", "[pytest]\ntestpaths = checks/test_smoke.py checks/test_other.py\n")
    make_file(tmp_path / "checks" / "test_smoke.py")
    make_file(tmp_path / "checks" / "test_other.py")
    assert roots(tmp_path) == ["checks"]


def test_testfloors_own_testpaths_win_over_pytests(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\ntestpaths = ["app/tests"]\n')
    make_file(tmp_path / "pytest.ini", "[pytest]\ntestpaths = tests\n")
    make_file(tmp_path / "app" / "tests" / "test_a.py")
    make_file(tmp_path / "tests" / "test_b.py")
    assert roots(tmp_path) == ["app/tests"]


def test_each_sub_project_gives_its_own_test_roots(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\nsubprojects = ["billing", "search", "docs", "gone"]\n')
    make_file(tmp_path / "billing" / "tests" / "test_invoice.py")
    make_file(tmp_path / "billing" / "tools" / "test_cli.py")
    make_file(tmp_path / "search" / "pytest.ini", "[pytest]\ntestpaths = spec\n")
    make_file(tmp_path / "search" / "spec" / "index_test.py")
    make_file(tmp_path / "search" / "tests" / "test_unused.py")
    make_file(tmp_path / "docs" / "conf.py")
    assert roots(tmp_path) == ["billing/tests", "billing/tools", "search/spec", "docs"]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("pytest.ini", "testpaths = tests\n", "File contains no section headers"),
        ("pytest.toml", "[pytest\n", "cannot read: Expected"),
        ("setup.cfg", "[tool:pytest\ntestpaths = tests\n", "File contains no section headers. file: "),
    ],
)
def test_a_configuration_that_cannot_be_read_is_a_one_line_error_naming_it(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    make_file(tmp_path / name, text)
    with pytest.raises(ValueError, match=message) as excinfo:
        roots(tmp_path)
    assert str(excinfo.value).startswith(f"{tmp_path / name}: cannot read: ")
    assert "\n" not in str(excinfo.value)


def test_the_packages_of_a_src_layout_are_what_src_holds(tmp_path: Path) -> None:
    make_file(tmp_path / "src" / "pkg" / "__init__.py")
    make_file(tmp_path / "src" / "company" / "product" / "core.py")  # a namespace package
    make_file(tmp_path / "src" / "single.py")
    make_file(tmp_path / "src" / "empty" / "README.md")
    make_file(tmp_path / "src" / "pkg.egg-info" / "PKG-INFO")
    make_file(tmp_path / "src" / "__pycache__" / "single.cpython-311.pyc")
    make_file(tmp_path / "src" / "tests" / "test_pkg.py")
    make_file(tmp_path / "src" / "notes.txt")
    make_file(tmp_path / "tools" / "__init__.py")  # beside src: not the project's code
    assert packages(tmp_path) == ["company", "pkg", "single"]


def test_the_packages_of_a_flat_layout_leave_out_tests_and_scripts(tmp_path: Path) -> None:
    for name in ("setup.py", "noxfile.py", "conftest.py", "manage.py", "test_app.py", "app_test.py", "calc.py"):
        make_file(tmp_path / name)
    make_file(tmp_path / "app" / "__init__.py")
    make_file(tmp_path / "app" / "core.py")
    make_file(tmp_path / "app" / "test_core.py")
    make_file(tmp_path / "tests" / "__init__.py")
    make_file(tmp_path / "spec" / "__init__.py")  # a test package not named like one
    make_file(tmp_path / "spec" / "conftest.py")
    make_file(tmp_path / "spec" / "test_spec.py")
    make_file(tmp_path / "helpers" / "__init__.py")  # a package of nothing but __init__.py is still one
    make_file(tmp_path / "scripts" / "deploy.py")
    make_file(tmp_path / "my-tool" / "__init__.py")
    make_file(tmp_path / "build" / "__init__.py")
    assert packages(tmp_path) == ["app", "calc", "helpers"]


def test_sibling_folders_whose_tests_share_a_module_name_clash_and_the_root_never_does(tmp_path: Path) -> None:
    for folder in ("examples/detect", "examples/track/tests"):
        make_file(tmp_path / folder / "test_api.py")
    make_file(tmp_path / "examples" / "detect" / "model.py")
    make_file(tmp_path / "examples" / "track" / "model.py")
    make_file(tmp_path / "examples" / "count" / "model.py")  # named alike, but its tests are its own
    make_file(tmp_path / "examples" / "count" / "tests" / "test_count.py")
    make_file(tmp_path / "examples" / "count" / "tests" / "conftest.py")
    make_file(tmp_path / "tests" / "test_api.py")  # the root's tests clash too, but run apart from the others
    make_file(tmp_path / "setup.py")
    assert layout.clashing_folders(tmp_path) == ["examples/count", "examples/detect", "examples/track"]
    assert layout.clashing_names(tmp_path) == {"model", "test_api"}


def test_test_packages_of_one_name_clash_and_of_two_nested_folders_the_inner_one_runs_apart(tmp_path: Path) -> None:
    for name in ("billing", "search"):
        make_file(tmp_path / name / "tests" / "__init__.py")
        make_file(tmp_path / name / "tests" / f"test_{name}.py")
    assert layout.clashing_folders(tmp_path) == ["billing", "search"]
    assert layout.clashing_names(tmp_path) == {"tests"}
    make_file(tmp_path / "search" / "plugins" / "tests" / "__init__.py")
    make_file(tmp_path / "search" / "plugins" / "tests" / "test_plugin.py")
    assert layout.clashing_folders(tmp_path) == ["billing", "search/plugins"]


def test_the_test_files_of_a_monorepo_are_its_sub_projects_and_the_rest(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\nsubprojects = ["billing"]\n')
    make_file(tmp_path / "billing" / "tests" / "test_api.py")
    make_file(tmp_path / "tests" / "unit" / "test_core.py")
    make_file(tmp_path / "tests" / "helpers.py")
    assert layout.test_files(tmp_path, load_config(tmp_path)) == [
        "billing/tests/test_api.py",
        "tests/unit/test_core.py",
    ]
