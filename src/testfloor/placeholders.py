"""Placeholder values in the shape the code needs: from how it uses them, their constraints, names and examples.

A placeholder that passes validation can still fail the code that uses it at import: ``Fernet(settings.
secret_key)`` needs 32 URL-safe base64 bytes, ``create_async_engine(os.environ.get("DATABASE_URL"))`` an
async driver's URL. The shape comes, best first, from the usage in the project's source, an error that the
last value caused, the name; the project's documented example is preferred when it has that shape. Only the
standard library is used here: the settings probe imports this module inside the project's Python.
"""

from __future__ import annotations

import ast
import base64
import binascii
import os
import re
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from testfloor.handenv import read_at_import, variable_read

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from testfloor.classify import Diagnosis
    from testfloor.config import EnvValue

# 32 bytes, as a Fernet key (and most AES-256 keys) must be; its URL-safe base64 form has neither "-" nor "_",
# so it is valid standard base64 as well.
_KEY = b"testfloor-placeholder-key-32byte"
ASYNC_DRIVERS = {"postgresql": "asyncpg", "postgres": "asyncpg", "mysql": "aiomysql", "sqlite": "aiosqlite"}
# Each shape and its values, best first; every value is checked by `fits` in the tests.
SHAPES: dict[str, tuple[str, ...]] = {
    "fernet": (base64.urlsafe_b64encode(_KEY).decode(),),
    "base64": (base64.b64encode(_KEY).decode(),),
    "hex": (_KEY.hex(),),
    "uuid": ("12345678-1234-4678-9234-567812345678",),
    "int": ("1",),
    "port": ("8000",),
    "email": ("test@example.com",),
    "async_url": ("postgresql+asyncpg://test:test@localhost:5432/test", "sqlite+aiosqlite:///:memory:"),
    "sync_url": ("postgresql://test:test@localhost:5432/test", "sqlite:///:memory:"),
    "redis_url": ("redis://localhost:6379/0",),
    "mongo_url": ("mongodb://localhost:27017/test",),
    "amqp_url": ("amqp://guest:guest@localhost:5672//",),
    "url": ("http://localhost:8000",),
    "host": ("localhost",),
    "secret": ("testfloor-placeholder-0123456789abcdef0123456789",),
    "flag": ("false",),
}
# Shapes by what the name says, checked in order.
_BY_NAME = (
    (("FERNET", "ENCRYPTION_KEY", "CRYPT_KEY", "CIPHER_KEY"), "fernet"),
    (("UUID", "GUID"), "uuid"),
    (("HEX",), "hex"),
    (("BASE64", "B64"), "base64"),
    (("EMAIL", "MAIL_FROM"), "email"),
    (("REDIS",), "redis_url"),
    (("MONGO",), "mongo_url"),
    (("AMQP", "RABBIT", "BROKER", "CELERY"), "amqp_url"),
    (("DATABASE", "DB_", "_DB", "SQL", "POSTGRES", "DSN", "CONNECTION_STRING"), "sync_url"),
    (("URL", "URI", "ENDPOINT"), "url"),
    (("PORT",), "port"),
    (("HOST",), "host"),
    (("SECRET", "TOKEN", "KEY", "PASSWORD", "PASSWD"), "secret"),
    (("DEBUG", "ENABLED", "DISABLED", "VERBOSE"), "flag"),
)
# What a value passed to these callables must be.
_BY_USE = {
    "Fernet": "fernet",
    "MultiFernet": "fernet",
    "urlsafe_b64decode": "fernet",
    "b64decode": "base64",
    "standard_b64decode": "base64",
    "fromhex": "hex",
    "unhexlify": "hex",
    "a2b_hex": "hex",
    "UUID": "uuid",
    "int": "int",
    "create_async_engine": "async_url",
    "create_engine": "sync_url",
    "make_url": "sync_url",
}
# Calls and methods that pass a value through unchanged in shape: ``str(x)``, ``x.encode()``.
_THROUGH = frozenset({"str", "bytes", "encode", "get_secret_value", "strip", "unicode_string"})
# Errors that the shape of a value causes, and the shape they ask for ("" when they do not say).
_ERRORS = (
    (
        re.compile(
            r"async driver|asyncio extension requires|is not async|async (?:DSN|URL|database|engine)"
            r"|\+(?:asyncpg|aiosqlite|aiomysql|asyncmy|psycopg_async)\b",
            re.I,
        ),
        "async_url",
    ),
    (re.compile(r"Unable to decode|Incorrect padding|Invalid base64|url-safe base64|Fernet key|binascii", re.I), ""),
    (re.compile(r"badly formed hexadecimal UUID", re.I), "uuid"),
    (re.compile(r"non-hexadecimal number|Non-hexadecimal digit", re.I), "hex"),
    (re.compile(r"invalid literal for int\(\)", re.I), "int"),
    (re.compile(r"Could not parse (?:SQLAlchemy|rfc1738) URL|Can't load plugin: sqlalchemy\.dialects", re.I), ""),
    (
        re.compile(
            r"(?:unsupported|invalid|unknown) (?:database |URL |DSN )?scheme|invalid (?:DSN|database URL)", re.I
        ),
        "",
    ),
)
# A URL scheme an error message names (``needs postgresql+asyncpg://...``): the one to try first.
_SCHEME = re.compile(r"\b([a-z][a-z0-9]*(?:\+[a-z0-9_]+)?)://", re.I)
# The URL shapes one another's fallbacks: a DSN the name calls sync may be one the code needs async.
_URL_FALLBACKS = {"sync_url": "async_url", "async_url": "sync_url"}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}")


