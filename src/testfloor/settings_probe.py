"""Run inside the project's Python: import settings modules, report each settings class's fields and errors as JSON.

The parent (`testfloor.settings_discovery`) runs ``python -m testfloor.settings_probe`` with the candidate
environment already set, so that the project's modules are imported in a fresh process and never in testfloor's
own. It reads ``{"root": ..., "modules": [...], "paths": [...], "stubs": [...], "usage": {...}}`` on stdin (the
import path and the stubs of the run, and the shapes its code needs its values in:
`testfloor.settings_discovery.run_context`) and writes one JSON document on stdout. Besides the standard library
it uses only whichever pydantic the project has, and testfloor's stubs when the run has some.
"""

from __future__ import annotations

import contextlib
import decimal
import enum
import importlib
import importlib.util
import io
import json
import os
import re
import sys
import traceback
import types
import typing
from pathlib import Path
from typing import Any

from testfloor import placeholders

# Paths that exist in every project where its tests run (the working directory is the project's root), so a
# FilePath or DirectoryPath validates without discovery creating anything; a NewPath gets a name nothing has.
_EXISTING_PATHS = {"file": ("pyproject.toml", "setup.py", "setup.cfg"), "dir": (".",)}

# Values for types known by their class name, in pydantic v1 and v2 alike.
_BY_NAME: dict[str, tuple[str, ...]] = {
    "PostgresDsn": ("postgresql://test:test@localhost:5432/test",),
    "CockroachDsn": ("cockroachdb://test:test@localhost:26257/test",),
    "MySQLDsn": ("mysql://test:test@localhost:3306/test",),
    "MariaDBDsn": ("mariadb://test:test@localhost:3306/test",),
    "RedisDsn": ("redis://localhost:6379/0",),
    "AmqpDsn": ("amqp://guest:guest@localhost:5672//",),
    "MongoDsn": ("mongodb://localhost:27017/test",),
    "KafkaDsn": ("kafka://localhost:9092",),
    "NatsDsn": ("nats://localhost:4222",),
    "ClickHouseDsn": ("clickhousedb://localhost:8123/test",),
    "SnowflakeDsn": ("snowflake://test:test@localhost/test",),
    "AnyUrl": ("http://localhost:8000/",),
    "AnyHttpUrl": ("http://localhost:8000/",),
    "HttpUrl": ("http://localhost:8000/",),
    "AnyWebsocketUrl": ("ws://localhost:8000/",),
    "WebsocketUrl": ("ws://localhost:8000/",),
    "FileUrl": ("file:///dev/null",),
    "FtpUrl": ("ftp://localhost/",),
    "EmailStr": ("test@example.com",),
    "NameEmail": ("Test <test@example.com>",),
    "IPvAnyAddress": ("127.0.0.1",),
    "IPv4Address": ("127.0.0.1",),
    "IPv6Address": ("::1",),
    "IPvAnyNetwork": ("127.0.0.0/8",),
    "IPv4Network": ("127.0.0.0/8",),
    "IPv6Network": ("::1/128",),
    "IPvAnyInterface": ("127.0.0.1/8",),
    # The first is a version 4 UUID, the most common constraint; the others satisfy versions 1, 3 and 5.
    "UUID": (
        "12345678-1234-4678-9234-567812345678",
        "a8098c1a-f86e-11da-bd1a-00112444be1e",
        "6fa459ea-ee8a-3ca4-894e-db77e160355e",
        "886313e1-3b8a-5372-9b90-0c9aee199e5d",
    ),
    "UUID1": ("a8098c1a-f86e-11da-bd1a-00112444be1e",),
    "UUID3": ("6fa459ea-ee8a-3ca4-894e-db77e160355e",),
    "UUID4": ("12345678-1234-4678-9234-567812345678",),
    "UUID5": ("886313e1-3b8a-5372-9b90-0c9aee199e5d",),
    "datetime": ("2000-01-01T00:00:00",),
    "date": ("2000-01-01",),
    "time": ("00:00:00",),
    "timedelta": ("60",),
}
_CONSTRAINTS = ("min_length", "max_length", "gt", "ge", "lt", "le", "multiple_of", "pattern", "regex", "path_type")
_SECRET_WORDS = ("secret", "token", "password", "passwd", "key", "salt", "credential", "private")


