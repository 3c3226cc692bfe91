from __future__ import annotations

import base64
import binascii
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from helpers import make_file
from testfloor import doctor, doctorreport, placeholders, settings_discovery
from testfloor.classify import Diagnosis
from testfloor.config import EnvValue, load_config


def parsed_url(value: str) -> tuple[str, str]:
    """The dialect and driver of a database URL, by SQLAlchemy's own parser when it is installed."""
    try:
        from sqlalchemy.engine import make_url
    except ImportError:
        scheme = urlsplit(value).scheme
        assert "://" in value, value
        assert scheme, value
        database, _, driver = scheme.partition("+")
        return database, driver
    url = make_url(value)
    return url.get_backend_name(), url.get_driver_name() if "+" in url.drivername else ""


def test_the_fernet_key_decodes_to_32_url_safe_bytes_and_is_standard_base64_too() -> None:
    (key,) = placeholders.SHAPES["fernet"]
    assert len(key) == 44
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert base64.b64decode(key, validate=True) == base64.urlsafe_b64decode(key)


def test_each_shape_value_decodes_as_the_code_that_needs_it_would() -> None:
    (encoded,) = placeholders.SHAPES["base64"]
    assert len(base64.b64decode(encoded, validate=True)) == 32
    (hexadecimal,) = placeholders.SHAPES["hex"]
    assert len(bytes.fromhex(hexadecimal)) == 32
    (identifier,) = placeholders.SHAPES["uuid"]
    assert uuid.UUID(identifier).version == 4
    assert 0 < int(placeholders.SHAPES["port"][0]) < 65536
    assert [parsed_url(value) for value in placeholders.SHAPES["async_url"]] == [
        ("postgresql", "asyncpg"),
        ("sqlite", "aiosqlite"),
    ]
    assert [parsed_url(value)[1] for value in placeholders.SHAPES["sync_url"]] == ["", ""]
    for shape, values in placeholders.SHAPES.items():
        assert all(placeholders.fits(value, shape) for value in values), shape


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        ("testfloor-placeholder-0123456789abcdef0123456789", "fernet"),
        (base64.urlsafe_b64encode(b"too short").decode(), "fernet"),
        ("not base64!", "base64"),
        ("xyz", "hex"),
        ("not-a-uuid", "uuid"),
        ("eight thousand", "port"),
        ("-1", "int"),
        ("someone at example", "email"),
        ("test-db-connection-string", "sync_url"),
        ("postgresql://test@localhost/test", "async_url"),
        ("sqlite+aiosqlite:///:memory:", "sync_url"),
        ("localhost:8000", "url"),
    ],
)
def test_a_value_of_another_shape_does_not_fit(value: str, shape: str) -> None:
    assert not placeholders.fits(value, shape)


def test_a_value_of_no_known_shape_fits_anything() -> None:
    assert placeholders.fits("anything", "secret")


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("FERNET_KEY", "fernet"),
        ("ENCRYPTION_KEY", "fernet"),
        ("TENANT_UUID", "uuid"),
        ("SIGNING_KEY_HEX", "hex"),
        ("ADMIN_EMAIL", "email"),
        ("DB_CONNECTION_STRING", "sync_url"),
        ("CELERY_BROKER_URL", "amqp_url"),
        ("JWT_SECRET", "secret"),
        ("REGION", None),
    ],
)
def test_the_name_suggests_a_shape(name: str, shape: str | None) -> None:
    assert placeholders.by_name(name) == shape


USAGE = """
import base64
import os
import uuid

from cryptography.fernet import Fernet
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import settings

fernet = Fernet(settings.secret_key.encode())
RAW = base64.b64decode(str(settings.api_key))
URL = os.environ.get("DB_CONNECTION_STRING")
engine = create_async_engine(URL, echo=False)
reports = create_engine(url=os.getenv("REPORTS_DSN"))
TENANT = uuid.UUID(os.environ["TENANT"])
SALT = bytes.fromhex(settings.salt.get_secret_value())
WORKERS = int(os.environ.get("WORKERS"))
OTHER = Fernet(load_key())
SKIPPED = int(3)
"""


def test_the_usage_in_the_source_says_what_shape_each_value_needs() -> None:
    assert placeholders.usage(USAGE) == {
        "secret_key": "fernet",
        "api_key": "base64",
        "db_connection_string": "async_url",
        "reports_dsn": "sync_url",
        "tenant": "uuid",
        "salt": "hex",
        "workers": "int",
    }
    assert placeholders.usage("def broken(:\n") == {}


