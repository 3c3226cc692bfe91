import json
import os
import shutil
import subprocess
import sys
import typing
import uuid
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal, Optional

import pytest
from pydantic import (
    BaseModel,
    DirectoryPath,
    EmailStr,
    Field,
    FilePath,
    NewPath,
    PostgresDsn,
    SecretStr,
    StringConstraints,
    conint,
)

from helpers import clean_environ, make_file
from testfloor import settings_discovery, settings_probe
from testfloor.errors import ConfigError, DiscoveryError, NoSettingsError

PYPROJECT = """
    [project]
    name = "demo"  # the project's own comment
    version = "1"

    # tests live here
    [tool.pytest.ini_options]
    testpaths = ["tests"]
"""

SETTINGS = """
    import enum
    import uuid
    from typing import Literal, Optional

    from pydantic import (
        AliasChoices, AmqpDsn, AnyUrl, BaseModel, DirectoryPath, EmailStr, Field, FilePath, HttpUrl,
        IPvAnyAddress, PostgresDsn, RedisDsn, SecretStr, conint,
    )
    from pydantic_settings import BaseSettings, SettingsConfigDict


    class Mode(enum.Enum):
        FAST = "fast"
        SLOW = "slow"


    class Database(BaseModel):
        host: str
        password: SecretStr
        port: int = 5432


    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="APP_", env_nested_delimiter="__")

        database_url: PostgresDsn
        redis_url: RedisDsn
        amqp_url: AmqpDsn
        any_url: AnyUrl
        homepage: Optional[HttpUrl]
        jwt_secret: SecretStr = Field(min_length=32)
        short_name: str = Field(min_length=3, max_length=5)
        superuser: EmailStr
        workers: conint(ge=2, le=64)
        ratio: float = Field(gt=0.5, le=1)
        stage: Literal["dev", "prod"]
        mode: Mode
        instance: uuid.UUID
        bind: IPvAnyAddress
        hosts: list[str]
        flags: dict[str, bool]
        database: Database
        cert: FilePath
        data_dir: DirectoryPath
        stripe_key: str = Field(validation_alias=AliasChoices("STRIPE_API_KEY", "STRIPE_KEY"))
        region: str = Field(alias="AWS_REGION")
        debug: bool = False


    settings = Settings()
"""

WORKER = """
    from pydantic import BaseModel
    from pydantic_settings import BaseSettings, SettingsConfigDict


    class Limits(BaseModel):
        burst: int


    class WorkerSettings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="WORKER_")

        broker_token: str
        concurrency: int
        limits: Limits


    worker_settings = WorkerSettings()
"""


def make_project(root: Path) -> Path:
    make_file(root / "pyproject.toml", PYPROJECT)
    make_file(root / "src" / "app" / "__init__.py", "")
    make_file(root / "src" / "app" / "config.py", SETTINGS)
    make_file(root / "src" / "app" / "worker.py", WORKER)
    make_file(
        root / "tests" / "test_app.py",
        """
        import app.config
        import app.worker


        def test_it_imports():
            assert app.config.settings.workers >= 2
        """,
    )
    return root


def collect(root: Path) -> subprocess.CompletedProcess[str]:
    environ = clean_environ(PYTHONPATH=str(root / "src"))
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    return subprocess.run(command, cwd=root, env=environ, capture_output=True, text=True, check=False)


def run_discover(root: Path, modules: typing.Sequence[str] = (), **environ: str) -> settings_discovery.Discovery:
    # The probe runs with coverage's variables, so that coverage measures it (the config says patch = subprocess).
    return settings_discovery.discover(root, modules, environ={**os.environ, **environ}, declared={})


def by_name(discovery: settings_discovery.Discovery) -> dict[str, settings_discovery.Field]:
    return {item.name: item for item in discovery.fields}


