"""Unit tests of the rule that turns a test's outcome into a skip: stub values and heavy modules not installed."""

from __future__ import annotations

import importlib
import types
from typing import Any

import pytest

from testfloor import outcomes, stubs

pytestmark = pytest.mark.usefixtures("restored_import_system")

TORCH = "test exercised stubbed module 'torch' (not installed)"


def _torch() -> Any:
    stubs.install(["torch"])
    return importlib.import_module("torch")


def _missing(name: str) -> ModuleNotFoundError:
    return ModuleNotFoundError(f"No module named {name!r}", name=name)


def test_an_outcome_stands_when_no_stub_value_was_made_used_or_given() -> None:
    assert outcomes.skip_reason(None) is None
    assert outcomes.skip_reason(AssertionError("assert 4 == 5"), set(), {"n": 3}) is None


def test_a_made_or_used_stub_value_makes_the_outcome_a_skip_naming_the_first_module() -> None:
    assert outcomes.skip_reason(None, {"torch"}) == TORCH
    assert outcomes.skip_reason(AssertionError(), {"torch", "ray"}) == (
        "test exercised stubbed module 'ray' (not installed)"
    )
    assert outcomes.skip_reason(stubs.StubUsedError("torch", "len()")) == TORCH


def test_a_fixture_that_is_or_directly_holds_a_stub_value_makes_the_outcome_a_skip() -> None:
    torch = _torch()
    value = torch.zeros(3)
    holder = types.SimpleNamespace(model=value)
    for fixtures in ({"x": value}, {"x": [1, value]}, {"x": {"k": value}}, {"x": holder}):
        assert outcomes.skip_reason(None, (), fixtures) == TORCH


def test_stub_classes_modules_slots_objects_and_deeper_values_given_by_fixtures_do_not_count() -> None:
    torch = _torch()

    class Slotted:
        __slots__ = ("x",)

    class Proxy:
        @property
        def __dict__(self) -> Any:  # type: ignore[override]
            raise RuntimeError("lazy")

    fixtures = {
        "cls": torch.Tensor,
        "module": torch,
        "module_holder": [torch],
        "slotted": Slotted(),
        "proxy": Proxy(),
        "deep": {"a": {"b": torch.zeros(1)}},
        "number": 3,
    }
    assert outcomes.skip_reason(None, (), fixtures) is None


@pytest.mark.parametrize("name", ["tensorflow", "xgboost"])
def test_a_heavy_module_that_is_not_installed_makes_the_outcome_a_skip(name: str) -> None:
    assert outcomes.skip_reason(_missing(name)) == f"test needs heavy module {name!r} (not installed)"


def test_a_configured_stub_counts_as_heavy_and_the_exception_chain_is_followed() -> None:
    wrapped = RuntimeError("fixture failed")
    wrapped.__cause__ = _missing("internal_sdk")
    assert outcomes.skip_reason(wrapped, stubbed=["internal_sdk"]) == (
        "test needs heavy module 'internal_sdk' (not installed)"
    )
    assert outcomes.skip_reason(wrapped) is None


def test_a_light_module_or_a_missing_submodule_stays_the_tests_error() -> None:
    assert outcomes.skip_reason(_missing("not_installed_light")) is None
    assert outcomes.skip_reason(_missing("torch.not_a_submodule")) is None
    assert outcomes.skip_reason(ModuleNotFoundError("no name")) is None


def test_requested_gives_the_fixtures_a_test_function_names(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        from testfloor.outcomes import requested

        SEEN = {}


        @pytest.fixture(autouse=True)
        def automatic():
            return "auto"


        @pytest.fixture
        def inner():
            return "inner"


        @pytest.fixture
        def outer(inner):
            return "outer:" + inner


        def test_one(outer, request):
            SEEN["one"] = requested(request.node)


        def test_two():
            assert SEEN["one"] == {"outer": "outer:inner", "request": SEEN["one"]["request"]}
            assert requested(object()) == {}
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_requested_copes_with_a_test_function_without_a_signature() -> None:
    item = types.SimpleNamespace(function=1, funcargs={"x": 1})
    assert outcomes.requested(item) == {}  # type: ignore[arg-type]
