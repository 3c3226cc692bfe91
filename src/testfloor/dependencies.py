"""What a project declares it needs, from every source: dependencies, Pythons, its own packages, lock pins."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from testfloor import poetry, requirementfiles, setupfiles
from testfloor.classify import HEAVY, HEAVY_DISTRIBUTIONS, distribution, plugin_distributions
from testfloor.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10, whose coverage is combined with the others
    import tomli as tomllib

if TYPE_CHECKING:
    from collections.abc import Mapping

# Names of extras and groups whose dependencies the tests need, by word: "test", "tests-extra", "dev_tools".
# Not "all": it gathers optional backends (often native builds) that a test needing one names in a test extra.
TESTING = frozenset({"test", "tests", "testing", "dev", "develop", "development", "ci"})

# Directories never searched for sub-projects: environments, build output, and test fixtures (example projects).
_NOT_PROJECTS = frozenset(
    {"node_modules", "venv", "env", "build", "dist", "site-packages", "__pycache__", "tests", "test", "testing",
     "fixtures", "testdata", "test_data"}
)  # fmt: skip
_DEPTH = 4
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_PYTHON_CLASSIFIER = re.compile(r"Programming Language :: Python :: (3\.\d+)")


@dataclass(frozen=True)
class Declared:
    """One dependency as declared: a PEP 508 `requirement`, and its `source` (file and table, relative)."""

    requirement: str
    source: str


@dataclass(frozen=True)
class Metadata:
    """Everything a project declares about what its tests need (see `read_metadata`).

    `requirements`: one per name (and marker), the first pinned declaration winning, never the
    project's own packages. `requires_python`: every source's specifiers joined, so a monorepo's
    sessions run on a Python all of its projects accept. `pythons`: the classifiers' minor versions.
    `local`: the project's own installable directories, relative POSIX paths. `locked`: normalized
    name -> version, from poetry.lock or uv.lock. `notes`: what was skipped or read another way.
    """

    requirements: tuple[Declared, ...] = ()
    requires_python: str | None = None
    pythons: tuple[str, ...] = ()
    local: tuple[str, ...] = ()
    locked: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass
class _Found:
    """What the sources read so far say, in the order they say it."""

    root: Path
    backend: bool
    declared: list[Declared] = field(default_factory=list)
    requires_python: list[str] = field(default_factory=list)
    classifiers: list[str] = field(default_factory=list)
    local: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    locked: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, text: str, source: str, where: str) -> None:
        requirement = check_requirement(text, where)
        if requirement.url and requirement.url.startswith("file:"):
            self.notes.append(f"{source}: {requirement.name} is a local path; installed from its path, if at all")
        else:
            self.declared.append(Declared(text.strip(), source))

    def python(self, specifier: str, where: str) -> None:
        try:
            SpecifierSet(specifier)
        except InvalidSpecifier as err:
            raise ConfigError(f"{where}: invalid Python requirement {specifier!r}: {err}") from err
        self.requires_python.append(specifier.strip())

    def relative(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.root)).as_posix()


def read_metadata(root: Path, *, backend: bool = True) -> Metadata:
    """Return what the project in `root` declares, from every source it may use.

    The sources, for the root and for each sub-project (uv workspace members and nested
    directories with their own pyproject.toml or setup.py): ``[project]`` and its test-like
    extras (see `TESTING`), PEP 735 ``[dependency-groups]``, Poetry's tables, uv's legacy
    ``dev-dependencies``, setup.cfg, setup.py (through the build backend, unless `backend` is
    false), requirements files, and poetry.lock or uv.lock. Raises `ConfigError` naming the
    file when one cannot be read.
    """
    found = _Found(root, backend)
    if installable(root):
        found.local.append(".")
    members = _members(root)
    for directory in [".", *members]:
        _read_project(found, directory)
    found.local.extend(member for member in members if installable(root / member))
    pythons = {match.group(1) for text in found.classifiers if (match := _PYTHON_CLASSIFIER.fullmatch(text.strip()))}
    return Metadata(
        requirements=_merge(found.declared, found.names),
        requires_python=",".join(dict.fromkeys(found.requires_python)) or None,
        pythons=tuple(sorted(pythons, key=lambda version: tuple(map(int, version.split("."))))),
        local=tuple(dict.fromkeys(found.local)),
        locked=found.locked,
        notes=tuple(found.notes),
    )


def installable(directory: Path) -> bool:
    """Tell whether pip or uv can install the project in `directory` from its path."""
    if (directory / "setup.py").is_file():
        return True
    pyproject = directory / "pyproject.toml"
    if not pyproject.is_file():
        return False
    # Without [build-system], pip and uv build with setuptools, which reads setup.cfg. A [project] table alone is
    # often an application's tool settings: setuptools' guess of its packages fails on most such layouts.
    document = _toml(pyproject)
    return "build-system" in document or (directory / "setup.cfg").is_file()


def _members(root: Path) -> list[str]:
    """Sub-projects: uv workspace members, then nested directories with a pyproject.toml or setup.py."""
    found: list[str] = []
    pyproject = root / "pyproject.toml"
    workspace = _table(_toml(pyproject), "tool", "uv", "workspace", where=pyproject) if pyproject.is_file() else {}
    excluded = {path for pattern in _list(workspace, "exclude", pyproject) for path in root.glob(pattern)}
    for pattern in _list(workspace, "members", pyproject):
        found.extend(
            path.relative_to(root).as_posix()
            for path in sorted(root.glob(pattern))
            if path not in excluded and (path / "pyproject.toml").is_file() and path != root
        )
    for directory, subdirectories, files in os.walk(root):
        relative = Path(directory).relative_to(root)
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if not name.startswith((".", "_")) and name not in _NOT_PROJECTS and len(relative.parts) < _DEPTH
        )
        if relative.parts and {"pyproject.toml", "setup.py"} & set(files):
            found.append(relative.as_posix())
    return list(dict.fromkeys(found))


def _read_project(found: _Found, directory: str) -> None:
    base = found.root / directory
    prefix = "" if directory == "." else f"{directory}/"
    pyproject = base / "pyproject.toml"
    document = _toml(pyproject) if pyproject.is_file() else {}
    project = _table(document, "project", where=pyproject)
    label = f"{prefix}pyproject.toml"
    dynamic = _list(project, "dynamic", pyproject)
    _read_pep621(found, project, pyproject, label)
    _read_groups(found, document, pyproject, label)
    _read_poetry(found, _table(document, "tool", "poetry", where=pyproject), pyproject, label)
    for text in _list(_table(document, "tool", "uv", where=pyproject), "dev-dependencies", pyproject):
        found.add(text, f"{label} [tool.uv] dev-dependencies", str(pyproject))
    if (base / "setup.cfg").is_file():
        _read_setup(found, setupfiles.read_setup_cfg(base / "setup.cfg"), f"{prefix}setup.cfg", base / "setup.cfg")
    if ((base / "setup.py").is_file() and not project) or {"dependencies", "optional-dependencies"} & set(dynamic):
        path = base / "setup.py" if (base / "setup.py").is_file() else pyproject
        name = f"{prefix}{path.name}"
        _read_setup(found, setupfiles.read_setup(base, name, backend=found.backend), name, path)
    seen: set[Path] = set()
    for path in requirementfiles.find(base):
        for line in requirementfiles.read(path, seen):
            _read_line(found, line, base)
    for lock in ("poetry.lock", "uv.lock"):
        if (base / lock).is_file():
            _read_lock(found, base / lock)


def _read_pep621(found: _Found, project: Mapping[str, object], path: Path, label: str) -> None:
    name = project.get("name")
    if isinstance(name, str):
        found.names.add(canonicalize_name(name))
    for text in _list(project, "dependencies", path):
        found.add(text, f"{label} [project]", str(path))
    extras = _table(project, "optional-dependencies", where=path)
    wanted = [extra for extra in extras if _looks_like_testing(extra)]
    for extra in wanted:  # grows as a test extra asks for another ("myproject[lint]")
        for text in _list(extras, extra, path):
            found.add(text, f"{label} [project.optional-dependencies.{extra}]", str(path))
            requirement = Requirement(text)
            if isinstance(name, str) and canonicalize_name(requirement.name) == canonicalize_name(name):
                wanted.extend(other for other in requirement.extras if other in extras and other not in wanted)
    requires = project.get("requires-python")
    if isinstance(requires, str):
        found.python(requires, f"{path}: [project] requires-python")
    found.classifiers.extend(_list(project, "classifiers", path))


def _read_groups(found: _Found, document: Mapping[str, object], path: Path, label: str) -> None:
    from dependency_groups import resolve

    groups = _table(document, "dependency-groups", where=path)
    for group in filter(_looks_like_testing, groups):
        try:
            resolved = resolve(groups, group)  # type: ignore[arg-type]  # checked by resolve itself
        except (ValueError, TypeError, LookupError) as err:
            raise ConfigError(f"{path}: [dependency-groups] {group}: {_first_line(err)}") from err
        for text in resolved:
            found.add(text, f"{label} [dependency-groups.{group}]", str(path))


def _read_poetry(found: _Found, table: Mapping[str, object], path: Path, label: str) -> None:
    if isinstance(name := table.get("name"), str):
        found.names.add(canonicalize_name(name))
    found.classifiers.extend(_list(table, "classifiers", path))
    try:
        python = _table(table, "dependencies", where=path).get("python")
        if isinstance(python, str):
            found.python(poetry.specifier(python), f"{path}: [tool.poetry.dependencies] python")
        for section, dependency, entry in poetry.dependencies(table, _looks_like_testing):
            _read_poetry_entry(found, dependency, entry, path, section, label)
    except ValueError as err:  # ConfigError is not one: it passes through with its own message
        raise ConfigError(f"{path}: [tool.poetry] {_first_line(err)}") from err


def _read_poetry_entry(found: _Found, dependency: str, entry: object, path: Path, section: str, label: str) -> None:
    source = f"{label} [{section}]"
    if isinstance(entry, dict) and "path" in entry:
        target = path.parent / str(entry["path"])
        if target.is_dir():
            found.local.append(found.relative(target))
        else:
            found.notes.append(f"{source}: {dependency} is a file or a missing directory; not installed")
    elif isinstance(entry, dict) and {"git", "url"} & set(entry):
        found.notes.append(f"{source}: {dependency} comes from a repository or URL; not installed by name")
    elif isinstance(entry, (str, dict)):
        try:
            text = poetry.requirement(dependency, entry)
        except ValueError as err:
            raise ConfigError(f"{path}: [{section}] {dependency}: {_first_line(err)}") from err
        found.add(text, source, str(path))
    else:
        raise ConfigError(f"{path}: [{section}] {dependency}: expected a version or a table")


def _read_setup(found: _Found, metadata: setupfiles.SetupMetadata, label: str, path: Path) -> None:
    if metadata.name:
        found.names.add(canonicalize_name(metadata.name))
    for text, extra in metadata.requirements:
        if not extra or _looks_like_testing(extra):
            found.add(text, f"{label} [{extra}]" if extra else label, str(path))
    if metadata.requires_python:
        found.python(metadata.requires_python, f"{path}: python_requires")
    found.classifiers.extend(metadata.classifiers)
    found.notes.extend(metadata.notes)


def _read_line(found: _Found, line: requirementfiles.Line, base: Path) -> None:
    if line.local is not None:
        found.local.append(found.relative(base / line.local))
    else:
        found.add(line.text, found.relative(line.path), f"{line.path}:{line.number}")


def _read_lock(found: _Found, path: Path) -> None:
    versions: dict[str, set[str]] = {}
    packages = _toml(path).get("package", [])
    for package in packages if isinstance(packages, list) else []:
        if (
            isinstance(package, dict)
            and isinstance(package.get("name"), str)
            and isinstance(package.get("version"), str)
        ):
            versions.setdefault(canonicalize_name(package["name"]), set()).add(package["version"])
    for name, pins in versions.items():
        if len(pins) == 1:  # several versions (one per Python or platform): no single pin fits every session
            found.locked.setdefault(name, next(iter(pins)))


def _merge(declared: list[Declared], local: set[str]) -> tuple[Declared, ...]:
    """One declaration per name and marker: the first pinned one, else the first; with every declaration's extras."""
    chosen: dict[tuple[str, str], Declared] = {}
    extras: dict[tuple[str, str], set[str]] = {}
    for item in declared:
        requirement = Requirement(item.requirement)
        key: tuple[str, str] = (canonicalize_name(requirement.name), str(requirement.marker or ""))
        if key[0] in local:
            continue
        previous = chosen.get(key)
        if previous is None or (not _pinned(Requirement(previous.requirement)) and _pinned(requirement)):
            chosen[key] = item
        extras.setdefault(key, set()).update(requirement.extras)
    merged = []
    for key, item in chosen.items():
        requirement = Requirement(item.requirement)
        if extras[key] - requirement.extras:
            requirement.extras = extras[key]
            item = Declared(str(requirement), item.source)
        merged.append(item)
    return tuple(merged)