def test_discover_write_turns_a_collection_error_into_a_clean_collection(tmp_path, capsys):
    from testfloor.cli import ExitCode, main

    root = make_project(tmp_path / "project")
    before = collect(root)
    assert before.returncode != 0
    assert "ValidationError" in before.stdout
    committed = project_files(root)

    assert main(["env", "discover", str(root), "--write"]) == ExitCode.OK
    assert project_files(root) == committed  # nothing beside pyproject.toml, which was there

    after = collect(root)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "1 test collected" in after.stdout
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert text.startswith(make_file(tmp_path / "original.toml", PYPROJECT).read_text(encoding="utf-8"))
    assert "# the project's own comment" in text
    assert "[tool.testfloor.env]" in text
    assert "added 25 variables" in capsys.readouterr().err
    clone = tmp_path / "clone"  # what a fresh clone holds: the committed files, nothing discovery left around
    for name in committed:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / name, clone / name)
    fresh = collect(clone)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr


def project_files(root):
    """The files a commit of `root` would hold: no caches."""
    caches = ("__pycache__", ".pytest_cache")
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not any(part in caches for part in path.relative_to(root).parts)
    )


def test_discover_names_the_exact_variables_pydantic_settings_reads(tmp_path):
    discovery = run_discover(make_project(tmp_path))

    assert discovery.classes == ("app.config:Settings", "app.worker:WorkerSettings")
    assert discovery.modules == ("app.config", "app.worker")
    assert not discovery.unresolved
    fields = by_name(discovery)
    assert "debug" not in fields  # it has a default
    assert fields["database_url"].env == ("APP_DATABASE_URL",)
    assert fields["stripe_key"].env == ("STRIPE_API_KEY", "STRIPE_KEY")  # aliases get no prefix
    assert fields["region"].env == ("AWS_REGION",)
    assert fields["database"].values == {
        "APP_DATABASE__HOST": "test-host",
        "APP_DATABASE__PASSWORD": "test-password".ljust(32, "x"),
    }
    assert fields["limits"].values == {"WORKER_LIMITS": '{"burst": "1"}'}  # no delimiter: JSON
    assert fields["jwt_secret"].values == {"APP_JWT_SECRET": "test-jwt-secret".ljust(32, "x")}
    assert fields["short_name"].values == {"APP_SHORT_NAME": "test-"}
    assert fields["workers"].values == {"APP_WORKERS": "2"}
    assert fields["workers"].constraint == "ge=2, le=64"
    assert fields["ratio"].values == {"APP_RATIO": "1.0"}
    assert fields["stage"].values == {"APP_STAGE": "dev"}
    assert fields["mode"].values == {"APP_MODE": "fast"}
    assert fields["hosts"].values == {"APP_HOSTS": "[]"}
    assert fields["flags"].values == {"APP_FLAGS": "{}"}
    assert fields["homepage"].type == "Optional[HttpUrl]"
    assert fields["cert"].values == {"APP_CERT": "pyproject.toml"}  # a file every project has: nothing is made
    assert all(item.status == "synthesized" for item in discovery.fields)


def test_discover_leaves_fields_the_environment_already_sets(tmp_path):
    root = make_project(tmp_path)
    discovery = run_discover(root, APP_DATABASE_URL="postgresql://real:pw@db:5432/real")

    field = by_name(discovery)["database_url"]
    assert field.status == "already set"
    assert field.values == {}
    assert "APP_DATABASE_URL" not in discovery.values


def test_discover_retries_a_rejected_value_with_the_next_candidate(tmp_path):
    make_file(
        tmp_path / "conf.py",
        """
        from pydantic import Field
        from pydantic_settings import BaseSettings, SettingsConfigDict


        class Settings(BaseSettings):
            model_config = SettingsConfigDict(case_sensitive=True)

            Code: str = Field(pattern="^[A-Z]+$")
        """,
    )
    discovery = run_discover(tmp_path, ["conf.py"])

    assert discovery.values == {"Code": "TESTCODE"}
    assert discovery.rounds == 4


