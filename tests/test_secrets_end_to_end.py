"""No secret of a project reaches anything testfloor prints or writes: doctor, the collect report, nox -s collect.

The project's import errors repeat a database URL whose password holds ``@``, ``/`` and ``:``, a token from
``GITHUB_PAT``, a value ``[tool.testfloor.env]`` declares, and a value pydantic echoes in a validation error.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import NOXFILE, clean_environ, make_file

pytestmark = pytest.mark.slow
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
PASSWORD = "p@ss/w:rd"
URL = f"postgresql://admin:{PASSWORD}@db.example:5432/app"
PAT = "ghp_e2eTokenThatMustNeverBeShown0123"
SIGNER = "declared-cookie-signer-value"
ECHOED = "pydantic-echoes-this-value"  # under an ordinary name: only pydantic's input_value gives it away
# The password whole and the pieces a partial mask would leave.
SECRETS = (PASSWORD, "p@ss", "ss/w", "w:rd", PAT, SIGNER, ECHOED)

FILES = {
    "pyproject.toml": f"""
        [project]
        name = "service"
        version = "1"
        requires-python = "=={PYTHON}.*"
        dependencies = ["pydantic>=2"]

        [tool.testfloor]
        python = ["{PYTHON}"]

        [tool.testfloor.env]
        SESSION_COOKIE_SIGNER = "{SIGNER}"
        """,
    "service/__init__.py": "",
    "service/db.py": """
        import os

        raise RuntimeError(
            f"cannot connect to {os.environ['DATABASE_URL']} with token {os.environ['GITHUB_PAT']}"
            f" signed by {os.environ['SESSION_COOKIE_SIGNER']}"
        )
        """,
    "service/licence.py": """
        import os

        from pydantic import BaseModel, Field


        class Licence(BaseModel):
            code: str = Field(max_length=8)


        LICENCE = Licence(code=os.environ["LICENCE_CODE"])
        """,
    "tests/test_db.py": "import service.db\n",
    "tests/test_licence.py": "import service.licence\n",
    "tests/test_ok.py": "def test_ok():\n    pass\n",
    "noxfile.py": NOXFILE,
}


def run(root: Path, *command: str) -> str:
    environ = clean_environ(DATABASE_URL=URL, GITHUB_PAT=PAT, LICENCE_CODE=ECHOED, NOX_DOWNLOAD_PYTHON="never")
    done = subprocess.run(command, cwd=root, env=environ, capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_no_secret_reaches_any_output_or_file_of_the_project(tmp_path: Path, wheel: Path) -> None:
    for name, text in FILES.items():
        make_file(tmp_path / name, text)
    make_file(tmp_path / "requirements-test.txt", f"{wheel}\npytest\npydantic\n")
    # pytest's own terminal output is pytest's: what the plugin writes is the report, checked with the tree below.
    run(tmp_path, sys.executable, "-m", "pytest", "--collect-only", "--testfloor-collect-report=c.json")
    outputs = {
        "nox -s collect": run(tmp_path, sys.executable, "-m", "nox", "--no-color", "-s", "collect"),
        "doctor --json": run(tmp_path, sys.executable, "-m", "testfloor", "doctor", "--json"),
        "doctor --fix": run(tmp_path, sys.executable, "-m", "testfloor", "doctor", "--fix", "--no-install"),
    }
    # The messages did get through, masked: the test would pass on a project that printed nothing.
    assert "postgresql://admin:****@db.example:5432/app with token ****" in outputs["nox -s collect"]
    assert "input_value=****" in outputs["nox -s collect"]
    assert "signed by ****" in (tmp_path / "c.json").read_text()
    # doctor probes as a fresh clone in CI would: the shell's secrets never reach its probes at all.
    assert "KeyError: 'DATABASE_URL'" in outputs["doctor --json"]
    # --fix gave the variables placeholders; the message that then names them is masked all the same.
    reason = "RuntimeError: cannot connect to postgresql://test:****@localhost:5432/test with token ****"
    assert f"{reason} signed by **** (service/db.py:3)" in (tmp_path / "pyproject.toml").read_text()
    assert {name: leaks(text) for name, text in outputs.items()} == {name: [] for name in outputs}
    written = {
        str(path.relative_to(tmp_path)): path.read_bytes().decode(errors="replace")
        for path in tmp_path.rglob("*")
        if path.is_file()
    }
    # The one place a secret may stand: where the project itself declares it.
    assert written["pyproject.toml"].count(SIGNER) == 1
    written["pyproject.toml"] = written["pyproject.toml"].replace(SIGNER, "")
    assert {name: leaks(text) for name, text in written.items() if leaks(text)} == {}
