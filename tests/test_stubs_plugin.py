"""The stubs through real pytest runs: the behaviour matrix, honest skips, xdist, reports and bad settings."""

from __future__ import annotations

import gc
import json
import os
import textwrap
import warnings

import pytest

import testfloor.shims  # noqa: F401  # imported once here, so in-process runs share the stub state
from testfloor.cli import ExitCode, main
from testfloor.stubs import ENV_VAR

PYTEST_INI = """
[tool.pytest.ini_options]
asyncio_default_fixture_loop_scope = "function"
filterwarnings = ["error"]
"""


def _project(pytester: pytest.Pytester, testfloor: str, project: str = "") -> None:
    text = f"{textwrap.dedent(project)}\n[tool.testfloor]\n{textwrap.dedent(testfloor)}\n{PYTEST_INI}"
    pytester.makefile(".toml", pyproject=text)


MATRIX = """
import abc
import dataclasses
import importlib.util
import pickle
import typing
from typing import Optional

import numba
import ray
import torch
import torch.nn.functional as F
from packaging.version import Version
from ray.tune import Tuner
from ray.tune.schedulers import ASHAScheduler
from torch.nn import functional

from conftest import EarlyNet


class Net(torch.nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x * self.k


def test_submodule_imports_are_stub_modules():
    assert F is functional is torch.nn.functional
    assert Tuner is ray.tune.Tuner
    assert ASHAScheduler is ray.tune.schedulers.ASHAScheduler


def test_find_spec_returns_specs():
    assert importlib.util.find_spec("torch").origin == "stub"
    assert importlib.util.find_spec("torch.nn.functional").origin == "stub"


def test_subclass_keeps_its_methods_and_calls_forward():
    net = Net(3)
    assert net.k == 3
    assert net(2) == 6
    assert isinstance(net, torch.nn.Module)
    assert issubclass(Net, torch.nn.Module)
    assert not isinstance(1, torch.Tensor)
    assert not issubclass(int, torch.nn.Module)


def test_a_class_defined_in_conftest_before_collection_works():
    assert EarlyNet()(1) == 2


def test_abc_mixins_still_enforce_abstract_methods():
    class B(torch.nn.Module, abc.ABC):
        @abc.abstractmethod
        def step(self): ...

    class B2(torch.nn.Module, metaclass=abc.ABCMeta):
        pass

    try:
        B()
    except TypeError as err:
        assert "abstract" in str(err)
    else:
        raise AssertionError("abstract method not enforced")
    assert isinstance(B2(), torch.nn.Module)


def hinted(x: "torch.Tensor | None", y: Optional[torch.Tensor]) -> "torch.Tensor": ...


def test_annotations_unions_and_type_hints():
    assert typing.get_type_hints(hinted) == {
        "x": torch.Tensor | None,
        "y": Optional[torch.Tensor],
        "return": torch.Tensor,
    }


def test_version_compares_with_pep_440_and_comes_from_the_pin():
    assert torch.__version__ == "2.1"
    assert torch.__version__ >= "2"
    assert torch.__version__ < "2.10"
    assert Version(torch.__version__) >= Version("1.13")
    assert ray.__version__ == "99.0.0"


def test_cuda_is_not_available():
    assert not torch.cuda.is_available()
    assert ("cuda" if torch.cuda.is_available() else "cpu") == "cpu"


def test_no_grad_context_and_decorators_pass_through():
    with torch.no_grad():
        pass

    @torch.no_grad()
    def a(x):
        return x + 1

    @torch.jit.script
    def b(x):
        return x + 2

    @numba.njit
    def c(x):
        return x + 3

    @numba.jit(nopython=True)
    def d(x):
        return x + 4

    assert [a(1), b(1), c(1), d(1)] == [2, 3, 4, 5]
    assert list(numba.prange(3)) == [0, 1, 2]


def test_ray_remote_functions_and_actors_run_in_process():
    @ray.remote
    def f(x):
        return x * 2

    @ray.remote
    class Actor:
        def g(self, x):
            return 40 + x

    assert ray.get(f.remote(2)) == 4
    assert ray.get(Actor.remote().g.remote(2)) == 42


def test_exception_names_are_catchable():
    try:
        raise torch.cuda.OutOfMemoryError("full")
    except (torch.cuda.OutOfMemoryError, ValueError) as err:
        assert str(err) == "full"


# Stub values are made while the module imports (where stubs are lenient): a test that made one would be skipped.
PICKLED = pickle.loads(pickle.dumps(torch.nn.Linear(1, 2)))


def test_stub_classes_pickle_by_reference():
    assert pickle.loads(pickle.dumps(torch.nn.Linear)) is torch.nn.Linear
    assert type(PICKLED) is torch.nn.Linear


@dataclasses.dataclass
class Batch:
    x: torch.Tensor
    y: Optional[torch.Tensor] = None


BATCH = Batch(torch.zeros(3))
TENSOR = torch.Tensor()


def test_dataclass_fields_typed_with_stub_classes():
    assert type(BATCH.x) is torch.zeros
    assert BATCH.y is None


def test_pydantic_fields_typed_with_stub_classes():
    pydantic = __import__("pytest").importorskip("pydantic")

    class Model(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
        x: torch.Tensor

    assert type(Model(x=TENSOR).x) is torch.Tensor


import gymnasium
from gymnasium import spaces
from mlflow.entities import Metric


class E(gymnasium.Env):
    def __init__(self):
        self.action_space = spaces.Discrete(2)


ENV = E()
METRIC = Metric(key="k", value=1)


def test_gymnasium_env_with_spaces():
    assert type(ENV.action_space) is spaces.Discrete
    assert isinstance(ENV, gymnasium.Env)


def test_mlflow_entities_import():
    assert type(METRIC) is Metric


def test_lightning_module_is_a_torch_module():
    import lightning

    class L(lightning.LightningModule):
        def forward(self, x):
            return -x

    assert L()(1) == -1
    assert isinstance(L(), torch.nn.Module)
"""

