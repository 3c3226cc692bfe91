from __future__ import annotations

import pytest

from testfloor.config import EnvValue
from testfloor.env import MASK, applicable, apply, describe, is_secret_name, mask


@pytest.mark.parametrize(
    "name",
    ["JWT_SECRET", "SECRET_KEY", "API_KEY", "apikey", "GITHUB_TOKEN", "DB_PASSWORD", "DB_PASS", "PWD_HASH",
     "AWS_SECRET_ACCESS_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "PRIVATE_PEM", "BASIC_AUTH", "PASSWORD_SALT",
     "STRIPE_KEYS", "database__password"],
)  # fmt: skip
def test_secret_looking_names_are_recognised(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["DATABASE_URL", "REDIS_URL", "DEBUG", "WORKERS", "KEYBOARD_LAYOUT", "LOG_LEVEL"])
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


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


def test_apply_sets_values_and_restore_puts_the_environment_back() -> None:
    environ = {"A": "real", "B": "real", "KEEP": "1"}
    declared = {"A": EnvValue("placeholder"), "B": EnvValue("forced", override=True), "C": EnvValue("new")}
    applied = apply(declared, environ)
    assert environ == {"A": "real", "B": "forced", "C": "new", "KEEP": "1"}
    applied.restore(environ)
    assert environ == {"A": "real", "B": "real", "KEEP": "1"}
