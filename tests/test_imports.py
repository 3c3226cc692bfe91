"""Finding every module a project imports, wherever it imports it, and which of them are absent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from helpers import make_file
from testfloor import doctor, imports
from testfloor.collect import Outcome
from testfloor.config import load_config


def test_imports_are_found_at_module_level_inside_functions_and_through_importlib_literals() -> None:
    source = """
        import os, torch.nn as nn
        from ray.tune import Tuner
        from . import sibling
        from .local import thing
        import importlib


        def fixture():
            import tensorflow
            from xgboost import XGBClassifier
            importlib.import_module("lightgbm.sklearn")
            __import__("catboost")
            importlib.import_module(name_from_a_variable)
            importlib.import_module()
            print("not an import")
            return object.method("wandb")


        class Test:
            def test_it(self):
                import mlflow.entities
    """
    found = imports.imported_names(__import__("textwrap").dedent(source))
    expected = {"os", "torch", "ray", "importlib", "tensorflow", "xgboost", "lightgbm", "catboost", "mlflow"}
    assert found == expected


def test_a_file_that_does_not_parse_imports_nothing() -> None:
    assert imports.imported_names("def broken(:\n") == set()
    assert imports.imported_names("import torch\0\n") == set()  # null bytes: ValueError (SyntaxError on 3.12+)


def test_project_imports_leave_out_the_projects_own_modules_the_standard_library_and_environments(
    tmp_path: Path,
) -> None:
    make_file(tmp_path / "app" / "__init__.py", "import json\nimport torch\nfrom app import models\n")
    make_file(tmp_path / "app" / "models.py", "import helpers\n")
    make_file(tmp_path / "helpers.py", "")
    make_file(tmp_path / "tests" / "test_train.py", "def test_train():\n    import ray\n    import torch\n")
    make_file(tmp_path / ".venv" / "lib" / "x.py", "import hidden_dependency\n")
    make_file(tmp_path / "env" / "pyvenv.cfg", "home = /usr\n")
    make_file(tmp_path / "env" / "lib" / "y.py", "import venv_dependency\n")
    make_file(tmp_path / "build" / "z.py", "import built_dependency\n")
    make_file(tmp_path / "notes.txt", "import not_python\n")
    make_file(tmp_path / "latin.py", "")
    (tmp_path / "latin.py").write_bytes(b"# \xff\nimport latin_dependency\n")
    assert imports.project_imports(tmp_path) == {
        "ray": ["tests/test_train.py"],
        "torch": ["app/__init__.py", "tests/test_train.py"],
    }


def test_absent_asks_the_interpreter_which_names_it_cannot_import() -> None:
    assert imports.absent(sys.executable, ["json", "torch", "not_a_module_at_all", "json"]) == [
        "not_a_module_at_all",
        "torch",
    ]
    assert imports.absent(sys.executable, []) == []


def test_a_plugin_is_present_when_an_installed_entry_point_has_its_name_though_no_module_does() -> None:
    # hypothesis registers its pytest plugin as "hypothesispytest", a name no module has.
    names = ["hypothesispytest", "json", "no_such_plugin_anywhere"]
    assert imports.absent(sys.executable, names, plugins=True) == ["no_such_plugin_anywhere"]
    assert imports.absent(sys.executable, names) == ["hypothesispytest", "no_such_plugin_anywhere"]


def test_heavy_absent_keeps_heavy_missing_modules_that_are_not_stubs_yet(tmp_path: Path) -> None:
    make_file(tmp_path / "tests" / "conftest.py", "import pytest\n\n@pytest.fixture\ndef c():\n    import ray\n")
    make_file(tmp_path / "tests" / "test_m.py", "def test_m():\n    import torch, tensorflow, freezegun, pytest\n")
    assert imports.heavy_absent(tmp_path, sys.executable) == ["ray", "tensorflow", "torch"]
    assert imports.heavy_absent(tmp_path, sys.executable, ["torch"]) == ["ray", "tensorflow"]


def test_doctor_fix_stubs_heavy_imports_inside_functions_before_collecting(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n\n[tool.testfloor]\nstubs = ["torch"]\n')
    make_file(tmp_path / "tests" / "test_ray.py", "import torch\n\ndef test_cluster():\n    import ray\n")
    lines: list[str] = []
    report = doctor.run(tmp_path, fix=True, collect=lambda root: Outcome(0, ("t",), ()), progress=lines.append)
    assert load_config(tmp_path).stubs == ("torch", "ray")
    assert lines == ["stubbed ray (heavy, imported by the project, not installed)"]
    assert report.fixes == {"stub": 1}
    again: list[str] = []
    doctor.run(tmp_path, fix=True, collect=lambda root: Outcome(0, ("t",), ()), progress=again.append)
    assert again == []


def test_doctor_without_fix_only_reads(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n')
    make_file(tmp_path / "tests" / "test_ray.py", "def test_cluster():\n    import ray\n")
    doctor.run(tmp_path, collect=lambda root: Outcome(0, ("t",), ()))
    assert "tool.testfloor" not in (tmp_path / "pyproject.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["ray", "torch"])
def test_a_heavy_name_the_project_provides_itself_is_not_stubbed(tmp_path: Path, name: str) -> None:
    make_file(tmp_path / f"{name}.py", "")
    make_file(tmp_path / "tests" / "test_x.py", f"def test_x():\n    import {name}\n")
    assert imports.heavy_absent(tmp_path, sys.executable) == []
