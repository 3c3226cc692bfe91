"""Find a project's pydantic-settings classes, and verified placeholder values for their required variables.

The project's modules are only ever imported in a subprocess (`testfloor.settings_probe`), with the candidate
values in its environment. Each round of `discover` both verifies the previous round's values and proposes
the next: a field whose value is rejected gets its next candidate, until every class validates, nothing is
left to try, or `MAX_ROUNDS` have run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testfloor.env import applicable, mask, scrub
from testfloor.errors import DiscoveryError, NoSettingsError
from testfloor.imports import python_files

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from testfloor.config import EnvValue

PROBE = "testfloor.settings_probe"
MAX_ROUNDS = 5
FORMAT = 1
_CLASS = re.compile(r"^[ \t]*class[ \t]+(\w+)[ \t]*\(([^)]*)\)", re.MULTILINE)


@dataclass(frozen=True)
class Field:
    """One required field of a settings class, and how discovery satisfied it (or not)."""

    settings: str  # module:Class
    name: str
    type: str
    constraint: str
    env: tuple[str, ...]  # the names pydantic-settings reads, the preferred one first
    values: Mapping[str, str] = field(default_factory=dict)  # what discovery proposes; empty if none
    problem: str | None = None  # why it still needs a value

    @property
    def status(self) -> str:
        """``synthesized``, ``needs a value``, or ``already set`` (by the environment, the config or a .env)."""
        if self.problem is not None:
            return "needs a value"
        return "synthesized" if self.values else "already set"


@dataclass(frozen=True)
class Discovery:
    """What `discover` found: the settings classes, their required fields and the values that make them valid."""

    root: Path
    modules: tuple[str, ...]
    classes: tuple[str, ...]
    fields: tuple[Field, ...]
    rounds: int

    @property
    def values(self) -> dict[str, str]:
        """Every proposed variable, by name."""
        return {name: value for item in self.fields for name, value in item.values.items()}

    @property
    def unresolved(self) -> tuple[Field, ...]:
        """The fields that still need a value from the user."""
        return tuple(item for item in self.fields if item.problem is not None)


def find_settings_modules(root: Path, bases: Sequence[Path] = ()) -> tuple[str, ...]:
    """Name the modules under `root` that define a ``BaseSettings`` subclass, directly or through another one.

    This is a textual scan (nothing is imported): ``class Settings(BaseSettings)``, ``class App(pydantic.v1.
    BaseSettings)`` and ``class Api(Settings)`` all count. Hidden directories and virtual environments are skipped.
    A module inside one of `bases` (a sub-project's directory) is named as that sub-project's run imports it.
    """
    texts = {path: path.read_text(encoding="utf-8", errors="replace") for path in python_files(root)}
    classes = {path: _CLASS.findall(text) for path, text in texts.items()}
    names = {"BaseSettings"}
    while True:
        more = {name for found in classes.values() for name, bases in found if names & set(re.findall(r"\w+", bases))}
        if more <= names:
            break
        names |= more
    modules = {
        module_name(root, path, bases)
        for path, found in classes.items()
        if any(names & set(re.findall(r"\w+", bases)) for _name, bases in found)
    }
    return tuple(sorted(modules))


def module_name(root: Path, path: Path, bases: Sequence[Path] = ()) -> str:
    """Return the dotted module name of the file `path`, relative to `root`/src if it lies there, else `root`.

    When `path` lies in one of `bases` (sub-projects), the innermost one takes the place of `root`.
    """
    path = path.resolve()
    inside = [base.resolve() for base in bases if path.is_relative_to(base.resolve())]
    root = max(inside, key=lambda base: len(base.parts)) if inside else root.resolve()
    base = root / "src" if path.is_relative_to(root / "src") else root
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def parse_module(root: Path, text: str, bases: Sequence[Path] = ()) -> str:
    """Turn a ``--module`` argument into a module name: a dotted name stays, a ``.py`` path is converted."""
    if not text.endswith(".py"):
        return text
    path = Path(text) if Path(text).is_absolute() else root / text
    if not path.is_file():
        raise DiscoveryError(f"--module {text}: no such file under {root}")
    return module_name(root, path, bases)


def run_context(root: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """Describe what a pytest run of the project at `root` imports with, as the plugin sets it up.

    ``paths``: the import path entries first (each sub-project's ``src`` and
    directory, ``[tool.testfloor] pythonpath``, the root's ``src`` and the
    root); ``stubs``, ``stub_mode`` and ``versions``: the stub finder
    (`testfloor.stubs.install`); ``bases``: the sub-projects' directories;
    ``usage``: the shapes the project's code needs its values in
    (`testfloor.placeholders.usage_in`), read here once rather than by every probe.
    """
    from testfloor.config import load_config
    from testfloor.placeholders import usage_in
    from testfloor.shims import declared_versions

    config = load_config(root, environ=environ)
    bases = [root / sub for sub in config.subprojects]
    paths = [where for base in bases for where in (base / "src", base)]
    paths += [(root / entry).resolve() for entry in config.pythonpath]
    paths += [root / "src", root]
    return {
        "bases": [str(base) for base in bases],
        "paths": list(dict.fromkeys(str(path) for path in paths)),
        "stubs": list(config.stubs),
        "stub_mode": config.stub_mode,
        "versions": declared_versions(root) if config.stubs else {},
        "usage": usage_in(root),
    }


def discover(
    root: Path,
    modules: Sequence[str] = (),
    *,
    environ: Mapping[str, str],
    declared: Mapping[str, EnvValue],
    python: str = sys.executable,
) -> Discovery:
    """Find the settings classes in `modules` (default: `find_settings_modules`) and values for their fields.

    `environ` is the outer environment and `declared` the project's ``[tool.testfloor.env]``; both are
    in force (as the plugin applies them) and a field they already satisfy is left alone. Raises
    `NoSettingsError` if there is no settings class, `DiscoveryError` if a module fails to import for a
    reason other than settings validation.
    """
    root = root.resolve()
    context = run_context(root, environ)
    bases = [Path(path) for path in context["bases"]]
    modules = tuple(parse_module(root, text, bases) for text in modules) or find_settings_modules(root, bases)
    if not modules:
        raise NoSettingsError(f"{root}: no pydantic-settings classes found (no BaseSettings subclass in its .py files)")
    base = {**environ, **applicable(declared, environ)}
    chosen: dict[tuple[str, str], int] = {}
    known: dict[tuple[str, str], dict[str, Any]] = {}
    rounds, changed = 0, True
    while changed:
        rounds += 1
        values = _proposed(known, chosen)
        found = run_probe(python, root, modules, {**base, **values}, context)
        known = {
            (entry["name"], item["name"]): {**item, "settings": entry["name"]}
            for entry in found["classes"]
            for item in entry["fields"]
        }
        problems, changed = _advance(found, known, chosen, last=rounds >= MAX_ROUNDS)
        changed = changed or (rounds < MAX_ROUNDS and _reshape(found["import_errors"], known, chosen))
    # What the probe saw, the proposed values included: the project's messages may repeat any of them.
    seen = {**base, **values}
    failures = found["import_errors"]
    if failures:
        text = "; ".join(f"importing {item['module']} failed: {item['error']}" for item in failures)
        raise DiscoveryError(scrub(text, environ=seen))
    if not found["classes"]:
        raise NoSettingsError(f"no pydantic-settings classes found in {', '.join(modules)}")
    fields = [_field(key, item, chosen, problems.get(key), seen) for key, item in known.items()]
    fields += [_field(key, None, chosen, problem, seen) for key, problem in problems.items() if key not in known]
    classes = tuple(entry["name"] for entry in found["classes"])
    return Discovery(root, modules, classes, tuple(fields), rounds)


def _proposed(known: Mapping[tuple[str, str], dict[str, Any]], chosen: Mapping[tuple[str, str], int]) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, index in chosen.items():
        values.update(known[key]["candidates"][index])
    return values


def _advance(
    found: Mapping[str, Any],
    known: Mapping[tuple[str, str], dict[str, Any]],
    chosen: dict[tuple[str, str], int],
    *,
    last: bool,
) -> tuple[dict[tuple[str, str], str], bool]:
    """Give each rejected field its next candidate.

    Returns the errors nothing more can fix, and whether any field got a new candidate.
    """
    errors: dict[tuple[str, str], list[dict[str, str]]] = {}
    for entry in found["classes"]:
        for error in entry["errors"]:
            errors.setdefault((entry["name"], error["field"] or "(class)"), []).append(error)
    problems: dict[tuple[str, str], str] = {}
    changed = False
    for key, items in errors.items():
        text = "; ".join(f"{item['type']}: {item['message']}" for item in items)
        missing = all(item["type"] in ("missing", "value_error.missing") for item in items)
        if key not in chosen and not missing and key[1] != "(class)":
            problems[key] = f"the value already set is rejected: {text}"
        elif key in known and chosen.get(key, -1) + 1 < len(known[key]["candidates"]) and not last:
            chosen[key] = chosen.get(key, -1) + 1
            changed = True
        else:
            problems[key] = text
    return problems, changed


def _reshape(
    failures: Sequence[Mapping[str, str]],
    known: Mapping[tuple[str, str], dict[str, Any]],
    chosen: dict[tuple[str, str], int],
) -> bool:
    """Give the next candidate to each field whose valid value an import error blames (a key that does not decode).

    Returns whether any field got one.
    """
    from testfloor import placeholders

    changed = False
    for key, index in chosen.items():
        candidates = known[key]["candidates"] if key in known else []
        if index + 1 >= len(candidates):
            continue
        values = {key[1]: "", **candidates[index]}  # named by its field or its variable, or repeating its value
        if any(placeholders.involved(failure["error"], "", values) for failure in failures):
            chosen[key] = index + 1
            changed = True
    return changed


def _field(
    key: tuple[str, str],
    item: Mapping[str, Any] | None,
    chosen: Mapping[tuple[str, str], int],
    problem: str | None,
    seen: Mapping[str, str],
) -> Field:
    if item is None:  # a class-level error, or an optional field with a bad value
        return Field(key[0], key[1], "", "", (), problem=scrub(problem or "", environ=seen))
    values = item["candidates"][chosen[key]] if key in chosen and problem is None else {}
    return Field(
        settings=key[0],
        name=key[1],
        type=item["type"],
        constraint=item["constraint"],
        env=tuple(item["env"]),
        values=dict(values),
        problem=None if problem is None else scrub(problem, environ=seen),
    )


def run_probe(
    python: str,
    root: Path,
    modules: Sequence[str],
    environ: Mapping[str, str],
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """Run `testfloor.settings_probe` with `python` (which must be able to import testfloor) in `root`.

    The probe sees `environ` and nothing else, and imports with the path and
    stubs of `context` (`run_context`); returns what it found.
    """
    request = json.dumps({"root": str(root), "modules": list(modules), **context})
    try:
        done = subprocess.run(
            [python, "-m", PROBE],
            input=request,
            capture_output=True,
            text=True,
            env=dict(environ),
            cwd=root,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
            raise DiscoveryError(scrub(f"the settings probe failed: {lines[-1]}", environ=environ))
        found: dict[str, Any] = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as err:
        raise DiscoveryError(f"the settings probe could not run with {python}: {err}") from err
    return found


def describe(discovery: Discovery) -> list[str]:
    """Describe a discovery as a table, one line a variable, values masked; unresolved fields last."""
    rows = [("CLASS", "FIELD", "VARIABLE", "VALUE", "STATUS")]
    for item in discovery.fields:
        if item.problem is None:
            for name, value in (item.values or dict.fromkeys(item.env[:1], "")).items():
                rows.append((item.settings, item.name, name, mask(name, value), item.status))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [f"settings classes: {', '.join(discovery.classes)} (verified in {discovery.rounds} rounds)"]
    for row in rows:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4])
    for item in discovery.unresolved:
        what = ", ".join(part for part in (item.type, item.constraint) if part)
        variables = f" [{', '.join(item.env)}]" if item.env else ""
        lines.append(f"needs a value: {item.settings}.{item.name}{variables} ({what or 'class'}): {item.problem}")
    return lines


def to_json(discovery: Discovery) -> str:
    """Return a discovery as versioned JSON, values masked."""
    document = {
        "format": FORMAT,
        "root": str(discovery.root),
        "modules": list(discovery.modules),
        "classes": list(discovery.classes),
        "rounds": discovery.rounds,
        "complete": not discovery.unresolved,
        "fields": [
            {
                "settings": item.settings,
                "name": item.name,
                "type": item.type,
                "constraint": item.constraint,
                "env": list(item.env),
                "values": {name: mask(name, value) for name, value in item.values.items()},
                "status": item.status,
                "problem": item.problem,
            }
            for item in discovery.fields
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write_env(pyproject: Path, values: Mapping[str, str]) -> list[str]:
    """Add `values` to ``[tool.testfloor.env]`` of `pyproject`, keeping its comments and layout.

    A variable the table already has keeps the user's value. Creates the table (and the file) if absent.
    Returns the names added.
    """
    from testfloor.toolconfig import add_values

    return add_values(pyproject, values, "env")