def _pinned(requirement: Requirement) -> bool:
    return bool(requirement.specifier) or bool(requirement.url)


def light_and_heavy(metadata: Metadata) -> tuple[list[str], list[str]]:
    """Split `metadata`'s requirements into the lines to install and the heavy modules to stub.

    A light requirement whose declaration admits the locked version is pinned to it
    (``fastapi>=0.110`` with 0.115.2 locked -> ``fastapi==0.115.2``), keeping extras and markers.
    Returns the requirement lines, and the top-level modules of the heavy ones (see `heavy_module`).
    """
    light: list[str] = []
    heavy: list[str] = []
    for item in metadata.requirements:
        module = heavy_module(item.requirement)
        if development_tool(item.requirement):
            continue
        if module is None:
            light.append(_locked(item.requirement, metadata.locked))
        elif module not in heavy:
            heavy.append(module)
    return light, heavy


# Development tools a dev group or requirements-dev.txt lists but no test run needs: left out of every session.
TOOLS = frozenset(
    {
        "autopep8", "bandit", "black", "bump-my-version", "bump2version", "commitizen", "flake8", "ipdb", "ipython",
        "isort", "jupyter", "jupyterlab", "mkdocs", "mkdocs-material", "mypy", "notebook", "pip-tools", "pre-commit",
        "pylint", "pyright", "ruff", "sphinx", "sphinx-rtd-theme", "tox", "twine", "yapf",
    }
)  # fmt: skip


