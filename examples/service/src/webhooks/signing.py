"""The ``Webhook-Signature`` header: ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``."""

from __future__ import annotations

import hashlib
import hmac

from src.config import settings


class SignatureError(ValueError):
    """The signature header is malformed, does not match, or is too old."""


def compute(body: bytes, secret: str, timestamp: int) -> str:
    """Return the hex signature of `body` sent at `timestamp`."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """Return the header value for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={compute(body, secret, timestamp)}"


def parse(header: str) -> tuple[int, list[str]]:
    """Split a header into its timestamp and its ``v1`` signatures (several while a secret is rotated)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError(f"malformed item {item!r}")
        if key == "t":
            if not value.isdigit():
                raise SignatureError(f"timestamp {value!r} is not a number")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("header needs a timestamp and at least one v1 signature")
    return timestamp, signatures


def verify(body: bytes, header: str, secret: str, *, now: float, tolerance: int | None = None) -> int:
    """Check `header` for `body`; return its timestamp or raise `SignatureError`."""
    timestamp, signatures = parse(header)
    allowed = settings.webhook_tolerance_seconds if tolerance is None else tolerance
    if abs(now - timestamp) > allowed:
        raise SignatureError(f"timestamp is {int(abs(now - timestamp))}s away from now (tolerance {allowed}s)")
    expected = compute(body, secret, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("no signature matches")
    return timestamp
