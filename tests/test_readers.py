"""Every reader, fed anything: a result, or one line with its exit code, and no file changed."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import clean_environ, make_file
from testfloor import report, toolconfig
from testfloor.baseline import from_coverage_json, normal_name, read_baseline
from testfloor.cli import ExitCode, exit_code_for, main
from testfloor.config import read_tool_table
from testfloor.errors import ConfigError, DataError, TestfloorError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

names = st.sampled_from(["a.py", "src/a.py", "src/./a.py", "./a.py", "/abs/a.py", "../a.py", "", "a\0.py"]) | st.text(
    max_size=12
)
numbers = st.integers(-2, 12) | st.sampled_from([True, 1.0, "3", None, 10**30])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def baseline_texts() -> st.SearchStrategy[str]:
    """Baselines near the real thing (right keys, odd values, duplicate names), and any JSON at all."""
    entry = st.fixed_dictionaries(
        {}, optional={key: numbers for key in ("statements", "covered_lines", "branches", "covered_branches")}
    )
    entries = st.lists(st.tuples(names, entry), max_size=4)
    near = st.builds(
        lambda version, files: (
            '{"format": '
            + json.dumps(version)
            + ', "files": {'
            + ", ".join(f"{json.dumps(name)}: {json.dumps(counts)}" for name, counts in files)
            + "}}"
        ),
        st.sampled_from([1, True, 1.0, "1", 2, None]),
        entries,
    )
    return near | json_values.map(json.dumps) | st.text(max_size=40)


def coverage_texts() -> st.SearchStrategy[str]:
    summary = st.fixed_dictionaries(
        {}, optional={key: numbers for key in ("num_statements", "covered_lines", "num_branches", "covered_branches")}
    )
    files = st.dictionaries(names, st.fixed_dictionaries({"summary": summary}) | json_values, max_size=4)
    return st.builds(lambda table: json.dumps({"files": table}), files) | json_values.map(json.dumps)


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A fresh directory for one example: `tmp_path` is shared by all the examples of a test."""
    with tempfile.TemporaryDirectory(prefix="testfloor-readers-") as directory:
        yield Path(directory)


def one_line_or_result(read: Callable[[Path], object], path: Path) -> object:
    """Run `read` on `path`; a `TestfloorError` must be one line naming the file, and the file must not change."""
    before = path.read_bytes()
    result = outcome(lambda: read(path))
    if isinstance(result, TestfloorError):
        assert str(result).startswith(f"{path}: ")
        assert "\n" not in str(result)
    assert path.read_bytes() == before
    return result


def outcome(call: Callable[[], object]) -> object:
    """What `call` returns, or the `TestfloorError` it raises."""
    try:
        return call()
    except TestfloorError as err:
        return err


@BOUNDED
@given(text=baseline_texts())
def test_any_baseline_reads_as_counts_that_hold_together_or_one_data_error(text: str) -> None:
    with scratch() as root:
        read = one_line_or_result(read_baseline, make_file(root / "base.json", text))
    if isinstance(read, TestfloorError):
        assert exit_code_for(read) == ExitCode.DATA
        return
    for name, counts in read.files.items():  # type: ignore[attr-defined]
        assert normal_name(name) == name
        assert 0 <= counts.covered_lines <= counts.statements
        assert 0 <= counts.covered_branches <= counts.branches


@BOUNDED
@given(text=coverage_texts())
def test_any_coverage_report_reads_as_counts_that_hold_together_or_one_data_error(text: str) -> None:
    with scratch() as root:
        read = one_line_or_result(from_coverage_json, make_file(root / "coverage.json", text))
    if isinstance(read, TestfloorError):
        assert exit_code_for(read) == ExitCode.DATA
        return
    for name, counts in read.files.items():  # type: ignore[attr-defined]
        assert normal_name(name) == name
        assert counts.covered_lines <= counts.statements
        assert counts.covered_branches <= counts.branches


@BOUNDED
@given(base=baseline_texts(), current=coverage_texts())
def test_baseline_check_on_any_files_exits_with_a_code_and_at_most_one_error_line(base: str, current: str) -> None:
    with scratch() as root:
        make_file(root / "coverage-baseline.json", base)
        make_file(root / "coverage.json", current)
        before = {path: path.read_bytes() for path in root.iterdir()}
        errors = _stderr_of(["baseline", "check", str(root), "--coverage-json", str(root / "coverage.json")])
        assert {path: path.read_bytes() for path in root.iterdir()} == before
    code, lines = errors
    assert code in (ExitCode.OK, ExitCode.DATA, ExitCode.REGRESSION)
    assert code == ExitCode.OK or len([line for line in lines if line.startswith("testfloor: ")]) == 1


def _stderr_of(argv: list[str]) -> tuple[int, list[str]]:
    import contextlib as _contextlib
    import io

    err = io.StringIO()
    with _contextlib.redirect_stderr(err), _contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue().splitlines()


toml_pieces = st.sampled_from(
    [
        "[project]\n",
        'name = "x"\n',
        "[tool]\n",
        "[tool.testfloor]\n",
        "[tool.testfloor.env]\n",
        "[[tool.testfloor.quarantine]]\n",
        'node = "t.py"\n',
        'testfloor.baseline = "b.json"\n',
        'tool.testfloor.stubs = ["ray"]\n',
        'testfloor = { baseline = "b.json" }\n',
        'quarantine = [{ node = "t.py", reason = "r" }]\n',
        'stubs = ["ray"]\n',
        "env = { A = 1 }\n",
        "# a comment\n",
        "\n",
        "[tool.other]\n",
        "k = 1\n",
        "x = [[[1]]]\n",
    ]
)
toml_texts = st.builds(
    lambda pieces, crlf: "".join(pieces).replace("\n", "\r\n") if crlf else "".join(pieces),
    st.lists(toml_pieces, max_size=8),
    st.booleans(),
)