MATRIX_CONFTEST = """
import numba
import ray
import torch


class EarlyNet(torch.nn.Module):
    def forward(self, x):
        return x + 1
"""

MATRIX_STUBS = 'stubs = ["torch", "ray", "numba", "gymnasium", "mlflow", "lightning"]\n'
MATRIX_DEPS = '[project]\nname = "demo"\nversion = "0"\ndependencies = ["torch>=2.1,<3", "ray"]\n'


def _matrix(pytester: pytest.Pytester) -> int:
    _project(pytester, MATRIX_STUBS, MATRIX_DEPS)
    pytester.makeconftest(MATRIX_CONFTEST)
    pytester.makepyfile(test_matrix=MATRIX)
    return MATRIX.count("\ndef test_")


def _passed_with_pydantic_skipped(result: pytest.RunResult, tests: int) -> None:
    try:
        import pydantic  # noqa: F401
    except ImportError:
        result.assert_outcomes(passed=tests - 1, skipped=1)
        result.stdout.fnmatch_lines(["SKIPPED*could not import 'pydantic'*"])
    else:  # pragma: no cover - pydantic is not a test dependency; this runs where it happens to be installed
        result.assert_outcomes(passed=tests)


def test_the_behaviour_matrix_passes_in_a_real_pytest_run(pytester: pytest.Pytester) -> None:
    tests = _matrix(pytester)
    result = pytester.runpytest("-rs")
    _passed_with_pydantic_skipped(result, tests)
    result.stdout.fnmatch_lines(
        [
            "testfloor stubs (mode missing): torch (stubbed), ray (stubbed), numba (stubbed), gymnasium (stubbed)*",
            "testfloor stubs after collection: torch (stubbed), ray (stubbed), numba (stubbed), gymnasium (stubbed),"
            " mlflow (stubbed), lightning (not imported)",
        ]
    )


def test_the_behaviour_matrix_passes_in_xdist_workers(pytester: pytest.Pytester) -> None:
    tests = _matrix(pytester)
    result = pytester.runpytest_subprocess("-n", "2", "-rs")
    _passed_with_pydantic_skipped(result, tests)
    result.stdout.fnmatch_lines(["*2 workers*"])


END_TO_END_APP = """
import numba
import ray
import torch
from torch import nn


class Net(nn.Module):
    def forward(self, x):
        return x + 1


@numba.njit
def double(x):
    return 2 * x


@ray.remote
def triple(x):
    return 3 * x


def device():
    return "cuda" if torch.cuda.is_available() else "cpu"
"""

