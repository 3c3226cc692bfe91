from __future__ import annotations

import pytest

from testfloor.config import EnvValue
from testfloor.env import MASK, applicable, apply, describe, is_secret_name, mask, scrub, scrub_document, secret_values


@pytest.mark.parametrize(
    "name",
    ["JWT_SECRET", "SECRET_KEY", "API_KEY", "apikey", "GITHUB_TOKEN", "DB_PASSWORD", "DB_PASS", "PWD_HASH",
     "AWS_SECRET_ACCESS_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "PRIVATE_PEM", "BASIC_AUTH", "PASSWORD_SALT",
     "STRIPE_KEYS", "database__password", "GITHUB_PAT", "SESSION_COOKIE_SIGNER", "githubPat", "DB_PWD", "SENTRY_DSN",
     "OAUTH2_CLIENT", "AUTHORIZATION", "SESSIONID", "SESSION_SECRET", "CLIENT_CERT", "SIGNING_KEY", "GPG_PASSPHRASE",
     "URL_SIG", "ATM_PIN", "REMEMBER_COOKIE", "privateKey"],
)  # fmt: skip
def test_secret_looking_names_are_recognised(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["DATABASE_URL", "REDIS_URL", "DEBUG", "WORKERS", "KEYBOARD_LAYOUT", "LOG_LEVEL", "PATH", "PATTERN", "SPINNER",
     "GIT_AUTHOR_NAME", "HOME", "USER", "PWD", "OLDPWD", "XDG_SESSION_TYPE", "xdg_session_class", "DESKTOP_SESSION",
     "COMPASS", "PASSENGERS", "SIGNAL", "NOX_CURRENT_SESSION", "FLASK_SESSION", "SESSION_ID"],
)  # fmt: skip
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize("name", ["MONKEY", "PRIMARY_KEY", "SSL_CERT_FILE", "SSH_AUTH_SOCK"])
def test_the_false_positives_the_rule_accepts(name: str) -> None:
    # Masking these values (a word, a path) where they appear hides something harmless; missing a key would not be.
    assert is_secret_name(name)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://admin:p@ss/w:rd@db.example:5432/app", f"postgresql://admin:{MASK}@db.example:5432/app"),
        ("cannot reach 'redis://:a/b@c:d@cache/0' now", f"cannot reach 'redis://:{MASK}@cache/0' now"),
        ("two: http://u:x@h and https://v:y@z@k/", f"two: http://u:{MASK}@h and https://v:{MASK}@k/"),
        ("http://host:8080/path", "http://host:8080/path"),
    ],
)
def test_a_url_password_is_masked_whatever_it_holds(text: str, shown: str) -> None:
    assert scrub(text, environ={}) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("GITHUB_PAT=ghp_abc and more", f"GITHUB_PAT={MASK} and more"),
        ("run --api-key=abc123 -v", f"run --api-key={MASK} -v"),
        ("settings(password='x y z', debug=True)", f"settings(password='{MASK}', debug=True)"),
        ('{"token": "abc", "user": "bob"}', f'{{"token": "{MASK}", "user": "bob"}}'),
        ("{'client_secret': 'abc'}", f"{{'client_secret': '{MASK}'}}"),
        ("level=debug, workers=4", "level=debug, workers=4"),
        ("KeyError: 'missing'", "KeyError: 'missing'"),
    ],
)
def test_a_secret_looking_name_given_a_value_in_text_loses_the_value(text: str, shown: str) -> None:
    assert scrub(text, environ={}) == shown


def test_the_value_pydantic_echoes_in_a_validation_error_is_masked() -> None:
    text = (
        "E     String should have at most 8 characters [type=string_too_long, input_value='a, b]', input_type=str]\n"
        "E     Input should be a valid integer [type=int_parsing, input_value={'a': [1, 2]}]\n"
        "input_value=abc"
    )
    assert scrub(text, environ={}) == (
        f"E     String should have at most 8 characters [type=string_too_long, input_value={MASK}, input_type=str]\n"
        f"E     Input should be a valid integer [type=int_parsing, input_value={MASK}]\n"
        f"input_value={MASK}"
    )


def test_values_of_secret_looking_names_in_the_environment_are_masked_wherever_they_appear() -> None:
    environ = {"GITHUB_PAT": "ghp_1234", "SHORT_TOKEN": "abc", "HOME": "/home/me", "PWD": "/work/project"}
    text = "token ghp_1234 (abc) in /home/me at /work/project, ghp_1234ghp_1234"
    assert scrub(text, environ=environ) == f"token {MASK} (abc) in /home/me at /work/project, {MASK}{MASK}"


def test_declared_values_are_masked_by_the_same_rule_though_the_process_never_had_them() -> None:
    declared = {"SESSION_COOKIE_SIGNER": EnvValue("signer-value"), "APP_ENV": EnvValue("staging")}
    text = "signed by signer-value for staging"
    assert scrub(text, declared, environ={}) == f"signed by {MASK} for staging"


def test_the_longest_secret_is_masked_first_so_no_piece_of_it_is_left() -> None:
    environ = {"A_TOKEN": "abcd", "B_TOKEN": "abcdefgh"}
    assert secret_values(environ=environ) == ["abcdefgh", "abcd"]
    assert scrub("xabcdefghx", environ=environ) == f"x{MASK}x"


