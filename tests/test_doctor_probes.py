"""doctor's probes see what the run sees, and what testfloor caused (a stub's error) is never a project bug.

Every test here runs real pytest collections and real settings probes in
subprocesses, with the interpreter running the tests.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from helpers import make_file
from testfloor import doctor, doctorreport, settings_discovery
from testfloor.classify import LIMITATION, classify
from testfloor.collect import Cause, CollectError, describe_exception, raised_by_stub
from testfloor.config import load_config
from testfloor.stubs import StubMeta, install, uninstall

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

PROJECT = '[project]\nname = "service"\nversion = "1"\n'
SETTINGS = """
    from pydantic_settings import BaseSettings


    class Settings(BaseSettings):
        api_key: str


    settings = Settings()
    """


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        make_file(root / name, text)
    return root


def settings_of(root: Path) -> dict[str, object]:
    document = tomllib.loads((root / "pyproject.toml").read_text())
    found: dict[str, object] = document.get("tool", {}).get("testfloor", {})
    return found


def test_settings_discovery_imports_the_settings_module_with_the_stubs_the_run_installs(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": PROJECT + '\n[tool.testfloor]\nstubs = ["torch"]\n',
            "app/__init__.py": "import torch\n",
            "app/config.py": SETTINGS,
        },
    )
    discovery = settings_discovery.discover(tmp_path, environ={}, declared={})
    assert discovery.values.keys() == {"API_KEY"}
    assert discovery.classes == ("app.config:Settings",)


def test_without_the_stub_the_same_discovery_fails_on_the_heavy_import(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": PROJECT, "app/__init__.py": "import torch\n", "app/config.py": SETTINGS})
    with pytest.raises(Exception, match="No module named 'torch'"):
        settings_discovery.discover(tmp_path, environ={}, declared={})


def test_discovery_names_a_sub_projects_module_as_its_run_imports_it_and_uses_the_pythonpath(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": PROJECT + '\n[tool.testfloor]\nsubprojects = ["backend"]\npythonpath = ["libs"]\n',
            "libs/shared.py": "PREFIX = 'svc'\n",
            "backend/app/__init__.py": "import shared\n",
            "backend/app/config.py": SETTINGS,
        },
    )
    context = settings_discovery.run_context(tmp_path, {})
    assert context["paths"][:3] == [str(tmp_path / "backend/src"), str(tmp_path / "backend"), str(tmp_path / "libs")]
    discovery = settings_discovery.discover(tmp_path, environ={}, declared={})
    assert discovery.modules == ("app.config",)
    assert discovery.values.keys() == {"API_KEY"}


def test_doctor_fix_gives_the_settings_of_a_package_that_imports_a_stubbed_heavy_module_their_values(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": PROJECT,
            "app/__init__.py": "import torch\n",
            "app/config.py": SETTINGS,
            "tests/conftest.py": "from app.config import settings\n",
            "tests/test_ok.py": "def test_ok():\n    assert True\n",
        },
    )
    report = doctor.run(tmp_path, fix=True, install=False)
    assert (report.status, report.collected) == ("clean", 1), doctorreport.describe(report)
    assert settings_of(tmp_path)["stubs"] == ["torch"]
    assert list(settings_of(tmp_path)["env"]) == ["API_KEY"]  # type: ignore[call-overload]


STUB_ERRORS = {
    "pyproject.toml": PROJECT + '\n[tool.testfloor]\nstubs = ["torch"]\n',
    "app/__init__.py": "",
    # A class of the project built on a stub, compared with a number: the stub has no answer.
    "app/compare.py": "import torch\n\n\nclass Net(torch.nn.Module):\n    pass\n\n\nLARGE = Net >= 1\n",
    # A private name of a stub module: stubs answer only public ones.
    "app/private.py": "import torch\n\nHOOK = torch._C._get_tracing_state\n",
    "tests/test_compare.py": "from app.compare import LARGE\n\n\ndef test_large():\n    assert LARGE\n",
    "tests/test_private.py": "from app.private import HOOK\n\n\ndef test_hook():\n    assert HOOK\n",
    "tests/test_ok.py": "def test_ok():\n    assert True\n",
}


def test_errors_raised_by_a_stub_are_testfloors_limitation_never_a_quarantine(tmp_path: Path) -> None:
    write(tmp_path, STUB_ERRORS)
    report = doctor.run(tmp_path, fix=True, install=False)
    kinds = {item.nodeid: (item.kind, item.subject, item.cause) for item in report.remaining}
    assert kinds == {
        "tests/test_compare.py": (
            LIMITATION,
            "torch",
            "TypeError: '>=' not supported between instances of 'StubMeta' and 'int'",
        ),
        "tests/test_private.py": (LIMITATION, "torch", "AttributeError: _get_tracing_state"),
    }
    assert report.quarantined == ()
    assert "quarantine" not in settings_of(tmp_path)
    assert report.status == "failing"
    assert "testfloor's stubs cannot stand in" in str(report.problem)
    lines = doctorreport.describe(report)
    assert any(line.endswith("[testfloor's limitation: the stub of torch]") for line in lines), lines
    assert not any("[project bug]" in line for line in lines)


def test_a_diagnosis_only_run_reports_a_stubs_limitation_and_proposes_no_quarantine(tmp_path: Path) -> None:
    write(tmp_path, STUB_ERRORS)
    report = doctor.run(tmp_path)
    assert {item.kind for item in report.remaining} == {LIMITATION}
    assert report.proposed == ()
    assert str(report.problem).startswith("testfloor's stubs")


def test_an_error_is_raised_by_a_stub_when_its_traceback_passes_through_one_or_its_message_names_a_stub_type() -> None:
    install(["fakeheavy"], "always")
    try:
        import fakeheavy  # type: ignore[import-not-found]

        with pytest.raises(AttributeError) as private:
            fakeheavy.Model._hidden  # noqa: B018
        assert raised_by_stub(private.value)
        assert isinstance(fakeheavy.Model, StubMeta)
    finally:
        uninstall()
    assert raised_by_stub(TypeError("'<' not supported between instances of 'StubMeta' and 'int'"))
    with pytest.raises(ValueError, match="no stub") as plain:
        raise ValueError("no stub here")
    assert not raised_by_stub(plain.value)
    assert describe_exception(plain.value, Path.cwd())[0].stub is False


def test_a_stub_cause_anywhere_in_the_chain_makes_the_error_testfloors_limitation(tmp_path: Path) -> None:
    chain = (
        Cause("builtins.RuntimeError", "model failed", None, "app/m.py", 3),
        Cause("builtins.TypeError", "not callable", None, None, None, stub=True),
    )
    make_file(tmp_path / "app/m.py", "import json\n\nMODEL = json.loads(RAW)\n")
    make_file(tmp_path / "pyproject.toml", PROJECT + '\n[tool.testfloor]\nstubs = ["torch"]\n')
    diagnosis = classify(CollectError("tests/test_m.py", "E  RuntimeError", chain), tmp_path)
    assert (diagnosis.kind, diagnosis.subject, diagnosis.path, diagnosis.fix) == (LIMITATION, "", "app/m.py", None)
    assert not diagnosis.is_project_bug
    gone = Cause("builtins.TypeError", "not callable", None, "app/gone.py", 2, stub=True)
    assert classify(CollectError("tests/test_g.py", "E", (gone,)), tmp_path).subject == ""
    named = Cause("builtins.AttributeError", "stub module 'cv2' has no attribute '_x'", stub=True)
    assert classify(CollectError("tests/test_v.py", "E", (named,)), tmp_path).subject == "cv2"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("tests/conftest.py", "tests/conftest.py"),  # a conftest loaded before any session
        ("tests/test_exit.py", "tests/test_exit.py"),  # a test module, collected
    ],
)
def test_a_system_exit_at_import_is_reported_with_its_cause_without_fix(
    tmp_path: Path, where: str, expected: str
) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": PROJECT,
            where: "import sys\n\nsys.exit('no server configured')\n",
            "tests/test_ok.py": "def test_ok():\n    assert True\n",
        },
    )
    report = doctor.run(tmp_path)
    assert [(item.nodeid, item.kind, item.cause) for item in report.remaining] == [
        (expected, "script", "SystemExit: no server configured")
    ]
    assert report.proposed == ("testpaths",)


def test_an_internal_error_is_reported_with_its_cause(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": PROJECT,
            "conftest.py": "def pytest_collection_modifyitems(items):\n    raise KeyError('region')\n",
            "tests/test_ok.py": "def test_ok():\n    assert True\n",
        },
    )
    report = doctor.run(tmp_path)
    assert [(item.nodeid, item.kind, item.cause) for item in report.remaining] == [
        ("conftest.py", "other", "INTERNALERROR: KeyError: 'region'")
    ]
    assert report.status == "failing"


GEVENT = {
    "pyproject.toml": PROJECT,
    "app/__init__.py": "",
    "app/worker.py": "from gevent import monkey\n\nPATCH = monkey\n",
    "tests/test_worker.py": "from app.worker import PATCH\n\n\ndef test_patch():\n    assert PATCH\n",
    "test_script.py": "import sys\n\nsys.exit(1)\n",
}


def test_diagnosis_only_proposes_exactly_what_fix_applies(tmp_path: Path) -> None:
    diagnosed = write(tmp_path / "diagnosed", GEVENT)
    fixed = write(tmp_path / "fixed", GEVENT)
    proposal = doctor.run(diagnosed, install=False)
    report = doctor.run(fixed, fix=True, install=False)
    assert proposal.proposed == ("stub gevent", "testpaths")
    assert report.proposed == proposal.proposed
    assert report.passes[0].applied == proposal.proposed
    assert report.status == "clean"


def test_diagnosis_only_proposes_the_values_of_variables_read_by_hand_as_fix_applies_them(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": PROJECT,
        "app/__init__.py": "",
        "app/db.py": "import os\n\nURL = os.environ['SERVICE_URL']\n",
        "tests/test_db.py": "from app.db import URL\n\n\ndef test_url():\n    assert URL\n",
    }
    proposal = doctor.run(write(tmp_path / "diagnosed", files))
    report = doctor.run(write(tmp_path / "fixed", files), fix=True, install=False)
    assert proposal.proposed == report.passes[0].applied == ("env",)
    assert report.status == "clean"


def test_a_stub_for_a_module_that_only_a_left_out_file_imports_is_removed_at_the_end(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": PROJECT,
            "test_tracking.py": "import sys\n\nimport mlflow\n\nsys.exit(1)\n",
            "tests/test_ok.py": "def test_ok():\n    assert True\n",
        },
    )
    lines: list[str] = []
    report = doctor.run(tmp_path, fix=True, install=False, progress=lines.append)
    assert (report.status, report.fixes) == ("clean", {"testpaths": 1})
    assert "stubs" not in settings_of(tmp_path)
    assert settings_of(tmp_path)["testpaths"] == ["tests"]
    assert lines[-1] == "removed stubs mlflow: nothing the run collects imports them any more"
    assert doctor.run(tmp_path).status == "clean"


def test_a_stub_still_imported_inside_the_test_paths_is_kept_and_the_others_removed(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": PROJECT,
            "test_tracking.py": "import sys\n\nimport mlflow\nimport ray\n\nsys.exit(1)\n",
            "tests/test_ok.py": "def test_ok():\n    import mlflow\n\n    assert mlflow\n",
        },
    )
    report = doctor.run(tmp_path, fix=True, install=False)
    assert (report.status, report.fixes) == ("clean", {"stub": 1, "testpaths": 1})
    assert settings_of(tmp_path)["stubs"] == ["mlflow"]


def test_removing_a_stub_is_undone_when_the_final_collect_no_longer_passes(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": PROJECT + '\n[tool.testfloor]\ntestpaths = ["tests"]\nstubs = ["ray"]\n'})
    make_file(tmp_path / "tests/test_ok.py", "def test_ok():\n    assert True\n")
    outcome = doctor.probe(tmp_path)
    failing = CollectError("tests/test_ok.py", "E   no module named ray")
    lines: list[str] = []
    fixes = {"stub": 1}
    counter = Counter(fixes)
    kept = doctor._drop_stubs(
        tmp_path,
        ["ray"],
        outcome,
        lambda root: type(outcome)(2, (), (failing,)),
        counter,
        lines.append,
    )
    assert kept is outcome
    assert load_config(tmp_path).stubs == ("ray",)
    assert counter == Counter(fixes)
    assert lines == ["kept stubs ray: without them, the suite no longer collects as it did"]
