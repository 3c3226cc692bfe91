"""Access tokens in the JWT compact format (HS256 only), signed and checked with the standard library."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING, Any

from src.config import settings

if TYPE_CHECKING:
    from collections.abc import Iterable

ALGORITHM = "HS256"


class TokenError(ValueError):
    """The token is malformed, forged or signed with another key."""


class ExpiredTokenError(TokenError):
    """The token was valid once."""


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as err:
        raise TokenError(f"bad base64 segment: {err}") from None


def _sign(signing_input: bytes, secret: str) -> str:
    return _encode(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())


def issue(
    subject: str,
    *,
    scopes: Iterable[str] = (),
    secret: str | None = None,
    ttl: int | None = None,
    now: float | None = None,
) -> str:
    """Return a signed token for `subject` with `scopes`, valid for `ttl` seconds from `now`."""
    issued = int(time.time() if now is None else now)
    lifetime = settings.token_ttl_seconds if ttl is None else ttl
    header = {"alg": ALGORITHM, "typ": "JWT"}
    claims = {"sub": subject, "iat": issued, "exp": issued + lifetime, "scope": " ".join(sorted(set(scopes)))}
    segments = [_encode(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)]
    signing_input = ".".join(segments).encode()
    return ".".join([*segments, _sign(signing_input, secret or settings.jwt_secret)])


def verify(token: str, *, secret: str | None = None, now: float | None = None, leeway: int = 0) -> dict[str, Any]:
    """Return the claims of `token`, or raise `TokenError` (`ExpiredTokenError` once it has expired)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError(f"expected 3 segments, got {len(parts)}")
    header_segment, claims_segment, signature = parts
    try:
        header = json.loads(_decode(header_segment))
        claims = json.loads(_decode(claims_segment))
    except json.JSONDecodeError as err:
        raise TokenError(f"bad JSON segment: {err}") from None
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"algorithm {header.get('alg')!r} is not accepted")
    expected = _sign(f"{header_segment}.{claims_segment}".encode(), secret or settings.jwt_secret)
    if not hmac.compare_digest(expected, signature):
        raise TokenError("signature mismatch")
    current = time.time() if now is None else now
    if current > claims["exp"] + leeway:
        raise ExpiredTokenError(f"expired {int(current - claims['exp'])} seconds ago")
    return dict(claims)


def has_scope(claims: dict[str, Any], scope: str) -> bool:
    """Tell whether `claims` grant `scope`; ``billing:*`` grants every ``billing:`` scope."""
    granted = str(claims.get("scope", "")).split()
    family = scope.partition(":")[0]
    return scope in granted or f"{family}:*" in granted