@BOUNDED
@given(text=toml_texts | st.text(max_size=40))
def test_any_pyproject_reads_as_a_table_or_one_config_error(text: str) -> None:
    with scratch() as root:
        read = one_line_or_result(read_tool_table, make_file(root / "pyproject.toml", text))
    assert read is None or isinstance(read, (dict, ConfigError))


EDITS: dict[str, Callable[[Path], object]] = {
    "stubs": lambda path: toolconfig.extend_list(path, "stubs", ["torch"]),
    "quarantine": lambda path: toolconfig.add_quarantine(path, {"t9.py": "bug"}),
    "env": lambda path: toolconfig.add_values(path, {"B": "2"}, "env"),
}


@BOUNDED
@given(text=toml_texts, edit=st.sampled_from(sorted(EDITS)))
def test_any_pyproject_is_edited_into_one_that_reads_back_or_left_as_it_was(text: str, edit: str) -> None:
    with scratch() as root:
        pyproject = root / "pyproject.toml"
        pyproject.write_bytes(text.encode())
        refused = outcome(lambda: EDITS[edit](pyproject))
        new = pyproject.read_bytes().decode()
    if isinstance(refused, TestfloorError):
        assert isinstance(refused, ConfigError)
        assert "\n" not in str(refused)
        assert new == text
        return
    before, after = tomllib.loads(text), tomllib.loads(new)  # the edit must parse
    settings_after = after["tool"]["testfloor"]
    assert {key: value for key, value in after.items() if key != "tool"} == {
        key: value for key, value in before.items() if key != "tool"
    }
    if edit == "stubs":
        assert "torch" in settings_after["stubs"]
    elif edit == "quarantine":
        assert {"node": "t9.py", "reason": "bug"} in settings_after["quarantine"]
    else:
        assert "B" in settings_after["env"]
    if "\r\n" in text and text.count("\n") == text.count("\r\n"):
        assert new.count("\n") == new.count("\r\n")


@pytest.fixture(scope="module")
def shard_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    root = tmp_path_factory.mktemp("shard")
    make_file(root / "mod.py", "def f(x):\n    if x:\n        return 1\n    return 2\n\nf(1)\n")
    subprocess.run([sys.executable, "-m", "coverage", "run", "--branch", "--data-file=shard", "mod.py"], cwd=root,
                   env=clean_environ(), check=True)  # fmt: skip
    return (root / "shard").read_bytes()


@BOUNDED
@given(
    damage=st.lists(st.tuples(st.integers(0, 60_000), st.integers(0, 255)), max_size=6),
    cut=st.none() | st.integers(0, 60_000),
    raw=st.none() | st.binary(max_size=64),
)
def test_any_shard_is_read_or_refused_in_one_line_and_never_written(
    shard_bytes: bytes, damage: list[tuple[int, int]], cut: int | None, raw: bytes | None
) -> None:
    content = bytearray(shard_bytes if raw is None else raw)
    for offset, value in damage:
        if offset < len(content):
            content[offset] = value
    if cut is not None:
        del content[cut:]
    with scratch() as root:
        shard = root / "shard"
        shard.write_bytes(bytes(content))
        combined = outcome(lambda: report.combine([shard], root / ".coverage"))
        assert shard.read_bytes() == bytes(content)
    assert combined is None or (isinstance(combined, DataError) and "\n" not in str(combined))


@pytest.mark.slow
def test_a_report_killed_at_any_moment_leaves_old_or_whole_reports_and_the_next_run_works(tmp_path: Path) -> None:
    import random

    for index in range(150):
        make_file(tmp_path / "pkg" / f"m{index:03}.py", "".join(f"def f{n}(x):\n    return x\n" for n in range(30)))
    make_file(tmp_path / "run.py", "import pkg.m000\npkg.m000.f1(1)\n")
    make_file(tmp_path / "pkg" / "__init__.py", "")
    make_file(tmp_path / ".coveragerc", "[run]\nsource = pkg\nrelative_files = True\n")
    env = clean_environ(COVERAGE_FILE=".coverage.one")
    subprocess.run([sys.executable, "-m", "coverage", "run", "run.py"], cwd=tmp_path, env=env, check=True)
    # The documented glob: a killed run must leave no temporary it matches (coverage.json's were .coverage.json.*).
    command = [sys.executable, "-m", "testfloor", "report", "--shard", ".coverage.*", "--json", "coverage.json",
               "--xml", "coverage.xml", "--data-file", ".coverage"]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, cwd=tmp_path, env=clean_environ(), check=True, capture_output=True)
    duration = time.perf_counter() - started
    rng = random.Random(14)
    for _trial in range(12):
        process = subprocess.Popen(command, cwd=tmp_path, env=clean_environ(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(0, duration * 1.2))
        process.send_signal(signal.SIGKILL)
        process.wait()
        document = json.loads((tmp_path / "coverage.json").read_text())  # whole: old or new, never a part
        assert "pkg/m000.py" in document["files"]
        assert (tmp_path / "coverage.xml").read_text().rstrip().endswith("</coverage>")
    done = subprocess.run(command, cwd=tmp_path, env=clean_environ(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert not [path.name for path in tmp_path.iterdir() if path.match(".coverage.*") and path.name != ".coverage.one"]