END_TO_END_TESTS = """
import subprocess
import sys

import numba
import ray
import torch

import app


def test_pure_logic_passes():
    assert app.double(2) == 4
    assert app.Net()(1) == 2
    assert ray.get(app.triple.remote(2)) == 6
    assert app.device() == "cpu"
    assert isinstance(app.Net(), torch.nn.Module)


def test_using_a_tensor_value_is_skipped():
    assert torch.zeros(3).sum() == 0


def test_catching_everything_cannot_hide_stub_use():
    try:
        total = float(torch.ones(2).sum())
    except Exception:
        total = 2.0
    assert total == 2.0


def test_using_a_ray_value_is_skipped():
    assert len(ray.tune.Tuner().fit()) == 1


def test_a_genuine_failure_fails():
    assert app.double(2) == 5


def test_subprocesses_see_the_stubs():
    code = "import torch, numba; print(torch.__version__, numba.njit(abs)(-2))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["99.0.0", "2"]
"""


TORCH_REASON = "test exercised stubbed module 'torch' (not installed)"


def _line_of(start: str) -> int:
    lines = textwrap.dedent(END_TO_END_TESTS).strip().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith(start))


def _end_to_end(pytester: pytest.Pytester) -> None:
    _project(pytester, 'stubs = ["ray", "torch", "numba"]\n')
    pytester.makeconftest("import numba\nimport ray\nimport torch\n")
    pytester.makepyfile(app=END_TO_END_APP, test_app=END_TO_END_TESTS)


def test_an_end_to_end_project_passes_skips_honestly_and_fails_genuinely(pytester: pytest.Pytester) -> None:
    _end_to_end(pytester)
    result = pytester.runpytest("-rfs")
    result.assert_outcomes(passed=2, skipped=3, failed=1)
    result.stdout.fnmatch_lines_random(
        [
            f"SKIPPED [[]1[]] test_app.py:{_line_of('def test_using_a_tensor')}: {TORCH_REASON}",
            f"SKIPPED [[]1[]] test_app.py:{_line_of('def test_catching_everything')}: {TORCH_REASON}",
            f"SKIPPED [[]1[]] test_app.py:{_line_of('def test_using_a_ray')}: "
            "test exercised stubbed module 'ray' (not installed)",
            "FAILED test_app.py::test_a_genuine_failure_fails - assert 4 == 5",
            "*- testfloor stubs -*",
            "1 skipped: test exercised stubbed module 'ray'",
            "2 skipped: test exercised stubbed module 'torch'",
        ]
    )
    assert ENV_VAR not in os.environ  # the run's own environment is restored


def test_an_end_to_end_project_reports_the_same_outcomes_under_xdist(pytester: pytest.Pytester) -> None:
    _end_to_end(pytester)
    result = pytester.runpytest_subprocess("-n", "2", "-rs")
    result.assert_outcomes(passed=2, skipped=3, failed=1)
    result.stdout.fnmatch_lines_random(
        ["1 skipped: test exercised stubbed module 'ray'", "2 skipped: test exercised stubbed module 'torch'"]
    )


def test_async_and_unittest_tests_that_use_stub_values_are_skipped_too(pytester: pytest.Pytester) -> None:
    _project(pytester, 'stubs = ["torch"]\n')
    pytester.makepyfile(
        """
        import asyncio
        import unittest

        import pytest
        import torch


        @pytest.mark.asyncio
        async def test_async_value():
            await asyncio.sleep(0)
            assert torch.zeros(2) == 0


        @pytest.mark.asyncio
        async def test_async_types():
            await asyncio.sleep(0)
            assert isinstance(torch.zeros(2), torch.Tensor)


        class Case(unittest.TestCase):
            def test_value(self):
                self.assertEqual(torch.zeros(1), 0)

            def test_types(self):
                self.assertIsInstance(torch.zeros(1), torch.Tensor)
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=4)
    result.stdout.fnmatch_lines(["4 skipped: test exercised stubbed module 'torch'"])


def test_an_installed_package_is_never_replaced_in_missing_mode(pytester: pytest.Pytester) -> None:
    _project(pytester, 'stubs = ["packaging"]\n')
    pytester.makeconftest("import packaging.version\n")
    pytester.makepyfile(
        """
        import packaging
        from packaging.version import Version

        from testfloor.stubs import is_stub


        def test_real():
            assert not is_stub(packaging)
            assert Version("1.0") < Version("2.0")
            assert packaging.__file__.endswith("__init__.py")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["testfloor stubs (mode missing): packaging (installed)"])


