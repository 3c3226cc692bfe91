"""Declared test environment variables: which of them apply, and how to show them without leaking secrets."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping

    from testfloor.config import EnvValue

MASK = "****"
# A value shorter than this is never searched for in text: masking "1" or "dev" everywhere would hide everything.
MIN_SECRET = 4

# The rule for secret-looking names (`is_secret_name`), on the name cut into parts at anything but letters and
# digits and at lower-to-upper case changes (``githubPat`` is ``GITHUB_PAT``):
# 1. a part holding one of these words: ``JWT_SECRET``, ``PASSWORDS``, ``SESSION_COOKIE_SIGNER``;
_SECRET_WORDS = (
    "SECRET", "TOKEN", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "PRIVATE", "COOKIE", "SIGNER", "SIGNING",
    "SIGNATURE",
)  # fmt: skip
# 2. a part that is one of these: ``API_KEY``, ``APIKEY``, ``DB_PWD``, ``GITHUB_PAT``, ``OAUTH2``, ``SENTRY_DSN``,
#    ``SESSIONID``, ``CLIENT_CERT``. Accepted false positives: ``MONKEY``, ``PRIMARY_KEY``, ``SSH_AUTH_SOCK``
#    and ``SSL_CERT_FILE`` (a path, masked where it appears: harmless);
_SECRET_PART = re.compile(
    r"(?:.*KEYS?|PWD|PASS|PAT|PIN|SALT|DSN|O?AUTH[NZ]?\d*|AUTHORI[SZ]ATION|AUTHENTICATION|SESSIONID|SIG"
    r"|CERTS?|CERTIFICATE)\Z"
)
# A part ``SESSION`` alone is no secret: nox names the running session in ``NOX_CURRENT_SESSION`` ("coverage"),
# and masking that word would blank it out of every line.
# 3. except the names of the shell and desktop that only look secret: the working directory, the desktop session.
_NOT_SECRET = re.compile(r"(?:OLD)?PWD|XDG_SESSION_\w+|DESKTOP_SESSION|GDMSESSION|SESSION_MANAGER", re.IGNORECASE)
# user:password@ in a URL, whatever the password holds (``@``, ``/``, ``:``): up to the token's last ``@``.
# The user stays. Accepted false positive: ``http://host:8080/a?b=c@d`` loses ``8080/a?b=c``.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:@/\s'\"<>]*:)[^\s'\"<>`]*@")
# name=value (``?token=...``, ``--api-key=...``, ``GITHUB_PAT=...``) and 'name': 'value' (a dict's repr, JSON).
_ASSIGNED = re.compile(
    r"(?P<head>(?<![\w.-])-{0,2}(?P<name>[A-Za-z_][\w.-]*)=)(?P<value>'[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)"
)
_QUOTED = re.compile(r"(?P<head>(?P<quote>['\"])(?P<name>[\w.-]+)(?P=quote)\s*:\s*)(?P<value>'[^']*'|\"[^\"]*\")")
# The rejected value pydantic repeats in a validation error (``[type=..., input_value='...', input_type=str]``).
_INPUT_VALUE = re.compile(r"(?P<head>\binput_value=).*?(?=, input_type=|\]$|$)", re.MULTILINE)


def is_secret_name(name: str) -> bool:
    """Tell whether a variable called `name` holds a secret (``JWT_SECRET``, ``API_KEY``, ``GITHUB_PAT``...).

    The rule is written out above ``_SECRET_WORDS``; ``PWD`` (the working directory) is not a secret.
    """
    if _NOT_SECRET.fullmatch(name):
        return False
    parts = [part for part in re.split(r"[^A-Z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).upper()) if part]
    return any(word in part for part in parts for word in _SECRET_WORDS) or any(map(_SECRET_PART.match, parts))


def secret_values(
    declared: Mapping[str, EnvValue] | None = None, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Return the values to hide wherever they appear, longest first.

    The `declared` values (``[tool.testfloor.env]``) and the `environ` values
    (default: this process's environment) of secret-looking names, at least
    `MIN_SECRET` characters long. A declared value under an ordinary name is
    not one: ``testfloor config`` and the pytest header show it as it is; nor
    is an absolute path (``SSL_CERT_FILE=/etc/ssl/...``), which names a file.
    """
    environ = os.environ if environ is None else environ
    pairs = [*((name, item.value) for name, item in (declared or {}).items()), *environ.items()]
    found = {
        value for name, value in pairs if len(value) >= MIN_SECRET and is_secret_name(name) and not os.path.isabs(value)
    }
    return sorted(found, key=lambda value: (-len(value), value))


