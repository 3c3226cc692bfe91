from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from helpers import make_file
from testfloor import doctor, doctorreport, fixes
from testfloor.collect import Cause, CollectError, Outcome
from testfloor.config import load_config
from testfloor.testenv import Environment

MISSING_TORCH = CollectError(
    "tests/test_model.py", "E   no torch", (Cause("builtins.ModuleNotFoundError", "no torch", "torch", "src/m.py", 1),)
)
MISSING_FREEZEGUN = CollectError(
    "tests/test_time.py", "E   no", (Cause("builtins.ModuleNotFoundError", "no", "freezegun", "tests/test_time.py", 1),)
)
NAME_ERROR = CollectError(
    "tests/test_bug.py",
    "E   NameError",
    (Cause("builtins.NameError", "name 'UserRole' is not defined", None, "src/s.py", 4),),
)
SETTINGS = CollectError(
    "tests/test_api.py",
    "E   ValidationError",
    (Cause("pydantic_core._pydantic_core.ValidationError", "1 error", None, "src/c.py", 3, "Settings", ("url",)),),
)


def outcomes(*steps: tuple[CollectError, ...] | int) -> Callable[[Path], Outcome]:
    """A fake probe returning one outcome a call: a tuple of errors, or an exit status with no errors."""
    queue: Iterator[tuple[CollectError, ...] | int] = iter(steps)

    def collect(root: Path) -> Outcome:
        step = next(queue)
        if isinstance(step, int):
            return Outcome(step, (), ())
        return Outcome(2 if step else 0, () if step else ("tests/test_ok.py::test",), step)

    return collect


@pytest.fixture
def project(tmp_path: Path) -> Path:
    make_file(tmp_path / "pyproject.toml", '# the project\n[project]\nname = "service"\n')
    return tmp_path


def test_a_clean_suite_needs_no_pass(project: Path) -> None:
    report = doctor.run(project, fix=True, collect=outcomes(()))
    assert (report.status, report.passes, report.collected) == ("clean", (), 1)


def test_without_fix_doctor_only_reports(project: Path) -> None:
    before = (project / "pyproject.toml").read_text()
    report = doctor.run(project, collect=outcomes((MISSING_TORCH, NAME_ERROR)))
    assert report.status == "failing"
    assert [item.kind for item in report.remaining] == ["missing_heavy", "other"]
    assert report.problem is None
    assert (project / "pyproject.toml").read_text() == before


def test_environment_fixes_come_first_and_project_bugs_are_quarantined_last(project: Path) -> None:
    lines: list[str] = []
    collect = outcomes((MISSING_TORCH, NAME_ERROR), (NAME_ERROR,), ())
    report = doctor.run(project, fix=True, collect=collect, progress=lines.append)
    assert report.status == "quarantined"
    assert lines == [
        "added [tool.testfloor] to pyproject.toml",
        "pass 1: 2 errors: stubbed torch",
        "pass 2: 1 error: quarantined tests/test_bug.py",
    ]
    config = load_config(project)
    assert config.stubs == ("torch",)
    assert [(entry.node, entry.reason) for entry in config.quarantine] == [
        ("tests/test_bug.py", "project bug: NameError: name 'UserRole' is not defined (src/s.py:4)")
    ]
    assert report.fixes == {"quarantine": 1, "stub": 1}
    assert (project / "pyproject.toml").read_text().startswith('# the project\n[project]\nname = "service"\n')


def test_doctor_stops_when_the_same_errors_come_back_and_nothing_is_left_to_change(project: Path) -> None:
    report = doctor.run(project, fix=True, collect=outcomes((MISSING_TORCH,), (MISSING_TORCH,)))
    assert report.status == "failing"
    assert report.problem == "nothing left to change: these errors remain"
    assert len(report.passes) == 2


