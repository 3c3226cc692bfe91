from __future__ import annotations

from pathlib import Path

import pytest

from helpers import make_file
from testfloor import doctor, versioncheck
from testfloor.collect import Outcome
from testfloor.config import load_config
from testfloor.testenv import Environment


@pytest.mark.parametrize(
    ("source", "version"),
    [
        ("import sys\nif sys.version_info < (3, 12):\n    raise RuntimeError('needs 3.12')\n", "3.12"),
        ("import sys\nif sys.version_info[:2] < (3, 11, 2):\n    raise ImportError\n", "3.11"),
        ("from sys import version_info\nif version_info < (3, 12):\n    raise errors.TooOldError()\n", "3.12"),
        ("import sys\nif sys.version_info >= (3, 11):\n    pass\nelse:\n    sys.exit('needs 3.11')\n", "3.11"),
        (
            "import sys\ntry:\n    if sys.version_info < (3, 12):\n        raise SystemExit(1)\nfinally:\n    a = 1\n",
            "3.12",
        ),
    ],
)
def test_a_check_that_stops_the_import_below_a_version_is_read(tmp_path: Path, source: str, version: str) -> None:
    make_file(tmp_path / "svc" / "__init__.py", source)
    (found,) = versioncheck.requirements(tmp_path)
    assert (found.path, found.version) == ("svc/__init__.py", version)
    assert found.line == next(number for number, line in enumerate(source.splitlines(), 1) if "if " in line)


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nif sys.version_info < (3, 11):\n    import tomli as tomllib\n",  # a fallback, not a refusal
        "import sys\nif sys.version_info < (3, 11):\n    warnings.warn('old')\n",
        "import sys\nif sys.version_info < (3, 11):\n    raise\n",
        "import sys\nif sys.version_info < (3, 11):\n    raise unittest.SkipTest('old')\n",
        "import sys\nif sys.version_info < (3, 11):\n    print('old')\n",
        "import sys\nif sys.version_info >= (3, 11):\n    raise RuntimeError('too new')\n",  # the body runs on new ones
        "import sys\nif sys.version_info <= (3, 11):\n    raise RuntimeError\n",
        "import sys\nif sys.version_info < (3,):\n    raise RuntimeError\n",
        "import sys\nif sys.version_info < (3, MINOR):\n    raise RuntimeError\n",
        "import sys\nif sys.version_info < (3, True):\n    raise RuntimeError\n",
        "import sys\nif sys.version_info < MINIMUM:\n    raise RuntimeError\n",
        "import sys\nif sys.platform < 'win' < 'x':\n    raise RuntimeError\n",
        "import os\nif os.version_info < (3, 12):\n    raise RuntimeError\n",
        "import sys\nif sys.version_info < (3, 12):\n    pass\n",
        "import sys\nif sys.version_info < (3, 12):\n    self.exit_code.value = 1\n",
        # not at import
        "def check():\n    import sys\n    if sys.version_info < (3, 12):\n        raise RuntimeError\n",
        "if (:\n",
    ],
)
def test_code_that_does_not_refuse_an_older_python_states_nothing(tmp_path: Path, source: str) -> None:
    make_file(tmp_path / "svc.py", source)
    assert versioncheck.requirements(tmp_path) == []
    assert versioncheck.minimum(tmp_path) is None


def test_the_newest_version_asked_for_wins(tmp_path: Path) -> None:
    make_file(tmp_path / "a.py", "import sys\nif sys.version_info < (3, 9):\n    raise RuntimeError\n")
    make_file(tmp_path / "b.py", "import sys\nif sys.version_info < (3, 12):\n    raise RuntimeError\n")
    make_file(tmp_path / "c.py", "import sys\nif sys.version_info < (3, 10):\n    raise RuntimeError\n")
    (tmp_path / "d.py").write_bytes(b"\xff\xfe not text")
    found = versioncheck.minimum(tmp_path)
    assert found is not None
    assert (found.path, found.version) == ("b.py", "3.12")


def test_doctor_narrows_the_pythons_from_the_code_before_it_collects(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "svc"\n\n[tool.testfloor]\npython = ["3.10", "3.12"]\n')
    make_file(tmp_path / "svc" / "__init__.py", "import sys\nif sys.version_info < (3, 11):\n    raise RuntimeError\n")
    prepared: list[tuple[str, ...]] = []
    lines: list[str] = []

    def prepare() -> Environment:
        prepared.append(load_config(tmp_path).python)
        return Environment(tmp_path / "env", tmp_path / "env" / "bin" / "python", prepared[-1][-1])

    def collect(root: Path) -> Outcome:
        return Outcome(0, ("tests/test_a.py::test",), ())

    report = doctor.run(tmp_path, fix=True, collect=collect, prepare=prepare, progress=lines.append)
    assert report.status == "clean"
    assert load_config(tmp_path).python == ("3.12",)
    assert prepared == [("3.10", "3.12"), ("3.12",)]
    assert lines[-1] == "python 3.12 (the code requires Python 3.11 or newer), stated at svc/__init__.py:2"
    assert report.fixes == {"python": 1}
    # A second run finds the Pythons already narrowed: nothing changes, nothing is built again.
    prepared.clear()
    doctor.run(tmp_path, fix=True, collect=collect, prepare=prepare)
    assert prepared == [("3.12",)]
    # Without --fix nothing is written.
    make_file(tmp_path / "svc" / "__init__.py", "import sys\nif sys.version_info < (3, 13):\n    raise RuntimeError\n")
    doctor.run(tmp_path, collect=collect)
    assert load_config(tmp_path).python == ("3.12",)


def test_doctor_without_an_environment_to_prepare_narrows_the_pythons_all_the_same(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\npython = ["3.10", "3.12"]\n')
    make_file(tmp_path / "svc.py", "import sys\nif sys.version_info < (3, 12):\n    raise RuntimeError\n")
    report = doctor.run(tmp_path, fix=True, collect=lambda root: Outcome(0, ("t.py::t",), ()))
    assert (report.status, load_config(tmp_path).python) == ("clean", ("3.12",))
