from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from unittest import mock

import nox
import pytest

import testfloor.nox as floor
from helpers import NOXFILE, clean_environ, make_file, measured_lines
from helpers import nox as nox_command
from testfloor.config import Config, EnvValue, load_config


def fake_session(tmp_path: Path, python: object = "3.12") -> mock.Mock:
    session = mock.Mock(spec=nox.Session)
    session.env = {}
    session.python = python
    session.create_tmp.return_value = str(tmp_path / "tmp")
    session.cache_dir = str(tmp_path / ".nox" / ".cache")
    (tmp_path / "tmp").mkdir(exist_ok=True)
    session.error.side_effect = RuntimeError("session.error")
    return session


def test_load_reads_the_project_and_prints_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\npython = ["3.11"]\nsurprise = 1\n')
    config = floor.load(tmp_path)
    assert config.python == ("3.11",)
    assert "testfloor: warning: " in capsys.readouterr().err


def test_pythons_come_from_the_settings_first(tmp_path: Path) -> None:
    assert floor.pythons(Config(tmp_path, python=("3.12", "3.13"))) == ["3.12", "3.13"]


def test_pythons_fall_back_to_the_trove_classifiers(tmp_path: Path) -> None:
    make_file(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "x"
        classifiers = ["Programming Language :: Python :: 3.11", "Programming Language :: Python :: 3.12"]
        """,
    )
    assert floor.pythons(load_config(tmp_path)) == ["3.11", "3.12"]


@pytest.mark.parametrize("pyproject", [None, '[project]\nname = "x"\n'])
def test_pythons_fall_back_to_the_running_interpreter(tmp_path: Path, pyproject: str | None) -> None:
    if pyproject is not None:
        make_file(tmp_path / "pyproject.toml", pyproject)
    assert floor.pythons(load_config(tmp_path)) == [f"{sys.version_info.major}.{sys.version_info.minor}"]


def test_env_goes_into_session_env_only_and_outer_values_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEPT", "real")
    monkeypatch.delenv("NEW_SECRET", raising=False)
    config = Config(tmp_path, env={"KEPT": EnvValue("placeholder"), "NEW_SECRET": EnvValue("hunter2")})
    session = fake_session(tmp_path)
    before = dict(os.environ)
    floor.apply_env(session, config)
    assert session.env == {"NEW_SECRET": "hunter2"}
    assert dict(os.environ) == before
    logged = " ".join(str(call.args[0]) for call in session.log.call_args_list)
    assert "NEW_SECRET=****" in logged
    assert "hunter2" not in logged


def test_install_takes_the_requirements_file_when_there_is_one(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    floor.install(session, Config(tmp_path))
    session.install.assert_not_called()
    floor.install(session, Config(tmp_path), ".")
    session.install.assert_called_once_with(".")
    make_file(tmp_path / "requirements-test.txt", "pytest\n")
    session.install.reset_mock()
    floor.install(session, Config(tmp_path), ".")
    session.install.assert_called_once_with("-r", str(tmp_path / "requirements-test.txt"), ".")


def write_outcome(path: Path, exitstatus: int, nodeids: list[str]) -> None:
    path.write_text(json.dumps({"exitstatus": exitstatus, "nodeids": nodeids, "errors": []}))


def test_collect_returns_the_count_and_logs_it(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    session.run.side_effect = lambda *args, **kwargs: write_outcome(tmp_path / "tmp" / "collect-0.json", 0, ["t::a"])
    assert floor.collect(session, Config(tmp_path), "tests") == 1
    args, kwargs = session.run.call_args
    assert args[:6] == ("python", "-m", "pytest", "-p", "testfloor", "--collect-only")
    assert args[-1] == "tests"
    assert kwargs["success_codes"] == range(256)
    session.log.assert_called_with("collected 1 tests")


def test_collect_fails_the_session_and_shows_pytest_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = fake_session(tmp_path)

    def run(*args: object, **kwargs: object) -> str:
        write_outcome(tmp_path / "tmp" / "collect-0.json", 5, [])
        return "no tests ran\n"

    session.run.side_effect = run
    with pytest.raises(RuntimeError):
        floor.collect(session, Config(tmp_path))
    session.error.assert_called_once_with("the collect gate failed: no tests were collected")
    assert capsys.readouterr().err == "no tests ran\n"
    session.log.assert_called_with(
        "testfloor doctor --fix repairs what the environment can fix and quarantines the rest"
    )


def test_collect_without_a_report_fails_as_a_usage_error(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    session.run.return_value = None
    with pytest.raises(RuntimeError):
        floor.collect(session, Config(tmp_path))
    assert "used wrongly" in session.error.call_args.args[0]


def test_shards_are_unique_per_interpreter_and_platform(tmp_path: Path) -> None:
    config = Config(tmp_path)
    tag = f"{sys.platform}.{platform.machine()}"
    assert floor.shard_path(config, "3.12") == tmp_path / f".coverage.{tag}.py3.12"
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert floor.shard_path(config, None) == tmp_path / f".coverage.{tag}.py{here}"


def test_run_tests_clears_stale_data_and_appends_parallel_files_to_what_the_run_wrote(tmp_path: Path) -> None:
    config = Config(tmp_path)
    shard = floor.shard_path(config, "3.12")
    Path(f"{shard}.stale").write_text("")
    session = fake_session(tmp_path)
    session.run.side_effect = lambda *args, **kwargs: Path(f"{shard}.host.1.2").write_text("")
    assert floor.run_tests(session, config, "-x") == shard
    assert not Path(f"{shard}.stale").exists()
    assert session.env == {"COVERAGE_FILE": str(shard)}
    probe, first, second = session.run.call_args_list
    assert probe.args[:2] == ("python", "-c")
    assert first.args == ("python", "-m", "coverage", "run", "-m", "pytest", "-p", "testfloor", "-rs", "-x")
    assert first.kwargs == {"success_codes": [0]}
    assert second.args == ("python", "-m", "coverage", "combine", "--append", "--quiet")


def test_run_tests_may_let_failing_tests_through_and_skips_an_empty_combine(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    floor.run_tests(session, Config(tmp_path), allow_failures=True)
    assert session.run.call_count == 2  # the xdist probe, then the run
    assert session.run.call_args.kwargs == {"success_codes": [0, 1]}


def test_report_expects_one_shard_per_python(tmp_path: Path) -> None:
    config = Config(tmp_path, python=("3.12", "3.13"))
    session = fake_session(tmp_path)
    floor.report(session, config, fail_under=100)
    args = session.run.call_args.args
    assert args[:2] == ("testfloor", "report")
    assert [args[i + 1] for i, arg in enumerate(args) if arg == "--shard"] == [
        str(floor.shard_path(config, "3.12")),
        str(floor.shard_path(config, "3.13")),
    ]
    assert args[args.index("--expect") + 1] == "2"
    assert args[args.index("--cache") + 1] == str(tmp_path / ".nox" / ".cache" / "testfloor-parses")
    assert args[-2:] == ("--fail-under", "100")
    floor.report(session, config)
    assert "--fail-under" not in session.run.call_args.args


def test_check_baseline_runs_the_command_on_the_project(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    floor.check_baseline(session, Config(tmp_path), "--coverage-json", "c.json")
    session.run.assert_called_once_with("testfloor", "baseline", "check", str(tmp_path), "--coverage-json", "c.json")


def requires_python(tmp_path: Path, requires: str, classifiers: list[str] | None = None) -> Config:
    lines = ["[project]", 'name = "x"', f"requires-python = {requires!r}"]
    if classifiers is not None:
        lines.append(f"classifiers = {[f'Programming Language :: Python :: {v}' for v in classifiers]!r}")
    make_file(tmp_path / "pyproject.toml", "\n".join(lines) + "\n")
    return load_config(tmp_path)


def test_requires_python_chooses_among_the_supported_versions(tmp_path: Path) -> None:
    assert floor.pythons(requires_python(tmp_path, ">=3.12")) == ["3.12", "3.13"]
    assert floor.pythons(requires_python(tmp_path, ">=3.11.4,<3.13")) == ["3.11", "3.12"]


def test_requires_python_removes_classifiers_it_excludes_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert floor.pythons(requires_python(tmp_path, ">=3.12", ["3.11", "3.12"])) == ["3.12"]
    assert "Python 3.11 left out: the project requires Python >=3.12" in capsys.readouterr().err


def test_when_requires_python_excludes_everything_the_running_python_is_used(tmp_path: Path) -> None:
    assert floor.pythons(requires_python(tmp_path, ">=4")) == [f"{sys.version_info.major}.{sys.version_info.minor}"]


def test_a_non_string_requires_python_is_ignored(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "x"\nrequires-python = 3\n')
    assert floor.pythons(load_config(tmp_path)) == [f"{sys.version_info.major}.{sys.version_info.minor}"]


def test_coverage_settings_that_can_run_need_no_rcfile(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    assert floor.coverage_rcfile(session, Config(tmp_path)) == []
    make_file(tmp_path / ".coveragerc", "[run]\nconcurrency = thread\n")
    assert floor.coverage_rcfile(session, Config(tmp_path)) == []
    session.run.assert_not_called()


def test_an_installed_concurrency_library_needs_no_rcfile(tmp_path: Path) -> None:
    make_file(tmp_path / ".coveragerc", "[run]\nconcurrency = gevent\n")
    session = fake_session(tmp_path)
    session.run.return_value = "\n"
    assert floor.coverage_rcfile(session, Config(tmp_path)) == []


@pytest.mark.parametrize("probe_output", ["gevent greenlet\n", None])
def test_a_missing_concurrency_library_gets_an_rcfile_without_it(tmp_path: Path, probe_output: str | None) -> None:
    make_file(tmp_path / ".coveragerc", "[run]\nbranch = True\nconcurrency = gevent\n")
    session = fake_session(tmp_path)
    session.run.return_value = probe_output
    (argument,) = floor.coverage_rcfile(session, Config(tmp_path))
    rcfile = Path(argument.removeprefix("--rcfile="))
    assert "concurrency" not in rcfile.read_text()
    assert "branch = True" in rcfile.read_text()
    assert session.run.call_args.args[-2:] == ("gevent", "greenlet")
    session.log.assert_called_with(
        "override coverage: concurrency without gevent: not installed, though .coveragerc asks"
    )


def test_a_missing_gevent_becomes_greenlet_when_greenlet_is_installed(tmp_path: Path) -> None:
    make_file(tmp_path / ".coveragerc", "[run]\nconcurrency = gevent\n    thread\n")
    session = fake_session(tmp_path)
    session.run.return_value = "gevent\n"
    (argument,) = floor.coverage_rcfile(session, Config(tmp_path))
    assert "concurrency =\n    thread\n    greenlet\n" in Path(argument.removeprefix("--rcfile=")).read_text()
    session.log.assert_called_with(
        "override coverage: concurrency greenlet instead of gevent: not installed, though .coveragerc asks;"
        " greenlet follows the same tasks"
    )


def test_run_tests_passes_the_rcfile_to_run_and_combine(tmp_path: Path) -> None:
    make_file(tmp_path / ".coveragerc", "[run]\nconcurrency = gevent\n")
    config = Config(tmp_path)
    shard = floor.shard_path(config, "3.12")
    session = fake_session(tmp_path)

    def run(*args: object, **kwargs: object) -> str:
        Path(f"{shard}.host.1.2").write_text("")
        return "gevent"

    session.run.side_effect = run
    floor.run_tests(session, config)
    _concurrency, _xdist, measure, combine = session.run.call_args_list
    rcfile = f"--rcfile={tmp_path / 'tmp' / 'coveragerc'}"
    assert measure.args[:5] == ("python", "-m", "coverage", "run", rcfile)
    assert combine.args == ("python", "-m", "coverage", "combine", "--append", rcfile, "--quiet")


def test_collect_logs_every_override(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    report = tmp_path / "tmp" / "collect-0.json"
    document = {"exitstatus": 0, "nodeids": ["t::a"], "errors": [], "overrides": ["addopts: removed -n auto: why"]}
    session.run.side_effect = lambda *args, **kwargs: report.write_text(json.dumps(document))
    floor.collect(session, Config(tmp_path))
    session.log.assert_any_call("override addopts: removed -n auto: why")


def test_a_monorepo_is_collected_and_measured_once_per_sub_project(tmp_path: Path) -> None:
    config = Config(tmp_path, subprojects=("billing", "search"))
    session = fake_session(tmp_path)

    def run(*args: str, **kwargs: object) -> str:
        index = 0 if "billing" in args else 1
        document = {"exitstatus": 0, "nodeids": ["tests/test_api.py::test"], "errors": []}
        (tmp_path / "tmp" / f"collect-{index}.json").write_text(json.dumps(document))
        return ""

    session.run.side_effect = run
    assert floor.collect(session, config) == 2
    assert session.env == {"_TESTFLOOR_ROOT": str(tmp_path)}
    targets = [call.args[-3:] for call in session.run.call_args_list]
    assert targets == [("--rootdir", "billing", "billing"), ("--rootdir", "search", "search")]
    session.run.reset_mock(side_effect=True)
    floor.run_tests(session, config)
    runs = [call.args for call in session.run.call_args_list if "pytest" in call.args]
    assert [args[-3:] for args in runs] == [("--rootdir", "billing", "billing"), ("--rootdir", "search", "search")]
    assert all("--parallel-mode" in args for args in runs)  # each run its own files, combined after
    session.run.reset_mock()
    session.run.return_value = "True"  # pytest-xdist is installed: pytest-cov measures, the second run appends
    floor.run_tests(session, config)
    runs = [call.args for call in session.run.call_args_list if "pytest" in call.args]
    assert ["--cov-append" in args for args in runs] == [False, True]
    assert all(args[-6:-3] == ("-n", "auto", "-rs") for args in runs)


def test_a_sub_project_that_stops_pytest_fails_the_gate(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    session.run.return_value = "boom\n"
    with pytest.raises(RuntimeError):
        floor.collect(session, Config(tmp_path, subprojects=("billing",)))
    assert "used wrongly" in session.error.call_args.args[0]


def test_a_failing_gate_prints_the_classified_report(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    chain = [{"type": "builtins.ModuleNotFoundError", "message": "No module named 'torch'", "name": "torch",
              "path": "tests/test_m.py", "line": 1, "title": None, "fields": []}]  # fmt: skip
    document = {
        "exitstatus": 2,
        "nodeids": [],
        "errors": [{"nodeid": "tests/test_m.py", "message": "E", "chain": chain}],
    }
    session.run.side_effect = lambda *args, **kwargs: (tmp_path / "tmp" / "collect-0.json").write_text(
        json.dumps(document)
    )
    with pytest.raises(RuntimeError):
        floor.collect(session, Config(tmp_path))
    logged = [call.args[0] for call in session.log.call_args_list]
    assert "     1  missing_heavy: a heavy dependency is not installed" in logged
    assert "  tests/test_m.py: ModuleNotFoundError: No module named 'torch' (tests/test_m.py:1) [fix: stub]" in logged
    # Listed once, in the table: the session's last word is the verdict alone, to which nox adds its timing.
    session.error.assert_called_once_with("the collect gate failed: collection was interrupted by errors")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), ("--cov", "--cov-report=", "--cov-fail-under=0", "-n", "auto")),
        (("-n", "2"), ("--cov", "--cov-report=", "--cov-fail-under=0", "-n", "2")),
        (("--numprocesses=3",), ("--cov", "--cov-report=", "--cov-fail-under=0", "--numprocesses=3")),
    ],
)
def test_run_tests_uses_every_core_under_pytest_cov_when_xdist_is_installed(
    tmp_path: Path, args: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    session = fake_session(tmp_path)
    session.run.side_effect = lambda *command, **kwargs: "True\n" if command[1] == "-c" else None
    floor.run_tests(session, Config(tmp_path), *args)
    command = session.run.call_args.args
    assert command[:5] == ("python", "-m", "pytest", "-p", "testfloor")
    assert command[5:] == (*expected[:3], *(() if args else expected[3:]), "-rs", *args)


@pytest.mark.parametrize("off", [("-p", "no:xdist"), ("-pno:xdist",)])
def test_run_tests_does_not_probe_for_xdist_when_it_is_disabled(tmp_path: Path, off: tuple[str, ...]) -> None:
    session = fake_session(tmp_path)
    floor.run_tests(session, Config(tmp_path), *off)
    session.run.assert_called_once()
    assert session.run.call_args.args[:4] == ("python", "-m", "coverage", "run")


def real_session(root: Path, python: object = "3.12") -> mock.Mock:
    """A session whose run() really runs the command, with this interpreter, in `root`."""
    session = fake_session(root, python)

    def run(*command: str, success_codes: list[int] | None = None, silent: bool = False) -> str:
        program = [sys.executable] if command[0] == "python" else [command[0]]
        result = subprocess.run(
            [*program, *command[1:]], cwd=root, env=clean_environ(**session.env), capture_output=True, text=True
        )
        if result.returncode not in (success_codes or [0]):
            raise RuntimeError(f"exit {result.returncode}")
        return result.stdout

    session.run.side_effect = run
    return session


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    make_file(tmp_path / "calc.py", "def double(x):\n    return 2 * x\n\n\ndef half(x):\n    return x / 2\n")
    make_file(tmp_path / "test_calc.py", "from calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n")
    make_file(tmp_path / "test_more.py", "from calc import half\n\n\ndef test_half():\n    assert half(4) == 2\n")
    return tmp_path


def test_a_real_xdist_run_measures_the_code_the_workers_ran(tiny_project: Path) -> None:
    shard = floor.run_tests(real_session(tiny_project), Config(tiny_project))
    assert shard.is_file()
    assert measured_lines(shard, "calc.py") == {1, 2, 5, 6}


def test_failing_tests_may_pass_but_collection_errors_and_no_tests_never_do(tiny_project: Path) -> None:
    session = real_session(tiny_project)
    make_file(tiny_project / "test_fails.py", "def test_fails():\n    assert False\n")
    with pytest.raises(RuntimeError, match="exit 1"):
        floor.run_tests(session, Config(tiny_project), "-p", "no:xdist")
    floor.run_tests(session, Config(tiny_project), "-p", "no:xdist", allow_failures=True)
    assert measured_lines(floor.shard_path(Config(tiny_project), "3.12"), "calc.py") == {1, 2, 5, 6}
    make_file(tiny_project / "test_broken.py", "import nowhere_to_be_found\n")
    with pytest.raises(RuntimeError, match="exit 2"):
        floor.run_tests(session, Config(tiny_project), "-p", "no:xdist", allow_failures=True)
    (tiny_project / "test_broken.py").unlink()
    with pytest.raises(RuntimeError, match="exit 5"):
        floor.run_tests(session, Config(tiny_project), "-p", "no:xdist", "-k", "nothing_matches", allow_failures=True)
    with pytest.raises(RuntimeError, match="exit 4"):
        floor.run_tests(session, Config(tiny_project), "-p", "no:xdist", "--no-such-option", allow_failures=True)


def test_with_xdist_pytest_cov_measures_with_the_runnable_settings(tmp_path: Path) -> None:
    make_file(tmp_path / ".coveragerc", "[run]\nconcurrency = gevent\n")
    session = fake_session(tmp_path)
    session.run.side_effect = lambda *args, **kwargs: "gevent" if "importlib.util, sys" in " ".join(args) else "True"
    floor.run_tests(session, Config(tmp_path), "-n", "2")
    (run,) = [call.args for call in session.run.call_args_list if "pytest" in call.args]
    assert f"--cov-config={tmp_path / 'tmp' / 'coveragerc'}" in run
    assert "auto" not in run


def test_an_unsplit_suite_installs_no_splitter_and_keeps_its_session(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    floor.install(session, Config(tmp_path))
    session.install.assert_not_called()

    def tests(session: nox.Session, group: int | None = None) -> None:
        pass

    assert floor.split(Config(tmp_path))(tests) is tests


def test_a_split_suite_installs_pytest_split_with_the_requirements(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    floor.install(session, Config(tmp_path, splits=2))
    session.install.assert_called_once_with("pytest-split")
    make_file(tmp_path / "requirements-test.txt", "pytest-split==0.11.0\n")
    session.install.reset_mock()
    floor.install(session, Config(tmp_path, splits=2), ".")
    session.install.assert_called_once_with("-r", str(tmp_path / "requirements-test.txt"), ".", "pytest-split")
    session.install.reset_mock()
    floor.install(session, Config(tmp_path, splits=2), floor.SPLITTER)  # a durations session names it: once is enough
    session.install.assert_called_once_with("-r", str(tmp_path / "requirements-test.txt"), "pytest-split")


def test_split_makes_one_parametrized_call_per_group(tmp_path: Path) -> None:
    def tests(session: nox.Session, group: int | None = None) -> None:
        pass

    decorated = floor.split(Config(tmp_path, splits=3))(tests)
    assert decorated is tests
    params = decorated.parametrize  # type: ignore[attr-defined]
    assert [(param.call_spec, str(param)) for param in params] == [
        ({"group": 1}, "1of3"),
        ({"group": 2}, "2of3"),
        ({"group": 3}, "3of3"),
    ]


SPLIT_NOXFILE = """
import nox
import testfloor.nox as floor

PROJECT = floor.load()


@nox.session(python=False)
def collect(session):
    session.log("collected")


@nox.session(python=["3.11", "3.12"], requires=["collect"])
@floor.split(PROJECT)
def tests(session, group=None):
    session.log(f"group={group!r}")


@nox.session(python=False, requires=["tests"])
def coverage(session):
    session.log("combined")
"""


@pytest.mark.slow  # real nox, though no virtualenv
@pytest.mark.parametrize(
    ("splits", "names", "specs"),
    [
        (1, ["tests-3.11", "tests-3.12"], [{}, {}]),
        (
            2,
            ["tests-3.11(1of2)", "tests-3.11(2of2)", "tests-3.12(1of2)", "tests-3.12(2of2)"],
            [{"group": 1}, {"group": 2}] * 2,
        ),
    ],
)
def test_nox_lists_one_session_per_python_and_group(
    tmp_path: Path, splits: int, names: list[str], specs: list[dict[str, int]]
) -> None:
    make_file(tmp_path / "pyproject.toml", f"[tool.testfloor]\nsplits = {splits}\n")
    make_file(tmp_path / "noxfile.py", SPLIT_NOXFILE)
    listed = nox_command(tmp_path, "--list", "--json", "-s", "tests", "--no-dependencies")
    assert listed.returncode == 0, listed.stderr
    sessions = json.loads(listed.stdout)
    assert [session["session"] for session in sessions] == names
    assert [session["call_spec"] for session in sessions] == specs
    # GitHub refuses these characters in artifact names, which CI builds from the session names.
    assert not any(set(name) & set('":<>|*?\\/') for name in names)


@pytest.mark.slow  # real nox, though no virtualenv
def test_nox_calls_an_unsplit_session_without_a_group_and_coverage_requires_every_group(tmp_path: Path) -> None:
    make_file(tmp_path / "noxfile.py", SPLIT_NOXFILE.replace('["3.11", "3.12"]', "False"))
    make_file(tmp_path / "pyproject.toml", "[tool.testfloor]\nsplits = 1\n")
    unsplit = nox_command(tmp_path, "-s", "tests", "--no-dependencies")
    assert unsplit.returncode == 0, unsplit.stderr
    assert "group=None" in unsplit.stderr
    make_file(tmp_path / "pyproject.toml", "[tool.testfloor]\nsplits = 2\n")
    chained = nox_command(tmp_path, "-s", "coverage")
    assert chained.returncode == 0, chained.stderr
    ran = [line.removeprefix("nox > Running session ") for line in chained.stderr.splitlines() if "Running" in line]
    assert ran == ["collect", "tests(1of2)", "tests(2of2)", "coverage"]
    assert "group=1" in chained.stderr
    assert "group=2" in chained.stderr


def test_each_group_has_its_own_shard_that_no_other_groups_glob_matches(tmp_path: Path) -> None:
    config = Config(tmp_path, python=("3.12", "3.13"), splits=10)
    tag = f"{sys.platform}.{platform.machine()}"
    assert floor.shard_path(config, "3.12", 1) == tmp_path / f".coverage.{tag}.py3.12-1of10"
    shards = {floor.shard_path(config, python, group) for python in ("3.12", "3.13") for group in range(1, 11)}
    assert len(shards) == 20
    assert floor.shard_path(config, "3.12") not in shards
    for shard in shards:
        Path(shard).write_text("")
        Path(f"{shard}.host.1.2").write_text("")
    session = fake_session(tmp_path)
    floor.run_tests(session, config, "-p", "no:xdist", group=1)
    first = floor.shard_path(config, "3.12", 1)
    left = {path for path in tmp_path.iterdir() if path.name.startswith(".coverage")}
    assert left == {path for shard in shards - {first} for path in (shard, Path(f"{shard}.host.1.2"))}
    assert session.env["COVERAGE_FILE"] == str(first)


def test_a_group_runs_pytest_split_s_share_in_every_sub_project(tmp_path: Path) -> None:
    config = Config(tmp_path, subprojects=("billing", "search"), splits=2)
    session = fake_session(tmp_path)
    shard = floor.run_tests(session, config, "-x", group=2)
    assert shard == floor.shard_path(config, "3.12", 2)
    share = ("--splits", "2", "--group", "2", "--durations-path", str(tmp_path / ".test_durations"), "-rs")
    runs = [call.args for call in session.run.call_args_list if "pytest" in call.args]
    assert [args[-11:] for args in runs] == [
        (*share, "--rootdir", "billing", "billing", "-x"),
        (*share, "--rootdir", "search", "search", "-x"),
    ]
    session.run.reset_mock()
    session.run.return_value = "True"  # pytest-xdist is installed: pytest-cov measures
    floor.run_tests(session, config, group=1)
    runs = [call.args for call in session.run.call_args_list if "pytest" in call.args]
    assert all(args[-10:-3] == ("--splits", "2", "--group", "1", *share[4:]) for args in runs)
    assert all("--cov" in args for args in runs)


@pytest.mark.parametrize(("splits", "group"), [(1, 1), (2, 0), (2, 3)])
def test_a_group_the_settings_do_not_have_fails_the_session(tmp_path: Path, splits: int, group: int) -> None:
    session = fake_session(tmp_path)
    with pytest.raises(RuntimeError):
        floor.run_tests(session, Config(tmp_path, splits=splits), group=group)
    session.error.assert_called_once_with(f"there is no group {group}: [tool.testfloor] splits is {splits}")
    session.run.assert_not_called()


def test_report_expects_one_shard_per_python_and_group(tmp_path: Path) -> None:
    config = Config(tmp_path, python=("3.12", "3.13"), splits=2)
    session = fake_session(tmp_path)
    floor.report(session, config)
    args = session.run.call_args.args
    assert [args[i + 1] for i, arg in enumerate(args) if arg == "--shard"] == [
        str(floor.shard_path(config, "3.12", 1)),
        str(floor.shard_path(config, "3.12", 2)),
        str(floor.shard_path(config, "3.13", 1)),
        str(floor.shard_path(config, "3.13", 2)),
    ]
    assert args[args.index("--expect") + 1] == "4"


def test_store_durations_records_every_sub_project_into_one_clean_file(tmp_path: Path) -> None:
    config = Config(tmp_path, subprojects=("billing", "search"), splits=2)
    session = fake_session(tmp_path)
    assert floor.store_durations(session, config, "-q") == tmp_path / ".test_durations"
    assert session.env == {"_TESTFLOOR_ROOT": str(tmp_path)}
    record = ("python", "-m", "pytest", "-p", "testfloor", "--store-durations", "--durations-path")
    first, second = session.run.call_args_list
    assert first.args == (*record, str(tmp_path / ".test_durations"), "--clean-durations", "-rs",
                          "--rootdir", "billing", "billing", "-q")  # fmt: skip
    assert second.args == (*record, str(tmp_path / ".test_durations"), "-rs", "--rootdir", "search", "search", "-q")
    assert first.kwargs == second.kwargs == {"success_codes": [0]}
    session.run.reset_mock()
    floor.store_durations(session, Config(tmp_path), allow_failures=True)
    session.run.assert_called_once()
    assert session.run.call_args.kwargs == {"success_codes": [0, 1]}


def test_real_durations_then_real_groups_run_each_test_exactly_once(tiny_project: Path) -> None:
    config = Config(tiny_project, splits=2)
    session = real_session(tiny_project)
    make_file(tiny_project / "test_gone.py", "def test_gone():\n    pass\n")
    floor.store_durations(session, config, "-p", "no:xdist")
    (tiny_project / "test_gone.py").unlink()
    durations = floor.store_durations(session, config, "-p", "no:xdist")
    recorded = json.loads(durations.read_text())
    assert sorted(recorded) == ["test_calc.py::test_double", "test_more.py::test_half"]
    # Equal durations make the split certain: one test in each group.
    durations.write_text(json.dumps(dict.fromkeys(recorded, 1.0)))
    first = floor.run_tests(session, config, "-p", "no:xdist", group=1)
    second = floor.run_tests(session, config, "-p", "no:xdist", group=2)
    assert first != second
    assert measured_lines(first, "calc.py") == {1, 2, 5}
    assert measured_lines(second, "calc.py") == {1, 5, 6}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"pyproject.toml": '[tool.poetry]\nname = "x"\n\n[tool.poetry.dependencies]\npython = "^3.12"\n'},
            ["3.12", "3.13"],
        ),
        (
            {"setup.py": "from setuptools import setup\n\nsetup(name='x', python_requires='>=3.11')\n"},
            ["3.11", "3.12", "3.13"],
        ),
        ({"setup.cfg": "[metadata]\nname = x\n\n[options]\npython_requires = >=3.13\n"}, ["3.13"]),
    ],
    ids=["poetry", "setup.py", "setup.cfg"],
)
def test_pythons_come_from_every_kind_of_metadata(tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    for name, text in files.items():
        make_file(tmp_path / name, text)
    assert floor.pythons(load_config(tmp_path)) == expected


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        ("[tool.testfloor]\npython = [3.11]\n", "python: 3.11 is a TOML float"),
        ('[project]\nname = "x"\ndependencies = "fastapi"\n', "dependencies must be a list of strings"),
    ],
    ids=["settings", "metadata"],
)
def test_settings_nox_cannot_read_stop_it_with_one_line_and_the_config_exit_code(
    tmp_path: Path, pyproject: str, message: str
) -> None:
    make_file(tmp_path / "pyproject.toml", pyproject)
    make_file(tmp_path / "noxfile.py", NOXFILE)
    result = nox_command(tmp_path, "--list")
    assert result.returncode == 3, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("testfloor: ")] == [
        line for line in result.stderr.splitlines() if line.strip()
    ][-1:]


SECRET_OUTPUT = "E   RuntimeError: postgresql://admin:p@ss/w:rd@db/app [type=x, input_value='echoed', input_type=str]\n"


@pytest.mark.parametrize("report", [True, False])
def test_a_failing_gate_masks_pytest_s_output_and_its_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, report: bool
) -> None:
    monkeypatch.setenv("GITHUB_PAT", "ghp_from_the_environment")
    session = fake_session(tmp_path)
    message = "boom ghp_from_the_environment declared-signer"
    chain = [{"type": "builtins.RuntimeError", "message": message, "name": None, "path": "tests/test_m.py",
              "line": 1, "title": None, "fields": []}]  # fmt: skip
    document = {"exitstatus": 2, "nodeids": [], "errors": [{"nodeid": "tests/test_m.py", "message": message,
                                                            "chain": chain}]}  # fmt: skip

    def run(*args: object, **kwargs: object) -> str:
        if report:
            (tmp_path / "tmp" / "collect-0.json").write_text(json.dumps(document))
        else:  # a report that cannot be read: its error names the path, here one holding a secret
            (tmp_path / "tmp" / "collect-0.json").write_text("not json ghp_from_the_environment")
        return SECRET_OUTPUT + "declared-signer ghp_from_the_environment\n"

    session.run.side_effect = run
    config = Config(tmp_path, env={"SESSION_COOKIE_SIGNER": EnvValue("declared-signer")})
    with pytest.raises(RuntimeError):
        floor.collect(session, config)
    shown = capsys.readouterr().err + " ".join(str(call.args) for call in session.method_calls)
    assert "postgresql://admin:****@db/app [type=x, input_value=****, input_type=str]" in shown
    assert not [secret for secret in ("p@ss", "w:rd", "echoed", "ghp_from", "declared-signer") if secret in shown]


def test_settings_that_stop_nox_are_told_without_their_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\npython = ["https://user:p@ss/w:rd@host"]\n')
    with pytest.raises(SystemExit):
        floor.load(tmp_path)
    err = capsys.readouterr().err
    assert "got 'https://user:****@host'" in err
    assert "p@ss" not in err


def stamped_session(tmp_path: Path) -> mock.Mock:
    session = fake_session(tmp_path)
    session.virtualenv = mock.Mock(location=str(tmp_path / ".nox" / "tests"), reuse_existing=True)
    Path(session.virtualenv.location).mkdir(parents=True)
    return session


def test_an_environment_whose_inputs_are_unchanged_is_reused_without_installing(tmp_path: Path) -> None:
    make_file(tmp_path / "requirements-test.txt", "pytest\n")
    session = stamped_session(tmp_path)
    floor.install(session, Config(tmp_path))
    session.install.assert_called_once_with("-r", str(tmp_path / "requirements-test.txt"))
    stamp = json.loads((tmp_path / ".nox" / "tests" / "testfloor-stamp.json").read_text())
    assert stamp["python"] == "3.12"
    session.install.reset_mock()
    floor.install(session, Config(tmp_path))
    session.install.assert_not_called()
    session.virtualenv.create.assert_not_called()
    session.log.assert_called_with(f"reused {tmp_path / '.nox' / 'tests'}: its inputs are unchanged")


def test_changed_requirements_make_the_environment_again_before_installing(tmp_path: Path) -> None:
    make_file(tmp_path / "requirements-test.txt", "pytest\nattrs\n")
    session = stamped_session(tmp_path)
    floor.install(session, Config(tmp_path))
    make_file(tmp_path / "requirements-test.txt", "pytest\n")
    events: list[str] = []
    session.virtualenv.create.side_effect = lambda: events.append(f"create reuse={session.virtualenv.reuse_existing}")
    session.install.side_effect = lambda *args: events.append("install")
    floor.install(session, Config(tmp_path))
    assert events == ["create reuse=False", "install"]


def test_a_reporting_environment_is_stamped_and_reused_too(tmp_path: Path) -> None:
    make_file(tmp_path / "requirements-test.txt", "testfloor==0.3\nrequests\ncoverage==7.17.5\n")
    session = stamped_session(tmp_path)
    floor.install_reporting(session, Config(tmp_path))
    session.install.assert_called_once_with("testfloor==0.3", "coverage==7.17.5")
    floor.install_reporting(session, Config(tmp_path))
    session.install.assert_called_once()


def test_an_environment_with_a_package_built_from_a_directory_is_never_reused(tmp_path: Path) -> None:
    session = stamped_session(tmp_path)
    floor.install(session, Config(tmp_path), "-c", "pins.txt", ".")
    floor.install(session, Config(tmp_path), "-c", "pins.txt", ".")
    assert session.install.call_count == 2
    session.virtualenv.create.assert_called_once_with()
    (tmp_path / "lib").mkdir()
    (tmp_path / ".nox" / "tests").rename(tmp_path / ".nox" / "before")
    session = stamped_session(tmp_path)
    config = Config(tmp_path, install=("lib",))
    floor.install(session, config, "-e", "lib", "-r", "lib")  # editable, or a requirements file: in the stamp
    floor.install(session, config, "-e", "lib", "-r", "lib")
    assert session.install.call_count == 2  # the requirements, then the project editable: once each
    session.virtualenv.create.assert_not_called()


def test_a_session_on_nox_s_own_interpreter_installs_every_time(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    session.virtualenv = mock.Mock(spec=[])  # nox's PassthroughEnv has no location
    floor.install(session, Config(tmp_path), "attrs")
    floor.install(session, Config(tmp_path), "attrs")
    assert session.install.call_count == 2


def test_run_tests_says_why_tests_were_skipped_unless_the_arguments_choose_the_report(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    floor.run_tests(session, Config(tmp_path), "-p", "no:xdist", "-rA")
    floor.store_durations(session, Config(tmp_path), "--report-chars=fE")
    assert ["-rs" in call.args for call in session.run.call_args_list] == [False, False]


def test_a_directory_named_in_the_requirements_is_a_local_build_too_and_is_said_so(tmp_path: Path) -> None:
    (tmp_path / "vendor" / "testfloor").mkdir(parents=True)
    make_file(
        tmp_path / "requirements-test.txt", "# testfloor as checked out\nvendor/testfloor  # pinned\n-e .\nattrs\n"
    )
    session = stamped_session(tmp_path)
    floor.install(session, Config(tmp_path))
    floor.install(session, Config(tmp_path))
    assert session.install.call_count == 2
    location = tmp_path / ".nox" / "tests"
    session.log.assert_called_with(
        f"recreating {location}: it holds vendor/testfloor, built from a directory that may have changed"
    )


def shared_session(tmp_path: Path, python: object = "3.12") -> mock.Mock:
    session = fake_session(tmp_path, python)
    session.venv_backend = "none"  # the noxfile's venv_backend="none": nox makes no environment of its own
    return session


def made_environment(tmp_path: Path, config: Config, calls: list[list[str]], *, reporting: bool = False) -> Path:
    from testfloor import testenv

    location = tmp_path / testenv.location("3.12", reporting=reporting)
    make_file(testenv.interpreter(location), "")
    document = testenv.stamp(config, "3.12", calls)
    make_file(location / testenv.STAMP, json.dumps(document, indent=2, sort_keys=True) + "\n")
    return location


def test_a_session_without_an_environment_of_nox_s_runs_in_testfloor_s_shared_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testfloor import testenv

    make_file(tmp_path / "requirements-test.txt", "pytest\n")
    config = Config(tmp_path)
    location = made_environment(tmp_path, config, testenv.install_arguments(config))
    monkeypatch.setattr(testenv, "find_uv", mock.Mock(side_effect=AssertionError("no process on the warm path")))
    monkeypatch.chdir(tmp_path)
    session = shared_session(tmp_path)
    floor.install(session, config)
    session.install.assert_not_called()
    session.log.assert_called_with("test environment: reused .nox/.cache/testfloor-env-3.12 (Python 3.12)")
    assert session.env["VIRTUAL_ENV"] == str(location)
    assert session.env["PATH"].split(os.pathsep)[0] == str(location / "bin")
    session.run.return_value = ""
    with pytest.raises(RuntimeError):  # no report from the fake pytest: the gate fails, after running it
        floor.collect(session, config)
    assert session.run.call_args.args[:3] == (".nox/.cache/testfloor-env-3.12/bin/python", "-m", "pytest")
    floor.check_baseline(session, config)
    assert session.run.call_args.args[0] == ".nox/.cache/testfloor-env-3.12/bin/testfloor"


def test_the_shared_environment_is_built_with_the_session_s_python_and_its_failure_is_the_session_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testfloor import testenv
    from testfloor.errors import EnvironmentBuildError

    asked: list[tuple[object, ...]] = []

    def build(config: Config, versions: list[str], *packages: str, **options: object) -> testenv.Environment:
        asked.append((versions, packages, options.get("reporting", False)))
        raise EnvironmentBuildError("none of the project's Pythons (3.12) is installed here")

    monkeypatch.setattr(testenv, "build", build)
    session = shared_session(tmp_path)
    with pytest.raises(RuntimeError):
        floor.install(session, Config(tmp_path), "attrs")
    session.error.assert_called_once_with("none of the project's Pythons (3.12) is installed here")
    assert asked == [(["3.12"], ("attrs",), False)]
    assert "VIRTUAL_ENV" not in session.env


def test_reporting_runs_in_the_current_test_environment_else_builds_a_small_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testfloor import testenv

    make_file(tmp_path / "requirements-test.txt", "testfloor==0.3\nlabelkit\ncoverage==7.17.5\n")
    config = Config(tmp_path)
    built: list[tuple[tuple[str, ...], object]] = []
    small = testenv.Environment(tmp_path / "small", tmp_path / "small" / "bin" / "python", "3.12")

    def build(config: Config, versions: list[str], *packages: str, **options: object) -> testenv.Environment:
        built.append((packages, options.get("reporting")))
        return small

    monkeypatch.setattr(testenv, "build", build)
    session = shared_session(tmp_path)
    floor.install_reporting(session, config)  # no test environment yet: a CI job that only reports
    assert built == [((), True)]
    assert session.env["VIRTUAL_ENV"] == str(small.location)
    location = made_environment(tmp_path, config, testenv.install_arguments(config))
    session = shared_session(tmp_path)
    floor.install_reporting(session, config)
    assert len(built) == 1
    session.log.assert_called_with("reporting in the test environment of Python 3.12: it holds testfloor and coverage")
    assert session.env["VIRTUAL_ENV"] == str(location)
    floor.install_reporting(shared_session(tmp_path), config, "-c", "pins.txt", ".")  # its own testfloor: not shared
    assert built[-1] == (("-c", "pins.txt", "."), True)
    assert floor._program(session, "testfloor") == str(location / "bin" / "testfloor")  # not under the cwd: absolute


def test_a_session_on_nox_s_own_interpreter_is_not_given_the_shared_environment(tmp_path: Path) -> None:
    session = shared_session(tmp_path, python=None)
    session.virtualenv = mock.Mock(spec=[])
    floor.install_reporting(session, Config(tmp_path), "attrs")
    session.install.assert_called_once_with("attrs")
    assert floor._program(session, "python") == "python"
