"""The test environment the sessions build, built the same way outside nox for ``doctor`` and ``init`` to verify in.

A session's environment is a fresh virtualenv on one of the project's
Pythons with ``requirements-test.txt`` installed, then the project's own
packages (``[tool.testfloor] install``) from their paths without their
dependencies: heavy dependencies stay out, and testfloor stubs them.
`install_arguments` is that recipe, used by the nox helpers and by `build`
alike, so what ``doctor --fix`` probes is what ``nox -s collect`` runs.

`build` keeps one environment per Python in ``.nox/.cache/testfloor-env-3.X``
under the project, shared by ``doctor``, ``init`` and the sessions that
leave nox no environment of its own (``venv_backend="none"``), and reuses it
while its inputs are unchanged (a stamp of them lies in the environment),
without starting any process; it is made with uv, or with venv and pip where
uv cannot run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from testfloor.errors import EnvironmentBuildError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from testfloor.config import Config
    from testfloor.project import Project

REQUIREMENTS = "requirements-test.txt"
SPLITTER = "pytest-split"  # installed when [tool.testfloor] splits is above 1
CACHE = Path(".nox") / ".cache"  # nox's cache directory, under the project
STAMP = "testfloor-stamp.json"
# The files of a local package whose change means its metadata (and so the environment) may have changed.
_METADATA = ("pyproject.toml", "setup.py", "setup.cfg")
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def install_arguments(config: Config, *packages: str) -> list[list[str]]:
    """Return the installs that make a session's environment, each the arguments of one installer call.

    First ``-r requirements-test.txt`` (when present) with `packages` and,
    when ``splits`` is above 1, pytest-split, resolved together; then the
    project's own packages (``[tool.testfloor] install``), editable and
    without their dependencies. Calls with nothing to install are left out.
    """
    requirements = config.root / REQUIREMENTS
    first = ["-r", str(requirements)] if requirements.is_file() else []
    named = {requirement_name(package) for package in packages}
    splitter = [SPLITTER] if config.splits > 1 and SPLITTER not in named else []
    calls = [[*first, *packages, *splitter]]
    if config.install:
        local = [str(config.root / path) if path != "." else str(config.root) for path in config.install]
        calls.append(["--no-deps", *(item for path in local for item in ("-e", path))])
    return [call for call in calls if call]


# The options of a requirements file that say where packages come from: a reporting install keeps them.
_SOURCES = ("-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--no-index", "--trusted-host")
_REPORTING = ("coverage",)  # what the reporting sessions run besides testfloor, pinned as the file pins it


def reporting_arguments(config: Config, *packages: str) -> list[list[str]]:
    """Return the installs of a session that only reports (combines data, checks the baseline): testfloor alone.

    From ``requirements-test.txt``: the lines that install testfloor and
    the ones that pin coverage (markers kept), with the options that say
    where packages come from (``--index-url``, ``--find-links`` ...). The
    project and its requirements stay out. `packages` install testfloor
    instead of the file's line (a noxfile in testfloor's own repository
    passes ``"."``); where neither names it, it is installed as it is
    installed here (`testfloor_requirement`).
    """
    requirements = config.root / REQUIREMENTS
    text = requirements.read_text(encoding="utf-8") if requirements.is_file() else ""
    sources: list[str] = []
    testfloor: list[str] = []
    pins: list[str] = []
    for line in _logical_lines(text):
        if line.startswith(_SOURCES):
            sources += shlex.split(line)
        elif installs_testfloor(line, config.root):
            testfloor += shlex.split(line) if line.startswith(("-e ", "--editable")) else [line]
        elif not line.startswith("-") and requirement_name(line) in _REPORTING:
            pins.append(line)
    if packages:
        testfloor = list(packages)
    elif not testfloor:
        testfloor = [testfloor_requirement()]
    return [[*sources, *testfloor, *pins]]


def _logical_lines(text: str) -> list[str]:
    # A requirements file's lines, continuations joined, comments and blank lines left out.
    joined = re.sub(r"\\\n", " ", text)
    lines = [re.sub(r"(^|\s)#.*", "", line).strip() for line in joined.splitlines()]
    return [line for line in lines if line]


@dataclass(frozen=True)
class Environment:
    """A built test environment: where it lives, its interpreter, and its Python version (``"3.12"``)."""

    location: Path
    python: Path
    version: str


def interpreter(location: Path, *, windows: bool = os.name == "nt") -> Path:
    """Return the Python interpreter of the virtualenv at `location` (laid out for Windows, or not)."""
    return location / ("Scripts/python.exe" if windows else "bin/python")


def find_uv() -> str | None:
    """Return the uv that came with testfloor (or one on ``PATH``), or `None` where there is none."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def choose_python(candidates: Sequence[str], *, uv: str | None) -> tuple[str, str]:
    """Return the newest of the `candidates` versions installed here, and its interpreter.

    uv finds interpreters the way nox's uv backend does (``PATH``, pyenv,
    uv's own), but never downloads one; without uv, ``python3.X`` on ``PATH``.
    """
    for version in reversed(candidates):
        found = _find_python(version, uv)
        if found:
            return version, found
    raise EnvironmentBuildError(
        f"none of the project's Pythons ({', '.join(candidates)}) is installed here: install one, "
        "or list those you have in [tool.testfloor] python"
    )


