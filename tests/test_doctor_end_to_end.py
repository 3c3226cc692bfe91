"""`testfloor doctor --fix` on generated projects that reproduce the ways real suites fail to collect.

Each project reaches "clean" or "clean with quarantine" in at most three passes, changes nothing but
`[tool.testfloor]` and requirements-test.txt, is left alone by a second run, and then runs under coverage
through testfloor's session helpers.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import NOXFILE, clean_environ, make_file, nox, tree_digest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

pytestmark = pytest.mark.slow
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
PROJECT = f'[project]\nname = "service"\nversion = "1"\nrequires-python = "=={PYTHON}.*"\n'


def doctor(root: Path, *args: str) -> tuple[int, dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-m", "testfloor", "doctor", "--json", *args],
        cwd=root, env=clean_environ(), capture_output=True, text=True,
    )  # fmt: skip
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def write_project(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        make_file(root / name, text)


def heal(root: Path, expected_status: str, expected_code: int) -> dict[str, object]:
    """Run doctor --fix twice: the first reaches `expected_status`, the second changes nothing."""
    before = tree_digest(root)
    pyproject = (root / "pyproject.toml").read_text()
    code, report = doctor(root, "--fix", "--no-install")
    assert (code, report["status"]) == (expected_code, expected_status), report
    assert len(report["passes"]) <= 3  # type: ignore[arg-type]
    after = tree_digest(root)
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    assert changed <= {"pyproject.toml", "requirements-test.txt"}
    assert without_testfloor((root / "pyproject.toml").read_text()) == without_testfloor(pyproject)
    assert all(line in (root / "pyproject.toml").read_text() for line in pyproject.splitlines())
    settled = (root / "pyproject.toml").read_text()
    second_code, second = doctor(root, "--fix", "--no-install")
    assert (second_code, second["status"], second["passes"]) == (expected_code, expected_status, [])
    assert (root / "pyproject.toml").read_text() == settled
    return report


def without_testfloor(text: str) -> dict[str, object]:
    document = tomllib.loads(text)
    tool = document.get("tool", {})
    tool.pop("testfloor", None)
    if not tool:
        document.pop("tool", None)
    return document


def measure(root: Path, wheel: Path, *requirements: str) -> dict[str, int]:
    make_file(root / "requirements-test.txt", "\n".join([str(wheel), "pytest", "coverage", *requirements]) + "\n")
    make_file(root / "noxfile.py", NOXFILE)
    result = nox(root, "-s", "coverage")
    assert result.returncode == 0, result.stdout + result.stderr
    totals: dict[str, int] = json.loads((root / "coverage.json").read_text())["totals"]
    return totals


SERVICE = {
    "pyproject.toml": PROJECT
    + 'dependencies = ["pydantic>=2", "pydantic-settings>=2"]\n'
    + '\n[tool.pytest.ini_options]\npythonpath = ["src"]\n\n[tool.coverage.run]\nsource = ["src"]\n',
    "src/app/__init__.py": "",
    "src/app/config.py": """
        from pydantic import Field, PostgresDsn
        from pydantic_settings import BaseSettings


        class Settings(BaseSettings):
            database_url: PostgresDsn
            jwt_secret: str = Field(min_length=32)
            debug: bool = False


        settings = Settings()
        """,
    # A heavy module reached through a package __init__: every importer of app.ml fails at once.
    "src/app/ml/__init__.py": "from app.ml.model import Net, scale\n",
    "src/app/ml/model.py": """
        import torch
        from torch import nn


        class Net(nn.Module):
            def forward(self, x):
                return x


        def scale(values):
            top = max(values)
            return [value / top for value in values]
        """,
    # A heavy import behind a broken fallback: the error shown is a NameError, the cause a missing module.
    "src/app/board.py": """
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.warning("tensorboard is not available")


        def tag(name):
            return f"run/{name}"
        """,
    # A real bug: nothing in the environment fixes it.
    "src/app/schema.py": "DEFAULT_ROLE = UserRole.ADMIN\n",
    "src/app/pricing.py": """
        def total(amount, discount=0):
            if discount:
                return amount - discount
            return amount
        """,
    "tests/conftest.py": "from app.config import settings\n",
    "tests/test_pricing.py": """
        from app.pricing import total


        def test_total():
            assert total(10) == 10


        def test_discount():
            assert total(10, 3) == 7
        """,
    "tests/test_ml.py": "from app.ml import scale\n\n\ndef test_scale():\n    assert scale([1, 2]) == [0.5, 1.0]\n",
    "tests/test_board.py": "from app.board import tag\n\n\ndef test_tag():\n    assert tag('x') == 'run/x'\n",
    "tests/test_schema.py": "from app.schema import DEFAULT_ROLE\n\n\ndef test_role():\n    assert DEFAULT_ROLE\n",
}


def test_a_service_with_settings_heavy_imports_and_a_bug_collects_with_the_bug_quarantined(
    tmp_path: Path, wheel: Path
) -> None:
    write_project(tmp_path, SERVICE)
    report = heal(tmp_path, "quarantined", 10)
    assert report["quarantined"] == ["tests/test_schema.py"]
    assert report["fixes"] == {"env": 2, "quarantine": 1, "stub": 1}
    settings = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["testfloor"]
    assert settings["stubs"] == ["torch"]
    assert set(settings["env"]) == {"DATABASE_URL", "JWT_SECRET"}
    assert "NameError: name 'UserRole' is not defined (src/app/schema.py:1)" in settings["quarantine"][0]["reason"]
    totals = measure(tmp_path, wheel, "pydantic-settings")
    assert totals["covered_lines"] > 0


CONFIG = {
    "pyproject.toml": PROJECT,
    "pytest.ini": """
        [pytest]
        addopts = --timeout=5 --reruns 2 --strict-markers
        testpaths = tests

        [coverage:run]
        asyncio_mode = auto
        """,
    "tests/conftest.py": """
        import asyncio

        import pytest
        import pytest_asyncio


        @pytest.fixture(scope="session")
        def event_loop():
            loop = asyncio.new_event_loop()
            yield loop
            loop.close()


        @pytest_asyncio.fixture(scope="session")
        async def connection():
            return asyncio.get_running_loop()
        """,
    "tests/test_async.py": """
        import asyncio

        import pytest


        @pytest.mark.database
        async def test_same_loop(connection):
            assert asyncio.get_running_loop() is connection


        async def test_again(connection):
            assert asyncio.get_running_loop() is connection
        """,
}


def test_plugin_addopts_stranded_options_and_a_legacy_loop_are_repaired_in_one_pass(
    tmp_path: Path, wheel: Path
) -> None:
    write_project(tmp_path, CONFIG)
    report = heal(tmp_path, "clean", 0)
    assert len(report["passes"]) == 0  # type: ignore[arg-type]
    measure(tmp_path, wheel)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path,
                            env=clean_environ(), capture_output=True, text=True)  # fmt: skip
    assert "2 passed" in result.stdout, result.stdout


def test_a_root_level_script_that_exits_is_left_out_by_testpaths(tmp_path: Path, wheel: Path) -> None:
    write_project(
        tmp_path,
        {
            "pyproject.toml": PROJECT,
            "test_mlflow_direct.py": "import sys\n\nprint('connecting to the tracking server')\nsys.exit(1)\n",
            "tests/test_ok.py": "def test_ok():\n    assert True\n",
        },
    )
    report = heal(tmp_path, "clean", 0)
    assert report["fixes"] == {"testpaths": 1}
    measure(tmp_path, wheel)


def test_a_monorepo_with_clashing_conftests_runs_once_per_sub_project(tmp_path: Path, wheel: Path) -> None:
    files = {"pyproject.toml": PROJECT}
    for name in ("billing", "search"):
        files[f"{name}/tests/__init__.py"] = ""
        # Each sub-project has its own pytest configuration, which only a run rooted there reads.
        files[f"{name}/pyproject.toml"] = '[tool.pytest.ini_options]\nmarkers = ["api: the service API"]\n'
        files[f"{name}/tests/conftest.py"] = (
            f"import pytest\n\n\n@pytest.fixture\ndef service():\n    return {name!r}\n"
        )
        files[f"{name}/tests/test_api.py"] = (
            f"import pytest\n\n\n@pytest.mark.api\ndef test_service(service):\n    assert service == {name!r}\n"
        )
    write_project(tmp_path, files)
    report = heal(tmp_path, "clean", 0)
    assert report["fixes"] == {"subprojects": 1}
    measure(tmp_path, wheel)


RUN_AS_THE_RUN = {
    "pyproject.toml": PROJECT + 'dependencies = ["pydantic>=2", "pydantic-settings>=2"]\n',
    # The settings module's package imports a heavy module: discovery imports it with the stub, as the run does.
    "app/__init__.py": "import torch\n",
    "app/config.py": """
        from pydantic_settings import BaseSettings


        class Settings(BaseSettings):
            api_key: str


        settings = Settings()
        """,
    "app/worker.py": "from gevent import monkey\n\nPATCH = monkey\n",
    "tests/test_worker.py": "from app.worker import PATCH\n\n\ndef test_patch():\n    assert PATCH\n",
    "tests/test_config.py": "from app.config import settings\n\n\ndef test_key():\n    assert settings.api_key\n",
    # A heavy import inside a test: found by reading the code, stubbed before the first collect.
    "tests/test_train.py": "def test_train():\n    import ray\n\n    assert ray\n",
    # A script left out by testpaths: the stub doctor added for it goes again at the end.
    "test_tracking.py": "import sys\n\nimport mlflow\n\nsys.exit(1)\n",
}


def test_diagnosis_and_fix_agree_and_discovery_sees_the_stubs_the_run_installs(tmp_path: Path) -> None:
    diagnosed, fixed = tmp_path / "diagnosed", tmp_path / "fixed"
    write_project(diagnosed, RUN_AS_THE_RUN)
    write_project(fixed, RUN_AS_THE_RUN)
    _code, proposal = doctor(diagnosed, "--no-install")
    assert proposal["proposed"] == ["env", "stub gevent", "stub mlflow", "stub ray", "stub torch", "testpaths"]
    report = heal(fixed, "clean", 0)
    assert report["proposed"] == proposal["proposed"]
    applied = {"stub mlflow", "stub ray", "stub torch"} | set(report["passes"][0]["applied"])  # type: ignore[index]
    assert sorted(applied) == proposal["proposed"]
    settings = tomllib.loads((fixed / "pyproject.toml").read_text())["tool"]["testfloor"]
    assert (settings["stubs"], list(settings["env"]), settings["testpaths"]) == (
        ["ray", "torch", "gevent"],
        ["API_KEY"],
        ["tests"],
    )
    assert report["quarantined"] == []
    assert report["collected"] == 3


SHAPED = {
    "pyproject.toml": PROJECT
    + 'dependencies = ["pydantic>=2", "pydantic-settings>=2"]\n'
    + '\n[tool.pytest.ini_options]\npythonpath = ["src"]\n',
    # A Fernet-style key: any string passes validation, only 32 URL-safe base64 bytes pass the import.
    "src/app/__init__.py": "",
    "src/app/config.py": """
        import base64
        import binascii

        from pydantic_settings import BaseSettings


        class Settings(BaseSettings):
            secret_key: str


        settings = Settings()
        try:
            KEY = base64.urlsafe_b64decode(settings.secret_key)
        except (binascii.Error, ValueError) as err:
            raise ValueError("Unable to decode secret_key") from err
        if len(KEY) != 32:
            raise ValueError("Unable to decode secret_key: Fernet key must be 32 url-safe base64-encoded bytes")
        """,
    # An async engine built at import from a variable read by hand; the parser is the project's own.
    "src/app/db.py": """
        import os


        class ArgumentError(Exception):
            pass


        def create_async_engine(url):
            if url is None:
                raise ArgumentError("Expected string or URL object, got None")
            scheme, separator, _ = url.partition("://")
            if not separator:
                raise ArgumentError("Could not parse SQLAlchemy URL from given URL string")
            if "+asyncpg" not in scheme:
                raise ArgumentError("The asyncio extension requires an async driver to be used.")
            return url


        engine = create_async_engine(os.environ.get("DB_CONNECTION_STRING"))
        """,
    # The project documents a sync URL: the code needs another shape, so it is no more than a fallback.
    ".env.example": "DB_CONNECTION_STRING=postgresql://app:app@localhost:5432/app\n",
    "tests/test_crypto.py": "from app.config import KEY\n\n\ndef test_key():\n    assert len(KEY) == 32\n",
    "tests/test_db.py": "from app.db import engine\n\n\ndef test_engine():\n    assert engine\n",
}


def test_placeholders_take_the_format_the_code_needs_and_nothing_is_quarantined(tmp_path: Path, wheel: Path) -> None:
    write_project(tmp_path, SHAPED)
    report = heal(tmp_path, "clean", 0)
    assert (report["quarantined"], report["fixes"]) == ([], {"env": 2})
    env = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["testfloor"]["env"]
    assert len(base64.urlsafe_b64decode(env["SECRET_KEY"])) == 32
    assert env["DB_CONNECTION_STRING"].startswith("postgresql+asyncpg://")
    totals = measure(tmp_path, wheel, "pydantic-settings")
    assert totals["covered_lines"] > 0


def test_placeholders_of_the_wrong_format_written_earlier_are_reshaped_not_quarantined(
    tmp_path: Path, wheel: Path
) -> None:
    # What an earlier testfloor wrote: values that pass validation and fail the code that uses them.
    earlier = '\n[tool.testfloor.env]\nSECRET_KEY = "test-secret-keyxxxxxxxxxxxxxxxxx"\n'
    earlier += 'DB_CONNECTION_STRING = "test-db-connection-string"\n'
    write_project(tmp_path, {**SHAPED, "pyproject.toml": SHAPED["pyproject.toml"] + earlier})
    code, report = doctor(tmp_path, "--fix", "--no-install")
    assert (code, report["status"], report["quarantined"], report["fixes"]) == (0, "clean", [], {"env": 2}), report
    changes = [change for item in report["passes"] for change in item["changes"]]  # type: ignore[attr-defined]
    assert changes == ["reshaped DB_CONNECTION_STRING, SECRET_KEY (a placeholder in the format the code needs)"]
    settled = (tmp_path / "pyproject.toml").read_text()
    assert doctor(tmp_path, "--fix", "--no-install")[1]["passes"] == []
    assert (tmp_path / "pyproject.toml").read_text() == settled
    env = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["testfloor"]["env"]
    assert len(base64.urlsafe_b64decode(env["SECRET_KEY"])) == 32
    assert env["DB_CONNECTION_STRING"].startswith("postgresql+asyncpg://")


def collected(root: Path) -> str:
    """Run the collect session (after `measure` built it) and return its verdict line."""
    result = nox(root, "-s", "collect")
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("nox > collected ")]
    return line.removeprefix("nox > ")


def test_sibling_example_folders_that_share_module_names_run_apart_and_nothing_is_quarantined(
    tmp_path: Path, wheel: Path
) -> None:
    write_project(
        tmp_path,
        {
            "pyproject.toml": PROJECT,
            "examples/detect/model.py": "class Detector:\n    label = 'detect'\n",
            "examples/detect/test_api.py": "from model import Detector\n\n\ndef test_label():\n    assert Detector\n",
            "examples/track/model.py": "class Tracker:\n    label = 'track'\n",
            "examples/track/tests/test_api.py": "from model import Tracker\n\n\ndef test_api():\n    assert Tracker\n",
            "examples/count/model.py": "class Counter:\n    label = 'count'\n",
            "examples/count/tests/test_model.py": "from model import Counter\n\n\ndef test_it():\n    assert Counter\n",
            "tests/test_core.py": "def test_core():\n    assert True\n",
        },
    )
    report = heal(tmp_path, "clean", 0)
    assert report["quarantined"] == []
    settings = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["testfloor"]
    assert settings["subprojects"] == ["examples/count", "examples/detect", "examples/track"]
    measure(tmp_path, wheel)
    assert collected(tmp_path) == "collected 4 tests"


def test_a_conftest_that_fails_quarantines_the_directory_it_serves_and_the_rest_collects(
    tmp_path: Path, wheel: Path
) -> None:
    write_project(
        tmp_path,
        {
            "pyproject.toml": PROJECT,
            "app/__init__.py": "",
            "app/fixtures.py": "raise RuntimeError('fixtures/users.json is missing from the repository')\n",
            # pytest imports tests/conftest.py before it collects anything: leaving out tests/ alone would not do.
            "tests/conftest.py": "from app.fixtures import USERS\n",
            "tests/test_users.py": "def test_users():\n    assert True\n",
            "checks/test_health.py": "def test_health():\n    assert True\n",
        },
    )
    report = heal(tmp_path, "quarantined", 10)
    assert report["quarantined"] == ["tests"]
    measure(tmp_path, wheel)
    assert collected(tmp_path) == "collected 1 tests"


def test_a_quarantine_that_would_leave_no_test_is_reported_instead(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "pyproject.toml": PROJECT,
            "app.py": "raise RuntimeError('the model registry is not configured')\n",
            "tests/conftest.py": "import app\n",
            "tests/test_one.py": "def test_one():\n    assert True\n",
            "tests/test_two.py": "def test_two():\n    assert True\n",
        },
    )
    code, report = doctor(tmp_path, "--fix", "--no-install")
    assert (code, report["status"], report["quarantined"]) == (6, "failing", []), report
    refused = "not quarantined: tests (no test would be left to run)"
    assert report["problem"] == f"nothing left to change: these errors remain; {refused}"
    assert report["passes"][0]["changes"] == []  # type: ignore[index]
    assert [item["cause"] for item in report["remaining"]] == [  # type: ignore[union-attr]
        "RuntimeError: the model registry is not configured"
    ]
    assert "quarantine" not in tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["testfloor"]


def test_a_sub_project_with_its_own_asyncio_mode_and_markers_runs_with_them(tmp_path: Path, wheel: Path) -> None:
    write_project(
        tmp_path,
        {
            "pyproject.toml": PROJECT,
            "tests/test_root.py": "def test_root():\n    assert True\n",
            # Settings the root's run never reads: without them the plain async fixture and tests error.
            "services/api/pytest.ini": """
                [pytest]
                asyncio_mode = auto
                addopts = --strict-markers
                markers =
                    db: needs the database
                """,
            "services/api/tests/test_async.py": """
                import asyncio

                import pytest


                @pytest.fixture
                async def connection():
                    return asyncio.get_running_loop()


                @pytest.mark.db
                async def test_connection(connection):
                    assert connection is asyncio.get_running_loop()


                async def test_sleep():
                    await asyncio.sleep(0)
                """,
        },
    )
    report = heal(tmp_path, "clean", 0)
    assert report["fixes"] == {"subprojects": 1}
    settings = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["testfloor"]
    assert settings["subprojects"] == ["services/api"]
    totals = measure(tmp_path, wheel)  # runs every test: the async ones pass only in the sub-project's auto mode
    assert totals["covered_lines"] > 0
    assert collected(tmp_path) == "collected 3 tests"


def test_test_modules_of_one_name_in_one_tree_of_tests_collect_in_importlib_mode(tmp_path: Path, wheel: Path) -> None:
    write_project(
        tmp_path,
        {
            "pyproject.toml": PROJECT,
            "tests/unit/test_models.py": "def test_unit():\n    assert True\n",
            "tests/integration/test_models.py": "def test_integration():\n    assert True\n",
        },
    )
    report = heal(tmp_path, "clean", 0)
    assert (report["fixes"], report["quarantined"]) == ({"import_mode": 1}, [])
    measure(tmp_path, wheel)
    assert collected(tmp_path) == "collected 2 tests"


def test_a_plugin_named_with_p_that_its_entry_point_also_loads_is_installed_and_loaded_once(
    tmp_path: Path, wheel: Path
) -> None:
    # pytest-randomly registers itself as "randomly": `-p pytest_randomly` would register it a second time.
    write_project(
        tmp_path,
        {
            "pyproject.toml": f'{PROJECT}\n[tool.pytest.ini_options]\naddopts = "-p pytest_randomly"\n',
            "requirements-test.txt": f"{wheel}\npytest\n",
            "tests/test_a.py": "def test_a():\n    assert True\n",
        },
    )
    code, report = doctor(tmp_path, "--fix")
    assert (code, report["status"]) == (0, "clean"), report
    passes: list[dict[str, list[str]]] = report["passes"]  # type: ignore[assignment]
    assert [entry["applied"] for entry in passes] == [["install pytest_randomly"]]
    assert "pytest-randomly" in (tmp_path / "requirements-test.txt").read_text().splitlines()
    overrides: list[str] = report["overrides"]  # type: ignore[assignment]
    reason = "installed plugin 'randomly' is the same module: loaded once, its entry point skipped"
    assert f"plugins: -p pytest_randomly: {reason}" in overrides
    second_code, second = doctor(tmp_path, "--fix")
    assert (second_code, second["status"], second["passes"]) == (0, "clean", [])


def test_a_plugin_named_with_p_by_its_short_name_is_installed_as_its_pytest_distribution(
    tmp_path: Path, wheel: Path
) -> None:
    # `-p xdist`: the index's `xdist` is an unrelated package; the plugin's module comes with pytest-xdist.
    write_project(
        tmp_path,
        {
            "pyproject.toml": f'{PROJECT}\n[tool.pytest.ini_options]\naddopts = "-p xdist -n 2"\n',
            "requirements-test.txt": f"{wheel}\npytest\n",
            "tests/test_a.py": "def test_a():\n    assert True\n",
        },
    )
    code, report = doctor(tmp_path, "--fix")
    assert (code, report["status"], report["collected"]) == (0, "clean", 1), report
    passes: list[dict[str, list[str]]] = report["passes"]  # type: ignore[assignment]
    assert [entry["applied"] for entry in passes] == [["install xdist"]]
    lines = (tmp_path / "requirements-test.txt").read_text().splitlines()
    assert "pytest-xdist" in lines
    assert "xdist" not in lines