def test_discover_reports_a_value_pydantic_settings_cannot_parse(tmp_path):
    make_file(
        tmp_path / "conf.py",
        """
        from pydantic_settings import BaseSettings


        class Hosts(BaseSettings):
            hosts: list[str]


        class Ports(BaseSettings):
            ports: list[int]


        class Both(Hosts, Ports):  # reached from both bases, listed once
            pass
        """,
    )
    discovery = run_discover(tmp_path, HOSTS="a,b")

    assert discovery.classes == ("conf:Both", "conf:Hosts", "conf:Ports")
    problems = {(item.settings, item.name): item.problem or "" for item in discovery.unresolved}
    assert set(problems) == {("conf:Both", "(class)"), ("conf:Hosts", "(class)")}
    assert problems["conf:Hosts", "(class)"].startswith('SettingsError: error parsing value for field "hosts"')
    assert by_name(discovery)["ports"].values == {"PORTS": "[]"}


def test_discover_reports_fields_it_cannot_satisfy(tmp_path, monkeypatch):
    make_file(tmp_path / "app" / "__init__.py", "")
    make_file(
        tmp_path / "app" / "settings.py",
        """
        from typing import Optional

        from pydantic import Field, field_validator, model_validator
        from pydantic_settings import BaseSettings


        class Base(BaseSettings):
            api_token: str = Field(pattern=r"^sk_live_[0-9a-f]{24}$")
            region: str
            limit: Optional[int] = None

            @field_validator("region")
            @classmethod
            def no_placeholders(cls, value):
                raise ValueError(f"{value!r} is not a real region")


        class Strict(Base):
            @model_validator(mode="after")
            def never(self):
                raise ValueError("this configuration is never valid")
        """,
    )
    discovery = run_discover(tmp_path, LIMIT="many")

    problems = {(item.settings, item.name): item.problem for item in discovery.unresolved}
    assert set(problems) == {
        ("app.settings:Base", "api_token"),
        ("app.settings:Base", "region"),
        ("app.settings:Base", "limit"),
        ("app.settings:Strict", "api_token"),
        ("app.settings:Strict", "region"),
        ("app.settings:Strict", "limit"),
    }
    assert problems["app.settings:Base", "api_token"].startswith("string_pattern_mismatch")
    assert "is not a real region" in problems["app.settings:Base", "region"]
    assert problems["app.settings:Base", "limit"].startswith("the value already set is rejected: int_parsing")
    described = "\n".join(settings_discovery.describe(discovery))
    assert "needs a value: app.settings:Base.api_token [API_TOKEN] (str, pattern='^sk_live_[0-9a-f]{24}$')" in described
    assert discovery.values == {}


def test_discover_reports_a_class_level_error_once_the_fields_are_valid(tmp_path):
    make_file(
        tmp_path / "strict.py",
        """
        from pydantic import model_validator
        from pydantic_settings import BaseSettings


        class Strict(BaseSettings):
            name: str

            @model_validator(mode="after")
            def never(self):
                raise ValueError("never valid")
        """,
    )
    discovery = run_discover(tmp_path)

    (item,) = discovery.unresolved
    assert (item.name, item.type, item.env) == ("(class)", "", ())
    assert item.problem == "value_error: Value error, never valid"
    assert "needs a value: strict:Strict.(class) (class): value_error" in "\n".join(
        settings_discovery.describe(discovery)
    )


def test_discover_stops_after_the_last_round(tmp_path, monkeypatch):
    make_file(
        tmp_path / "conf.py", "from pydantic_settings import BaseSettings\nclass S(BaseSettings):\n    name: str\n"
    )
    monkeypatch.setattr(settings_discovery, "MAX_ROUNDS", 1)

    (item,) = run_discover(tmp_path).unresolved

    assert item.problem == "missing: Field required"