def test_the_usage_is_read_from_every_project_file_but_hidden_and_environment_directories(tmp_path: Path) -> None:
    make_file(tmp_path / "app" / "crypto.py", "fernet = Fernet(settings.secret_key)\n")
    make_file(tmp_path / "app" / "plain.py", "VALUE = int(settings.workers)\n")  # no tell-tale call: not parsed
    make_file(tmp_path / ".venv" / "lib.py", "x = Fernet(settings.hidden)\n")
    make_file(tmp_path / "env" / "pyvenv.cfg", "")
    make_file(tmp_path / "env" / "lib.py", "x = Fernet(settings.in_a_venv)\n")
    (tmp_path / "app" / "binary.py").write_bytes(b"\xff\xfe Fernet")
    assert placeholders.usage_in(tmp_path) == {"secret_key": "fernet"}


def test_a_prefixed_variable_takes_the_shape_of_its_field() -> None:
    used = {"secret_key": "fernet"}
    assert placeholders.shape_for("APP_SECRET_KEY", used) == "fernet"
    assert placeholders.shape_for("SECRET_KEY", used) == "fernet"
    assert placeholders.shape_for("OTHER", used) is None


def test_the_documented_value_comes_first_only_when_it_has_the_shape_the_code_needs() -> None:
    sync = "postgresql://user:pass@db/app"
    assert placeholders.candidates("DATABASE_URL", documented=sync)[0] == sync
    needed = placeholders.candidates("DATABASE_URL", used="async_url", documented=sync)
    assert needed[0] == "postgresql+asyncpg://test:test@localhost:5432/test"
    assert needed[-1] == sync
    assert placeholders.candidates("REGION", documented="eu-west-1") == ["eu-west-1"]
    assert placeholders.candidates("REGION") == ["placeholder"]


def test_the_values_after_a_rejected_one_leave_it_out_and_end_with_the_other_kind_of_database_url() -> None:
    assert placeholders.following("DB_URL", "postgresql://test:test@localhost:5432/test") == [
        "sqlite:///:memory:",
        "postgresql+asyncpg://test:test@localhost:5432/test",
        "sqlite+aiosqlite:///:memory:",
    ]
    assert placeholders.following("DB_URL", "sqlite+aiosqlite:///:memory:", used="async_url")[-1] == (
        "sqlite:///:memory:"
    )
    assert placeholders.following("REGION", "placeholder") == []


def test_a_scheme_the_error_names_is_tried_first() -> None:
    cause = "RuntimeError: needs a DSN of the form mysql+aiomysql://user@host/db"
    assert placeholders.following("APP_DSN", "postgresql://test:test@localhost:5432/test", cause=cause)[:2] == [
        "mysql+aiomysql://test:test@localhost:5432/test",
        "sqlite:///:memory:",
    ]
    assert placeholders.following("REGION", "x", cause="expected s3://bucket")[0] == "s3://localhost"


@pytest.mark.parametrize(
    "cause",
    [
        "RuntimeError: needs an async DSN (postgresql+asyncpg://...)",
        "ValueError: the engine must use postgresql+asyncpg",
        "ValueError: unsupported database scheme 'postgresql'",
        "ValueError: invalid DSN",
    ],
)
def test_errors_about_a_database_urls_kind_are_about_a_values_format(cause: str) -> None:
    assert placeholders.from_error(cause) is not None


def test_a_settings_string_gets_the_shape_its_usage_or_name_needs_within_its_constraints() -> None:
    fernet, secret = placeholders.SHAPES["fernet"][0], placeholders.SHAPES["secret"][0]
    assert placeholders.shaped("secret_key", "fernet", {}) == [fernet, secret]  # the name's shape as a fallback
    assert placeholders.shaped("secret_key", None, {}) == []  # a plain secret: the probe's own padded texts
    assert placeholders.shaped("region", None, {}) == []
    assert placeholders.shaped("db_url", None, {"pattern": "^sqlite"}) == ["sqlite:///:memory:"]
    assert placeholders.shaped("db_url", None, {"max_length": 20}) == ["sqlite:///:memory:"]
    assert placeholders.shaped("db_url", None, {"min_length": 30}) == ["postgresql://test:test@localhost:5432/test"]
    hexadecimal, identifier = placeholders.SHAPES["hex"][0], placeholders.SHAPES["uuid"][0]
    assert placeholders.shaped("signing_key", None, {"pattern": "^[0-9a-f]{64}$"}) == [hexadecimal]
    assert placeholders.shaped("tenant", None, {"pattern": r"^\w{8}-\w{4}-"}) == [identifier]
    assert placeholders.shaped("tenant", None, {"pattern": "^nothing-has-this$"}) == []


