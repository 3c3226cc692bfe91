from __future__ import annotations

from pathlib import Path

import pytest

from helpers import make_file
from testfloor import doctor, handenv, placeholders
from testfloor.config import load_config

SOURCE = """
import os
from os import environ, getenv

URL = os.environ.get("SQLALCHEMY_DATABASE_URL")
KEY = os.environ["SECRET_KEY"]
PORT = getenv("PORT")
MODE = environ.get("MODE", None)
NAME = os.getenv("NAME", default=None)
LEVEL = os.environ.get("LOG_LEVEL", "INFO")
OTHER = os.getenv(VARIABLE_NAME)
LOADED = load()["NOT_THE_ENVIRONMENT"]


class Settings:
    region = os.environ["REGION"]


def later():
    return os.environ["ONLY_WHEN_CALLED"]
"""


def test_variables_read_by_hand_at_import_are_found_with_their_lines() -> None:
    assert handenv.read_at_import(SOURCE) == {
        "SQLALCHEMY_DATABASE_URL": 5,
        "SECRET_KEY": 6,
        "PORT": 7,
        "MODE": 8,
        "NAME": 9,
        "REGION": 16,
    }
    assert handenv.read_at_import("def broken(:\n") == {}


def test_documented_values_come_from_env_examples_makefiles_compose_files_and_workflows(tmp_path: Path) -> None:
    make_file(tmp_path / ".env.example", "# copy to .env\nDATABASE_URL=postgresql+asyncpg://u:p@db/app\nREF=${OTHER}\n")
    make_file(tmp_path / "Makefile", "export REDIS_URL ?= redis://cache:6379/1\nDATABASE_URL := ignored\n")
    make_file(tmp_path / "docker-compose.yml", "services:\n  app:\n    environment:\n      - API_TOKEN=abc123\n")
    make_file(tmp_path / ".github" / "workflows" / "ci.yml", "env:\n  MODE: 'test'\n  EMPTY: ''\n")
    wanted = {"DATABASE_URL", "REDIS_URL", "API_TOKEN", "MODE", "REF", "EMPTY", "MISSING"}
    assert handenv.documented(tmp_path, wanted) == {
        "DATABASE_URL": "postgresql+asyncpg://u:p@db/app",
        "REDIS_URL": "redis://cache:6379/1",
        "API_TOKEN": "abc123",
        "MODE": "test",
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDIS_URL", "redis://localhost:6379/0"),
        ("SQLALCHEMY_DATABASE_URL", "postgresql://test:test@localhost:5432/test"),
        ("CELERY_BROKER_URL", "amqp://guest:guest@localhost:5672//"),
        ("WEBHOOK_URL", "http://localhost:8000"),
        ("APP_PORT", "8000"),
        ("JWT_SECRET", "testfloor-placeholder-0123456789abcdef0123456789"),
        ("DEBUG", "false"),
        ("REGION", "placeholder"),
    ],
)
def test_a_placeholder_has_the_shape_the_name_suggests(name: str, value: str) -> None:
    assert placeholders.candidates(name)[0] == value


def test_values_come_for_unset_variables_the_failing_line_first(tmp_path: Path) -> None:
    make_file(tmp_path / "app" / "db.py", SOURCE)
    make_file(tmp_path / ".env.sample", "SECRET_KEY=documented-secret-value\n")
    port = handenv.read_at_import((tmp_path / "app" / "db.py").read_text())["PORT"]
    values = handenv.values_for(tmp_path, {"app/db.py": port, "gone.py": 1}, lambda name: name != "MODE")
    assert next(iter(values)) == "PORT"
    assert values["SECRET_KEY"] == "documented-secret-value"
    assert "MODE" not in values