def test_a_missing_submodule_of_a_real_package_stays_module_not_found(pytester: pytest.Pytester) -> None:
    _project(pytester, 'stubs = ["packaging"]\n')
    pytester.makepyfile(
        """
        import importlib

        import pytest


        def test_missing_submodule():
            with pytest.raises(ModuleNotFoundError, match="packaging.nonexistent_sub"):
                importlib.import_module("packaging.nonexistent_sub")
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_same_named_empty_directory_does_not_hide_the_stub(pytester: pytest.Pytester) -> None:
    _project(pytester, 'stubs = ["torch"]\n')
    pytester.mkdir("torch")
    pytester.makeconftest("import torch.nn\n")
    pytester.makepyfile(
        """
        import torch

        from testfloor.stubs import is_stub


        def test_stubbed():
            assert is_stub(torch.nn)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["testfloor stubs (mode missing): torch (stubbed)"])


def test_always_mode_stubs_even_an_installed_package(pytester: pytest.Pytester) -> None:
    _project(pytester, 'stubs = ["packaging"]\nstub_mode = "always"\n')
    pytester.makepyfile(
        """
        import packaging

        from testfloor.stubs import is_stub


        def test_stubbed():
            assert is_stub(packaging)
        """
    )
    pytester.runpytest("-p", "no:xdist").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('stubs = "torch"', "*pyproject.toml: [[]tool.testfloor[]] stubs: expected an array of module names*"),
        ('stubs = ["torch.nn"]', "*[[]tool.testfloor[]] stubs: 'torch.nn' is not a top-level module name*"),
        ('stub_mode = "sometimes"', "*[[]tool.testfloor[]] stub_mode: expected one of 'missing', 'always'*"),
    ],
)
def test_bad_stub_settings_are_a_one_line_error_naming_the_key(
    pytester: pytest.Pytester, setting: str, message: str
) -> None:
    _project(pytester, setting)
    pytester.makepyfile("def test_nothing(): pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: testfloor: {message}"])
    assert len([line for line in result.stderr.lines if "testfloor:" in line]) == 1


