"""Declared test environment variables: which of them apply, and how to show them without leaking secrets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping

    from testfloor.config import EnvValue

MASK = "****"

# Words that make a variable's value a secret wherever they stand in its name.
_SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE")
# Name parts (split at anything but letters and digits) that make it a secret.
_SECRET_PART = re.compile(r"(.*KEYS?|PWD|PASS|AUTH|SALT|DSN)\Z")
# user:password@ in a URL; the password goes, the user stays.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:@/\s]*:)[^@/\s]*@")
# ?token=..., &api_key=...: query parameters whose name looks secret.
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&;][^=&;#\s]*(?:secret|token|password|passwd|key|sig|signature)[^=&;#\s]*=)[^&;#\s]+",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """Tell whether a variable called `name` holds a secret (``JWT_SECRET``, ``API_KEY``, ``DB_PASSWORD``...)."""
    upper = name.upper()
    if any(word in upper for word in _SECRET_WORDS):
        return True
    return any(_SECRET_PART.match(part) for part in re.split(r"[^A-Z0-9]+", upper) if part)


def mask(name: str, value: str) -> str:
    """Return `value` as it may be shown: all of it masked for a secret name, else credentials in URLs masked."""
    if is_secret_name(name):
        return MASK
    value = _URL_PASSWORD.sub(lambda match: f"{match['head']}{MASK}@", value)
    return _QUERY_SECRET.sub(lambda match: f"{match['head']}{MASK}", value)


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
        if name in outer and not item.override:
            lines.append(f"{name}={mask(name, outer[name])} (kept from the environment)")
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