def test_an_async_engine_gets_its_dsn_with_an_async_driver_first() -> None:
    values = ["postgresql://test:test@localhost:5432/test", "cockroachdb://x"]
    assert placeholders.with_driver(values, "async_url") == [
        "postgresql+asyncpg://test:test@localhost:5432/test",
        *values,
    ]
    assert placeholders.with_driver(values, None) == values


@pytest.mark.parametrize(
    ("message", "shape"),
    [
        ("ValueError: Unable to decode secret_key", ""),
        ("binascii.Error: Incorrect padding", ""),
        ("ValueError: Fernet key must be 32 url-safe base64-encoded bytes.", ""),
        ("ArgumentError: Could not parse SQLAlchemy URL from given URL string", ""),
        ("NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:test-db", ""),
        ("InvalidRequestError: The asyncio extension requires an async driver to be used.", "async_url"),
        ("ValueError: badly formed hexadecimal UUID string", "uuid"),
        ("ValueError: non-hexadecimal number found in fromhex() arg at position 0", "hex"),
        ("ValueError: invalid literal for int() with base 10: 'x'", "int"),
        ("NameError: name 'UserRole' is not defined", None),
    ],
)
def test_an_error_about_a_values_format_is_recognised(message: str, shape: str | None) -> None:
    assert placeholders.from_error(message) == shape


def test_the_variables_an_error_blames_are_named_repeated_or_read_by_the_failing_module() -> None:
    values = {"SECRET_KEY": "not-a-key", "DB_CONNECTION_STRING": "test-db", "OTHER": "x"}
    assert placeholders.involved("ValueError: Unable to decode secret_key", "", values) == ["SECRET_KEY"]
    assert placeholders.involved("ValueError: Invalid base64 'not-a-key'", "", values) == ["SECRET_KEY"]
    assert placeholders.involved("ConnectionError: refused 'not-a-key'", "", values) == []
    source = 'import os\nURL = os.environ.get("DB_CONNECTION_STRING")\n'
    assert placeholders.involved("ArgumentError: Could not parse SQLAlchemy URL", source, values) == [
        "DB_CONNECTION_STRING"
    ]
    used = "fernet = Fernet(settings.other)\n"
    assert placeholders.involved("binascii.Error: Incorrect padding", used, values) == ["OTHER"]
    assert placeholders.involved("NameError: name 'UserRole' is not defined", source, values) == []


def test_an_error_a_value_testfloor_set_caused_is_testfloors_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_file(tmp_path / "app" / "db.py", 'import os\nURL = os.environ.get("DB_URL")\n')
    error = Diagnosis("tests/test_db.py", "other", "", "ArgumentError: Could not parse SQLAlchemy URL", "app/db.py", 2)
    declared = {"DB_URL": EnvValue("test-db-url")}
    own = placeholders.own(error, tmp_path, declared)
    assert (own.kind, own.subject, own.fix, own.is_project_bug) == ("placeholder", "DB_URL", "placeholder", False)
    assert placeholders.own(error, tmp_path, {}) == error  # nothing testfloor set: the project's own error
    unlocated = Diagnosis("tests/test_db.py", "other", "", error.cause)
    assert placeholders.own(unlocated, tmp_path, declared) == unlocated
    settings = Diagnosis("tests/test_db.py", "settings", "Settings", "Settings: missing or invalid url", "app/db.py")
    assert placeholders.own(settings, tmp_path, declared) == settings
    gone = Diagnosis("tests/test_db.py", "other", "", error.cause, "app/gone.py", 1)
    assert placeholders.own(gone, tmp_path, declared) == gone
    # A value only the shell running doctor sets is not what its probes saw (a fresh clone has none): still ours.
    monkeypatch.setenv("DB_URL", "the-outer-value")
    assert placeholders.own(error, tmp_path, declared).kind == "placeholder"