def test_without_stubs_the_plugin_installs_nothing(pytester: pytest.Pytester) -> None:
    _project(pytester, "")
    pytester.makepyfile(
        """
        import sys

        from testfloor.stubs import StubFinder


        def test_no_finder():
            assert not any(isinstance(finder, StubFinder) for finder in sys.meta_path)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "testfloor stubs" not in result.stdout.str()


def test_a_stub_run_without_skips_prints_no_stub_summary(pytester: pytest.Pytester) -> None:
    _project(pytester, 'stubs = ["torch"]\n')
    pytester.makepyfile("import torch\n\ndef test_types():\n    assert not isinstance(1, torch.Tensor)\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "- testfloor stubs -" not in result.stdout.str()


def test_the_stubs_report_option_writes_which_modules_imported_each_stub(pytester: pytest.Pytester) -> None:
    _end_to_end(pytester)
    report = pytester.path / "stubs.json"
    pytester.runpytest("--collect-only", f"--testfloor-stubs-report={report}")
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["format"] == 1
    assert document["stubs"]["torch"] == {"imported_by": ["app", "conftest", "test_app"], "status": "stubbed"}
    assert document["stubs"]["ray"]["imported_by"] == ["app", "conftest", "test_app"]


def test_testfloor_stubs_prints_the_report_as_json(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    _end_to_end(pytester)
    assert main(["stubs", str(pytester.path), "--json"]) == ExitCode.OK
    document = json.loads(capsys.readouterr().out)
    assert document["mode"] == "missing"
    assert document["stubs"]["numba"] == {"imported_by": ["app", "conftest", "test_app"], "status": "stubbed"}


def test_testfloor_stubs_prints_text_and_takes_stubs_from_the_command_line(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    _end_to_end(pytester)
    assert main(["stubs", str(pytester.path), "--stubs", "ray,torch,numba,xgboost"]) == ExitCode.OK
    assert capsys.readouterr().out.splitlines() == [
        "stubs (mode missing):",
        "  numba: stubbed, imported by app, conftest, test_app",
        "  ray: stubbed, imported by app, conftest, test_app",
        "  torch: stubbed, imported by app, conftest, test_app",
        "  xgboost: not imported",
    ]


def test_testfloor_stubs_without_stubs_says_so(pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
    _project(pytester, "")
    assert main(["stubs", str(pytester.path)]) == ExitCode.OK
    assert capsys.readouterr().err == "no stubs configured ([tool.testfloor] stubs)\n"


def test_testfloor_stubs_reports_a_collection_error(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(pytester, 'stubs = ["torch"]\n')
    pytester.makepyfile(test_ok="import torch\n\ndef test_ok(): pass\n", test_broken="import not_a_module\n")
    assert main(["stubs", str(pytester.path)]) == ExitCode.COLLECTION
    out, err = capsys.readouterr()
    assert "  torch: stubbed, imported by test_ok" in out
    assert "collection failed (pytest status 2)" in err


def test_testfloor_stubs_fails_when_pytest_cannot_start(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(pytester, 'stubs = ["torch"]\n')
    pytester.makeconftest("import not_a_module\n")
    assert main(["stubs", str(pytester.path)]) == ExitCode.COLLECTION
    assert "testfloor: pytest exited with status 4 before reporting" in capsys.readouterr().err


RUNTIME_APP = """
import ray
import torch
from ray.job_submission import JobStatus

# At import a stub class compared with a number has no answer, and no error either.
LARGE_MODEL = torch.nn.Linear.in_features >= 1024
STATUS_TEXT = {JobStatus.SUCCEEDED: "ok", JobStatus.FAILED: "failed"}


def describe(name):
    status = JobStatus(name)
    if status not in STATUS_TEXT:
        raise KeyError(f"Status {name!r} not found in mapping")
    return STATUS_TEXT[status]


class Algo:
    def train(self):
        return torch.optim.Adam([]).step()


def save(model, path):
    torch.save(model.state_dict(), path)


def add(a, b):
    return a + b
"""

RUNTIME_TESTS = """
import asyncio
import concurrent.futures
import pickle
import subprocess
import sys
import threading

import pytest
import torch
from ray.job_submission import JobStatus
from ray.rllib.env import EnvContext

import app

MODEL = torch.nn.Linear(2, 2)  # made while the module imports: no test made it


@pytest.fixture
def model():
    return torch.nn.Linear(2, 2)


@pytest.fixture(autouse=True)
def device():
    return torch.device("cpu")  # not asked for by name: no test is skipped for it


@pytest.fixture(scope="module")
def tf_session():
    import tensorflow

    return tensorflow.Session()


def test_subscript_of_a_stub_instance():
    assert EnvContext({"size": 3}, worker_index=0)["size"] == 3


def test_a_stubbed_enum_member_as_a_dict_key():
    assert app.describe("FAILED") == "failed"


def test_isinstance_of_a_made_tensor():
    assert isinstance(torch.tensor([1]), torch.Tensor)


def test_identity_of_a_dtype():
    assert torch.zeros(3).dtype is torch.float32


def test_pytest_raises_a_stub_exception():
    with pytest.raises(torch.cuda.OutOfMemoryError):
        torch.empty(10**12, device="cuda")


def test_a_fixture_model_is_not_none(model):
    assert model is not None


def test_str_of_a_model():
    assert "Linear" in str(MODEL)


def test_a_pickle_round_trip():
    assert type(pickle.loads(pickle.dumps(MODEL))) is type(MODEL)


def test_train_returns_something():
    assert app.Algo().train() is not None


def test_torch_save_writes_a_file(tmp_path):
    app.save(MODEL, tmp_path / "model.pt")
    assert (tmp_path / "model.pt").exists()


def test_item_assignment():
    x = torch.zeros(3)
    x[0] = 1
    assert x[0] == 1


def test_len_in_a_thread_pool():
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(lambda: len(torch.zeros(3))).result() == 0


def test_float_in_asyncio_to_thread():
    assert asyncio.run(asyncio.to_thread(float, MODEL)) == 0.0


def test_equality_in_a_thread():
    results = []
    thread = threading.Thread(target=lambda: results.append(MODEL == 1))
    thread.start()
    thread.join()
    assert results == [False]


def test_len_in_a_subprocess():
    code = "import torch; print(len(torch.zeros(3)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout == "0\\n"


def test_a_heavy_import_in_a_module_scoped_fixture(tf_session):
    assert tf_session


def test_a_heavy_import_in_the_test_body():
    import xgboost

    assert xgboost.XGBClassifier().fit([[1]], [1])


def test_names_shims_and_real_values_pass():
    assert not isinstance(1, torch.Tensor)
    assert torch.cuda.device_count() == 0
    assert app.STATUS_TEXT[JobStatus.FAILED] == "failed"
    assert app.LARGE_MODEL is False
    with torch.no_grad():
        assert app.add(1, 1) == 2


def test_a_genuine_failure_fails():
    assert app.add(1, 1) == 3


def test_a_light_module_missing_at_run_time_fails():
    import not_an_installed_module  # noqa: F401


def test_a_missing_submodule_of_an_installed_package_fails():
    import packaging.not_a_submodule  # noqa: F401
"""

RAY_REASON = "test exercised stubbed module 'ray' (not installed)"


def _outcomes(result: pytest.RunResult) -> dict[str, tuple[str, str]]:
    # The first report that did not pass, else the call's: what the test's line in the summary says.
    outcomes: dict[str, tuple[str, str]] = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):  # type: ignore[attr-defined]
        name = report.nodeid.rpartition("::")[2]
        if (name in outcomes and outcomes[name][0] != "passed") or report.when == "teardown":
            continue
        reason = report.longrepr[2] if report.skipped else ""
        outcomes[name] = (report.outcome, reason.removeprefix("Skipped: "))
    return outcomes


def test_every_run_time_case_ends_as_the_rule_says(pytester: pytest.Pytester) -> None:
    _project(pytester, 'stubs = ["ray", "torch"]\n')
    pytester.makepyfile(app=RUNTIME_APP, test_runtime=RUNTIME_TESTS)
    result = pytester.runpytest("-rs")
    # An event loop the inner run leaves to the garbage collector (pytest-asyncio 0.21) is collected here, quietly:
    # otherwise its ResourceWarning is reported as unraisable in whichever later test the collector happens to run.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    exercised = {
        "test_subscript_of_a_stub_instance": RAY_REASON,
        "test_a_stubbed_enum_member_as_a_dict_key": RAY_REASON,
    }
    torch_cases = [line[4:].partition("(")[0] for line in RUNTIME_TESTS.splitlines() if line.startswith("def test_")]
    torch_cases = torch_cases[2 : torch_cases.index("test_len_in_a_subprocess") + 1]
    exercised.update(dict.fromkeys(torch_cases, TORCH_REASON))
    assert len(exercised) == 15
    expected = {name: ("skipped", reason) for name, reason in exercised.items()}
    expected["test_a_heavy_import_in_a_module_scoped_fixture"] = (
        "skipped",
        "test needs heavy module 'tensorflow' (not installed)",
    )
    expected["test_a_heavy_import_in_the_test_body"] = ("skipped", "test needs heavy module 'xgboost' (not installed)")
    expected["test_names_shims_and_real_values_pass"] = ("passed", "")
    expected["test_a_genuine_failure_fails"] = ("failed", "")
    expected["test_a_light_module_missing_at_run_time_fails"] = ("failed", "")
    expected["test_a_missing_submodule_of_an_installed_package_fails"] = ("failed", "")
    assert _outcomes(result) == expected
    result.stdout.fnmatch_lines_random(
        ["2 skipped: test exercised stubbed module 'ray'", "13 skipped: test exercised stubbed module 'torch'"]
    )


def test_an_expected_failure_that_passes_on_stub_values_is_skipped_not_xpassed(pytester: pytest.Pytester) -> None:
    _project(pytester, 'stubs = ["torch"]\n')
    pytester.makepyfile(
        """
        import pytest
        import torch


        @pytest.mark.xfail(reason="flaky on GPU")
        def test_unexpected_pass():
            assert torch.zeros(3) is not None


        @pytest.mark.xfail(reason="known bug")
        def test_expected_failure():
            assert 1 == 2
        """
    )
    result = pytester.runpytest("-rsx")
    result.assert_outcomes(skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(["SKIPPED*test exercised stubbed module 'torch' (not installed)"])


def test_a_heavy_import_at_run_time_is_skipped_in_a_project_without_stubs(pytester: pytest.Pytester) -> None:
    _project(pytester, "")
    pytester.makepyfile(
        """
        def test_trains():
            import ray

            assert ray.init()
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*test needs heavy module 'ray' (not installed)"])
