"""What each collection error is, and how it can be fixed without touching the project's files."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from testfloor.collect import INTERNAL

if TYPE_CHECKING:
    from pathlib import Path

    from testfloor.collect import Cause, CollectError

# Packages too big, GPU-bound or service-bound to install for a test run: stubbed when missing.
HEAVY = frozenset(
    {
        "catboost", "cupy", "cv2", "datasets", "deepspeed", "diffusers", "gym", "gymnasium", "jax", "jaxlib", "keras",
        "lightgbm", "lightning", "mlflow", "numba", "onnxruntime", "open_clip", "pyspark", "pytorch_lightning", "ray",
        "sentence_transformers", "spacy", "tensorflow", "tensorrt", "timm", "torch", "torchaudio", "torchvision",
        "transformers", "triton", "vllm", "wandb", "xgboost",
    }
)  # fmt: skip

# Modules (or dotted packages) whose PyPI distribution has another name.
DISTRIBUTIONS = {
    "attr": "attrs",
    "bs4": "beautifulsoup4",
    "Crypto": "pycryptodome",
    "cv2": "opencv-python-headless",
    "dateutil": "python-dateutil",
    "dns": "dnspython",
    "docx": "python-docx",
    "dotenv": "python-dotenv",
    "factory": "factory-boy",
    "fitz": "PyMuPDF",
    "git": "GitPython",
    "google.protobuf": "protobuf",
    "googleapiclient": "google-api-python-client",
    "grpc": "grpcio",
    "jose": "python-jose",
    "jwt": "PyJWT",
    "kafka": "kafka-python",
    "magic": "python-magic",
    "multipart": "python-multipart",
    "MySQLdb": "mysqlclient",
    "nacl": "PyNaCl",
    "OpenSSL": "pyOpenSSL",
    "PIL": "Pillow",
    "psycopg2": "psycopg2-binary",
    "serial": "pyserial",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "slugify": "python-slugify",
    "websocket": "websocket-client",
    "yaml": "PyYAML",
    "zmq": "pyzmq",
}

# pytest plugins by the name `-p NAME` gives them (an entry point's name, or a module's): their distributions.
PLUGINS = {
    name: f"pytest-{name}"
    for name in (
        "asyncio", "benchmark", "cov", "django", "env", "html", "httpx", "metadata", "mock", "order", "randomly",
        "repeat", "rerunfailures", "socket", "sugar", "timeout", "xdist",
    )
}  # fmt: skip

# Heavy distributions whose module is not their name with "_" for "-".
HEAVY_DISTRIBUTIONS = {
    "cupy-cuda11x": "cupy",
    "cupy-cuda12x": "cupy",
    "mlflow-skinny": "mlflow",
    "onnxruntime-gpu": "onnxruntime",
    "open-clip-torch": "open_clip",
    "opencv-contrib-python": "cv2",
    "opencv-contrib-python-headless": "cv2",
    "opencv-python": "cv2",
    "opencv-python-headless": "cv2",
    "tensorflow-cpu": "tensorflow",
    "tensorflow-gpu": "tensorflow",
    "tensorflow-intel": "tensorflow",
    "tensorflow-macos": "tensorflow",
    "tf-nightly": "tensorflow",
}

# An error raised by one of testfloor's stubs: never the project's bug, never quarantined; reported as testfloor's.
LIMITATION = "stub_limitation"

# Each kind, what it means, and the fix testfloor applies (None: a bug in the project, quarantined; or, for
# LIMITATION, testfloor's own).
KINDS: dict[str, tuple[str, str | None]] = {
    "missing_heavy": ("a heavy dependency is not installed", "stub"),
    "missing_light": ("a light dependency is not installed", "install"),
    "missing_plugin": ("a pytest plugin named with -p is not installed", "install"),
    "missing_local": ("a module of the project is not on the import path", "pythonpath"),
    "settings": ("settings built at import fail validation", "env"),
    "settings_parse": ("a settings value in the environment cannot be parsed", None),
    "import_name": ("a name is missing from a module (a bug, or a version mismatch)", None),
    "syntax": ("a syntax error (or syntax newer than this Python)", None),
    "python_version": ("the code requires a newer Python than the one that ran it", "python"),
    "import_mismatch": ("two test modules or conftests with one import name (a monorepo)", "subprojects"),
    "script": ("a script that exits at import, collected as a test module", "testpaths"),
    "plugin_twice": ("a plugin named with -p is loaded again by its entry point, under another name", "configure"),
    LIMITATION: ("a stub of testfloor does not answer the way the code uses it: testfloor's limitation", None),
    "placeholder": (
        "a value testfloor set has a format the code rejects (testfloor's to fix, not a bug)",
        "placeholder",
    ),
    "other": ("an error raised at import", None),
}

_NO_MODULE = re.compile(r"No module named '([^']+)'")
# pytest's words for a `-p NAME` whose module is nowhere (a missing import inside the plugin is another error).
_NO_PLUGIN = re.compile(r"""Error importing plugin "(?P<name>[\w.]+)": No module named '(?P<module>[\w.]+)'""")
# "requires Python 3.12", "Python 3.12+ is required", "needs Python >= 3.12", "only supports Python 3.12 and above".
_PYTHON_REQUIRED = re.compile(
    r"""
    \b(?:requires?|required|needs?|supports?|only)\b .{0,40}? \bpython \s* (?:version\s*)?
        (?:>=?|≥|of\ at\ least|at\ least)? \s* v?(?P<first>3\.\d{1,2})
    | \bpython \s* (?:>=?|≥)? \s* v?(?P<second>3\.\d{1,2}) \+? \s* (?:or\ (?:newer|later|above|higher)\s*)?
        (?:is\ |are\ )? (?:required|needed)
    """,
    re.IGNORECASE | re.VERBOSE,
)

# "requires the httpx package to be installed", 'requires "python-multipart" to be installed', "pip install redis".
_PACKAGE_REQUIRED = re.compile(
    r"""requires?\ (?:the\ )? ["'`]?(?P<named>[A-Za-z0-9][A-Za-z0-9._-]*)["'`]? (?:\ (?:package|module|library))?
        \ to\ be\ installed
    | \bpip3?\ install\ (?:-U\ |--upgrade\ )? ["'`]?(?P<pip>[A-Za-z0-9][A-Za-z0-9._-]*)""",
    re.VERBOSE,
)
# What an error raised at import needs, when it is not a bug of the project: said in its quarantine reason.
_NEEDS = (
    ("needs a service", ("ConnectionRefusedError", "OperationalError", "ConnectionError", "TimeoutError")),
    ("needs the network", ("gaierror", "URLError", "HTTPError", "SSLError", "ConnectTimeout", "MaxRetryError")),
)
# pluggy's words when one module is registered under two names: a plugin (or, its name a path, a conftest).
_TWICE = re.compile(r"Plugin already registered under a different name: (?P<name>\S+?)=<module '(?P<module>[\w.]+)'")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{4,}\b")
_SITE_PACKAGES = re.compile(r"(?:[A-Za-z]:)?[^\s'\"(),]*[/\\](?:site|dist)-packages[/\\]")
REASON_LENGTH = 200
_SYNTAX_PLACE = re.compile(r" \([^()]*, line \d+\)$")


@dataclass(frozen=True)
class Diagnosis:
    """One collection error, classified: its kind, the thing at fault, where, why, and the fix (if any)."""

    nodeid: str
    kind: str
    subject: str
    cause: str
    path: str | None = None
    line: int | None = None
    fix: str | None = None
    trail: tuple[str, ...] = ()
    # The conftest the error was raised through, if any: what a quarantine must leave out is what it serves.
    conftest: str | None = None

    @property
    def is_project_bug(self) -> bool:
        """Tell whether no change of environment can fix it: the project itself is broken."""
        return self.fix is None and self.kind != LIMITATION

    @property
    def places(self) -> dict[str, int | None]:
        """The project's Python files on the way to the error, innermost first, each once, with its line there.

        Where it was raised, then the code that led there: ``create_engine(os.environ.get(...))`` fails in the
        helper it calls, but the variable is read by the module that called it.
        """
        found: dict[str, int | None] = {}
        located = [(self.path, self.line)] if self.path else []
        for place in self.trail:
            where, _, number = place.rpartition(":")
            located.append((where, int(number)) if where and number.isdigit() else (place, None))
        for where, line in located:
            if where.endswith(".py"):
                found.setdefault(where, line)
        return found

    @property
    def names_a_module(self) -> bool:
        """Tell whether a missing dependency's error names its module, not a distribution asked for by name."""
        named = self.cause.startswith("ModuleNotFoundError") or _NO_MODULE.search(self.cause) is not None
        return self.kind == "missing_plugin" or (self.kind == "missing_light" and named)

    @property
    def quarantine_reason(self) -> str:
        """Say, short and the same on every run, what kind of problem this is, what and where, for a quarantine."""
        needs = next((label for label, names in _NEEDS if any(name in self.cause for name in names)), "project bug")
        return f"{needs}: {shorten(self.cause)} ({self.where})"

    @property
    def where(self) -> str:
        """``path:line`` of the error, or the node id when it is not known."""
        if self.path is None:
            return self.nodeid or "<root>"
        return f"{self.path}:{self.line}" if self.line else self.path


def classify(error: CollectError, root: Path) -> Diagnosis:
    """Classify one collection error from its exception chain (or, without one, from its text).

    The cause is made stable from run to run: paths relative to the project
    or to site-packages, no memory addresses.
    """
    diagnosis = _classify(error, root)
    paths = [error.nodeid, *(cause.path or "" for cause in error.chain)]
    conftest = next((path for path in paths if path.rpartition("/")[2] == "conftest.py"), None)
    return replace(diagnosis, cause=stable(diagnosis.cause, root), conftest=conftest)


def stable(text: str, root: Path) -> str:
    """Return `text` without what changes from machine to machine or run to run: absolute paths and addresses."""
    text = text.replace(f"{root}{os.sep}", "").replace(str(root), ".")
    text = _SITE_PACKAGES.sub("site-packages/", text)
    return _ADDRESS.sub("0x...", text)


def shorten(text: str, limit: int = REASON_LENGTH) -> str:
    """Return `text` on one line, cut at a word boundary near `limit` characters (with an ellipsis) if longer."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return f"{cut} ..."


def _classify(error: CollectError, root: Path) -> Diagnosis:
    chain = error.chain
    twice = _registered_twice(error)
    if twice is not None:
        return twice
    if not chain:
        plugin = _NO_PLUGIN.search(error.message)
        if plugin is not None:
            return _diagnosis(error, "missing_plugin", plugin.group("name"), plugin.group(), None)
        match = _NO_MODULE.search(error.message)
        if match is None:
            return _diagnosis(error, "other", "", error.message, None)
        return _missing(error, match.group(1), error.message, None, root)
    for cause in chain:
        if cause.stub:  # testfloor's doing, whatever its type: a stub that could not stand in for the real module
            where = _deepest_in_project(chain)
            text = f"{cause.short_type}: {cause.message}"
            return _diagnosis(error, LIMITATION, _stubbed_name(root, where, text), text, where)
    for cause in chain:
        if cause.short_type == "ModuleNotFoundError" and cause.name:
            return _missing(error, cause.name, f"{cause.short_type}: {cause.message}", cause, root)
    for cause in chain:
        if cause.short_type not in ("RuntimeError", "ImportError", "SystemExit", "Exception", "OSError"):
            continue
        required = _PYTHON_REQUIRED.search(cause.message)
        if required:
            version = required.group("first") or required.group("second")
            return _diagnosis(error, "python_version", version, f"{cause.short_type}: {cause.message}", cause)
        package = _PACKAGE_REQUIRED.search(cause.message)
        if package and (name := package.group("named") or package.group("pip")).lower() != "python":
            # A light dependency the code asks for by name: installed, never a quarantine.
            return _diagnosis(error, "missing_light", name, f"{cause.short_type}: {cause.message}", cause)
    by_type = {cause.short_type: cause for cause in reversed(chain)}
    if "ValidationError" in by_type and by_type["ValidationError"].type.startswith("pydantic"):
        cause = by_type["ValidationError"]
        fields = ", ".join(cause.fields)
        return _diagnosis(error, "settings", cause.title or "", f"{cause.title}: missing or invalid {fields}", cause)
    for kind, names in (
        ("settings_parse", ("SettingsError",)),
        ("import_mismatch", ("ImportPathMismatchError",)),
        ("script", ("SystemExit",)),
        ("syntax", ("SyntaxError", "IndentationError", "TabError")),
        ("import_name", ("ImportError",)),
    ):
        for name in names:
            if name in by_type:
                cause = by_type[name]
                if kind == "import_name" and _clashes(root, cause.name):
                    kind = "import_mismatch"  # another folder's module of that name answered: a layout problem
                # Python's "(file.py, line 3)" repeats the place the diagnosis gives, relative to the project.
                message = _SYNTAX_PLACE.sub("", cause.message) if kind == "syntax" else cause.message
                return _diagnosis(error, kind, cause.name or "", f"{cause.short_type}: {message}", cause)
    if "Plugin already registered" in error.message or "import file mismatch" in error.message:
        return _diagnosis(error, "import_mismatch", "", error.message, chain[0])
    cause = _deepest_in_project(chain)
    internal = f"{INTERNAL}: " if error.message.startswith(INTERNAL) else ""  # it stopped pytest: said so
    return _diagnosis(error, "other", "", f"{internal}{cause.short_type}: {cause.message}", cause)


def _registered_twice(error: CollectError) -> Diagnosis | None:
    # A `-p NAME` whose module an installed plugin's entry point loads too: testfloor's plugin skips the entry point
    # in a project with [tool.testfloor]. Configuration, never the project's bug.
    texts = (error.message, *(cause.message for cause in error.chain))
    found = next(filter(None, (_TWICE.search(text) for text in texts)), None)
    if found is None or found.group("module").rpartition(".")[2] == "conftest":
        return None
    name, module = found.group("name", "module")
    text = f"Plugin already registered under a different name: {name}={module}"
    return _diagnosis(error, "plugin_twice", module, text, error.chain[0] if error.chain else None)


def _stubbed_name(root: Path, where: Cause, text: str) -> str:
    # The stubbed module at fault: named by the message, else the configured stub the failing line (or else its
    # file) uses.
    named = re.search(r"stub module '(\w+)", text)
    if named or where.path is None:
        return named.group(1) if named else ""
    from testfloor.config import load_config

    try:
        lines = (root / where.path).read_text(encoding="utf-8").splitlines()
        stubs = load_config(root).stubs
    except (OSError, UnicodeDecodeError, ValueError):
        return ""
    line = lines[(where.line or 1) - 1] if len(lines) >= (where.line or 1) else ""
    for text in (line, "\n".join(lines)):
        found = next((name for name in stubs if re.search(rf"\b{re.escape(name)}\b", text)), None)
        if found:
            return found
    return ""


def _clashes(root: Path, module: str | None) -> bool:
    from testfloor import layout

    return module is not None and module.split(".")[0] in layout.clashing_names(root)


def _deepest_in_project(chain: tuple[Cause, ...]) -> Cause:
    located = [cause for cause in chain if cause.path is not None and cause.short_type != "ConftestImportFailure"]
    return located[0] if located else chain[0]


def _diagnosis(error: CollectError, kind: str, subject: str, cause: str, where: Cause | None) -> Diagnosis:
    path = where.path if where is not None else None
    line = where.line if where is not None else None
    trail = where.trail if where is not None else ()
    return Diagnosis(error.nodeid, kind, subject, cause, path, line, KINDS[kind][1], trail)


def _missing(error: CollectError, name: str, cause: str, where: Cause | None, root: Path) -> Diagnosis:
    top = name.split(".")[0]
    if top in sys.stdlib_module_names:
        return _diagnosis(error, "other", name, cause, where)
    if top in HEAVY:  # before the project's files: a module of its own named like a heavy package is not the one
        return _diagnosis(error, "missing_heavy", top, cause, where)
    dotted = _imported(root, where, top) or name
    home = find_local_package(root, dotted) if "." in dotted else None
    home = home if home is not None else find_local_package(root, top)
    if home is not None:
        return _diagnosis(error, "missing_local", home, cause, where)
    return _diagnosis(error, "missing_light", top, cause, where)


def _imported(root: Path, where: Cause | None, top: str) -> str | None:
    # The whole dotted name the failing line imports (`from evaluator.definition import X`), when it starts with `top`.
    if where is None or where.path is None or not where.line:
        return None
    try:
        line = (root / where.path).read_text(encoding="utf-8").splitlines()[where.line - 1]
    except (OSError, UnicodeDecodeError, IndexError):
        return None
    match = re.match(rf"\s*(?:from|import)\s+({re.escape(top)}(?:\.\w+)*)", line)
    return match.group(1) if match else None


def find_local_package(root: Path, name: str, depth: int = 3) -> str | None:
    """Return the directory (relative to `root`, POSIX) that makes ``import name`` work, if the project has one.

    `name` may be dotted (``evaluator.definition``): the directory must hold
    the whole path, through namespace packages (directories without an
    ``__init__.py``) too. A directory that would shadow a module of the
    standard library (a package's inner ``secrets.py``) is never one.
    """
    parts = name.split(".")
    candidates = [root]
    for _ in range(depth + 1):
        next_level: list[Path] = []
        for directory in candidates:
            if _provides(directory, parts) and not _shadows(directory, parts[0]):
                return directory.relative_to(root).as_posix()
            next_level.extend(
                child
                for child in sorted(directory.iterdir())
                if child.is_dir() and not child.name.startswith((".", "_")) and child.name not in _NOT_SOURCE
            )
        candidates = next_level
    return None


_NOT_SOURCE = {"node_modules", "venv", "env", "build", "dist", "site-packages", "__pycache__"}


def _provides(directory: Path, parts: list[str]) -> bool:
    # `directory` on sys.path imports parts[0], and through it (a package, or a namespace package) the rest.
    *packages, last = parts
    if packages and not (directory / packages[0]).is_dir():
        return False
    if not packages:
        return (directory / last / "__init__.py").is_file() or (directory / f"{last}.py").is_file()
    base = directory.joinpath(*packages)
    return (base / last / "__init__.py").is_file() or (base / f"{last}.py").is_file() or (base / last).is_dir()


def _shadows(directory: Path, wanted: str) -> bool:
    for child in directory.iterdir():
        stem = child.name.removesuffix(".py")
        if stem != wanted and stem in sys.stdlib_module_names and (child.suffix == ".py" or child.is_dir()):
            if child.is_dir() and not (child / "__init__.py").is_file():
                continue  # a plain directory (a namespace package at most) loses to the standard library
            return True
    return False


def distribution(module: str) -> str:
    """Return the PyPI distribution that provides `module` (or a package above it), else its top-level name.

    ``distribution("google.protobuf.message")`` -> ``"protobuf"``, ``distribution("some_lib")`` -> ``"some-lib"``.
    """
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in DISTRIBUTIONS:
            return DISTRIBUTIONS[".".join(parts[:end])]
    return parts[0].replace("_", "-")


def plugin_distributions(name: str) -> tuple[str, ...]:
    """Return the distributions to try, in order, for the pytest plugin `-p name` that is not installed.

    A plugin is a pytest plugin's distribution, never a namesake on the index:
    ``"xdist"`` -> ``("pytest-xdist",)``, ``"pytest_timeout"`` -> ``("pytest-timeout",)``;
    a bare name no table knows is ``pytest-NAME`` first, then its own name:
    ``"foo"`` -> ``("pytest-foo", "foo")``.
    """
    top = name.split(".")[0]
    if top in PLUGINS:
        return (PLUGINS[top],)
    own = top.replace("_", "-")
    return (own,) if own.startswith("pytest-") else (f"pytest-{own}", own)


def find_subprojects(root: Path, depth: int = 4) -> list[str]:
    """Return the directories (relative, POSIX) below `root` that hold a test suite of their own, at any depth.

    A sub-project has its own pytest configuration (``pytest.ini``,
    ``[tool.pytest.ini_options]``, ``setup.cfg [tool:pytest]``, ``tox.ini
    [pytest]``) or its own package metadata, and test files; or, the older
    sign, a ``tests/conftest.py`` of its own (run together from the root,
    sub-projects' ``tests`` packages clash); or a folder whose tests share an
    import name with another folder's (`layout.clashing_folders`: sibling
    examples, each with its own ``model.py`` and ``test_api.py``). A
    sub-project inside another is part of it.
    """
    from testfloor import layout

    found: list[PurePosixPath] = []
    for directory, names in layout.walk(root):
        if not directory.parts or len(directory.parts) > depth or any(inside in directory.parents for inside in found):
            continue
        own_tests = (root / directory / "tests" / "conftest.py").is_file() or (
            root / directory / "test" / "conftest.py"
        ).is_file()
        configured = any(name in names for name in _PROJECT_FILES) and bool(layout.found_test_roots(root / directory))
        if own_tests or (configured and _configured(root / directory)):
            found.append(directory)
    clashing = [PurePosixPath(folder) for folder in layout.clashing_folders(root)]
    found += [folder for folder in clashing if not any(inside in folder.parents for inside in found)]
    return sorted({path.as_posix() for path in found})


_PROJECT_FILES = ("pytest.ini", "pyproject.toml", "setup.py", "setup.cfg", "tox.ini")


def _configured(directory: Path) -> bool:
    # Its own pytest configuration, or package metadata (a pyproject.toml with more than tool settings, a setup.py).
    from testfloor import layout

    try:
        if layout.pytest_options(directory) is not None or (directory / "setup.py").is_file():
            return True
        text = (directory / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return "[project]" in text or "[tool.poetry]" in text or "[build-system]" in text