def by_name(name: str) -> str | None:
    """Return the shape the variable's or field's name suggests, or None."""
    upper = name.upper()
    return next((shape for words, shape in _BY_NAME if any(word in upper for word in words)), None)


def from_error(text: str) -> str | None:
    """Return the shape an error about a value's format asks for ("" when it does not say), or None if it is not one."""
    return next((shape for pattern, shape in _ERRORS if pattern.search(text)), None)


def fits(value: str, shape: str) -> bool:
    """Tell whether `value` has `shape`, by decoding or parsing it as the code would."""
    try:
        if shape == "fernet":
            return len(base64.urlsafe_b64decode(value.encode())) == 32
        if shape == "base64":
            return bool(base64.b64decode(value.encode(), validate=True))
        if shape == "hex":
            return bool(bytes.fromhex(value))
        if shape == "uuid":
            return bool(uuid.UUID(value))
        if shape in ("int", "port"):
            return int(value) >= 0
    except (ValueError, binascii.Error):
        return False
    if shape == "email":
        return _EMAIL.fullmatch(value) is not None
    if shape.endswith("url"):
        return _url_fits(value, shape)
    return True


def _url_fits(value: str, shape: str) -> bool:
    parts = urlsplit(value)
    if not parts.scheme or "://" not in value:
        return False
    database, _, driver = parts.scheme.partition("+")
    if shape == "async_url":
        return driver == ASYNC_DRIVERS.get(database) or driver in ASYNC_DRIVERS.values()
    if shape == "sync_url":
        return driver not in ASYNC_DRIVERS.values()
    return True


def candidates(name: str, *, used: str | None = None, documented: str | None = None) -> list[str]:
    """Return values for `name`, best first: of the shape its usage needs (`used`), else its name suggests.

    The `documented` value comes first when it has that shape, last otherwise; the values of the name's
    shape follow the used shape's as fallbacks.
    """
    shapes = [shape for shape in dict.fromkeys((used, by_name(name))) if shape]
    values = [value for shape in shapes for value in SHAPES[shape]]
    if documented is not None:
        first = not shapes or fits(documented, shapes[0])
        values = [documented, *values] if first else [*values, documented]
    return list(dict.fromkeys(values)) or ["placeholder"]


def shaped(name: str, used: str | None, constraints: Mapping[str, Any]) -> list[str]:
    """Return the values of the shape a settings string field needs that meet its `constraints`, best first.

    The shape comes from the code's usage, else from the name, except for a plain secret, flag or host: the settings
    probe's own texts (padded to the field's lengths) serve those better. A field with a `pattern` that none of
    those meets gets the values of any shape that meet it (``^[0-9a-f]{64}$``: the hex key).
    """
    shape = used or by_name(name)
    named = (
        [] if shape is None or (used is None and shape in ("secret", "flag", "host")) else candidates(name, used=used)
    )
    meeting = [value for value in named if _meets(value, constraints)]
    if meeting or not isinstance(constraints.get("pattern"), str):
        return meeting
    return [value for values in SHAPES.values() for value in values if _meets(value, constraints)]