def test_scrub_reads_this_process_s_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_COOKIE_SIGNER", "from-the-environment")
    assert scrub("it is from-the-environment") == f"it is {MASK}"
    assert mask("GREETING", "hello from-the-environment") == f"hello {MASK}"


def test_scrub_document_masks_every_string_of_a_json_document() -> None:
    document = {"GITHUB_PAT=x": ["token=abc", ("a", 1)], "n": None, "m": {"k": "https://u:p@h"}}
    assert scrub_document(document, {"X_TOKEN": EnvValue("secret-x")}) == {
        f"GITHUB_PAT={MASK}": [f"token={MASK}", ["a", 1]],
        "n": None,
        "m": {"k": f"https://u:{MASK}@h"},
    }


def test_a_secret_name_masks_the_whole_value() -> None:
    assert mask("JWT_SECRET", "s3cr3t-value-that-is-long-enough") == MASK


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("postgresql://admin:hunter2@localhost:5432/app", f"postgresql://admin:{MASK}@localhost:5432/app"),
        ("redis://:hunter2@localhost:6379/0", f"redis://:{MASK}@localhost:6379/0"),
        ("amqp://guest@localhost//", "amqp://guest@localhost//"),
        ("https://api.example/v1?token=hunter2&page=2", f"https://api.example/v1?token={MASK}&page=2"),
        ("https://api.example/v1?page=2&Api_Key=hunter2", f"https://api.example/v1?page=2&Api_Key={MASK}"),
        ("localhost", "localhost"),
    ],
)
def test_credentials_inside_urls_are_masked(value: str, shown: str) -> None:
    assert mask("SERVICE_URL", value) == shown
    assert "hunter2" not in mask("SERVICE_URL", value)


def test_real_values_win_over_placeholders_unless_overridden() -> None:
    declared = {"A": EnvValue("placeholder"), "B": EnvValue("forced", override=True), "C": EnvValue("new")}
    outer = {"A": "real", "B": "real"}
    assert applicable(declared, outer) == {"B": "forced", "C": "new"}


def test_describe_says_where_each_value_comes_from_and_masks_it() -> None:
    declared = {
        "DB_PASSWORD": EnvValue("declared-pw"),
        "TOKEN": EnvValue("declared-token", override=True),
        "URL": EnvValue("postgresql://u:pw@h/db"),
    }
    lines = describe(declared, {"DB_PASSWORD": "outer-pw", "TOKEN": "outer-token"})
    assert lines == [
        f"DB_PASSWORD={MASK} (kept from the environment)",
        f"TOKEN={MASK} (declared, overrides the environment)",
        f"URL=postgresql://u:{MASK}@h/db (declared)",
    ]
    assert not any(secret in line for line in lines for secret in ("pw@", "outer", "declared-"))
    # A session that put the declared values in its environment (session.env) sees them as declared ones.
    applied = {"DB_PASSWORD": "declared-pw", "TOKEN": "declared-token", "URL": "postgresql://u:pw@h/db"}
    assert describe(declared, applied) == [
        f"DB_PASSWORD={MASK} (declared)",
        f"TOKEN={MASK} (declared)",
        f"URL=postgresql://u:{MASK}@h/db (declared)",
    ]


def test_apply_sets_values_and_restore_puts_the_environment_back() -> None:
    environ = {"A": "real", "B": "real", "KEEP": "1"}
    declared = {"A": EnvValue("placeholder"), "B": EnvValue("forced", override=True), "C": EnvValue("new")}
    applied = apply(declared, environ)
    assert environ == {"A": "real", "B": "forced", "C": "new", "KEEP": "1"}
    applied.restore(environ)
    assert environ == {"A": "real", "B": "real", "KEEP": "1"}


def test_an_absolute_path_under_a_secret_looking_name_is_no_secret() -> None:
    from testfloor.env import secret_values

    environ = {"SSL_CERT_FILE": "/etc/ssl/certs/ca.pem", "API_TOKEN": "tok-123456"}
    assert secret_values(environ=environ) == ["tok-123456"]


def test_a_fresh_environment_keeps_the_systems_variables_and_drops_the_projects() -> None:
    from testfloor.env import fresh

    shell = {
        "PATH": "/bin",
        "HOME": "/home/u",
        "LC_ALL": "C.UTF-8",
        "https_proxy": "http://proxy:3128",
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": "src",
        "UV_CACHE_DIR": "/cache",
        "TESTFLOOR_STUBS": "torch",
        "COVERAGE_PROCESS_CONFIG": "[run]",
        "DATABASE_URL": "postgresql://u:pw@h/db",
        "APP_TOKEN": "x",
        "AWS_PROFILE": "dev",
    }
    assert fresh(shell) == {
        "PATH": "/bin",
        "HOME": "/home/u",
        "LC_ALL": "C.UTF-8",
        "https_proxy": "http://proxy:3128",
        "PYTHONHASHSEED": "0",
        "UV_CACHE_DIR": "/cache",
        "TESTFLOOR_STUBS": "torch",
        "COVERAGE_PROCESS_CONFIG": "[run]",
    }