def development_tool(requirement: str) -> bool:
    """Tell whether `requirement` is a development tool (a linter, formatter, type checker, docs or release tool)."""
    name = canonicalize_name(Requirement(requirement).name)
    return name in TOOLS or name.startswith(("flake8-", "types-", "sphinx-", "mkdocs-"))


def _locked(text: str, locked: Mapping[str, str]) -> str:
    requirement = Requirement(text)
    version = locked.get(canonicalize_name(requirement.name))
    exact = any(item.operator in ("==", "===") and not item.version.endswith("*") for item in requirement.specifier)
    if version is None or exact or requirement.url or not requirement.specifier.contains(version, prereleases=True):
        return text
    requirement.specifier = SpecifierSet(f"=={version}")
    return str(requirement)


def heavy_module(requirement: str) -> str | None:
    """Return the heavy module (`testfloor.classify.HEAVY`) that `requirement` provides, else None.

    ``heavy_module("tensorflow-cpu>=2.15")`` -> ``"tensorflow"``; ``"opencv-python-headless"`` ->
    ``"cv2"``; ``"fastapi"`` -> None.
    """
    match = _NAME.match(requirement.strip())
    name = canonicalize_name(match.group()) if match else ""
    module = HEAVY_DISTRIBUTIONS.get(name, name.replace("-", "_"))
    return module if module in HEAVY else None


