"""Unit tests of the per-package shims and stub versions."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from packaging.version import Version

from helpers import make_file
from testfloor import shims, stubs

# Stubs change the import system: each test gets it back as it was.
pytestmark = pytest.mark.usefixtures("restored_import_system")


def _import(name: str) -> Any:
    return importlib.import_module(name)


@pytest.mark.parametrize(
    ("version", "other", "expected"),
    [
        ("2.1", "2", [False, False, True, True, False, True]),
        ("2.0", "2", [False, True, False, True, True, False]),
        ("2.10", "2.9", [False, False, True, True, False, True]),
        ("2.10", (2, 11), [True, True, False, False, False, True]),
        ("1.13", Version("1.13.0"), [False, True, False, True, True, False]),
        ("2.0", "not a version", [False, False, True, True, False, True]),
    ],
)
def test_stub_versions_compare_with_pep_440_semantics(version: str, other: Any, expected: list[bool]) -> None:
    v = shims.StubVersion(version)
    assert [v < other, v <= other, v > other, v >= other, v == other, v != other] == expected


def test_stub_versions_are_strings_and_refuse_other_types() -> None:
    v = shims.StubVersion("2.3.1")
    assert v.split(".") == ["2", "3", "1"]
    assert Version(v) >= Version("2.3")
    assert hash(v) == hash("2.3.1")
    assert v != 2
    for compare in (v.__lt__, v.__le__, v.__gt__, v.__ge__, v.__eq__):
        assert compare(2) is NotImplemented


def test_declared_versions_read_pins_and_lower_bounds(tmp_path: Any) -> None:
    make_file(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "demo"
        dependencies = ["torch>=2.1,<3", "numpy", "Ray[tune] == 2.9.0; python_version >= '3.10'"]
        [project.optional-dependencies]
        gpu = ["numba~=0.59"]
        """,
    )
    make_file(tmp_path / "requirements.txt", "# pinned\n-r base.txt\ntorch==2.5.0\nlightning-utilities<1,>=0.10\n")
    assert shims.declared_versions(tmp_path) == {
        "torch": "2.1",
        "ray": "2.9.0",
        "numba": "0.59",
        "lightning_utilities": "0.10",
    }


def test_declared_versions_without_a_pyproject_read_requirements_only(tmp_path: Any) -> None:
    make_file(tmp_path / "requirements-dev.txt", "xgboost===2.0.3\n")
    assert shims.declared_versions(tmp_path) == {"xgboost": "2.0.3"}
    assert shims.declared_versions(tmp_path / "missing") == {}


def test_numba_decorators_pass_through_and_prange_is_range() -> None:
    stubs.install(["numba"])
    numba = _import("numba")

    @numba.njit
    def one(x: int) -> int:
        return x + 1

    @numba.jit(nopython=True)
    def two(x: int) -> int:
        return x + 2

    @numba.njit(cache=True, parallel=True)
    def total(n: int) -> int:
        return sum(i for i in numba.prange(n))

    assert (one(1), two(1), total(4)) == (2, 3, 6)
    assert numba.vectorize(["f8(f8)"])(one) is one


def test_ray_remote_functions_and_actors_run_in_process() -> None:
    stubs.install(["ray"])
    ray = _import("ray")

    @ray.remote
    def square(x: int) -> int:
        return x * x

    @ray.remote(num_cpus=1)
    class Counter:
        def __init__(self, start: int) -> None:
            self.value = start

        def add(self, n: int) -> int:
            self.value += n
            return self.value

    assert not ray.is_initialized()
    ray.init(num_cpus=2)
    assert ray.is_initialized()
    counter = Counter.options(name="c").remote(40)
    assert ray.get(counter.add.remote(2)) == 42
    assert ray.get([square.remote(2), square.options(num_gpus=0).remote(3)]) == [4, 9]
    ref = ray.put(7)
    assert repr(ref) == "ObjectRef(7)"
    other = square.remote(1)
    assert ray.wait([ref, other], num_returns=1) == ([ref], [other])
    ray.shutdown()
    assert not ray.is_initialized()
    with pytest.raises(TypeError, match="cannot be called directly"):
        square(2)
    with pytest.raises(TypeError, match="ObjectRef"):
        ray.get(3)
    with pytest.raises(AttributeError):
        counter.__wrapped__  # noqa: B018


def test_torch_modules_call_forward_and_report_no_gpu() -> None:
    stubs.install(["torch"])
    torch = _import("torch")

    class Net(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.k = 2

        def forward(self, x: int) -> int:
            return x * self.k

    with stubs.strict():
        assert Net()(3) == 6
        assert torch.cuda.is_available() is False
        assert torch.cuda.device_count() == 0
        assert torch.backends.mps.is_available() is False
        assert torch.backends.mps.is_built() is False
    assert stubs.is_stub(torch.nn.Module()(1))


def test_lightning_modules_derive_from_the_torch_stub_when_torch_is_stubbed() -> None:
    stubs.install(["torch", "lightning", "pytorch_lightning"])
    torch = _import("torch")
    lightning = _import("lightning")
    assert lightning.LightningModule is lightning.pytorch.LightningModule
    assert issubclass(lightning.LightningModule, torch.nn.Module)
    assert not issubclass(_import("pytorch_lightning").LightningModule, lightning.LightningModule)


def test_lightning_modules_call_forward_without_torch_stubbed() -> None:
    stubs.install(["lightning"])
    pl = _import("lightning.pytorch")

    class Model(pl.LightningModule):  # type: ignore[misc, name-defined]
        def forward(self, x: int) -> int:
            return x - 1

    assert Model()(1) == 0
    assert stubs.is_stub(pl.LightningModule)


def test_gymnasium_envs_subclass_and_spaces_construct() -> None:
    stubs.install(["gymnasium", "gym"])
    gymnasium = _import("gymnasium")

    class Env(gymnasium.Env):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.action_space = gymnasium.spaces.Discrete(2)

    assert isinstance(Env().action_space, _import("gymnasium.spaces").Discrete)
    assert stubs.is_stub(_import("gym").spaces)


def test_torch_grad_modes_are_context_managers_and_decorators_that_make_no_stub_value() -> None:
    stubs.install(["torch"])
    torch = _import("torch")

    def f(x: int) -> int:
        return x + 1

    with stubs.watch() as exercised, torch.no_grad(), torch.inference_mode(), torch.set_grad_enabled(False):
        assert torch.no_grad(f)(1) == 2
        assert torch.enable_grad()(f)(2) == 3
    assert exercised == set()


def test_torch_seeding_and_settings_are_no_ops_that_make_no_stub_value() -> None:
    stubs.install(["torch"])
    torch = _import("torch")
    with stubs.watch() as exercised:
        assert torch.manual_seed(0) is None
        assert torch.use_deterministic_algorithms(True) is None
        assert torch.set_float32_matmul_precision("high") is None
        assert torch.cuda.manual_seed_all(0) is None
        assert torch.cuda.empty_cache() is None
    assert exercised == set()
