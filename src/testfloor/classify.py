"""What each collection error is, and how it can be fixed without touching the project's files."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

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

# Each kind, what it means, and the fix testfloor applies (None: a bug in the project, quarantined).
KINDS: dict[str, tuple[str, str | None]] = {
    "missing_heavy": ("a heavy dependency is not installed", "stub"),
    "missing_light": ("a light dependency is not installed", "install"),
    "missing_local": ("a module of the project is not on the import path", "pythonpath"),
    "settings": ("settings built at import fail validation", "env"),
    "settings_parse": ("a settings value in the environment cannot be parsed", None),
    "import_name": ("a name is missing from a module (a bug, or a version mismatch)", None),
    "syntax": ("a syntax error (or syntax newer than this Python)", None),
    "python_version": ("the code requires a newer Python than the one that ran it", "python"),
    "import_mismatch": ("two test modules or conftests with one import name (a monorepo)", "subprojects"),
    "script": ("a script that exits at import, collected as a test module", "testpaths"),
    "other": ("an error raised at import", None),
}

_NO_MODULE = re.compile(r"No module named '([^']+)'")
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

    @property
    def is_project_bug(self) -> bool:
        """Tell whether no change of environment can fix it: the project itself is broken."""
        return self.fix is None

    @property
    def where(self) -> str:
        """``path:line`` of the error, or the node id when it is not known."""
        if self.path is None:
            return self.nodeid or "<root>"
        return f"{self.path}:{self.line}" if self.line else self.path


def classify(error: CollectError, root: Path) -> Diagnosis:
    """Classify one collection error from its exception chain (or, without one, from its text)."""
    chain = error.chain
    if not chain:
        match = _NO_MODULE.search(error.message)
        if match is None:
            return _diagnosis(error, "other", "", error.message, None)
        return _missing(error, match.group(1), error.message, None, root)
    for cause in chain:
        if cause.short_type == "ModuleNotFoundError" and cause.name:
            return _missing(error, cause.name, f"{cause.short_type}: {cause.message}", cause, root)
    for cause in chain:
        required = _PYTHON_REQUIRED.search(cause.message)
        if required and cause.short_type in ("RuntimeError", "ImportError", "SystemExit", "Exception", "OSError"):
            version = required.group("first") or required.group("second")
            return _diagnosis(error, "python_version", version, f"{cause.short_type}: {cause.message}", cause)
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
                return _diagnosis(error, kind, cause.name or "", f"{cause.short_type}: {cause.message}", cause)
    if "Plugin already registered" in error.message or "import file mismatch" in error.message:
        return _diagnosis(error, "import_mismatch", "", error.message, chain[0])
    cause = _deepest_in_project(chain)
    return _diagnosis(error, "other", "", f"{cause.short_type}: {cause.message}", cause)


def _deepest_in_project(chain: tuple[Cause, ...]) -> Cause:
    located = [cause for cause in chain if cause.path is not None]
    return located[0] if located else chain[0]


def _diagnosis(error: CollectError, kind: str, subject: str, cause: str, where: Cause | None) -> Diagnosis:
    path = where.path if where is not None else None
    line = where.line if where is not None else None
    return Diagnosis(error.nodeid, kind, subject, cause, path, line, KINDS[kind][1])


def _missing(error: CollectError, name: str, cause: str, where: Cause | None, root: Path) -> Diagnosis:
    top = name.split(".")[0]
    if top in sys.stdlib_module_names:
        return _diagnosis(error, "other", name, cause, where)
    home = find_local_package(root, top)
    if home is not None:
        return _diagnosis(error, "missing_local", home, cause, where)
    return _diagnosis(error, "missing_heavy" if top in HEAVY else "missing_light", top, cause, where)


def find_local_package(root: Path, name: str, depth: int = 3) -> str | None:
    """Return the directory (relative to `root`, POSIX) holding the project's package or module `name`, if any."""
    candidates = [root]
    for _ in range(depth + 1):
        next_level: list[Path] = []
        for directory in candidates:
            if (directory / name / "__init__.py").is_file() or (directory / f"{name}.py").is_file():
                return directory.relative_to(root).as_posix()
            next_level.extend(
                child
                for child in sorted(directory.iterdir())
                if child.is_dir() and not child.name.startswith((".", "_")) and child.name not in _NOT_SOURCE
            )
        candidates = next_level
    return None


_NOT_SOURCE = {"node_modules", "venv", "env", "build", "dist", "site-packages", "__pycache__"}


def distribution(module: str) -> str:
    """Return the PyPI distribution that provides `module` (or a package above it), else its top-level name.

    ``distribution("google.protobuf.message")`` -> ``"protobuf"``, ``distribution("some_lib")`` -> ``"some-lib"``.
    """
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in DISTRIBUTIONS:
            return DISTRIBUTIONS[".".join(parts[:end])]
    return parts[0].replace("_", "-")


def find_subprojects(root: Path) -> list[str]:
    """Return the directories (relative, POSIX) below `root` that hold a test suite of their own.

    In a monorepo each sub-project has its own ``tests/conftest.py``; run
    together from the root, their ``tests`` packages clash.
    """
    found = set()
    for pattern in ("*/tests/conftest.py", "*/*/tests/conftest.py", "*/test/conftest.py", "*/*/test/conftest.py"):
        for conftest in root.glob(pattern):
            parts = conftest.relative_to(root).parts
            if not any(part.startswith(".") or part in _NOT_SOURCE for part in parts):
                found.add(conftest.parent.parent.relative_to(root).as_posix())
    return sorted(found)