def test_discover_masks_secrets_a_validator_echoes(tmp_path):
    make_file(
        tmp_path / "conf.py",
        """
        from pydantic import field_validator
        from pydantic_settings import BaseSettings


        class S(BaseSettings):
            db_password: str

            @field_validator("db_password")
            @classmethod
            def echo(cls, value):
                raise ValueError(f"rejected {value}")
        """,
    )
    (item,) = run_discover(tmp_path, DB_PASSWORD="hunter2-real").unresolved

    assert "hunter2" not in (item.problem or "")
    assert "rejected ****" in (item.problem or "")


def test_discover_reads_pydantic_v1_style_settings(tmp_path):
    make_file(
        tmp_path / "legacy.py",
        """
        from pydantic.v1 import BaseSettings, EmailStr, Field, PostgresDsn, SecretStr, constr


        class Legacy(BaseSettings):
            url: PostgresDsn
            token: SecretStr
            code: constr(min_length=40)
            admin: EmailStr
            both: int = Field(..., env=["FIRST", "SECOND"])
            optional: str = "x"

            class Config:
                env_prefix = "OLD_"


        legacy = Legacy()
        """,
    )
    discovery = run_discover(tmp_path)

    assert not discovery.unresolved
    fields = by_name(discovery)
    assert fields["url"].env == ("OLD_URL",)
    assert fields["both"].env == ("FIRST", "SECOND")
    assert len(fields["code"].values["OLD_CODE"]) == 40
    assert fields["token"].values == {"OLD_TOKEN": "test-token".ljust(32, "x")}


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        pytest.param(
            "raise RuntimeError('no config server')\n",
            DiscoveryError,
            r"importing broken failed: RuntimeError: no config server \(broken.py:1\)",
            id="module raises",
        ),
        pytest.param("import os\n", NoSettingsError, "no pydantic-settings classes found in broken", id="no classes"),
    ],
)
def test_discover_reports_modules_that_cannot_be_used(tmp_path, source, error, message):
    make_file(tmp_path / "broken.py", source)
    with pytest.raises(error, match=message):
        run_discover(tmp_path, ["broken"])


def test_discover_masks_secrets_in_a_modules_error(tmp_path):
    make_file(
        tmp_path / "conf.py",
        """
        import os

        from pydantic_settings import BaseSettings


        class S(BaseSettings):
            name: str


        raise RuntimeError(f"cannot reach {os.environ['DB_URL']} with {os.environ['VAULT_TOKEN']}")
        """,
    )
    with pytest.raises(DiscoveryError) as error:
        run_discover(tmp_path, DB_URL="postgresql://app:s3cret@db/app", VAULT_TOKEN="hvs.real-token")

    assert str(error.value) == (
        "importing conf failed: RuntimeError: cannot reach postgresql://app:****@db/app with **** (conf.py:10)"
    )


def test_discover_reports_a_project_without_settings_classes(tmp_path):
    make_file(tmp_path / "plain.py", "class Thing(object):\n    pass\n")
    with pytest.raises(NoSettingsError, match="no pydantic-settings classes found"):
        run_discover(tmp_path)


def test_discover_rejects_a_module_file_that_does_not_exist(tmp_path):
    with pytest.raises(DiscoveryError, match=r"--module nope\.py: no such file"):
        run_discover(tmp_path, ["nope.py"])


def test_discover_reports_a_probe_that_fails(tmp_path, monkeypatch):
    make_file(
        tmp_path / "conf.py", "from pydantic_settings import BaseSettings\nclass S(BaseSettings):\n    name: str\n"
    )
    make_file(tmp_path / "probe.py", "raise SystemExit('crashed')\n")
    monkeypatch.setattr(settings_discovery, "PROBE", "probe")
    with pytest.raises(DiscoveryError, match="the settings probe failed: crashed"):
        run_discover(tmp_path)
    make_file(tmp_path / "probe.py", "import sys\nsys.exit(3)\n")
    with pytest.raises(DiscoveryError, match="the settings probe failed: exit status 3"):
        run_discover(tmp_path)
    make_file(tmp_path / "probe.py", "print('not json')\n")
    with pytest.raises(DiscoveryError, match="could not run with"):
        run_discover(tmp_path)