def distribution_for(
    module: str, metadata: Metadata, installed: Mapping[str, list[str]] | None = None, *, plugin: bool = False
) -> str:
    """Return the requirement to install for the missing import `module` (dotted or not).

    In order: a declared dependency that provides it, with the project's pin
    (``"sklearn"`` -> ``"scikit-learn==1.7.2"``); the distribution that provides it in
    `installed` (``importlib.metadata.packages_distributions()`` of the user's environment);
    `testfloor.classify.DISTRIBUTIONS`; else the module's own name. A `plugin`
    (``-p xdist``) is a pytest plugin's distribution (`testfloor.classify.plugin_distributions`):
    ``"xdist"`` -> ``"pytest-xdist"``, never the unrelated ``xdist`` of the index.
    """
    top = module.split(".")[0]
    known = plugin_distributions(module)[0] if plugin else distribution(module)
    providers = [] if plugin else (installed or {}).get(top, [])
    names = {canonicalize_name(name) for name in (top, known, *providers)}
    for item in metadata.requirements:
        if canonicalize_name(Requirement(item.requirement).name) in names or heavy_module(item.requirement) == top:
            return _locked(item.requirement, metadata.locked)
    if canonicalize_name(known) in {canonicalize_name(name) for name in providers}:
        return known
    return providers[0] if providers else known


def check_requirement(text: str, where: str) -> Requirement:
    """Parse the PEP 508 requirement `text`; raise `ConfigError` naming `where` when it is not one."""
    try:
        return Requirement(text)
    except InvalidRequirement as err:
        raise ConfigError(f"{where}: invalid requirement {text!r}: {_first_line(err)}") from err


def _looks_like_testing(name: str) -> bool:
    return not TESTING.isdisjoint(re.split(r"[-_.\s]+", name.lower()))


def _toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from err


def _table(document: Mapping[str, object], *keys: str, where: Path) -> dict[str, object]:
    value: object = document
    for key in keys:
        value = value.get(key, {}) if isinstance(value, dict) else {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{'.'.join(keys)}] must be a table")
    return value


def _list(table: Mapping[str, object], key: str, where: Path) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return value


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