def _meets(value: str, constraints: Mapping[str, Any]) -> bool:
    low, high = constraints.get("min_length") or 0, constraints.get("max_length")
    pattern = constraints.get("pattern")
    return low <= len(value) <= (high if high is not None else len(value)) and (
        not isinstance(pattern, str) or re.search(pattern, value) is not None
    )


def with_driver(values: list[str], used: str | None) -> list[str]:
    """Return DSN `values` with an async driver's variant of each first when the code needs an async engine."""
    if used != "async_url":
        return values
    shaped = []
    for value in values:
        scheme, separator, rest = value.partition("://")
        if scheme in ASYNC_DRIVERS and separator:
            shaped.append(f"{scheme}+{ASYNC_DRIVERS[scheme]}://{rest}")
    return [*shaped, *values]


def following(name: str, current: str, *, used: str | None = None, cause: str = "") -> list[str]:
    """Return the values to try after `current` failed: the other candidates, of the used shape first.

    A URL scheme the error `cause` names comes before them all; a database URL of the other kind (sync or
    async) after them.
    """
    values = candidates(name, used=used)
    shape = used or by_name(name)
    if shape in _URL_FALLBACKS:
        values += SHAPES[_URL_FALLBACKS[shape]]
    named = _SCHEME.search(cause)
    if named:
        rest = [value.partition("://")[2] for value in values if "://" in value][:1] or ["localhost"]
        values.insert(0, f"{named.group(1)}://{rest[0]}")
    return [value for value in dict.fromkeys(values) if value != current]


def usage(source: str) -> dict[str, str]:
    """Return the shape each value needs, by how `source` uses it: ``Fernet(settings.secret_key)`` -> fernet.

    Keys are lower-case: a settings field's name (the attribute read) or the variable read from the
    environment (``os.environ.get("X")`` passed directly, or through a module-level name).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and (read := variable_read(node.value)):
            aliases.update({target.id: read for target in node.targets if isinstance(target, ast.Name)})
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        shape = _BY_USE.get(_called(node)) if isinstance(node, ast.Call) else None
        if shape is None or not isinstance(node, ast.Call):
            continue
        for argument in [
            *node.args[:1],
            *(keyword.value for keyword in node.keywords if keyword.arg in ("url", "key")),
        ]:
            key = _refers_to(argument, aliases)
            if key:
                found.setdefault(key.lower(), shape)
    return found


def usage_in(root: Path) -> dict[str, str]:
    """Return `usage` over the project's Python files under `root` (hidden and environment directories skipped)."""
    words = tuple(_BY_USE)
    found: dict[str, str] = {}
    from testfloor.imports import python_files

    for path in python_files(root):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if any(word in text for word in words if word != "int"):
            for key, shape in usage(text).items():
                found.setdefault(key, shape)
    return found


def _called(node: ast.Call) -> str:
    function = node.func
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else ""


def _refers_to(node: ast.AST, aliases: Mapping[str, str]) -> str | None:
    while isinstance(node, ast.Call):
        if (read := variable_read(node)) is not None:
            return read
        if isinstance(node.func, ast.Attribute) and node.func.attr in _THROUGH:
            node = node.func.value
        elif isinstance(node.func, ast.Name) and node.func.id in _THROUGH and node.args:
            node = node.args[0]
        else:
            return None
    if (read := variable_read(node)) is not None:
        return read
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    return node.attr if isinstance(node, ast.Attribute) else None


def shape_for(name: str, used: Mapping[str, str]) -> str | None:
    """Return the shape `used` (a `usage` result) records for a variable or field `name`, or for its field part.

    ``APP_SECRET_KEY`` matches a field ``secret_key`` read as ``settings.secret_key`` (a prefix is allowed).
    """
    lower = name.lower()
    if lower in used:
        return used[lower]
    return next((shape for key, shape in used.items() if lower.endswith(f"_{key}")), None)


