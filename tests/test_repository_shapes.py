"""`testfloor doctor --fix` on the repository shapes real suites come in: monorepos, import roots, placeholders.

Each shape is a small generated project. `doctor --fix` must reach "clean" (exit 0; "quarantined", exit 10, where
the project has a genuine bug, which alone is quarantined); the sessions' own gate, `nox -s collect`, must then
collect every test of every sub-project; nothing `doctor` wrote may hold a path of this machine; and a second
`doctor --fix` must change no byte.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from helpers import NOXFILE, clean_environ, make_file, tree_digest
from wheelhouse import make_wheel

if TYPE_CHECKING:
    from collections.abc import Callable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
NEWEST = "3.13"
pytestmark = [
    pytest.mark.slow,
    # doctor --fix builds the test environment on the newest of each project's Pythons, whichever runs the suite:
    # once, from the newest, is enough.
    pytest.mark.skipif(PYTHON != NEWEST, reason=f"runs once, on Python {NEWEST}: doctor builds its own environment"),
]
ROOT = f'[project]\nname = "shape"\nversion = "1"\nrequires-python = "=={NEWEST}.*"\n'
ASYNC_DRIVERS = ("asyncpg", "aiosqlite", "asyncmy", "psycopg_async")


@dataclass(frozen=True)
class Shape:
    """A generated project, and what `doctor --fix` must leave it as."""

    files: dict[str, str]
    collected: int  # the tests `nox -s collect` must collect: every test of every sub-project
    quarantined: tuple[str, ...] = ()  # the genuine project bugs, and nothing else
    check: Callable[[Path, dict[str, Any], dict[str, str]], None] | None = None


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A light package no index has: what a "requires the floorclient package" error asks for."""
    directory = tmp_path_factory.mktemp("wheelhouse")
    make_wheel(directory, "floorclient", "1.0", {"floorclient.py": "def get(url):\n    return url\n"})
    return directory


def run(command: list[str], root: Path, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=root, env=environ, capture_output=True, text=True, check=False)


def doctor(root: Path, environ: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    result = run([sys.executable, "-m", "testfloor", "doctor", "--fix", "--json"], root, environ)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout), result.stderr


def settings_of(root: Path) -> dict[str, Any]:
    tool: dict[str, dict[str, Any]] = tomllib.loads((root / "pyproject.toml").read_text()).get("tool", {})
    return tool.get("testfloor", {})


