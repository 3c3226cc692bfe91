import pytest
from pydantic import ValidationError
from src.auth import tokens
from src.config import Settings, settings

NOW = 1_700_000_000


def test_issued_token_verifies_and_carries_its_claims(jwt_secret):
    token = tokens.issue("acct_42", scopes=["invoices:read", "invoices:read", "usage:write"], now=NOW, ttl=60)
    claims = tokens.verify(token, secret=jwt_secret, now=NOW + 59)
    assert claims == {"sub": "acct_42", "iat": NOW, "exp": NOW + 60, "scope": "invoices:read usage:write"}


def test_default_lifetime_comes_from_settings():
    claims = tokens.verify(tokens.issue("acct_1", now=NOW), now=NOW)
    assert claims["exp"] - claims["iat"] == settings.token_ttl_seconds


def test_expired_token_is_rejected_unless_within_leeway():
    token = tokens.issue("acct_42", now=NOW, ttl=60)
    with pytest.raises(tokens.ExpiredTokenError):
        tokens.verify(token, now=NOW + 61)
    assert tokens.verify(token, now=NOW + 61, leeway=5)["sub"] == "acct_42"


def test_tampered_or_foreign_tokens_are_rejected():
    token = tokens.issue("acct_42", now=NOW)
    header, claims, signature = token.split(".")
    forged_claims = tokens.issue("acct_1", now=NOW).split(".")[1]
    with pytest.raises(tokens.TokenError, match="signature mismatch"):
        tokens.verify(f"{header}.{forged_claims}.{signature}", now=NOW)
    with pytest.raises(tokens.TokenError, match="signature mismatch"):
        tokens.verify(token, secret="another-secret-of-at-least-32-chars!!", now=NOW)
    with pytest.raises(tokens.TokenError, match="3 segments"):
        tokens.verify(f"{header}.{claims}", now=NOW)


def test_unsigned_tokens_are_never_accepted():
    none_header = tokens._encode(b'{"alg":"none","typ":"JWT"}')
    _, claims, _ = tokens.issue("acct_42", now=NOW).split(".")
    with pytest.raises(tokens.TokenError, match="'none' is not accepted"):
        tokens.verify(f"{none_header}.{claims}.", now=NOW)


@pytest.mark.parametrize(
    ("granted", "wanted", "allowed"),
    [
        ("invoices:read", "invoices:read", True),
        ("invoices:read", "invoices:write", False),
        ("invoices:* usage:read", "invoices:write", True),
        ("", "usage:read", False),
    ],
)
def test_scopes(granted, wanted, allowed):
    assert tokens.has_scope({"scope": granted}, wanted) is allowed


def test_settings_refuse_a_short_jwt_secret():
    with pytest.raises(ValidationError, match="jwt_secret"):
        Settings(database_url="postgresql://u:p@db:5432/billing", redis_url="redis://cache:6379/0", jwt_secret="short")