def involved(cause: str, source: str, values: Mapping[str, str]) -> list[str]:
    """Return the variables of `values` (what testfloor set) that the error `cause` in the module `source` involves.

    The error must be one a value's format causes (`from_error`: a connection refused is not, whatever it
    repeats); it blames the variables whose value it repeats, else those it names, else those the module
    reads or uses at import.
    """
    if from_error(cause) is None:
        return []
    repeated = [name for name, value in values.items() if len(value) > 3 and value in cause]
    if repeated:
        return repeated
    named = [name for name in values if re.search(rf"\b{re.escape(name)}\b", cause, re.IGNORECASE)]
    if named:
        return named
    used = set(read_at_import(source)) | {name for name in values if shape_for(name, usage(source))}
    return [name for name in values if name in used]


def own(diagnosis: Diagnosis, root: Path, declared: Mapping[str, EnvValue]) -> Diagnosis:
    """Return `diagnosis` as a ``placeholder`` error when a value testfloor set (in `declared`) caused it.

    Such an error is testfloor's to fix with a value of another shape, never a project bug to quarantine.
    """
    if diagnosis.kind != "other" or not diagnosis.path:
        return diagnosis
    from testfloor.env import applicable, fresh

    # Only the values in force: a variable the outer environment sets keeps its own value (unless overridden).
    values = applicable(declared, fresh(os.environ))
    found = [name for place in diagnosis.places for name in involved(diagnosis.cause, _source(root, place), values)]
    names = list(dict.fromkeys(found))
    return replace(diagnosis, kind="placeholder", subject=", ".join(names), fix="placeholder") if names else diagnosis


def reshape(
    root: Path, diagnoses: Sequence[Diagnosis], declared: Mapping[str, EnvValue], python: str
) -> dict[str, str]:
    """Return a new value for each variable the ``placeholder`` `diagnoses` blame: the first that imports.

    Values are tried in the shape the error asks for, else the one the code's usage needs, else the name's;
    each is verified by importing the failing module with `python` (`testfloor.settings_probe`). A variable
    no value satisfies is left out: testfloor's limitation, reported, never quarantined.
    """
    from testfloor.env import applicable, fresh
    from testfloor.settings_discovery import module_name, run_context

    outer = fresh(os.environ)  # as the probes see it: what a fresh machine sets
    current = applicable(declared, outer)
    base = {**outer, **current}
    # The module is imported as the run imports it: with its stubs, pythonpath and sub-project root.
    context = run_context(root, base)
    bases = [Path(path) for path in context["bases"]]
    everywhere: dict[str, str] = context["usage"]
    found: dict[str, str] = {}
    for item in diagnoses:
        places = list(item.places) or [item.path or ""]
        sources = {place: _source(root, place) for place in places}
        names = [name for place in places for name in involved(item.cause, sources[place], current)]
        for name in dict.fromkeys(names):
            if name in found:
                continue
            # Imported where it is read: the module that raised may only define the helper that did.
            where = next((place for place in places if name in read_at_import(sources[place])), places[0])
            used = {**everywhere, **usage(sources[where])}
            module = module_name(root, root / where, bases)
            shape = from_error(item.cause) or shape_for(name, used)
            tries = following(name, current[name], used=shape, cause=item.cause)
            chosen = next(
                (value for value in tries if _imports(python, root, module, {**base, name: value}, value, context)),
                None,
            )
            if chosen is not None:
                found[name] = chosen
    return found


def _imports(
    python: str, root: Path, module: str, environ: Mapping[str, str], value: str, context: Mapping[str, Any]
) -> bool:
    # Whether `module` imports without an error about a value's format or naming `value` (a missing heavy module
    # is neither: the value is as good as testfloor can tell).
    from testfloor.errors import DiscoveryError
    from testfloor.settings_discovery import run_probe

    try:
        errors = run_probe(python, root, [module], environ, context)["import_errors"]
    except DiscoveryError:
        return False
    return not any(from_error(error["error"]) is not None or value in error["error"] for error in errors)


def _source(root: Path, relative: str) -> str:
    try:
        return (root / relative).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