def test_find_settings_modules_follows_subclasses_and_skips_environments(tmp_path):
    make_file(
        tmp_path / "src" / "pkg" / "__init__.py",
        "from pydantic_settings import BaseSettings\nclass A(BaseSettings): ...\n",
    )
    make_file(tmp_path / "src" / "pkg" / "more.py", "from pkg import A\nclass B(\n    A,\n): ...\nclass C(B): ...\n")
    make_file(tmp_path / "tool.py", "import pydantic\nclass Old(pydantic.v1.BaseSettings): ...\n")
    make_file(tmp_path / "other.py", "class Plain: ...\nclass D(dict): ...\n")
    make_file(tmp_path / ".venv" / "lib" / "x.py", "class Hidden(BaseSettings): ...\n")
    make_file(tmp_path / "env" / "pyvenv.cfg", "")
    make_file(tmp_path / "env" / "lib" / "y.py", "class InVenv(BaseSettings): ...\n")
    make_file(tmp_path / "node_modules" / "z.py", "class Z(BaseSettings): ...\n")

    assert settings_discovery.find_settings_modules(tmp_path) == ("pkg", "pkg.more", "tool")


def test_parse_module_turns_paths_into_module_names(tmp_path):
    make_file(tmp_path / "src" / "pkg" / "conf.py", "")
    assert settings_discovery.parse_module(tmp_path, "pkg.conf") == "pkg.conf"
    assert settings_discovery.parse_module(tmp_path, "src/pkg/conf.py") == "pkg.conf"
    assert settings_discovery.parse_module(tmp_path, str(tmp_path / "src" / "pkg" / "conf.py")) == "pkg.conf"


def test_write_env_keeps_the_users_values_comments_and_layout(tmp_path):
    pyproject = make_file(
        tmp_path / "pyproject.toml",
        """
        [tool.testfloor]  # ours
        python = ["3.12"]

        [tool.testfloor.env]
        # set by hand
        DATABASE_URL = "postgresql://mine@db/mine"  # keep
        """,
    )
    added = settings_discovery.write_env(pyproject, {"DATABASE_URL": "postgresql://test@localhost/test", "A": "1"})

    assert added == ["A"]
    assert pyproject.read_text(encoding="utf-8") == (
        '[tool.testfloor]  # ours\npython = ["3.12"]\n\n[tool.testfloor.env]\n# set by hand\n'
        'DATABASE_URL = "postgresql://mine@db/mine"  # keep\nA = "1"\n'
    )
    assert settings_discovery.write_env(pyproject, {"A": "2"}) == []


def test_write_env_creates_the_table_and_the_file(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    assert settings_discovery.write_env(pyproject, {"B": "2", "A": "1"}) == ["A", "B"]
    assert pyproject.read_text(encoding="utf-8") == '[tool.testfloor.env]\nA = "1"\nB = "2"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tool = 1\n", "tool is not a table"),
        ("[tool]\ntestfloor = 'x'\n", "testfloor is not a table"),
        ("[tool\n", "cannot update"),
    ],
)
def test_write_env_refuses_a_pyproject_it_cannot_update(tmp_path, text, message):
    pyproject = make_file(tmp_path / "pyproject.toml", text)
    with pytest.raises(ConfigError, match=message):
        settings_discovery.write_env(pyproject, {"A": "1"})
    assert pyproject.read_text(encoding="utf-8") == text