def scrub(text: str, declared: Mapping[str, EnvValue] | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Return `text` as testfloor may print or write it: every secret it can recognise replaced by ``****``.

    The one masking function, for messages, reports, reasons and re-printed
    output alike. It hides the `secret_values` of `declared` and `environ`;
    the password of a URL (``scheme://user:password@host``), whatever its
    characters; the value of a secret-looking ``name=value`` or
    ``'name': 'value'``; and the input pydantic repeats in a validation error.
    """
    values = secret_values(declared, environ)
    if values:
        text = re.sub("|".join(map(re.escape, values)), MASK, text)
    text = _URL_PASSWORD.sub(lambda match: f"{match['head']}{MASK}@", text)
    text = _INPUT_VALUE.sub(lambda match: f"{match['head']}{MASK}", text)
    for pattern in (_ASSIGNED, _QUOTED):
        text = pattern.sub(lambda match: _masked_value(match) if is_secret_name(match["name"]) else match[0], text)
    return text


def scrub_document(document: Any, declared: Mapping[str, EnvValue] | None = None) -> Any:
    """Return the JSON-like `document` with every string in it (keys too) `scrub`-bed."""
    if isinstance(document, str):
        return scrub(document, declared)
    if isinstance(document, dict):
        return {scrub_document(key, declared): scrub_document(value, declared) for key, value in document.items()}
    if isinstance(document, (list, tuple)):
        return [scrub_document(item, declared) for item in document]
    return document


def _masked_value(match: re.Match[str]) -> str:
    quote = match["value"][0] if match["value"][0] in "'\"" else ""
    return f"{match['head']}{quote}{MASK}{quote}"


def mask(name: str, value: str, environ: Mapping[str, str] | None = None) -> str:
    """Return the value of variable `name` as it may be shown: all of it for a secret name, else `scrub`-bed."""
    return MASK if is_secret_name(name) else scrub(value, environ=environ)


# What a fresh machine has too: the system's own variables, Python's, the installers', nox's and testfloor's.
_FRESH_NAMES = frozenset(
    {
        "PATH", "HOME", "USER", "USERNAME", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "TZ",
        "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "SYSTEMDRIVE", "COMSPEC", "WINDIR", "PATHEXT", "APPDATA",
        "LOCALAPPDATA", "PROGRAMDATA", "USERPROFILE", "COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "CI",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "VIRTUAL_ENV",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
    }
)  # fmt: skip
# coverage.py's and pytest-cov's own: a run measured in CI measures the processes doctor starts too.
_FRESH_PREFIXES = ("LC_", "XDG_", "PYTHON", "PYENV", "PIP_", "UV_", "NOX_", "TESTFLOOR_", "COVERAGE_", "COV_CORE_")


def fresh(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the part of `environ` a fresh clone on a fresh machine (a CI job) would have as well.

    What ``doctor`` verifies must hold there: a variable set in the shell
    that ran it (``DATABASE_URL``, a token) would otherwise make a suite
    collect here that fails in CI, so the project's probes never see it.
    ``PYTHONPATH`` is left out too: it can make an import work that a clone
    cannot make.
    """
    return {
        name: value
        for name, value in environ.items()
        if name != "PYTHONPATH" and (name.upper() in _FRESH_NAMES or name.upper().startswith(_FRESH_PREFIXES))
    }


def applicable(declared: Mapping[str, EnvValue], outer: Mapping[str, str]) -> dict[str, str]:
    """Return the declared values that apply given the `outer` environment.

    A variable the outer environment already sets keeps its real value,
    unless its declaration says ``override = true``.
    """
    return {name: item.value for name, item in declared.items() if item.override or name not in outer}


def describe(declared: Mapping[str, EnvValue], outer: Mapping[str, str]) -> list[str]:
    """Describe, one masked line a variable, what `applicable` does with each declaration."""
    lines = []
    for name in sorted(declared):
        item = declared[name]
        if name in outer and not item.override and outer[name] != item.value:
            lines.append(f"{name}={mask(name, outer[name])} (kept from the environment)")
        elif name in outer and outer[name] == item.value:
            # The declared value already in force: a session (`session.env`) or an earlier step applied it.
            lines.append(f"{name}={mask(name, item.value)} (declared)")
        else:
            how = "declared, overrides the environment" if name in outer else "declared"
            lines.append(f"{name}={mask(name, item.value)} ({how})")
    return lines


@dataclass(frozen=True)
class Applied:
    """What `apply` changed in an environment, so that it can be undone."""

    outer: Mapping[str, str]
    values: Mapping[str, str]

    def restore(self, environ: MutableMapping[str, str]) -> None:
        """Put back the values the declared variables had before `apply`."""
        for name in self.values:
            if name in self.outer:
                environ[name] = self.outer[name]
            else:
                environ.pop(name, None)


def apply(declared: Mapping[str, EnvValue], environ: MutableMapping[str, str]) -> Applied:
    """Set the `applicable` declared values in `environ` (the pytest process's own, before conftests load)."""
    outer = {name: environ[name] for name in declared if name in environ}
    values = applicable(declared, outer)
    environ.update(values)
    return Applied(outer, values)