def machine_paths(root: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """What a file written on this machine must not hold: its temporary, home and interpreter directories."""
    places = {root, tmp_path_factory.getbasetemp(), Path.home(), Path(sys.prefix), Path(sys.base_prefix)}
    return sorted(f"{place}{'/' if place != root else ''}" for place in places)


def python_code(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def monorepo() -> Shape:
    """Four sub-projects: a backend three levels down, two job packages, and an SDK without a conftest."""
    files = {"pyproject.toml": ROOT}
    backend = "services/api/backend"
    files[f"{backend}/pyproject.toml"] = (
        '[project]\nname = "backend"\nversion = "1"\n\n'
        '[tool.pytest.ini_options]\npythonpath = ["."]\ntestpaths = ["tests"]\n'
    )
    files[f"{backend}/app/__init__.py"] = ""
    files[f"{backend}/app/core.py"] = python_code("def add(a, b):", "    return a + b")
    files[f"{backend}/tests/conftest.py"] = python_code(
        "import pytest", "", "", "@pytest.fixture", "def numbers():", "    return (1, 2)"
    )
    files[f"{backend}/tests/test_core.py"] = python_code(
        "from app.core import add",
        "",
        "",
        "def test_add(numbers):",
        "    assert add(*numbers) == 3",
        "",
        "",
        "def test_add_zero():",
        "    assert add(0, 0) == 0",
    )
    for job in ("ingest", "report"):
        files[f"jobs/{job}/pyproject.toml"] = (
            f'[project]\nname = "{job}-job"\nversion = "1"\n\n[tool.pytest.ini_options]\npythonpath = ["."]\n'
        )
        files[f"jobs/{job}/{job}/__init__.py"] = python_code("def run():", f"    return {job!r}")
        files[f"jobs/{job}/tests/conftest.py"] = python_code(
            "import pytest", "", "", "@pytest.fixture", "def job():", f"    return {job!r}"
        )
        # The same file name in both jobs: from the root, pytest sees two modules called test_job.
        files[f"jobs/{job}/tests/test_job.py"] = python_code(
            f"from {job} import run", "", "", "def test_run(job):", "    assert run() == job"
        )
    files["sdk/pyproject.toml"] = '[project]\nname = "mono-sdk"\nversion = "1"\n\n[tool.pytest.ini_options]\n'
    files["sdk/pyproject.toml"] += 'pythonpath = ["src"]\n'
    files["sdk/src/mono_sdk/__init__.py"] = python_code("def client(base):", "    return {'base': base}")
    files["sdk/tests/test_client.py"] = python_code(
        "from mono_sdk import client", "", "", "def test_client():", "    assert client('x') == {'base': 'x'}"
    )
    # Tests outside every sub-project: a run of their own, never dropped.
    files["tests/test_smoke.py"] = python_code("def test_smoke():", "    assert True")

    def check(root: Path, settings: dict[str, Any], environ: dict[str, str]) -> None:
        assert sorted(settings.get("subprojects", [])) == sorted([backend, "jobs/ingest", "jobs/report", "sdk"])

    return Shape(files, collected=6, check=check)


def sibling_examples() -> Shape:
    """Example folders side by side, each with its own `model.py` and `test_api.py` and no `__init__.py`."""
    files = {"pyproject.toml": ROOT}
    for folder, name in (("detector", "Detector"), ("tracker", "Tracker")):
        files[f"examples/{folder}/model.py"] = python_code(f"class {name}:", f"    kind = {folder!r}")
        files[f"examples/{folder}/test_api.py"] = python_code(
            f"from model import {name}", "", "", "def test_kind():", f"    assert {name}.kind == {folder!r}"
        )
    return Shape(files, collected=2)


def namespace_package() -> Shape:
    """A namespace package holding an `evaluator.py`, imported as `evaluator.definition` from its parent."""
    files = {
        "pyproject.toml": ROOT,
        "components/evaluator/definition.py": python_code("class Definition:", "    name = 'accuracy'"),
        "components/evaluator/evaluator.py": python_code("def evaluate():", "    return 1.0"),
        "tests/test_evaluator.py": python_code(
            "from evaluator.definition import Definition",
            "from evaluator.evaluator import evaluate",
            "",
            "",
            "def test_definition():",
            "    assert Definition.name == 'accuracy'",
            "    assert evaluate() == 1.0",
        ),
    }

    def check(root: Path, settings: dict[str, Any], environ: dict[str, str]) -> None:
        assert settings.get("pythonpath") == ["components"]

    return Shape(files, collected=1, check=check)


def shadowing_names() -> Shape:
    """A local `datasets.py` (named like a heavy package) and `secrets.py` (like the standard library) in a package."""
    files = {
        "pyproject.toml": ROOT,
        "schemas/catalog/__init__.py": "",
        "schemas/catalog/datasets.py": python_code("NAMES = ['train', 'test']"),
        "schemas/catalog/secrets.py": python_code("FIELDS = ['api_key']"),
        "schemas/catalog/models.py": python_code(
            "from pydantic import BaseModel, Field",
            "",
            "",
            "class Item(BaseModel):",
            "    name: str = Field(min_length=1)",
        ),
        "app/__init__.py": "",
        # The heavy package, not the local file: and the standard library's secrets, not the local one.
        "app/loader.py": python_code(
            "import secrets",
            "",
            "import datasets",
            "",
            "TOKEN = secrets.token_hex(4)",
            "",
            "",
            "def load(name):",
            "    return datasets.load_dataset(name)",
        ),
        "tests/test_loader.py": python_code(
            "from app.loader import TOKEN", "", "", "def test_token():", "    assert len(TOKEN) == 8"
        ),
        "tests/test_catalog.py": python_code(
            "from catalog.datasets import NAMES",
            "from catalog.models import Item",
            "from catalog.secrets import FIELDS",
            "",
            "",
            "def test_catalog():",
            "    assert Item(name=NAMES[0]).name == 'train'",
            "    assert FIELDS == ['api_key']",
        ),
    }

    def check(root: Path, settings: dict[str, Any], environ: dict[str, str]) -> None:
        assert "datasets" in settings.get("stubs", [])
        assert settings.get("pythonpath") == ["schemas"]

    return Shape(files, collected=2, check=check)


ENGINE = python_code(
    "class ArgumentError(Exception):",
    "    pass",
    "",
    "",
    "class InvalidRequestError(Exception):",
    "    pass",
    "",
    "",
    "def create_engine(url):",
    "    if not isinstance(url, str):",
    "        raise ArgumentError(f'Expected string or URL object, got {url!r}')",
    "    scheme, found, _ = url.partition('://')",
    "    if not found:",
    "        raise ArgumentError(f'Could not parse SQLAlchemy URL from string {url!r}')",
    "    return {'url': url, 'driver': scheme.partition('+')[2]}",
    "",
    "",
    "def create_async_engine(url):",
    "    engine = create_engine(url)",
    f"    if engine['driver'] not in {ASYNC_DRIVERS!r}:",
    "        raise InvalidRequestError(",
    "            'The asyncio extension requires an async driver to be used. '",
    "            f\"The loaded {engine['driver'] or 'default'!r} is not async.\"",
    "        )",
    "    return engine",
)


def environ_get_url() -> Shape:
    """`create_engine(os.environ.get("SQLALCHEMY_DATABASE_URL"))` at import; the Makefile documents the value."""
    files = {
        "pyproject.toml": ROOT,
        "Makefile": "export SQLALCHEMY_DATABASE_URL ?= sqlite:///./test.db\n\ntest:\n\tpytest\n",
        "app/__init__.py": "",
        "app/engine.py": ENGINE,
        "app/db.py": python_code(
            "import os",
            "",
            "from app.engine import create_engine",
            "",
            "engine = create_engine(os.environ.get('SQLALCHEMY_DATABASE_URL'))",
        ),
        "tests/test_db.py": python_code(
            "from app.db import engine", "", "", "def test_engine():", "    assert engine['url']"
        ),
        "tests/test_plain.py": python_code("def test_plain():", "    assert True"),
    }

    def check(root: Path, settings: dict[str, Any], environ: dict[str, str]) -> None:
        assert settings["env"] == {"SQLALCHEMY_DATABASE_URL": "sqlite:///./test.db"}

    return Shape(files, collected=2, check=check)


def fernet_key() -> Shape:
    """A required pydantic-settings secret decoded at import as a Fernet key: 32 bytes of URL-safe base64."""
    files = {
        "pyproject.toml": ROOT,
        "app/__init__.py": "",
        "app/crypto.py": python_code(
            "import base64",
            "import binascii",
            "",
            "from pydantic_settings import BaseSettings",
            "",
            "",
            "class Settings(BaseSettings):",
            "    secret_key: str",
            "    app_name: str = 'shape'",
            "",
            "",
            "settings = Settings()",
            "try:",
            "    KEY = base64.urlsafe_b64decode(settings.secret_key.encode())",
            "    if len(KEY) != 32:",
            "        raise ValueError('Fernet key must be 32 url-safe base64-encoded bytes.')",
            "except (binascii.Error, ValueError) as err:",
            "    raise ValueError(f'Unable to decode secret_key: {err}') from err",
        ),
        "tests/test_crypto.py": python_code("from app.crypto import KEY", "", "", "def test_key():", "    assert KEY"),
        "tests/test_name.py": python_code(
            "from app.crypto import settings", "", "", "def test_name():", "    assert settings.app_name == 'shape'"
        ),
    }

    def check(root: Path, settings: dict[str, Any], environ: dict[str, str]) -> None:
        value = settings["env"]["SECRET_KEY"]
        assert len(base64.urlsafe_b64decode(value)) == 32

    return Shape(files, collected=2, check=check)


def async_engine() -> Shape:
    """An async engine built at import from a required setting: only an async driver URL is accepted."""
    files = {
        "pyproject.toml": ROOT,
        "app/__init__.py": "",
        "app/engine.py": ENGINE,
        "app/db.py": python_code(
            "from pydantic_settings import BaseSettings",
            "",
            "from app.engine import create_async_engine",
            "",
            "",
            "class Settings(BaseSettings):",
            "    db_connection_string: str",
            "",
            "",
            "engine = create_async_engine(Settings().db_connection_string)",
        ),
        "tests/test_db.py": python_code(
            "from app.db import engine", "", "", "def test_driver():", "    assert engine['driver']"
        ),
        "tests/test_repository.py": python_code(
            "from app.db import engine", "", "", "def test_url():", "    assert '://' in engine['url']"
        ),
    }

    def check(root: Path, settings: dict[str, Any], environ: dict[str, str]) -> None:
        value = settings["env"]["DB_CONNECTION_STRING"]
        assert value.partition("://")[0].partition("+")[2] in ASYNC_DRIVERS

    return Shape(files, collected=2, check=check)


def requires_a_package() -> Shape:
    """`RuntimeError: ... requires the floorclient package to be installed`, raised `from None`."""
    files = {
        "pyproject.toml": ROOT,
        "app/__init__.py": "",
        "app/client.py": python_code(
            "try:",
            "    import floorclient",
            "except ModuleNotFoundError:",
            "    raise RuntimeError(",
            "        'The app.client module requires the floorclient package to be installed. '",
            "        'You can install this with: $ pip install floorclient'",
            "    ) from None",
            "",
            "",
            "def fetch(url):",
            "    return floorclient.get(url)",
        ),
        "tests/test_client.py": python_code(
            "from app.client import fetch", "", "", "def test_fetch():", "    assert fetch('x') == 'x'"
        ),
    }

    def check(root: Path, settings: dict[str, Any], environ: dict[str, str]) -> None:
        assert "floorclient" in (root / "requirements-test.txt").read_text().splitlines()
        assert "floorclient" not in settings.get("stubs", [])

    return Shape(files, collected=1, check=check)


def python_version() -> Shape:
    """A package that refuses Pythons before 3.12 at import, in a project that allows 3.10 and later."""
    files = {
        "pyproject.toml": '[project]\nname = "shape"\nversion = "1"\nrequires-python = ">=3.10"\n',
        "svc/__init__.py": python_code(
            "import sys",
            "",
            "if sys.version_info < (3, 12):",
            "    raise RuntimeError('svc requires Python 3.12 or newer')",
        ),
        "tests/test_svc.py": python_code("import svc", "", "", "def test_svc():", "    assert svc"),
    }

    def check(root: Path, settings: dict[str, Any], environ: dict[str, str]) -> None:
        # Every Python the sessions run on must import the package: 3.10 and 3.11 would not collect.
        listed = run([sys.executable, "-m", "nox", "--list", "--json"], root, environ)
        sessions = {session["session"] for session in json.loads(listed.stdout)}
        assert {name for name in sessions if name.startswith("tests-")} == {"tests-3.12", "tests-3.13"}
        assert settings["python"] == ["3.12", "3.13"]

    return Shape(files, collected=1, check=check)


def asyncio_auto_sub_project() -> Shape:
    """A sub-project whose own pytest settings say `asyncio_mode = "auto"`: its async tests carry no marker."""
    files = {
        "pyproject.toml": ROOT,
        "tests/test_root.py": python_code("def test_root():", "    assert True"),
        "services/worker/pyproject.toml": '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n',
        "services/worker/tests/test_jobs.py": python_code(
            "import asyncio",
            "",
            "import pytest",
            "",
            "",
            "@pytest.fixture",
            "async def queue():",
            "    return asyncio.Queue()",
            "",
            "",
            "async def test_put(queue):",
            "    await queue.put(1)",
            "    assert queue.qsize() == 1",
            "",
            "",
            "async def test_sleep():",
            "    await asyncio.sleep(0)",
        ),
    }

    def check(root: Path, settings: dict[str, Any], environ: dict[str, str]) -> None:
        # Collecting is not enough: in strict mode the async tests are collected, then fail.
        tests = run([sys.executable, "-m", "nox", "--no-color", "-s", "tests"], root, environ)
        output = tests.stdout + tests.stderr
        assert tests.returncode == 0, output
        # One run a sub-project: the counts of every run add up to the three tests, none failed or errored.
        assert sum(int(count) for count in re.findall(r"\b(\d+) passed\b", output)) == 3, output
        assert not re.search(r"\b\d+ (failed|errors?)\b", output), output

    return Shape(files, collected=3, check=check)


def a_project_bug() -> Shape:
    """A genuine bug (a `NameError` at import) beside healthy tests: quarantined alone, with a reason that travels."""
    files = {
        "pyproject.toml": ROOT,
        "app/__init__.py": "",
        "app/schema.py": "DEFAULT_ROLE = UserRole.ADMIN\n",
        "app/pricing.py": python_code("def total(amount, discount=0):", "    return amount - discount"),
        "tests/test_schema.py": python_code(
            "from app.schema import DEFAULT_ROLE", "", "", "def test_role():", "    assert DEFAULT_ROLE"
        ),
        "tests/test_pricing.py": python_code(
            "from app.pricing import total",
            "",
            "",
            "def test_total():",
            "    assert total(10) == 10",
            "",
            "",
            "def test_discount():",
            "    assert total(10, 3) == 7",
        ),
    }

    def check(root: Path, settings: dict[str, Any], environ: dict[str, str]) -> None:
        (entry,) = settings["quarantine"]
        assert entry["reason"] == "project bug: NameError: name 'UserRole' is not defined (app/schema.py:1)"

    return Shape(files, collected=2, quarantined=("tests/test_schema.py",), check=check)


SHAPES = [
    pytest.param(monorepo, id="monorepo"),
    pytest.param(sibling_examples, id="sibling_examples"),
    pytest.param(namespace_package, id="namespace_package"),
    pytest.param(shadowing_names, id="shadowing_names"),
    pytest.param(environ_get_url, id="environ_get_url"),
    pytest.param(fernet_key, id="fernet_key"),
    pytest.param(async_engine, id="async_engine"),
    pytest.param(requires_a_package, id="requires_a_package"),
    pytest.param(python_version, id="python_version"),
    pytest.param(asyncio_auto_sub_project, id="asyncio_auto_sub_project"),
    pytest.param(a_project_bug, id="a_project_bug"),
]


@pytest.mark.parametrize("make", SHAPES)
def test_doctor_fix_makes_every_sub_project_collect_quarantines_only_bugs_and_settles(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    wheelhouse: Path,
    make: Callable[[], Shape],
) -> None:
    shape = make()
    root = tmp_path / "project"
    for name, text in shape.files.items():
        make_file(root / name, text)
    # testfloor from this tree, and the test stack; doctor adds what it installs below these lines.
    requirements = [str(wheel), "pytest", "pytest-asyncio", "pydantic-settings"]
    make_file(root / "requirements-test.txt", "\n".join(requirements) + "\n")
    make_file(root / "noxfile.py", NOXFILE)
    environ = clean_environ(UV_FIND_LINKS=str(wheelhouse), PIP_FIND_LINKS=str(wheelhouse), NOX_DOWNLOAD_PYTHON="never")
    before = tree_digest(root)

    code, report, progress = doctor(root, environ)
    status = "quarantined" if shape.quarantined else "clean"
    assert (code, report["status"]) == (10 if shape.quarantined else 0, status), progress + json.dumps(report)
    settled = tree_digest(root)
    changed = {name for name in set(before) | set(settled) if before.get(name) != settled.get(name)}
    assert changed <= {"pyproject.toml", "requirements-test.txt"}
    settings = settings_of(root)
    assert tuple(entry["node"] for entry in settings.get("quarantine", [])) == shape.quarantined

    # Nothing doctor wrote holds a path of this machine: pyproject.toml and the lines it added to the requirements.
    added = [line for line in (root / "requirements-test.txt").read_text().splitlines() if line not in requirements]
    written = (root / "pyproject.toml").read_text() + "\n".join(added)
    assert [place for place in machine_paths(root, tmp_path_factory) if place in written] == []
    assert re.search(r"/[^\s\"']*site-packages", written) is None, written

    second_code, second, _ = doctor(root, environ)
    assert (second_code, second["status"], second["passes"]) == (code, status, [])
    assert tree_digest(root) == settled

    gate = run([sys.executable, "-m", "nox", "--no-color", "-s", "collect"], root, environ)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert f"collected {shape.collected} tests" in gate.stdout + gate.stderr, gate.stdout + gate.stderr
    if shape.check is not None:
        shape.check(root, settings, environ)