def test_the_same_errors_after_another_kind_of_fix_get_one_more_pass_the_same_kind_again_stops(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A variable read by hand first, then discovery: the settings error stays the same in between.
    found = iter([[], ["REGION"], ["API_KEY"], ["OTHER"]])
    monkeypatch.setattr(fixes, "_discover_env", lambda *args: next(found))
    monkeypatch.setattr(fixes, "_read_by_hand", lambda *args: ["REGION"])
    report = doctor.run(project, fix=True, collect=outcomes((SETTINGS,), (SETTINGS,), (SETTINGS,), (SETTINGS,)))
    assert [item.changes for item in report.passes] == [("1 env var (REGION)",), ("1 env var (REGION)",)]
    assert report.problem == "stopped after 2 passes: these errors remain"


def test_doctor_stops_after_the_last_pass(project: Path) -> None:
    report = doctor.run(project, fix=True, max_passes=1, collect=outcomes((MISSING_TORCH, NAME_ERROR), (NAME_ERROR,)))
    assert report.problem == "stopped after 1 pass: these errors remain"


def test_doctor_counts_its_passes_in_the_plural_when_it_stops_after_two(project: Path) -> None:
    collect = outcomes((MISSING_TORCH, NAME_ERROR), (NAME_ERROR,), (NAME_ERROR,))
    report = doctor.run(project, fix=True, max_passes=2, collect=collect)
    assert report.problem == "stopped after 2 passes: these errors remain"


def test_an_error_nothing_can_change_is_reported(project: Path) -> None:
    rootless = CollectError("", "E   boom", (Cause("builtins.RuntimeError", "boom", None, "conftest.py", 1),))
    report = doctor.run(project, fix=True, collect=outcomes((rootless,)))
    assert report.problem == "nothing left to change: these errors remain"
    assert report.status == "failing"


def test_an_empty_suite_is_not_clean(project: Path) -> None:
    report = doctor.run(project, fix=True, collect=outcomes(5))
    assert (report.status, report.problem) == ("failing", "no tests were collected")


def test_light_modules_are_installed_and_recorded(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def pip(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        # The installer prints nothing; the check that follows finds no module absent: a JSON empty list.
        return subprocess.CompletedProcess(command, 0, "[]", "")

    monkeypatch.setattr(subprocess, "run", pip)
    make_file(project / "requirements-test.txt", "pytest")
    environment = Environment(project / "env", project / "env" / "bin" / "python", "3.12")
    report = doctor.run(project, fix=True, collect=outcomes((MISSING_FREEZEGUN,), ()), prepare=lambda: environment)
    # Into the environment doctor verifies in, never into the interpreter running testfloor.
    assert calls[0][-3:] == ["--python", str(environment.python), "freezegun"]
    # The install is verified with the environment's interpreter: it imports the module now.
    assert (calls[-1][:2], calls[-1][-1]) == ([str(environment.python), "-I"], "freezegun")
    assert (project / "requirements-test.txt").read_text() == "pytest\nfreezegun\n"
    assert report.fixes == {"install": 1}


def test_a_light_module_that_will_not_install_is_stubbed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(command, 1, "", ""))
    doctor.run(project, fix=True, collect=outcomes((MISSING_FREEZEGUN,), ()))
    assert load_config(project).stubs == ("freezegun",)
    assert not (project / "requirements-test.txt").exists()


def test_no_install_stubs_light_modules(project: Path) -> None:
    doctor.run(project, fix=True, install=False, collect=outcomes((MISSING_FREEZEGUN,), ()))
    assert load_config(project).stubs == ("freezegun",)


def test_settings_errors_get_discovered_values(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from testfloor import settings_discovery

    found = SimpleNamespace(values={"URL": "https://localhost"})
    monkeypatch.setattr(settings_discovery, "discover", lambda *args, **kwargs: found)
    report = doctor.run(project, fix=True, collect=outcomes((SETTINGS,), ()))
    assert load_config(project).env["URL"].value == "https://localhost"
    assert report.passes[0].changes == ("1 env var (URL)",)


def test_settings_that_cannot_be_discovered_leave_the_error(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from testfloor import settings_discovery
    from testfloor.errors import DiscoveryError

    def fail(*args: object, **kwargs: object) -> None:
        raise DiscoveryError("no settings")

    monkeypatch.setattr(settings_discovery, "discover", fail)
    report = doctor.run(project, fix=True, collect=outcomes((SETTINGS,)))
    assert report.problem == "nothing left to change: these errors remain; settings discovery failed: no settings"


def test_path_problems_and_clashing_sub_projects_are_configured(project: Path) -> None:
    make_file(project / "libs" / "common" / "__init__.py")
    for sub in ("billing", "search", "node_modules"):
        make_file(project / sub / "tests" / "conftest.py")
    local = CollectError(
        "tests/test_a.py", "E", (Cause("builtins.ModuleNotFoundError", "x", "common", "tests/test_a.py", 1),)
    )
    clash = CollectError("b/tests", "E", (Cause("_pytest.pathlib.ImportPathMismatchError", "tests.conftest"),))
    report = doctor.run(project, fix=True, collect=outcomes((local, clash), ()))
    config = load_config(project)
    assert (config.pythonpath, config.subprojects) == (("libs",), ("billing", "search"))
    assert report.fixes == {"pythonpath": 1, "subprojects": 1}


def test_a_script_outside_the_test_directory_is_left_out_by_testpaths(project: Path) -> None:
    (project / "tests").mkdir()
    script = CollectError("check_mlflow.py", "E", (Cause("builtins.SystemExit", "1", None, "check_mlflow.py", 3),))
    inside = CollectError("tests/run_me.py", "E", (Cause("builtins.SystemExit", "1", None, "tests/run_me.py", 3),))
    lines: list[str] = []
    doctor.run(project, fix=True, collect=outcomes((script, inside), (inside,), ()), progress=lines.append)
    config = load_config(project)
    assert config.testpaths == ("tests",)
    assert [entry.node for entry in config.quarantine] == ["tests/run_me.py"]
    assert lines[1] == "pass 1: 2 errors: testpaths tests (leaves out check_mlflow.py)"


def test_the_report_reads_as_a_table_and_as_json(project: Path) -> None:
    report = doctor.run(project, collect=outcomes((MISSING_TORCH, NAME_ERROR)))
    here = f"{sys.executable} (Python {sys.version_info.major}.{sys.version_info.minor})"
    assert doctorreport.describe(report) == [
        f"environment: {here}",
        "     1  missing_heavy: a heavy dependency is not installed",
        "     1  other: an error raised at import",
        "  tests/test_model.py: ModuleNotFoundError: no torch (src/m.py:1) [fix: stub]",
        "  tests/test_bug.py: NameError: name 'UserRole' is not defined (src/s.py:4) [project bug]",
    ]
    document = json.loads(doctorreport.to_json(report))
    assert (document["format"], document["status"], document["collected"]) == (1, "failing", 0)
    assert document["python"] == here
    assert document["remaining"][0]["kind"] == "missing_heavy"
    fixed = doctor.run(project, fix=True, collect=outcomes((NAME_ERROR,), ()))
    assert doctorreport.describe(fixed)[-1] == "  quarantined: tests/test_bug.py"
    empty = doctor.run(project, fix=True, collect=outcomes(5))
    assert doctorreport.describe(empty)[-1] == "stopped: no tests were collected"


def test_the_summary_counts_what_ran_once_per_line_and_says_what_to_commit_and_run_next(project: Path) -> None:
    missing_ray = CollectError(
        "tests/test_ray.py", "E   no ray", (Cause("builtins.ModuleNotFoundError", "no", "ray", "src/r.py", 1),)
    )
    before = doctorreport.contents(project)
    steps = outcomes((MISSING_TORCH, missing_ray, NAME_ERROR), (NAME_ERROR,), ())
    report = doctor.run(project, fix=True, install=False, collect=steps)
    report = replace(report, changed=doctorreport.changed(project, before), next="nox -s collect coverage baseline")
    lines = doctorreport.summarise(report)
    assert lines == [
        "status: quarantined",
        "tests collected: 1",
        "errors remaining: 0",
        "quarantined: 1 (1 new)",
        "fixes: 2 stubs",
        "commit: pyproject.toml",
        "next: nox -s collect coverage baseline",
    ]
    shown = doctorreport.describe(report)
    assert not set(lines) & set(shown)  # the details and the summary say different things
    document = json.loads(doctorreport.to_json(report))
    assert document["summary"] == {
        "collected": 1,
        "commit": ["pyproject.toml"],
        "errors": 0,
        "fixes": {"quarantine": 1, "stub": 2},
        "next": "nox -s collect coverage baseline",
        "quarantined": 1,
        "status": "quarantined",
    }


@pytest.mark.parametrize(
    ("fixes", "said"),
    [
        ({}, "fixes: none"),
        ({"install": 1, "env": 3}, "fixes: 3 env vars, 1 install"),
        (
            {"pythonpath": 2, "python": 1, "testpaths": 1},
            "fixes: 1 python setting, 2 pythonpath entries, 1 testpaths setting",
        ),
        ({"subprojects": 1, "stub": 1}, "fixes: 1 stub, 1 subprojects setting"),
        ({"sandbox": 2}, "fixes: 2 sandbox"),  # a kind of fix the summary has no noun for is named as it is
    ],
)
def test_the_summary_names_every_kind_of_fix(fixes: dict[str, int], said: str) -> None:
    report = doctorreport.Report((), (), (), 3, 0, fixes=fixes)
    assert said in doctorreport.summarise(report)
    assert "commit: nothing: no file changed" in doctorreport.summarise(report)
    assert not [line for line in doctorreport.summarise(report) if line.startswith("next: ")]


@pytest.mark.parametrize(
    ("remaining", "problem", "fixed", "noxfile", "said"),
    [
        ((NAME_ERROR,), None, False, None, "testfloor doctor --fix"),
        ((NAME_ERROR,), None, True, None, "fix what is listed above, then run testfloor doctor --fix again"),
        ((), "no tests were collected", False, None, "fix what is listed above, then run testfloor doctor again"),
        ((), None, True, None, "testfloor init (the sessions, CI and the first baseline)"),
        ((), None, False, "import nox\n", "testfloor init (the sessions, CI and the first baseline)"),
        ((), None, False, "import testfloor.nox as floor\n", "nox -s collect coverage baseline"),
    ],
)
def test_the_next_step_follows_from_the_outcome_and_the_project(
    project: Path,
    remaining: tuple[CollectError, ...],
    problem: str | None,
    fixed: bool,
    noxfile: str | None,
    said: str,
) -> None:
    if noxfile is not None:
        make_file(project / "noxfile.py", noxfile)
    diagnoses = tuple(doctor.diagnose(Outcome(2, (), remaining), project))
    report = doctorreport.Report((), diagnoses, (), 0, 2 if remaining else 0, problem)
    assert doctorreport.next_step(project, report, fixed=fixed) == said


def test_only_the_files_a_run_wrote_are_named_for_the_commit(project: Path) -> None:
    before = doctorreport.contents(project)
    assert doctorreport.changed(project, before) == ()
    make_file(project / "requirements-test.txt", "freezegun\n")
    assert doctorreport.changed(project, before) == ("requirements-test.txt",)
    (project / "pyproject.toml").unlink()
    assert doctorreport.changed(project, before) == ("pyproject.toml", "requirements-test.txt")


def test_the_json_report_holds_every_override_in_full(project: Path) -> None:
    # Four flags of a plugin that is not installed: the pytest header shortens them to one line, the report does not.
    flags = [f"--absent-plugin-option-number-{index}" for index in range(4)]
    make_file(
        project / "pyproject.toml",
        f'[tool.testfloor]\n\n[tool.pytest.ini_options]\naddopts = "{" ".join(flags)}"\n',
    )
    make_file(project / "tests" / "test_ok.py", "def test_ok():\n    pass\n")
    report = doctor.run(project)
    assert report.status == "clean"
    document = json.loads(doctorreport.to_json(report))
    removed = [line for line in document["overrides"] if line.startswith("addopts: ")]
    assert removed == [f"addopts: removed {flag}: its plugin is not installed" for flag in flags]
    header = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-p", "testfloor", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "(nox -s collect lists them all)" in header.stdout  # the header line is cut; the report is not


def test_a_configured_project_keeps_its_settings_table(project: Path) -> None:
    make_file(project / "pyproject.toml", '[project]\nname = "service"\n\n[tool.testfloor]\nstubs = ["ray"]\n')
    lines: list[str] = []
    doctor.run(project, fix=True, collect=outcomes((MISSING_TORCH,), ()), progress=lines.append)
    assert lines == ["pass 1: 1 error: stubbed torch"]
    assert load_config(project).stubs == ("ray", "torch")


def test_a_stub_already_configured_is_not_added_again(project: Path) -> None:
    make_file(project / "pyproject.toml", '[tool.testfloor]\nstubs = ["torch"]\n')
    report = doctor.run(project, fix=True, collect=outcomes((MISSING_TORCH, NAME_ERROR), (NAME_ERROR,), ()))
    assert report.passes[0].changes == ("quarantined tests/test_bug.py",)


def test_an_installed_module_already_recorded_is_not_recorded_twice(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(command, 0, "[]", ""))
    make_file(project / "requirements-test.txt", "freezegun\n")
    doctor.run(project, fix=True, collect=outcomes((MISSING_FREEZEGUN,), ()))
    assert (project / "requirements-test.txt").read_text() == "freezegun\n"


def test_the_real_probe_collects_a_project_and_each_sub_project(project: Path) -> None:
    make_file(project / "tests" / "test_a.py", "def test_a():\n    pass\n")
    outcome = doctor.probe(project)
    assert (outcome.exitstatus, outcome.nodeids) == (0, ("tests/test_a.py::test_a",))
    make_file(project / "pyproject.toml", '[tool.testfloor]\nsubprojects = ["billing", "search"]\n')
    for sub in ("billing", "search"):
        make_file(project / sub / "tests" / "__init__.py")
        make_file(project / sub / "tests" / "conftest.py", "import pytest\n")
        make_file(project / sub / "tests" / "test_api.py", "def test_api():\n    pass\n")
    outcome = doctor.probe(project)
    # The tests outside every sub-project are a run of their own: none is dropped.
    assert outcome.nodeids == (
        "billing/tests/test_api.py::test_api",
        "search/tests/test_api.py::test_api",
        "tests/test_a.py::test_a",
    )


def test_a_probe_that_stops_before_the_plugin_reports_pytests_last_line(project: Path) -> None:
    make_file(project / "pytest.ini", "[pytest]\naddopts = -p no_such_plugin_anywhere\n")
    outcome = doctor.probe(project)
    assert outcome.exitstatus != 0
    assert "no_such_plugin_anywhere" in outcome.errors[0].message


TOO_OLD = CollectError(
    "tests/test_api.py",
    "E   RuntimeError",
    (Cause("builtins.RuntimeError", "svc requires Python 3.12", None, "svc/__init__.py", 2),),
)


def test_code_that_requires_a_newer_python_chooses_the_interpreter_and_is_never_quarantined(project: Path) -> None:
    make_file(
        project / "pyproject.toml", '[project]\nname = "svc"\n\n[tool.testfloor]\npython = ["3.11", "3.12", "3.13"]\n'
    )
    prepared: list[tuple[str, ...]] = []

    def prepare() -> Environment:
        prepared.append(load_config(project).python)
        return Environment(project / "env", project / "env" / "bin" / "python", prepared[-1][-1])

    report = doctor.run(project, fix=True, collect=outcomes((TOO_OLD,), ()), prepare=prepare)
    assert report.status == "clean"
    assert report.passes[0].changes == ("python 3.12, 3.13 (the code requires Python 3.12 or newer)",)
    assert load_config(project).python == ("3.12", "3.13")
    # The environment is built again on the Pythons that remain.
    assert prepared == [("3.11", "3.12", "3.13"), ("3.12", "3.13")]
    assert report.fixes == {"python": 1}


def test_a_python_requirement_no_configured_python_meets_is_left_as_it_is(project: Path) -> None:
    make_file(project / "pyproject.toml", '[tool.testfloor]\npython = ["3.10", "3.11"]\n')
    report = doctor.run(project, fix=True, collect=outcomes((TOO_OLD,), (TOO_OLD,)))
    assert report.status == "failing"
    assert report.quarantined == ()
    assert [item.kind for item in report.remaining] == ["python_version"]
    assert load_config(project).python == ("3.10", "3.11")


def test_a_missing_module_is_installed_as_the_project_declares_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def install(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, "[]", "")

    make_file(project / "pyproject.toml", '[project]\nname = "svc"\ndependencies = ["scikit-learn==1.7.2"]\n')
    missing = CollectError(
        "tests/test_fit.py", "E   no", (Cause("builtins.ModuleNotFoundError", "no", "sklearn", "tests/test_fit.py", 1),)
    )
    monkeypatch.setattr(subprocess, "run", install)
    doctor.run(project, fix=True, collect=outcomes((missing,), ()))
    assert calls[0][-1] == "scikit-learn==1.7.2"
    assert (project / "requirements-test.txt").read_text() == "scikit-learn==1.7.2\n"


def test_a_light_install_that_would_pull_in_a_heavy_package_is_refused_and_stubbed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testfloor import testenv

    monkeypatch.setattr(testenv, "would_install", lambda environment, arguments, cwd: ["evaluate", "datasets"])
    monkeypatch.setattr(testenv, "try_install", lambda *args, **kwargs: pytest.fail("installed all the same"))
    missing = CollectError(
        "tests/test_eval.py",
        "E   no",
        (Cause("builtins.ModuleNotFoundError", "no", "evaluate", "tests/test_eval.py", 1),),
    )
    report = doctor.run(project, fix=True, collect=outcomes((missing,), ()))
    assert report.passes[0].changes == (
        "refused to install evaluate (it pulls in datasets): stubbed instead",
        "stubbed evaluate",
    )
    assert load_config(project).stubs == ("evaluate",)
    assert not (project / "requirements-test.txt").exists()


def test_a_package_asked_for_by_name_that_will_not_install_is_left_as_it_is(project: Path) -> None:
    asked = CollectError(
        "tests/test_form.py",
        "E   RuntimeError",
        (Cause("builtins.RuntimeError", 'Form data requires "python-multipart" to be installed.', None, "app.py", 2),),
    )
    report = doctor.run(project, fix=True, install=False, collect=outcomes((asked,), (asked,)))
    assert load_config(project).stubs == ()
    assert [item.kind for item in report.remaining] == ["missing_light"]
    assert report.quarantined == ()


def test_a_pass_that_breaks_a_module_that_collected_is_undone_and_its_fix_is_not_tried_again(project: Path) -> None:
    make_file(project / "libs" / "shared_utils.py")
    needs_path = CollectError(
        "tests/test_jobs.py",
        "E   no",
        (Cause("builtins.ModuleNotFoundError", "no", "shared_utils", "tests/test_jobs.py", 1),),
    )
    shadowed = CollectError(
        "tests/test_api.py",
        "E   ImportError",
        (Cause("builtins.ImportError", "cannot import name 'token_hex' from 'secrets'", None, "libs/secrets.py", 1),),
    )
    api = ("tests/test_api.py::test_token",)
    steps = iter(
        [
            Outcome(2, api, (needs_path, NAME_ERROR)),
            Outcome(2, (), (shadowed, NAME_ERROR)),  # the path fix broke a module that collected
            Outcome(2, api, (needs_path, NAME_ERROR)),
            Outcome(2, api, (needs_path,)),
        ]
    )
    lines: list[str] = []
    built: list[Environment] = []

    def prepare() -> Environment:
        built.append(Environment(project / "env", project / "env" / "bin" / "python", "3.12"))
        return built[-1]

    report = doctor.run(project, fix=True, collect=lambda root: next(steps), progress=lines.append, prepare=prepare)
    assert len(built) == 2  # built again once the undone pass's files are back as they were
    assert lines[1] == "pass 1: 2 errors: pythonpath libs"
    assert lines[2] == "pass 1 undone: it broke tests/test_api.py, which collected before; not tried again"
    assert lines[3] == "pass 3: 2 errors: quarantined tests/test_bug.py"
    # The error that appeared after testfloor's own change was never quarantined; the path fix is gone.
    assert report.quarantined == ("tests/test_bug.py",)
    assert load_config(project).pythonpath == ()
    assert [item.nodeid for item in report.remaining] == ["tests/test_jobs.py"]
    assert report.problem == "nothing left to change: these errors remain"


def test_errors_in_modules_a_fix_lets_pytest_reach_are_progress_not_harm(project: Path) -> None:
    model = ("tests/test_model.py::test_fit",)
    steps = iter([Outcome(2, (), (MISSING_TORCH,)), Outcome(2, model, (NAME_ERROR,)), Outcome(0, model, ())])
    lines: list[str] = []
    report = doctor.run(project, fix=True, collect=lambda root: next(steps), progress=lines.append)
    assert lines[1:] == ["pass 1: 1 error: stubbed torch", "pass 2: 1 error: quarantined tests/test_bug.py"]
    assert (report.status, report.quarantined) == ("quarantined", ("tests/test_bug.py",))


def test_undoing_a_pass_restores_both_files_as_they_were(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", "[tool.testfloor]\n")
    snapshot = doctorreport.contents(tmp_path)
    make_file(tmp_path / "pyproject.toml", '[tool.testfloor]\nstubs = ["torch"]\n')
    make_file(tmp_path / "requirements-test.txt", "attrs\n")
    doctor._restore(tmp_path, snapshot)
    assert (tmp_path / "pyproject.toml").read_text() == "[tool.testfloor]\n"
    assert not (tmp_path / "requirements-test.txt").exists()
    doctor._restore(tmp_path, snapshot)  # already as it was: nothing to write
    assert (tmp_path / "pyproject.toml").read_text() == "[tool.testfloor]\n"


def test_a_quarantine_reason_and_the_report_never_hold_a_secret(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_file(project / "pyproject.toml", '[tool.testfloor.env]\nSESSION_COOKIE_SIGNER = "declared-signer"\n')
    monkeypatch.setenv("GITHUB_PAT", "ghp_from_the_environment")
    message = "cannot connect to postgresql://admin:p@ss/w:rd@db/app with ghp_from_the_environment by declared-signer"
    bug = CollectError("tests/test_db.py", "E   boom", (Cause("builtins.RuntimeError", message, None, "src/db.py", 2),))
    report = doctor.run(project, fix=True, collect=outcomes((bug,), (bug,)))
    masked = "RuntimeError: cannot connect to postgresql://admin:****@db/app with **** by **** (src/db.py:2)"
    assert [entry.reason for entry in load_config(project).quarantine] == [f"project bug: {masked}"]
    assert [item.cause for item in report.remaining] == [masked.rpartition(" (")[0]]
    shown = "\n".join(doctorreport.describe(report)) + doctorreport.to_json(report)
    assert not [secret for secret in ("p@ss", "w:rd", "ghp_from", "declared-signer") if secret in shown]
    written = (project / "pyproject.toml").read_text()
    assert written.count("declared-signer") == 1  # where the project declares it
    assert not [secret for secret in ("p@ss", "w:rd", "ghp_from") if secret in written]


def test_an_undone_pass_without_a_built_environment_goes_on_in_the_same_interpreter(project: Path) -> None:
    make_file(project / "libs" / "shared_utils.py")
    needs_path = CollectError(
        "tests/test_jobs.py", "E   no", (Cause("builtins.ModuleNotFoundError", "no", "shared_utils", "t.py", 1),)
    )
    broken = CollectError("tests/test_api.py", "E   boom", (Cause("builtins.ImportError", "boom", None, "x.py", 1),))
    api = ("tests/test_api.py::test_token",)
    steps = iter([Outcome(2, api, (needs_path,)), Outcome(2, (), (broken,)), Outcome(2, api, (needs_path,))])
    report = doctor.run(project, fix=True, collect=lambda root: next(steps))
    assert report.python == doctor.describe_environment(project, doctor.current_environment())
    assert load_config(project).pythonpath == ()


def test_a_quarantine_leaves_out_what_a_conftest_serves_and_never_the_root(project: Path) -> None:
    from testfloor.classify import Diagnosis

    bug = Diagnosis("tests/test_bug.py", "other", "", "NameError")
    assert fixes.quarantine_target(bug) == "tests/test_bug.py"
    assert fixes.quarantine_target(replace(bug, nodeid="tests/conftest.py", conftest="tests/conftest.py")) == "tests"
    assert fixes.quarantine_target(replace(bug, nodeid="app.py", conftest="conftest.py")) is None
    assert fixes.quarantine_target(replace(bug, nodeid="")) is None


def test_a_quarantine_that_would_leave_a_run_without_tests_is_refused_and_the_others_go_ahead(project: Path) -> None:
    make_file(project / "pyproject.toml", '[tool.testfloor]\nsubprojects = ["billing"]\n')
    make_file(project / "billing" / "tests" / "test_api.py")
    make_file(project / "tests" / "test_bug.py")
    make_file(project / "tests" / "test_ok.py")
    failure = Cause("_pytest.config.ConftestImportFailure", "RuntimeError: x", None, "billing/tests/conftest.py")
    billing = CollectError("billing/tests", "E   RuntimeError", (failure, Cause("builtins.RuntimeError", "x", None)))
    lines: list[str] = []
    report = doctor.run(project, fix=True, collect=outcomes((billing, NAME_ERROR), (billing,)), progress=lines.append)
    refused = "not quarantined: billing/tests (no test would be left to run)"
    assert lines[0] == f"pass 1: 2 errors: quarantined tests/test_bug.py; {refused}"
    assert report.problem == f"nothing left to change: these errors remain; {refused}"
    assert report.quarantined == ("tests/test_bug.py",)
    assert [item.nodeid for item in report.remaining] == ["billing/tests"]
    assert "quarantine" in (project / "pyproject.toml").read_text()


def test_a_quarantine_of_every_test_writes_no_empty_quarantine(project: Path) -> None:
    make_file(project / "tests" / "test_bug.py")
    report = doctor.run(project, fix=True, collect=outcomes((NAME_ERROR,), (NAME_ERROR,)))
    assert (report.status, report.quarantined) == ("failing", ())
    assert "quarantine" not in (project / "pyproject.toml").read_text()


def test_a_name_clash_inside_one_tree_of_tests_is_left_to_importlib_mode_and_no_empty_list_is_written(
    project: Path,
) -> None:
    mismatch = Cause("_pytest.pathlib.ImportPathMismatchError", "test_api", None)
    clash = CollectError("tests/test_api.py", "E   import file mismatch:", (mismatch,))
    lines: list[str] = []
    report = doctor.run(project, fix=True, collect=outcomes((clash,), (clash,)), progress=lines.append)
    assert lines[1] == "pass 1: 1 error: import mode importlib (test modules of one name in one tree of tests)"
    assert load_config(project).import_mode == "importlib"
    assert (report.problem, report.fixes) == ("nothing left to change: these errors remain", {"import_mode": 1})
    assert "subprojects" not in (project / "pyproject.toml").read_text()
    again = doctor.run(project, fix=True, collect=outcomes((clash,)))
    assert (again.problem, again.fixes) == ("nothing left to change: these errors remain", {})


def test_sub_projects_with_their_own_pytest_settings_get_runs_of_their_own_before_the_first_pass(project: Path) -> None:
    make_file(project / "services" / "api" / "pytest.ini", "[pytest]\nasyncio_mode = auto\n")
    make_file(project / "services" / "api" / "tests" / "test_api.py")
    make_file(project / "sdk" / "tests" / "conftest.py")  # a sub-project, but with no settings of its own
    make_file(project / "sdk" / "tests" / "test_sdk.py")
    lines: list[str] = []
    report = doctor.run(project, fix=True, collect=outcomes(()), progress=lines.append)
    assert lines[1] == "one run per sub-project with its own pytest settings: services/api"
    assert report.fixes == {"subprojects": 1}
    assert load_config(project).subprojects == ("services/api",)
    assert doctor.run(project, fix=True, collect=outcomes(())).fixes == {}


def plugin_error(name: str) -> CollectError:
    # What the probe reads when pytest stops at a `-p NAME` whose module is nowhere.
    return CollectError("", f"""E   Error importing plugin "{name}": No module named '{name}'""")


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A wheelhouse that every install of this test, and its dry run, takes its packages from (and no index)."""
    directory = tmp_path / "wheels"
    directory.mkdir()
    (tmp_path / "empty-index").mkdir()
    monkeypatch.setenv("UV_DEFAULT_INDEX", (tmp_path / "empty-index").as_uri())
    monkeypatch.setenv("UV_FIND_LINKS", str(directory))
    return directory


@pytest.fixture
def venv(tmp_path: Path) -> Environment:
    from testfloor.testenv import find_uv, interpreter

    location = tmp_path / "venv"
    subprocess.run([str(find_uv()), "venv", "--quiet", "--python", sys.executable, str(location)], check=True)
    return Environment(location, interpreter(location), f"{sys.version_info.major}.{sys.version_info.minor}")


def installed_names(environment: Environment) -> set[str]:
    script = "import importlib.metadata as m; print(sorted(d.metadata['Name'] for d in m.distributions()))"
    output = subprocess.run([str(environment.python), "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(output.stdout.replace("'", '"')))


def test_an_install_that_does_not_provide_the_plugin_is_undone_and_the_next_distribution_tried(
    project: Path, wheels: Path, venv: Environment
) -> None:
    from wheelhouse import make_wheel

    # pytest-fakeplug installs, but its module is another; the distribution of the plugin's own name has it.
    make_wheel(wheels, "pytest-fakeplug", "1.0", {"unrelated_thing.py": ""})
    make_wheel(wheels, "fakeplug", "1.0", {"fakeplug.py": ""})
    lines: list[str] = []
    collect = outcomes((plugin_error("fakeplug"),), ())
    report = doctor.run(project, fix=True, collect=collect, prepare=lambda: venv, progress=lines.append)
    assert report.status == "clean"
    assert lines[-1] == (
        "pass 1: 1 error: installed fakeplug (recorded in requirements-test.txt); "
        "pytest-fakeplug installed but does not provide plugin 'fakeplug': uninstalled"
    )
    assert (project / "requirements-test.txt").read_text() == "fakeplug\n"
    assert {"fakeplug", "pytest-fakeplug"} & installed_names(venv) == {"fakeplug"}


def test_a_light_module_whose_distribution_does_not_provide_it_is_uninstalled_unrecorded_and_stubbed(
    project: Path, wheels: Path, venv: Environment
) -> None:
    from wheelhouse import make_wheel

    make_wheel(wheels, "freezegun", "0.0.2", {"something_else/__init__.py": ""})
    lines: list[str] = []
    report = doctor.run(
        project, fix=True, collect=outcomes((MISSING_FREEZEGUN,), ()), prepare=lambda: venv, progress=lines.append
    )
    assert report.passes[0].changes == ("stubbed freezegun",)
    note = "freezegun installed but does not provide module 'freezegun': uninstalled"
    assert lines[-1] == f"pass 1: 1 error: stubbed freezegun; {note}"
    assert not (project / "requirements-test.txt").exists()
    assert "freezegun" not in installed_names(venv)
    assert load_config(project).stubs == ("freezegun",)


def test_a_package_a_message_asks_for_by_name_is_kept_though_its_module_has_another_name(
    project: Path, wheels: Path, venv: Environment
) -> None:
    from wheelhouse import make_wheel

    make_wheel(wheels, "yaml-ish", "1.0", {"yamlish_module.py": ""})
    asked = CollectError(
        "tests/test_cfg.py",
        "E   RuntimeError",
        (Cause("builtins.RuntimeError", "config requires the yaml-ish package to be installed", None, "app.py", 2),),
    )
    report = doctor.run(project, fix=True, collect=outcomes((asked,), ()), prepare=lambda: venv)
    assert report.passes[0].changes == ("installed yaml-ish (recorded in requirements-test.txt)",)
    assert "yaml-ish" in installed_names(venv)


def test_a_plugin_nothing_provides_is_never_stubbed_and_the_note_says_so(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testfloor import testenv

    tried: list[list[str]] = []
    monkeypatch.setattr(testenv, "would_install", lambda environment, arguments, cwd: None)
    monkeypatch.setattr(testenv, "try_install", lambda environment, arguments, cwd: tried.append(arguments) or False)
    report = doctor.run(project, fix=True, collect=outcomes((plugin_error("fakeplug"),), (plugin_error("fakeplug"),)))
    assert tried == [["pytest-fakeplug"], ["fakeplug"]]
    assert report.problem == (
        "nothing left to change: these errors remain; plugin 'fakeplug': no distribution provides it"
    )
    assert load_config(project).stubs == ()
    assert [item.kind for item in report.remaining] == ["missing_plugin"]


def test_without_installing_a_missing_plugin_has_no_fix_to_propose(project: Path) -> None:
    collect = outcomes((plugin_error("xdist"),), (plugin_error("xdist"),))
    report = doctor.run(project, fix=True, install=False, collect=collect)
    assert (report.proposed, load_config(project).stubs) == ((), ())


def test_the_real_probe_tells_a_missing_p_plugin_from_a_missing_module(project: Path) -> None:
    make_file(project / "pytest.ini", "[pytest]\naddopts = -p no_such_plugin_anywhere\n")
    make_file(project / "tests" / "test_a.py", "def test_a():\n    pass\n")
    [diagnosis] = doctor.diagnose(doctor.probe(project), project)
    assert (diagnosis.kind, diagnosis.subject) == ("missing_plugin", "no_such_plugin_anywhere")


def test_each_missing_plugin_pytest_stops_at_in_turn_is_progress_not_the_same_errors(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(command, 0, "[]", ""))
    collect = outcomes((plugin_error("xdist"),), (plugin_error("pytest_timeout"),), ())
    report = doctor.run(project, fix=True, collect=collect)
    assert report.status == "clean"
    assert (project / "requirements-test.txt").read_text() == "pytest-xdist\npytest-timeout\n"
