import json
import os

import pytest

from helpers import make_file
from testfloor.cli import ExitCode, main

SETTINGS = """
    from pydantic import Field, PostgresDsn, SecretStr
    from pydantic_settings import BaseSettings, SettingsConfigDict


    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="SVC_")

        database_url: PostgresDsn
        jwt_secret: SecretStr = Field(min_length=32)
        api_key: str
        name: str


    settings = Settings()
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n')
    make_file(tmp_path / "svc.py", SETTINGS)
    for name in ("SVC_DATABASE_URL", "SVC_JWT_SECRET", "SVC_API_KEY", "SVC_NAME"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def secrets_in(project) -> list[str]:
    """The values --write recorded whose names look secret, and the password in the database URL."""
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert 'SVC_JWT_SECRET = "test-jwt-secret' in text
    return ["test-jwt-secret", "test-api-key", "test:test@"]


def test_env_discover_prints_a_masked_table_and_writes_the_values(project, capsys):
    assert main(["env", "discover", str(project), "--write"]) == ExitCode.OK

    out, err = capsys.readouterr()
    assert "SVC_DATABASE_URL  postgresql://test:****@localhost:5432/test  synthesized" in out
    assert "SVC_JWT_SECRET    ****" in out
    assert "added 4 variables" in err
    for secret in secrets_in(project):
        assert secret not in out + err


def test_no_command_shows_a_secret_value_discovery_recorded(project, capsys, monkeypatch):
    assert main(["env", "discover", str(project), "--write", "--module", "svc.py"]) == ExitCode.OK
    assert main(["env", "discover", str(project), "--json"]) == ExitCode.OK
    assert main(["env", "discover", str(project)]) == ExitCode.OK
    assert main(["config", str(project)]) == ExitCode.OK
    assert main(["config", str(project), "--json"]) == ExitCode.OK

    out, err = capsys.readouterr()
    assert "SVC_JWT_SECRET=****" in out
    for secret in secrets_in(project):
        assert secret not in out + err


def test_env_discover_json_lists_fields_already_set_by_the_config(project, capsys):
    with open(project / "pyproject.toml", "a", encoding="utf-8") as pyproject:
        pyproject.write(
            '[tool.testfloor.env]\nSVC_NAME = "mine"\nSVC_API_KEY = {value = "k-real-1234", override = true}\n'
        )

    assert main(["env", "discover", str(project), "--json"]) == ExitCode.OK

    document = json.loads(capsys.readouterr().out)
    status = {item["name"]: item["status"] for item in document["fields"]}
    assert status == {
        "database_url": "synthesized",
        "jwt_secret": "synthesized",
        "api_key": "already set",
        "name": "already set",
    }
    assert document["fields"][1]["values"] == {"SVC_JWT_SECRET": "****"}
    assert "k-real-1234" not in json.dumps(document)


def test_env_discover_says_incomplete_when_a_field_needs_a_value(project, capsys):
    make_file(
        project / "svc.py",
        """
        from pydantic import Field
        from pydantic_settings import BaseSettings


        class Settings(BaseSettings):
            api_token: str = Field(pattern=r"^sk_live_[0-9a-f]{24}$")
            name: str
        """,
    )
    assert main(["env", "discover", str(project), "--write"]) == ExitCode.INCOMPLETE

    out, err = capsys.readouterr()
    assert "needs a value: svc:Settings.api_token [API_TOKEN] (str, pattern='^sk_live_[0-9a-f]{24}$')" in out
    assert "testfloor: 1 fields need a value" in err
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert 'NAME = "test-name"' in text
    assert "API_TOKEN" not in text


@pytest.mark.parametrize(
    ("files", "code", "message"),
    [
        pytest.param(
            {"pyproject.toml": "[tool.testfloor.env]\nHOSTS = ['a', 'b']\n"},
            ExitCode.CONFIG,
            "[tool.testfloor] env: HOSTS: expected a string, number or boolean, got array",
            id="env value is an array",
        ),
        pytest.param(
            {"svc.py": "from pydantic_settings import BaseSettings\nclass S(BaseSettings): ...\nraise OSError('x')\n"},
            ExitCode.SETTINGS_IMPORT,
            "importing svc failed: OSError: x (svc.py:3)",
            id="module raises",
        ),
        pytest.param(
            {"svc.py": "import os\n"},
            ExitCode.NO_SETTINGS,
            "no pydantic-settings classes found (no BaseSettings subclass in its .py files)",
            id="no settings classes",
        ),
    ],
)
def test_env_discover_reports_bad_input_in_one_line(project, capsys, files, code, message):
    for name, text in files.items():
        make_file(project / name, text)

    assert main(["env", "discover", str(project)]) == code

    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("testfloor: ")
    assert err.count("\n") == 1
    assert message in err


def test_env_discover_without_an_action_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["env"])
    assert exit_info.value.code == ExitCode.USAGE
    assert "the following arguments are required: ACTION" in capsys.readouterr().err


PLUGIN_TEST = """
    import os


    def test_env():
        assert os.environ["SVC_NAME"] == os.environ["EXPECT_NAME"]
        assert os.environ["SVC_TOKEN"] == os.environ["EXPECT_TOKEN"]
"""


@pytest.mark.parametrize(
    ("outer", "expected_name", "expected_token"),
    [
        pytest.param({}, "test-name", "test-token-declared", id="unset: declared values apply"),
        pytest.param({"SVC_NAME": "real", "SVC_TOKEN": "real-token"}, "real", "test-token-declared", id="set: kept"),
    ],
)
def test_the_plugin_never_replaces_an_outer_value_unless_told_to(
    pytester, monkeypatch, outer, expected_name, expected_token
):
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        asyncio_default_fixture_loop_scope = "function"

        [tool.testfloor.env]
        SVC_NAME = "test-name"
        SVC_TOKEN = { value = "test-token-declared", override = true }
        """
    )
    pytester.makepyfile(PLUGIN_TEST)
    for name in ("SVC_NAME", "SVC_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in outer.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EXPECT_NAME", expected_name)
    monkeypatch.setenv("EXPECT_TOKEN", expected_token)

    result = pytester.runpytest("-p", "testfloor")

    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert "test-token-declared" not in output
    assert "real-token" not in output
    result.stdout.fnmatch_lines(["testfloor env: SVC_NAME=*, SVC_TOKEN=**** (declared*)"])
    assert {name: os.environ.get(name) for name in outer} == outer