CRYPTO = """
    import base64
    import os

    KEY = base64.urlsafe_b64decode(os.environ["SECRET_KEY"])
    if len(KEY) != 32:
        raise ValueError("Unable to decode SECRET_KEY: Fernet key must be 32 url-safe base64-encoded bytes")
"""

ENGINE = """
    import os


    def create_async_engine(url):
        if "+" not in url.partition("://")[0]:
            raise RuntimeError("The asyncio extension requires an async driver to be used.")
        return url


    engine = create_async_engine(os.environ.get("DB_URL"))
"""


def test_reshape_finds_a_value_that_imports_in_the_shape_the_code_needs(tmp_path: Path) -> None:
    make_file(tmp_path / "app" / "__init__.py")
    make_file(tmp_path / "app" / "crypto.py", CRYPTO)
    make_file(tmp_path / "app" / "db.py", ENGINE)
    cause = "ValueError: Unable to decode SECRET_KEY: Fernet key must be 32 url-safe base64-encoded bytes"
    crypto = Diagnosis("tests/test_crypto.py", "placeholder", "SECRET_KEY", cause, "app/crypto.py", 5, "placeholder")
    cause = "RuntimeError: The asyncio extension requires an async driver to be used."
    db = Diagnosis("tests/test_db.py", "placeholder", "DB_URL", cause, "app/db.py", 10, "placeholder")
    declared = {"SECRET_KEY": EnvValue("test-secret-key"), "DB_URL": EnvValue("postgresql://x@y/z", override=True)}
    python = os.environ.get("PYTHON_FOR_PROBE", __import__("sys").executable)
    assert placeholders.reshape(tmp_path, [crypto, db, crypto], declared, python) == {
        "SECRET_KEY": placeholders.SHAPES["fernet"][0],
        "DB_URL": "postgresql+asyncpg://test:test@localhost:5432/test",
    }


def test_reshape_gives_up_when_no_value_imports_or_the_probe_cannot_run(tmp_path: Path) -> None:
    make_file(tmp_path / "app" / "__init__.py")
    make_file(tmp_path / "app" / "picky.py", 'import os\nimport binascii\nraise binascii.Error(os.environ["PICKY"])\n')
    cause = "Error: Incorrect padding"
    picky = Diagnosis("tests/test_picky.py", "placeholder", "PICKY", cause, "app/picky.py", 3, "placeholder")
    assert placeholders.reshape(tmp_path, [picky], {"PICKY": EnvValue("x")}, __import__("sys").executable) == {}
    assert placeholders.reshape(tmp_path, [picky], {"PICKY": EnvValue("x")}, str(tmp_path / "no-python")) == {}


def test_reshape_imports_the_module_as_the_run_does_with_its_stubs_and_sub_project_root(tmp_path: Path) -> None:
    # The package imports a stubbed heavy module: without the run's stubs every value would seem to import.
    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\nstubs = ["torch"]\nsubprojects = ["svc"]\n')
    make_file(tmp_path / "svc" / "pytest.ini", "[pytest]\n")
    make_file(tmp_path / "svc" / "app" / "__init__.py", "import torch\n")
    make_file(
        tmp_path / "svc" / "app" / "picky.py",
        "import os\n\nraise ValueError(f\"Unable to decode {os.environ['PICKY']!r}\")\n",
    )
    cause = "ValueError: Unable to decode 'x'"
    picky = Diagnosis("svc/tests/test_picky.py", "placeholder", "PICKY", cause, "svc/app/picky.py", 3, "placeholder")
    assert placeholders.reshape(tmp_path, [picky], {"PICKY": EnvValue("x")}, __import__("sys").executable) == {}