def test_doctor_sets_a_variable_read_by_hand_before_it_would_quarantine(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n\n[tool.testfloor]\n')
    make_file(tmp_path / "app" / "__init__.py")
    make_file(
        tmp_path / "app" / "db.py",
        """
        import os

        URL = os.environ.get("SQLALCHEMY_DATABASE_URL")
        if URL is None:
            raise TypeError("Expected string or URL object, got None")
        """,
    )
    make_file(tmp_path / "Makefile", "test:\n\tpytest\n\nSQLALCHEMY_DATABASE_URL ?= sqlite:///test.db\n")
    make_file(tmp_path / "tests" / "test_db.py", "from app.db import URL\n\n\ndef test_url():\n    assert URL\n")
    make_file(tmp_path / "tests" / "conftest.py", "import sys\n\nsys.path.insert(0, '.')\n")
    report = doctor.run(tmp_path, fix=True)
    assert report.status == "clean", report
    assert report.passes[0].changes == ("1 env var read by hand at import (SQLALCHEMY_DATABASE_URL)",)
    assert load_config(tmp_path).env["SQLALCHEMY_DATABASE_URL"].value == "sqlite:///test.db"


def test_a_variable_read_by_the_module_that_called_the_failing_helper_gets_a_value(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n\n[tool.testfloor]\n')
    make_file(tmp_path / "app" / "__init__.py")
    # The error is raised in the helper; the variable is read by the module that calls it.
    make_file(
        tmp_path / "app" / "engine.py",
        """
        def create_engine(url):
            if url is None:
                raise TypeError("Expected string or URL object, got None")
            return url
        """,
    )
    make_file(
        tmp_path / "app" / "db.py",
        """
        import os

        from app.engine import create_engine

        ENGINE = create_engine(os.environ.get("WAREHOUSE_DATABASE_URL"))
        """,
    )
    make_file(tmp_path / "tests" / "test_db.py", "from app.db import ENGINE\n\n\ndef test_engine():\n    pass\n")
    make_file(tmp_path / "tests" / "conftest.py", "import sys\n\nsys.path.insert(0, '.')\n")
    report = doctor.run(tmp_path, fix=True)
    assert report.status == "clean", report
    assert report.quarantined == ()
    assert report.passes[0].changes == ("1 env var read by hand at import (WAREHOUSE_DATABASE_URL)",)
    assert load_config(tmp_path).env["WAREHOUSE_DATABASE_URL"].value.startswith("postgresql://")


def test_only_python_files_on_the_way_to_an_error_are_read_for_variables(tmp_path: Path) -> None:
    from testfloor.collect import Cause, CollectError, Outcome

    make_file(tmp_path / "pyproject.toml", "[tool.testfloor]\n")
    make_file(tmp_path / "app" / "db.py", 'import os\n\nURL = os.environ.get("LEDGER_URL")\n')
    cause = Cause("builtins.TypeError", "got None", None, "app/fast.pyx", 3, trail=("app/fast.pyx:3", "app/db.py:3"))
    failing = Outcome(2, (), (CollectError("tests/test_db.py", "E", (cause,)),))
    steps = iter([failing, Outcome(0, ("tests/test_db.py::t",), ())])
    report = doctor.run(tmp_path, fix=True, collect=lambda root: next(steps))
    assert report.passes[0].changes == ("1 env var read by hand at import (LEDGER_URL)",)


def test_a_variable_only_the_shell_running_doctor_sets_still_gets_a_declared_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n\n[tool.testfloor]\n')
    make_file(tmp_path / "app" / "__init__.py")
    make_file(tmp_path / "app" / "auth.py", 'import os\n\nTOKEN = os.environ["LEDGER_APP_TOKEN"]\n')
    make_file(tmp_path / "tests" / "conftest.py", "import sys\n\nsys.path.insert(0, '.')\n")
    make_file(tmp_path / "tests" / "test_auth.py", "from app.auth import TOKEN\n\n\ndef test_token():\n    pass\n")
    # Set here, in CI it is not: the suite must collect there too.
    monkeypatch.setenv("LEDGER_APP_TOKEN", "only-in-this-shell")
    report = doctor.run(tmp_path, fix=True)
    assert report.status == "clean", report
    assert report.passes[0].changes == ("1 env var read by hand at import (LEDGER_APP_TOKEN)",)
    assert load_config(tmp_path).env["LEDGER_APP_TOKEN"].value != "only-in-this-shell"


def test_a_variable_read_by_hand_after_the_settings_are_built_comes_first_then_the_settings(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n\n[tool.testfloor]\n')
    make_file(tmp_path / "app" / "__init__.py")
    make_file(
        tmp_path / "app" / "config.py",
        """
        import os

        from pydantic_settings import BaseSettings


        class Settings(BaseSettings):
            warehouse_id: str


        settings = Settings()
        REGION = os.environ["INVENTORY_REGION"]
        """,
    )
    make_file(tmp_path / "tests" / "conftest.py", "import sys\n\nsys.path.insert(0, '.')\n")
    make_file(tmp_path / "tests" / "test_config.py", "from app.config import REGION\n\n\ndef test_a():\n    pass\n")
    report = doctor.run(tmp_path, fix=True)
    assert report.status == "clean", report
    # Discovery fails on the variable read by hand: that variable first, the settings on the next pass.
    assert [item.changes for item in report.passes] == [
        ("1 env var (INVENTORY_REGION)",),
        ("1 env var (WAREHOUSE_ID)",),
    ]