def test_to_json_is_versioned_and_masked(tmp_path):
    discovery = settings_discovery.Discovery(
        root=tmp_path,
        modules=("m",),
        classes=("m:S",),
        fields=(
            settings_discovery.Field("m:S", "token", "str", "", ("TOKEN",), {"TOKEN": "test-token-xxxx"}),
            settings_discovery.Field("m:S", "name", "str", "", ("NAME",)),
            settings_discovery.Field("m:S", "code", "str", "", ("CODE",), problem="string_too_short: too short"),
        ),
        rounds=2,
    )
    document = json.loads(settings_discovery.to_json(discovery))

    assert document["format"] == 1
    assert document["complete"] is False
    assert document["fields"][0]["values"] == {"TOKEN": "****"}
    assert [item["status"] for item in document["fields"]] == ["synthesized", "already set", "needs a value"]
    assert settings_discovery.describe(discovery) == [
        "settings classes: m:S (verified in 2 rounds)",
        "CLASS  FIELD  VARIABLE  VALUE  STATUS",
        "m:S    token  TOKEN     ****   synthesized",
        "m:S    name   NAME             already set",
        "needs a value: m:S.code [CODE] (str): string_too_short: too short",
    ]


class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Inner(BaseModel):
    size: conint(gt=3)
    label: str = Field(alias="Label")
    optional: int = 0


@pytest.mark.parametrize(
    ("name", "annotation", "constraints", "expected"),
    [
        ("url", PostgresDsn, {}, "postgresql://test:test@localhost:5432/test"),
        ("email", EmailStr, {}, "test@example.com"),
        ("email", Optional[EmailStr], {}, "test@example.com"),  # noqa: UP045 - the spelling projects use
        ("email", EmailStr | None, {}, "test@example.com"),
        ("id", uuid.UUID, {}, "12345678-1234-4678-9234-567812345678"),
        ("flag", bool, {}, "true"),
        ("count", int, {}, "1"),
        ("count", int, {"gt": 7}, "8"),
        ("count", int, {"le": -3}, "-3"),
        ("count", int, {"lt": 0}, "-1"),
        ("count", int, {"ge": 5, "multiple_of": 4}, "8"),
        ("ratio", float, {"lt": 1.0}, "0.5"),
        ("color", Color, {}, "red"),
        ("level", Literal[1, 2], {}, "1"),
        ("items", list[int], {}, []),
        ("items", tuple, {}, []),
        ("table", dict, {}, {}),
        ("inner", Inner, {}, {"size": "4", "Label": "test-label"}),
        ("path", Path, {}, "."),
        ("file", FilePath, {}, "pyproject.toml"),
        ("folder", DirectoryPath, {}, "."),
        ("target", NewPath, {}, "testfloor-new-target"),
        ("name", str, {"max_length": 3}, "tes"),
        ("name", Annotated[str, StringConstraints(min_length=12)], {}, "test-namexxx"),
        ("secret", SecretStr, {}, "test-secret".ljust(32, "x")),
        ("either", typing.Union[int, str], {}, "1"),  # noqa: UP007 - the spelling projects use
        ("call", typing.Callable[[], int], {}, "test"),
    ],
)
def test_synthesize_makes_a_fake_value_for_each_type(name, annotation, constraints, expected):
    assert settings_probe.synthesize(name, annotation, constraints)[0] == expected


def test_synthesize_offers_alternatives_for_strings():
    assert settings_probe.synthesize("api_code", str, {"min_length": 12}) == [
        "test-api-code",
        "testapicodex",
        "TESTAPICODEX",
        "012345678900",
    ]


def test_constraints_of_reads_pydantic_metadata():
    field = Inner.model_fields["size"]
    assert settings_probe.constraints_of(field.metadata) == {"gt": 3}
    assert settings_probe.constraints_of([Field(min_length=2)]) == {"min_length": 2}


def test_a_path_kind_nothing_always_satisfies_is_left_without_a_value():
    assert settings_probe.synthesize("sock", Path, {"path_type": "socket"}) == []


def test_the_probe_finds_the_file_of_a_module_that_failed_or_was_never_imported(tmp_path):
    assert settings_probe._module_file("json") == sys.modules["json"].__file__
    assert settings_probe._module_file("no_such_package.config") is None
    assert settings_probe._module_file("no_such_module_anywhere") is None