def test_doctor_reshapes_a_placeholder_the_code_rejects_instead_of_quarantining(tmp_path: Path) -> None:
    make_file(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "svc"

        [tool.testfloor.env]
        SECRET_KEY = { value = "testfloor-placeholder-0123456789abcdef0123456789", override = true }
        DB_URL = "postgresql://test:test@localhost:5432/test"
        """,
    )
    make_file(tmp_path / "app" / "__init__.py")
    make_file(tmp_path / "app" / "crypto.py", CRYPTO)
    make_file(tmp_path / "app" / "db.py", ENGINE)
    make_file(tmp_path / "tests" / "conftest.py", "import sys\n\nsys.path.insert(0, '.')\n")
    make_file(
        tmp_path / "tests" / "test_crypto.py", "from app.crypto import KEY\n\n\ndef test_key():\n    assert KEY\n"
    )
    make_file(
        tmp_path / "tests" / "test_db.py", "from app.db import engine\n\n\ndef test_engine():\n    assert engine\n"
    )
    report = doctor.run(tmp_path, fix=True)
    assert report.status == "clean", report
    assert report.quarantined == ()
    assert report.passes[0].changes == ("reshaped DB_URL, SECRET_KEY (a placeholder in the format the code needs)",)
    env = load_config(tmp_path).env
    assert env["SECRET_KEY"] == EnvValue(placeholders.SHAPES["fernet"][0], override=True)
    assert env["DB_URL"] == EnvValue("postgresql+asyncpg://test:test@localhost:5432/test")


def test_doctor_reports_a_placeholder_no_shape_satisfies_and_quarantines_nothing(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n\n[tool.testfloor.env]\nPICKY = "x"\n')
    make_file(tmp_path / "app" / "__init__.py")
    make_file(
        tmp_path / "app" / "picky.py", "import os\n\nraise ValueError(f\"Unable to decode {os.environ['PICKY']!r}\")\n"
    )
    make_file(tmp_path / "tests" / "conftest.py", "import sys\n\nsys.path.insert(0, '.')\n")
    make_file(tmp_path / "tests" / "test_picky.py", "import app.picky\n\n\ndef test_picky():\n    pass\n")
    report = doctor.run(tmp_path, fix=True)
    assert (report.status, report.quarantined) == ("failing", ())
    assert [(item.kind, item.subject, item.is_project_bug) for item in report.remaining] == [
        ("placeholder", "PICKY", False)
    ]
    assert any("placeholder: a value testfloor set" in line for line in doctorreport.describe(report))


SETTINGS = """
    import base64

    from pydantic_settings import BaseSettings


    class Settings(BaseSettings):
        secret_key: str
        database_url: str


    settings = Settings()
    KEY = base64.urlsafe_b64decode(settings.secret_key)
    if not settings.database_url.startswith("sqlite"):
        raise ValueError("Could not parse SQLAlchemy URL for database_url: only sqlite here")
"""


def test_discovery_proposes_the_shape_the_code_needs_and_verifies_it_by_importing(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n')
    make_file(tmp_path / "app" / "__init__.py")
    make_file(tmp_path / "app" / "config.py", SETTINGS)
    discovery = settings_discovery.discover(tmp_path, environ=dict(os.environ), declared={})
    assert discovery.values == {"SECRET_KEY": placeholders.SHAPES["fernet"][0], "DATABASE_URL": "sqlite:///:memory:"}
    assert len(base64.urlsafe_b64decode(discovery.values["SECRET_KEY"])) == 32
    with pytest.raises(binascii.Error):
        base64.urlsafe_b64decode("test-secret-key")  # what discovery proposed before: it passed validation only


def test_a_dsn_the_projects_own_helper_rejects_is_reshaped_where_it_is_read_never_quarantined(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n\n[tool.testfloor]\n')
    make_file(tmp_path / "svc" / "__init__.py")
    # The helper raises; the module that reads the variable is the one that called it.
    make_file(
        tmp_path / "svc" / "engine.py",
        """
        def make_async_engine(url):
            if not url or not url.startswith("postgresql+asyncpg://"):
                raise RuntimeError("needs an async DSN (postgresql+asyncpg://...)")
            return url
        """,
    )
    make_file(
        tmp_path / "svc" / "db.py",
        """
        import os

        from svc.engine import make_async_engine

        ENGINE = make_async_engine(os.environ.get("APP_DB_DSN"))
        """,
    )
    make_file(tmp_path / "tests" / "conftest.py", "import sys\n\nsys.path.insert(0, '.')\n")
    make_file(
        tmp_path / "tests" / "test_db.py", "from svc.db import ENGINE\n\n\ndef test_engine():\n    assert ENGINE\n"
    )
    make_file(tmp_path / "tests" / "test_other.py", "def test_other():\n    pass\n")
    report = doctor.run(tmp_path, fix=True)
    assert (report.status, report.quarantined) == ("clean", ()), report
    assert report.passes[-1].changes == ("reshaped APP_DB_DSN (a placeholder in the format the code needs)",)
    assert load_config(tmp_path).env["APP_DB_DSN"].value.startswith("postgresql+asyncpg://")