def _find_python(version: str, uv: str | None) -> str | None:
    if uv is None:
        return shutil.which(f"python{version}")
    environ = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    result = subprocess.run([uv, "python", "find", version], capture_output=True, text=True, env=environ, check=False)
    found = result.stdout.strip()
    return found if result.returncode == 0 and found else None


def stamp(config: Config, version: str, calls: Sequence[Sequence[str]]) -> dict[str, object]:
    """Describe what an environment is built from: when any of it changes, the environment is built again."""
    from testfloor import __version__

    files: dict[str, str] = {}
    requirements = config.root / REQUIREMENTS
    watched = [requirements, *(config.root / path / name for path in config.install for name in _METADATA)]
    for path in watched:
        if path.is_file():
            files[path.relative_to(config.root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"calls": [list(call) for call in calls], "files": files, "python": version, "testfloor": __version__}


def location(version: str, *, reporting: bool = False) -> Path:
    """Return where `build` keeps the environment of Python `version`, relative to the project.

    ``.nox/.cache/testfloor-env-3.12`` for the test environment,
    ``.nox/.cache/testfloor-report-3.12`` for a reporting one.
    """
    return CACHE / f"testfloor-{'report' if reporting else 'env'}-{version}"


def reusable(
    config: Config, version: str, calls: Sequence[Sequence[str]], *, reporting: bool = False
) -> Environment | None:
    """Return the environment of `version` built from `calls` when its stamp matches them, without starting a process.

    `None` when there is none, its inputs changed, its interpreter is gone,
    or it holds a package built from a local directory (`local_builds`),
    whose source the stamp does not cover.
    """
    where = config.root / location(version, reporting=reporting)
    environment = Environment(where, interpreter(where), version)
    if local_builds(config, calls) or _read_stamp(where) != stamp(config, version, calls):
        return None
    return environment if environment.python.exists() else None


def build(
    config: Config,
    versions: Sequence[str],
    *packages: str,
    progress: Callable[[str], None] = lambda line: None,
    reporting: bool = False,
) -> Environment:
    """Build (or reuse) the test environment of the project of `config` on the newest of `versions` installed.

    `packages` are installed with the requirements, as a session's
    ``floor.install(session, PROJECT, *packages)`` would; with `reporting`,
    only what a reporting session runs (`reporting_arguments`). An
    environment of the newest version whose stamp matches is reused before
    any interpreter is looked for: the warm path starts no process.
    """
    calls = reporting_arguments(config, *packages) if reporting else install_arguments(config, *packages)
    what = "reporting environment" if reporting else "test environment"
    found = reusable(config, versions[-1], calls, reporting=reporting)
    if found is None:
        uv = find_uv()
        version, python = choose_python(versions, uv=uv)
        found = reusable(config, version, calls, reporting=reporting)
        if found is None:
            where = location(version, reporting=reporting)
            progress(f"{what}: building {where.as_posix()} on Python {version} with {'uv' if uv else 'pip'}")
            made = Environment(config.root / where, interpreter(config.root / where), version)
            return _make(config, calls, made, python, uv)
    progress(f"{what}: reused {location(found.version, reporting=reporting).as_posix()} (Python {found.version})")
    return found


def _make(
    config: Config, calls: Sequence[Sequence[str]], environment: Environment, python: str, uv: str | None
) -> Environment:
    # From nothing: whatever a previous build left is removed first, so a package dropped from the calls is gone.
    _remove(environment.location)
    environment.location.parent.mkdir(parents=True, exist_ok=True)
    if uv:
        command = [uv, "venv", "--quiet", "--python", python, str(environment.location)]
    else:
        command = [python, "-m", "venv", str(environment.location)]
    _run(command, config.root, "create the environment")
    for call in calls:
        try:
            install(environment, call, cwd=config.root, uv=uv)
        except EnvironmentBuildError as err:
            if str(config.root / REQUIREMENTS) not in call:
                raise
            hint = "change the pin where the project declares it, then `testfloor init --force` writes"
            raise EnvironmentBuildError(f"{err} ({hint} {REQUIREMENTS} again)") from None
    wanted = stamp(config, environment.version, calls)
    (environment.location / STAMP).write_text(json.dumps(wanted, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return environment


def local_builds(config: Config, calls: Sequence[Sequence[str]]) -> str | None:
    """Return the first local directory `calls` install built as it is now (not editable), or `None`.

    Named in a call, or as a line of a requirements file a call reads: its
    source is not in the stamp, so an environment holding it is never reused.
    """
    for call in calls:
        for previous, argument in zip(["", *call], call, strict=False):
            if previous in ("-r", "--requirement"):
                found = _local_lines(config.root / argument)
                if found:
                    return found
            taken = previous in ("-e", "--editable", "-r", "--requirement", "-c", "--constraint")
            if not taken and not argument.startswith("-") and (config.root / argument).is_dir():
                return argument
    return None


def _local_lines(requirements: Path) -> str | None:
    try:
        lines = requirements.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        line = line.split(" #")[0].strip()
        if line and not line.startswith(("#", "-")) and (requirements.parent / line).is_dir():
            return line
    return None


def for_project(project: Project, *, progress: Callable[[str], None] = lambda line: None) -> Environment:
    """Build (or reuse) the test environment of `project`, on the newest of its Pythons installed.

    testfloor itself comes from ``requirements-test.txt``; where that file
    does not name it, it is installed as it is installed here.
    """
    requirements = project.root / REQUIREMENTS
    text = requirements.read_text(encoding="utf-8") if requirements.is_file() else ""
    named = any(installs_testfloor(line, project.root) for line in text.splitlines())
    extra = [] if named else [testfloor_requirement()]
    return build(project.config, project.pythons, *extra, progress=progress)


def installs_testfloor(line: str, root: Path | None = None) -> bool:
    """Tell whether a line of a requirements file (in `root`) installs testfloor.

    By name (``testfloor==1.2``, ``testfloor @ URL``), by a path or URL of
    testfloor's wheel, sdist or repository, or by a local directory of any
    name whose ``pyproject.toml`` names the project testfloor.
    """
    line = line.split(" #")[0].strip()
    if not line or line.startswith("#"):
        return False
    if requirement_name(line) == "testfloor" or PurePath(line.split("@")[0]).name.lower().startswith("testfloor"):
        return True
    return _testfloor_checkout((root or Path.cwd()) / line.removeprefix("-e ").removeprefix("--editable ").strip())


def _testfloor_checkout(directory: Path) -> bool:
    # A checkout of testfloor under another name ("main", "testfloor-fork"...): its pyproject.toml says so.
    try:
        text = (directory / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return re.search(r'^name\s*=\s*["\']testfloor["\']\s*$', text, re.MULTILINE) is not None


def requirement_name(line: str) -> str:
    """Return the lower-case name a requirement line starts with; an empty string for a path or a URL."""
    match = _NAME.match(line)
    return match.group(1).lower().replace("_", "-") if match else ""


def testfloor_requirement() -> str:
    """Return a requirement that installs the testfloor running now, the way it was installed.

    It comes from the distribution's ``direct_url.json`` (PEP 610): a local
    directory (editable or not) gives its path, a VCS checkout
    ``vcs+URL@commit``, a local wheel or sdist its path, any other URL
    ``testfloor @ URL``; without one (installed from an index) it is
    ``testfloor==VERSION``.
    """
    from importlib import metadata

    try:
        distribution = metadata.distribution("testfloor")
    except metadata.PackageNotFoundError:
        return "testfloor"
    pinned = f"testfloor=={distribution.version}"
    try:
        direct = json.loads(distribution.read_text("direct_url.json") or "null")
    except ValueError:
        return pinned
    url = direct.get("url") if isinstance(direct, dict) else None
    if not isinstance(url, str):
        return pinned
    vcs = direct.get("vcs_info")
    if isinstance(vcs, dict):
        commit = f"@{vcs['commit_id']}" if vcs.get("commit_id") else ""
        subdirectory = f"#subdirectory={direct['subdirectory']}" if direct.get("subdirectory") else ""
        return f"{vcs.get('vcs', 'git')}+{url}{commit}{subdirectory}"
    if url.startswith("file:"):
        from urllib.parse import urlparse
        from urllib.request import url2pathname

        return url2pathname(urlparse(url).path)
    return f"testfloor @ {url}"


def install(environment: Environment, arguments: Sequence[str], *, cwd: Path, uv: str | None = None) -> None:
    """Install `arguments` (an installer's arguments) into `environment`; raise `EnvironmentBuildError` on failure."""
    uv = uv if uv is not None else find_uv()
    if uv:
        command = [uv, "pip", "install", "--quiet", "--python", str(environment.python), *arguments]
    else:
        command = [str(environment.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        command += arguments
    shown = " ".join(argument.replace(f"{cwd}{os.sep}", "") for argument in arguments)  # paths as the project's
    _run(command, cwd, f"install {shown}")


def would_install(environment: Environment, arguments: Sequence[str], *, cwd: Path) -> list[str] | None:
    """Return the distributions an install of `arguments` would add to `environment` (uv's dry run).

    `None` where that cannot be known beforehand: without uv, or when the
    install would fail anyway.
    """
    uv = find_uv()
    if uv is None:
        return None
    command = [uv, "pip", "install", "--dry-run", "--python", str(environment.python), *arguments]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return None
    added = [line.strip()[2:] for line in (result.stderr + result.stdout).splitlines() if line.startswith(" + ")]
    return [item.split("==")[0].split(" @ ")[0] for item in added]


def try_install(environment: Environment, arguments: Sequence[str], *, cwd: Path) -> bool:
    """Install `arguments` into `environment`; tell whether it worked (a failure changes nothing)."""
    try:
        install(environment, arguments, cwd=cwd)
    except EnvironmentBuildError:
        return False
    return True


def uninstall(environment: Environment, names: Sequence[str], *, cwd: Path) -> None:
    """Uninstall the distributions `names` from `environment`; raise `EnvironmentBuildError` on failure."""
    uv = find_uv()
    if uv:
        command = [uv, "pip", "uninstall", "--quiet", "--python", str(environment.python), *names]
    else:
        command = [str(environment.python), "-m", "pip", "uninstall", "--yes", "--quiet", *names]
    _run(command, cwd, f"uninstall {' '.join(names)}")


def _run(command: Sequence[str], cwd: Path, what: str) -> None:
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as err:
        raise EnvironmentBuildError(f"cannot {what}: {err.strerror or err}") from None
    if result.returncode != 0:
        raise EnvironmentBuildError(
            f"cannot {what}: {installer_error(result.stderr + result.stdout, result.returncode)}"
        )


def installer_error(output: str, status: int) -> str:
    """Return in one line what an installer's `output` says went wrong, and why, where it says so.

    uv marks its error with a multiplication sign and explains a conflict
    below it ("Because nox depends on attrs>=24.1 and you require
    attrs==23.2.0 ..."); pip says "ERROR:" and then "The conflict is caused
    by:". Without either, the last line; without output, the exit status.
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [index for index, line in enumerate(lines) if line.startswith(("\u00d7", "error:", "ERROR:"))]
    if not errors:
        return lines[-1] if lines else f"exit {status}"
    first = errors[0]
    reason = _without(lines[first], "\u00d7", "error:", "ERROR:")
    tree = "\u2570\u2500\u25b6\u251c\u2502 "  # the box-drawing characters uv draws its explanation with
    why = [_without(line.lstrip(tree), "cause:") for line in lines[first + 1 :]]
    explained = [line for line in why if any(word in line for word in ("depends on", "require", "requested"))]
    if explained:
        reason = reason.rstrip(":.") + ": " + " ".join(explained)
    return " ".join(reason.split())


def _without(line: str, *prefixes: str) -> str:
    for prefix in prefixes:
        line = line.removeprefix(prefix).strip()
    return line


def _read_stamp(location: Path) -> object:
    try:
        return json.loads((location / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _remove(location: Path) -> None:
    # Only what build made: a virtualenv (pyvenv.cfg) in testfloor's own corner of nox's cache.
    if location.is_dir():
        if not (location / "pyvenv.cfg").is_file():
            raise EnvironmentBuildError(f"{location}: exists and is not a virtualenv; remove it, and run again")
        shutil.rmtree(location)


def current_environment() -> Environment:
    """Return the interpreter running testfloor as an environment: where a diagnosis is made when none was built."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return Environment(Path(sys.prefix), Path(sys.executable), version)