def constraints_of(metadata: list[Any]) -> dict[str, Any]:
    """Collect length, bound, pattern and path-kind constraints from pydantic field metadata."""
    found: dict[str, Any] = {}
    for item in metadata:
        inner = getattr(item, "metadata", None)
        if isinstance(inner, list):  # a FieldInfo inside Annotated[...]
            found.update(constraints_of(inner))
        for name in _CONSTRAINTS:
            value = getattr(item, name, None)
            if value is not None and not callable(value):
                found["pattern" if name == "regex" else name] = getattr(value, "pattern", value)
    return found


def _unwrap(annotation: Any, constraints: dict[str, Any]) -> Any:
    """Strip Optional and Annotated, moving Annotated's constraints into `constraints`."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            constraints.update(constraints_of(list(annotation.__metadata__)))
            annotation = annotation.__origin__
        elif origin is typing.Union or origin is types.UnionType:
            annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
        else:
            return annotation


def _is_secret(name: str) -> bool:
    return any(word in name.lower() for word in _SECRET_WORDS)


def _texts(name: str, constraints: dict[str, Any]) -> list[str]:
    """Strings for a field: fake, padded to its minimum length (32 for secrets), cut to its maximum."""
    low = constraints.get("min_length") or 1
    length = max(low, 32 if _is_secret(name) else 0)
    high = constraints.get("max_length")
    words = "".join(char for char in name.lower() if char.isalnum())
    seeds = [f"test-{name.lower().replace('_', '-')}", f"test{words}", f"TEST{words.upper()}", "0123456789"]
    texts = []
    for seed in seeds:
        pad = "X" if seed.isupper() else "0" if seed.isdigit() else "x"
        text = seed.ljust(length, pad)
        texts.append(text[: max(high, low)] if high is not None else text)
    return list(dict.fromkeys(texts))


def _number(kind: type, constraints: dict[str, Any]) -> str:
    step = 1 if kind is int else 0.5
    value = constraints.get("ge", constraints["gt"] + step if "gt" in constraints else None)
    if value is None:
        value = min(1, constraints.get("le", 1), constraints.get("lt", 2) - step)
    multiple = constraints.get("multiple_of")
    if multiple:
        value = -(-value // multiple) * multiple
    return str(kind(value))


def synthesize(name: str, annotation: Any, constraints: dict[str, Any], used: str | None = None) -> list[Any]:
    """Return fake values for a field, best first: strings, or lists and dicts for JSON fields.

    A nested model's value is a dict of values for its required fields. `used` is the shape the project's
    code needs (`testfloor.placeholders.usage`): a string of that shape comes first, a DSN gets its driver.
    """
    constraints = dict(constraints)
    annotation = _unwrap(annotation, constraints)
    origin = typing.get_origin(annotation)
    path_type = constraints.get("path_type")
    if path_type is None and isinstance(annotation, type):
        path_type = {"FilePath": "file", "DirectoryPath": "dir", "NewPath": "new"}.get(annotation.__name__)
    if path_type == "new":
        return [f"testfloor-new-{name.lower()}"]
    if path_type is not None:  # any other kind (a socket) has no value that is always there: left unresolved
        return list(_EXISTING_PATHS.get(path_type, ()))
    if origin is typing.Literal:
        return [str(getattr(choice, "value", choice)) for choice in typing.get_args(annotation)]
    if origin in (list, set, frozenset, tuple, typing.Sequence) or annotation in (list, set, tuple):
        return [[], ["test"]]
    if origin is dict or annotation is dict:
        return [{}]
    if not isinstance(annotation, type):
        return ["test", "1"]
    if _is_model(annotation):
        return [_model_value(annotation)]
    if issubclass(annotation, enum.Enum):
        return [str(member.value) for member in annotation][:3]
    if issubclass(annotation, bool):
        return ["true"]
    if issubclass(annotation, (int, float, decimal.Decimal)):
        return [_number(int if issubclass(annotation, int) else float, constraints)]
    for kind in annotation.__mro__:
        if kind.__name__ in _BY_NAME:
            return placeholders.with_driver(list(_BY_NAME[kind.__name__]), used)
    if issubclass(annotation, Path):
        return ["."]
    return list(dict.fromkeys([*placeholders.shaped(name, used, constraints), *_texts(name, constraints)]))


def _model_value(model: Any) -> dict[str, Any]:
    value = {}
    for field_name, field in model.model_fields.items():
        if field.is_required():
            key = field.alias or field_name
            value[key] = synthesize(field_name, field.annotation, constraints_of(field.metadata))[0]
    return value


def _is_model(annotation: Any) -> bool:
    annotation = _unwrap(annotation, {})
    return isinstance(annotation, type) and hasattr(annotation, "model_fields") and hasattr(annotation, "model_config")


def _settings_bases() -> dict[type, int]:
    """Return the BaseSettings classes importable here, with their pydantic major version."""
    bases: dict[type, int] = {}
    with contextlib.suppress(ImportError):
        from pydantic_settings import BaseSettings

        bases[BaseSettings] = 2
    with contextlib.suppress(ImportError):
        bases[_v1_base()] = 1
    return bases


def _v1_base() -> type:
    try:
        module = importlib.import_module("pydantic.v1")
    except ImportError:  # pragma: no cover - only pydantic 1 before 1.10.17 lacks pydantic.v1; tests use pydantic 2
        module = importlib.import_module("pydantic")
    base: type = module.BaseSettings
    return base


class Probe:
    """Import modules with settings validation made lenient, then describe every settings class found."""

    def __init__(self, root: Path, usage: dict[str, str]) -> None:
        self.root = root
        self.bases = _settings_bases()
        self.errors: dict[type, list[dict[str, Any]]] = {}
        self.usage = usage  # the shapes the project's code needs (`testfloor.placeholders.usage_in`)

    def run(self, modules: list[str]) -> dict[str, Any]:
        """Import `modules`, instantiate each settings class once, and return what was found."""
        failures = []
        originals: dict[type, Any] = {base: vars(base)["__init__"] for base in self.bases}
        for base, original in originals.items():
            base.__init__ = self._lenient(original)  # type: ignore[misc]
        try:
            for module in modules:
                try:
                    importlib.import_module(module)
                except BaseException as err:  # anything but a settings ValidationError: the module itself fails
                    failures.append({"module": module, "error": f"{type(err).__name__}: {_one_line(err)}"})
            classes = self._classes()
            for cls in classes:
                self.errors.pop(cls, None)
                try:
                    cls()
                except Exception as err:  # e.g. pydantic-settings' SettingsError for a value that is not JSON
                    self.errors[cls] = [{"field": None, "type": type(err).__name__, "message": _one_line(err)}]
        finally:
            for base, original in originals.items():
                base.__init__ = original  # type: ignore[misc]
        return {"classes": [self._describe(cls) for cls in classes], "import_errors": failures}

    def _lenient(self, original: Any) -> Any:
        probe = self

        def init(instance: Any, *args: Any, **kwargs: Any) -> None:
            try:
                original(instance, *args, **kwargs)
            except ValueError as err:  # pydantic's ValidationError in v1 and v2
                if not hasattr(err, "errors"):
                    raise
                probe.errors[type(instance)] = [_error(type(instance), item) for item in err.errors()]

        return init

    def _classes(self) -> list[type]:
        found: list[type] = []
        pending: list[type] = list(self.bases)
        while pending:
            children: list[type] = type.__subclasses__(pending.pop())
            for cls in children:
                pending.append(cls)
                path = Path(_module_file(cls.__module__) or os.devnull).resolve()
                if path.is_relative_to(self.root) and "site-packages" not in path.parts and cls not in found:
                    found.append(cls)
        return sorted(found, key=_qualified)

    def _describe(self, cls: type) -> dict[str, Any]:
        version = next(number for base, number in self.bases.items() if issubclass(cls, base))
        fields = _fields_v2(cls, self.usage) if version == 2 else _fields_v1(cls, self.usage)
        return {"name": _qualified(cls), "pydantic": version, "fields": fields, "errors": self.errors.get(cls, [])}


def _module_file(name: str) -> str | None:
    # A module that failed after building its settings (it used a value at import) is gone from sys.modules.
    module = sys.modules.get(name)
    if module is not None:
        return getattr(module, "__file__", None)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None


def _qualified(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _field_for(cls: Any, key: object) -> str:
    """Map an error location's first part (a field name or one of its aliases) to the field's name."""
    names: dict[str, str] = {}
    for name, field in (getattr(cls, "model_fields", None) or cls.__fields__).items():
        choice = getattr(field, "validation_alias", None)
        for alias in (name, getattr(field, "alias", None), *getattr(choice, "choices", [choice])):
            if isinstance(alias, str):
                names[alias.lower()] = name
    return names.get(str(key).lower(), str(key))


def _error(cls: type, item: Any) -> dict[str, Any]:
    field = _field_for(cls, item["loc"][0]) if item.get("loc") else None
    return {"field": field, "type": item["type"], "message": item["msg"]}


def _env_style(name: str, case_sensitive: bool) -> str:
    return name if case_sensitive else name.upper()


def _fields_v2(cls: Any, usage: dict[str, str]) -> list[dict[str, Any]]:
    from pydantic_settings.sources import EnvSettingsSource

    source = EnvSettingsSource(cls)
    config = cls.model_config
    case = bool(config.get("case_sensitive"))
    delimiter = config.get("env_nested_delimiter")
    described = []
    for name, field in cls.model_fields.items():
        if not field.is_required():
            continue
        env = [_env_style(env_name, case) for _key, env_name, _complex in source._extract_field_info(field, name)]
        constraints = constraints_of(field.metadata)
        model = _is_model(field.annotation)
        candidates = []
        for value in synthesize(name, field.annotation, constraints, _used(name, env, usage)):
            if model and delimiter and isinstance(value, dict):
                candidates.append(
                    {f"{env[0]}{delimiter}{_env_style(key, case)}": _text(sub) for key, sub in value.items()}
                )
            candidates.append({env[0]: _text(value)})
        described.append(_field(name, field.annotation, constraints, env, candidates))
    return described


def _fields_v1(cls: Any, usage: dict[str, str]) -> list[dict[str, Any]]:
    case = bool(getattr(cls.__config__, "case_sensitive", False))
    described = []
    for name, field in cls.__fields__.items():
        if not field.required:
            continue
        names = field.field_info.extra["env_names"]
        env = [_env_style(env_name, case) for env_name in (sorted(names) if isinstance(names, set) else names)]
        constraints = constraints_of([field.field_info, field.type_])
        used = _used(name, env, usage)
        candidates = [{env[0]: _text(value)} for value in synthesize(name, field.outer_type_, constraints, used)]
        described.append(_field(name, field.outer_type_, constraints, env, candidates))
    return described


def _used(name: str, env: list[str], usage: dict[str, str]) -> str | None:
    # How the code uses the field: as `settings.<name>`, or its variable read by hand.
    return next((shape for key in (name, *env) if (shape := usage.get(key.lower()))), None)


def _field(name: str, annotation: Any, constraints: dict[str, Any], env: list[str], candidates: list[Any]) -> Any:
    shown = {key: value for key, value in constraints.items() if key != "path_type"}
    return {
        "name": name,
        "type": _type_name(annotation),
        "constraint": ", ".join(f"{key}={value!r}" for key, value in sorted(shown.items())),
        "env": env,
        "candidates": candidates,
    }


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", str(annotation))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _one_line(err: BaseException) -> str:
    """Describe `err` in one line, where it was raised, without its type: ``boom (config.py:3)``."""
    where = traceback.extract_tb(err.__traceback__)[-1]  # a caught exception has at least one frame
    lines = str(err).strip().splitlines()
    return " ".join([*lines[:1], f"({Path(where.filename).name}:{where.lineno})"])


def main() -> int:
    """Read the request on stdin, print the findings as JSON on stdout; the project's own output goes to stderr."""
    request = json.load(sys.stdin)
    root = Path(request["root"]).resolve()
    for entry in reversed(request.get("paths") or [str(root / "src"), str(root)]):
        sys.path.insert(0, entry)
    if request.get("stubs"):
        # The stubs the run installs (its plugin's `testfloor.stubs.install`): a settings module whose package
        # imports a stubbed heavy module imports here as it does under pytest.
        from testfloor.stubs import install

        install(request["stubs"], request.get("stub_mode", "missing"), versions=request.get("versions") or {})
    out = io.StringIO()
    with contextlib.redirect_stdout(sys.stderr):
        json.dump(Probe(root, request["usage"]).run(request["modules"]), out, sort_keys=True)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
