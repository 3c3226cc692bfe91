"""Unit tests of the stub finder, loader, modules and values, in this process."""

from __future__ import annotations

import abc
import asyncio
import copy
import importlib
import importlib.util
import json
import os
import pickle
import subprocess
import sys
import types
import typing
from typing import Any, Generic, TypeVar

import pytest

from helpers import make_file
from testfloor import stubs

T = TypeVar("T")


# Stubs change the import system: each test gets it back as it was.
pytestmark = pytest.mark.usefixtures("restored_import_system")


def _import(name: str) -> Any:
    return importlib.import_module(name)


def test_a_stubbed_name_does_not_import_before_install_and_stops_after_uninstall() -> None:
    with pytest.raises(ModuleNotFoundError):
        _import("torch")
    stubs.install(["torch"])
    assert stubs.is_stub(_import("torch"))
    stubs.uninstall()
    assert "torch" not in sys.modules
    assert not any(isinstance(finder, stubs.StubFinder) for finder in sys.meta_path)
    with pytest.raises(ModuleNotFoundError):
        _import("torch")


def test_install_puts_one_finder_first_and_replaces_an_earlier_one() -> None:
    first = stubs.install(["torch"])
    second = stubs.install(["ray"])
    assert sys.meta_path[0] is second
    assert first not in sys.meta_path
    assert stubs.active() is second
    stubs.uninstall()
    assert stubs.active() is None


def test_submodules_of_any_depth_import_and_have_specs() -> None:
    stubs.install(["torch"])
    functional = _import("torch.nn.functional")
    assert functional is sys.modules["torch"].nn.functional
    spec = importlib.util.find_spec("torch.nn.functional")
    assert spec is not None
    assert spec.origin == "stub"
    assert spec.submodule_search_locations == []
    assert repr(functional) == "<stub module 'torch.nn.functional'>"
    assert functional.__file__.endswith(os.path.join("torch", "nn", "functional", "__init__.py"))
    assert functional.__all__ == []


def test_an_attribute_used_before_its_submodule_is_imported_stays_the_same_object() -> None:
    stubs.install(["mlflow"])
    mlflow = _import("mlflow")
    early = mlflow.entities.Metric
    entities = _import("mlflow.entities")
    assert entities.Metric is early
    assert isinstance(entities, stubs.StubModule)


def test_a_real_package_is_never_replaced_in_missing_mode() -> None:
    import packaging

    stubs.install(["packaging"])
    del sys.modules["packaging"]
    assert not stubs.is_stub(_import("packaging"))
    assert _import("packaging").__file__ == packaging.__file__


def test_always_mode_replaces_a_real_package_even_one_imported_already() -> None:
    import packaging.version  # noqa: F401

    stubs.install(["packaging"], "always")
    assert "packaging.version" not in sys.modules
    assert stubs.is_stub(_import("packaging"))
    assert stubs.is_stub(_import("packaging.version"))


def test_a_missing_submodule_of_a_real_package_stays_a_real_error() -> None:
    stubs.install(["packaging"])
    with pytest.raises(ModuleNotFoundError, match=r"packaging\.nonexistent_sub"):
        _import("packaging.nonexistent_sub")


def test_an_empty_same_named_directory_does_not_hide_the_stub(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "torch").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    stubs.install(["torch"])
    assert stubs.is_stub(_import("torch.nn"))


def test_finders_without_find_spec_are_passed_over() -> None:
    sys.meta_path.append(object())  # type: ignore[arg-type]
    stubs.install(["torch"])
    assert stubs.is_stub(_import("torch"))


def test_names_that_are_not_configured_are_left_to_the_real_finders() -> None:
    finder = stubs.install(["torch"])
    assert finder.find_spec("json", None) is None
    assert finder.find_spec("torchvision", None) is None


def test_the_version_comes_from_the_declared_versions_else_a_high_default() -> None:
    stubs.install(["torch", "ray"], versions={"torch": "2.1"})
    assert _import("torch").__version__ == "2.1"
    assert _import("ray").__version__ == stubs.DEFAULT_VERSION
    assert not hasattr(_import("ray.tune"), "__version__")


def test_stub_classes_subclass_check_types_and_keep_user_methods() -> None:
    stubs.install(["torch"])
    torch = _import("torch")

    class Net(torch.nn.Linear):  # type: ignore[misc, name-defined]
        def __init__(self, k: int) -> None:
            super().__init__(1, 2)
            self.k = k

        def scale(self, x: int) -> int:
            return x * self.k

    net = Net(3)
    assert net.scale(2) == 6
    assert isinstance(net, torch.nn.Linear)
    assert issubclass(Net, torch.nn.Linear)
    assert not isinstance(1, torch.Tensor)
    assert not issubclass(int, torch.Tensor)
    assert not stubs.is_stub(Net)
    assert not stubs.is_stub(net)
    assert stubs.is_stub(torch.nn.Linear)
    assert stubs.is_stub(torch.nn.Linear())
    assert not stubs.is_stub(1)


def test_is_stub_does_not_read_a_proxys_class_attribute() -> None:
    class Proxy:
        @property
        def __class__(self) -> type:  # type: ignore[override]
            raise RuntimeError("working outside of a context")

    assert not stubs.is_stub(Proxy())


def test_abstract_methods_are_still_enforced_with_abc_mixins_and_metaclasses() -> None:
    stubs.install(["torch"])
    torch = _import("torch")

    class Base(torch.Tensor, abc.ABC):  # type: ignore[misc, name-defined]
        @abc.abstractmethod
        def run(self) -> None: ...

    class Meta(torch.Tensor, metaclass=abc.ABCMeta):  # type: ignore[misc, name-defined]
        pass

    with pytest.raises(TypeError, match="abstract"):
        Base()
    assert isinstance(Meta(), torch.Tensor)


def test_stub_classes_work_in_annotations_and_generics() -> None:
    stubs.install(["torch"])
    torch = _import("torch")

    def f(x: torch.Tensor | None, y: typing.Optional[torch.Tensor]) -> torch.Tensor:  # noqa: UP045
        return x

    hints = typing.get_type_hints(f, {"torch": torch, "typing": typing})
    assert hints["x"] == (torch.Tensor | None)
    assert hints["y"] == typing.Optional[torch.Tensor]  # noqa: UP045
    assert hints["return"] is torch.Tensor
    assert torch.Tensor[int, ...] is torch.Tensor


def test_user_subclasses_subscript_like_ordinary_classes() -> None:
    stubs.install(["torch"])
    torch = _import("torch")

    class Box(torch.Tensor, Generic[T]):  # type: ignore[misc, name-defined]
        pass

    class Plain(torch.Tensor):  # type: ignore[misc, name-defined]
        pass

    assert typing.get_origin(Box[int]) is Box
    with pytest.raises(TypeError, match="not subscriptable"):
        Plain[int]


def test_exception_and_warning_names_make_catchable_classes() -> None:
    stubs.install(["torch"])
    torch = _import("torch")
    with pytest.raises(torch.cuda.OutOfMemoryError, match="full"):
        raise torch.cuda.OutOfMemoryError("full")
    assert issubclass(torch.jit.TracerWarning, Warning)
    assert issubclass(torch.KeyboardInterrupt, Exception)


def test_stub_exception_classes_are_true_so_pytest_raises_takes_them() -> None:
    stubs.install(["torch"])
    torch = _import("torch")
    with stubs.strict():
        # pytest.raises before 8.4 asks for the truth of the class it is given.
        assert torch.cuda.OutOfMemoryError
        assert torch.jit.TracerWarning
        with pytest.raises(torch.cuda.OutOfMemoryError):
            raise torch.cuda.OutOfMemoryError("full")


def test_pure_stubs_used_as_decorators_return_what_they_decorate() -> None:
    stubs.install(["torch"])
    torch = _import("torch")

    @torch.no_grad()
    def add(x: int) -> int:
        return x + 1

    @torch.jit.script
    def double(x: int) -> int:
        return x * 2

    assert add(1) == 2
    assert double(2) == 4
    assert torch.compile(property) is property


def test_stub_values_are_lenient_outside_the_strict_phase() -> None:
    stubs.install(["torch"])
    torch = _import("torch")
    x = torch.zeros(3)
    assert not x
    assert not torch.Tensor
    assert len(x) == 0
    assert len(torch.Tensor) == 0
    assert list(x) == []
    assert list(torch.Tensor) == []
    assert float(x) == 0.0
    assert int(x) == 0
    assert complex(x) == 0j
    assert [1, 2][x] == 1
    assert 1 not in x
    assert stubs.is_stub(x + 1)
    assert stubs.is_stub(1 - x)
    assert stubs.is_stub(x < 1)
    assert stubs.is_stub(-x)
    assert x == x
    assert x != torch.zeros(3)
    assert stubs.is_stub(x(1, 2))
    assert stubs.is_stub(x.shape)
    assert x.shape is torch.zeros.shape
    assert repr(x) == "<stub torch.zeros instance>"
    assert repr(torch.zeros) == "<stub class torch.zeros>"


def test_strict_phase_turns_value_use_into_stub_used_error() -> None:
    stubs.install(["torch"])
    torch = _import("torch")
    x = torch.zeros(3)
    uses = [bool, len, iter, float, int, lambda v: v + 1, lambda v: v == 2, lambda v: 1 in v, lambda v: v < 1]
    with stubs.strict():
        for use in uses:
            with pytest.raises(stubs.StubUsedError, match=r"module 'torch' is a test stub \(not installed\)") as err:
                use(x)
            assert err.value.module == "torch"
        for use in (bool, len, iter):
            with pytest.raises(stubs.StubUsedError):
                use(torch.Tensor)
        assert x == x
        assert isinstance(x, torch.zeros)
        with torch.no_grad():
            pass
    assert not x


def test_strict_phase_nests_and_restores() -> None:
    with stubs.strict():
        with stubs.strict():
            pass
        assert stubs._STATE.strict
    assert not stubs._STATE.strict


def test_stub_instances_are_context_managers_sync_and_async() -> None:
    stubs.install(["torch"])
    torch = _import("torch")
    with torch.autocast("cpu") as ctx:
        assert stubs.is_stub(ctx)

    async def use() -> Any:
        async with torch.autocast("cpu") as actx:
            return actx

    assert stubs.is_stub(asyncio.run(use()))


def test_user_subclass_instances_behave_like_ordinary_objects() -> None:
    stubs.install(["torch"])
    torch = _import("torch")

    class Net(torch.Tensor):  # type: ignore[misc, name-defined]
        pass

    net = Net()
    assert net
    assert Net
    assert net == net
    assert net != Net()
    assert repr(net).startswith("<")
    assert "Net object at" in repr(net)
    assert "Net'>" in repr(Net)
    assert stubs.is_stub(net.anything)
    assert stubs.is_stub(Net.from_pretrained)
    with pytest.raises(TypeError, match="not callable"):
        net(1)
    with pytest.raises(TypeError, match="does not support __len__"):
        len(net)
    with pytest.raises(TypeError, match="does not support __contains__"):
        1 in net  # noqa: B015
    with pytest.raises(TypeError, match="unsupported operand"):
        net + 1
    with pytest.raises(TypeError, match="has no len"):
        len(Net)
    with pytest.raises(TypeError, match="not iterable"):
        iter(Net)


def test_dunder_and_private_names_stay_missing() -> None:
    stubs.install(["torch"])
    torch = _import("torch")
    assert not hasattr(torch, "__wrapped__")
    assert not hasattr(torch.Tensor, "_fields")
    assert not hasattr(torch.Tensor(), "__wrapped__")
    with pytest.raises(AttributeError, match="stub module 'torch' has no attribute '__wrapped__'"):
        _ = torch.__wrapped__


def test_stub_classes_and_instances_pickle() -> None:
    stubs.install(["torch"])
    torch = _import("torch")
    assert pickle.loads(pickle.dumps(torch.nn.Linear)) is torch.nn.Linear
    assert pickle.loads(pickle.dumps(torch.nn.Linear.weight)) is torch.nn.Linear.weight
    assert type(pickle.loads(pickle.dumps(torch.nn.Linear(1, 2)))) is torch.nn.Linear


def test_stub_root_names_the_top_level_package() -> None:
    stubs.install(["torch"])
    torch = _import("torch")
    assert stubs.stub_root(torch.nn) == "torch"
    assert stubs.stub_root(torch.nn.Linear) == "torch"
    assert stubs.stub_root(torch.nn.Linear()) == "torch"


def test_imported_by_names_the_importing_modules(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    make_file(tmp_path / "first.py", "import torch.nn\n")
    make_file(tmp_path / "second.py", "from torch import Tensor\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "not_a_module", object())
    stubs.install(["torch", "ray"])
    _import("first")
    _import("second")
    assert stubs.imported_by() == {"torch": ["first", "second"]}
    assert stubs.status(["torch", "ray", "json"]) == {"torch": "stubbed", "ray": "not imported", "json": "installed"}


def test_write_report_is_versioned_sorted_json(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    make_file(tmp_path / "app.py", "import torch\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    stubs.install(["torch", "ray"])
    _import("app")
    stubs.write_report(tmp_path / "out" / "stubs.json", ["torch", "ray"], "missing")
    text = (tmp_path / "out" / "stubs.json").read_text(encoding="utf-8")
    assert json.loads(text) == {
        "format": 1,
        "mode": "missing",
        "stubs": {
            "ray": {"imported_by": [], "status": "not imported"},
            "torch": {"imported_by": ["app"], "status": "stubbed"},
        },
    }
    assert text.endswith("}\n")


def test_skip_reason_finds_stub_use_directly_or_in_the_chain() -> None:
    used = stubs.StubUsedError("torch", "truth value")
    assert stubs.skip_reason(used) == "test exercised stubbed module 'torch' (not installed)"
    outer = ValueError("wrapped")
    outer.__context__ = KeyError("handled")
    outer.__context__.__cause__ = used
    assert stubs.skip_reason(outer) == "test exercised stubbed module 'torch' (not installed)"
    assert stubs.skip_reason(ValueError("plain")) is None


def test_count_skips_groups_skip_reports_by_module() -> None:
    reports = [
        types.SimpleNamespace(longrepr=("a.py", 1, "Skipped: test exercised stubbed module 'torch' (not installed)")),
        types.SimpleNamespace(longrepr=("b.py", 2, "Skipped: test exercised stubbed module 'ray' (not installed)")),
        types.SimpleNamespace(longrepr=("c.py", 3, "Skipped: test exercised stubbed module 'torch' (not installed)")),
        types.SimpleNamespace(longrepr=("d.py", 4, "Skipped: needs a GPU")),
    ]
    assert stubs.count_skips(reports) == {"ray": 1, "torch": 2}


def test_install_with_an_environment_prepares_subprocesses_and_uninstall_restores_it(tmp_path: Any) -> None:
    environ = {"PYTHONPATH": "/elsewhere"}
    stubs.install(["torch"], versions={"torch": "2.2"}, environ=environ)
    directory = environ["PYTHONPATH"].split(os.pathsep)[0]
    assert environ["PYTHONPATH"].split(os.pathsep)[1:] == ["/elsewhere"]
    assert json.loads(environ[stubs.ENV_VAR]) == {
        "mode": "missing",
        "names": ["torch"],
        "used": os.path.join(directory, "used"),
        "versions": {"torch": "2.2"},
    }
    assert os.path.isfile(os.path.join(directory, "sitecustomize.py"))
    stubs.uninstall()
    assert environ == {"PYTHONPATH": "/elsewhere"}
    assert not os.path.exists(directory)


def test_a_subprocess_gets_the_stubs_and_still_runs_the_sitecustomize_it_shadows(tmp_path: Any) -> None:
    make_file(tmp_path / "outer" / "sitecustomize.py", "import os\nos.environ['OUTER_SITECUSTOMIZE'] = 'ran'\n")
    environ = {**os.environ, "PYTHONPATH": str(tmp_path / "outer")}
    stubs.install(["torch"], versions={"torch": "2.2"}, environ=environ)
    code = "import os, torch.nn; print(torch.__version__, type(torch.nn).__name__, os.environ['OUTER_SITECUSTOMIZE'])"
    result = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["2.2", "StubModule", "ran"]


def test_a_subprocess_that_imports_no_stubbed_name_does_not_import_testfloor(tmp_path: Any) -> None:
    environ = dict(os.environ)
    stubs.install(["torch"], environ=environ)
    code = "import sys, json; print(json.dumps(sorted(n for n in sys.modules if n.startswith('testfloor'))))"
    result = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


def test_install_from_environ_ignores_an_absent_or_unreadable_value() -> None:
    assert stubs.install_from_environ({}) is None
    assert stubs.install_from_environ({stubs.ENV_VAR: '{"names": ["torch"]}'}) is None
    finder = stubs.install_from_environ({stubs.ENV_VAR: '{"mode": "always", "names": ["torch"], "versions": {}}'})
    assert finder is not None
    assert finder.mode == "always"


def test_uninstall_copes_with_a_finder_removed_by_someone_else() -> None:
    finder = stubs.install(["torch"])
    _import("torch")
    sys.meta_path.remove(finder)
    stubs.uninstall()
    assert "torch" not in sys.modules
    assert stubs.active() is None


def test_a_missing_attribute_of_a_user_subclass_belongs_to_the_stub_it_derives_from() -> None:
    stubs.install(["torch"])
    torch = _import("torch")

    class Net(torch.nn.Module):
        def forward(self, x: int) -> int:
            return x

    parameters = Net().parameters
    assert stubs.stub_root(parameters) == "torch"
    assert Net.parameters is torch.nn.Module.parameters
    with stubs.strict(), pytest.raises(stubs.StubUsedError) as excinfo:
        list(parameters())
    assert excinfo.value.module == "torch"


def test_watch_records_a_stub_value_made_or_used_in_the_block() -> None:
    stubs.install(["torch", "ray"])
    torch = _import("torch")
    made_before = torch.zeros(3)
    with stubs.watch() as exercised:
        torch.nn.Linear(1, 2)
    assert exercised == {"torch"}
    uses: list[Any] = [
        lambda v: v.shape,
        repr,
        str,
        hash,
        pickle.dumps,
        lambda v: isinstance(v, torch.Tensor),
        lambda v: {v: 1},
    ]
    for use in uses:
        with stubs.watch() as exercised:
            use(made_before)
        assert exercised == {"torch"}, use
    with stubs.watch() as exercised, pytest.raises(stubs.StubUsedError):
        f"{made_before:>10}"
    assert exercised == {"torch"}


def test_watch_leaves_names_exceptions_decorators_and_real_values_alone() -> None:
    stubs.install(["torch"])
    torch = _import("torch")

    class Net(torch.nn.Module):
        def forward(self, x: int) -> int:
            return x + 1

    with stubs.watch() as exercised:
        assert Net()(1) == 2
        assert not isinstance(1, torch.Tensor)
        assert torch.float32 is torch.float32
        assert torch.float32 == torch.float32
        assert torch.float32 != typing.Any
        assert {torch.float32: 1}[torch.float32] == 1
        assert torch.jit.script(len) is len
        with pytest.raises(torch.cuda.OutOfMemoryError):
            raise torch.cuda.OutOfMemoryError("full")
    assert exercised == set()
    assert not stubs._RECORDER.active


def test_a_stub_value_made_or_used_in_another_thread_counts() -> None:
    import concurrent.futures
    import threading

    stubs.install(["torch"])
    torch = _import("torch")
    made_before = torch.zeros(3)
    with stubs.watch() as exercised, concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(lambda: len(torch.zeros(3))).result() == 0
    assert exercised == {"torch"}
    with stubs.watch() as exercised:
        thread = threading.Thread(target=lambda: made_before == 1)
        thread.start()
        thread.join()
    assert exercised == {"torch"}


def test_comparing_a_stub_class_with_a_value_has_no_answer() -> None:
    stubs.install(["torch"])
    torch = _import("torch")
    assert not torch.version.cuda >= 11
    assert not torch.version.cuda < 11
    assert torch.version.cuda != "12.1"
    with stubs.watch() as exercised:
        assert torch.version.cuda != "12.1"
    assert exercised == {"torch"}
    with stubs.strict(), pytest.raises(stubs.StubUsedError, match="comparison"):
        _ = torch.version.cuda >= 11

    class Net(torch.nn.Module):
        pass

    with pytest.raises(TypeError):
        _ = Net >= 1  # type: ignore[operator]
    assert Net == Net
    assert Net != torch.nn.Module


def test_stub_values_have_a_container_protocol_that_user_subclasses_do_not() -> None:
    stubs.install(["torch"])
    torch = _import("torch")
    x = torch.zeros(3)
    assert stubs.is_stub(x[0])
    x[0] = 1
    del x[0]
    with stubs.strict():
        for use in (lambda v: v[0], lambda v: v.__setitem__(0, 1), lambda v: v.__delitem__(0)):
            with pytest.raises(stubs.StubUsedError):
                use(x)

    class Net(torch.nn.Module):
        pass

    with pytest.raises(TypeError, match="does not support __getitem__"):
        Net()[0]
    net = Net()
    assert format(net, "") == repr(net)
    assert hash(net) == object.__hash__(net)
    assert type(copy.copy(net)) is Net
    assert format(x, "") == "<stub torch.zeros instance>"
    assert torch.compile(mode="max-autotune")(len) is len


def test_a_subprocess_reports_the_stub_values_it_made_to_the_watching_test(tmp_path: Any) -> None:
    environ = dict(os.environ)
    stubs.install(["torch"], environ=environ)
    code = "import torch; print(len(torch.zeros(3)), len(torch.ones(3)))"
    with stubs.watch() as exercised:
        result = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["0", "0"]
    assert exercised == {"torch"}


def test_in_a_subprocess_each_stubbed_module_used_is_written_once_to_the_parents_file(tmp_path: Any) -> None:
    payload = {"mode": "missing", "names": ["torch"], "used": str(tmp_path / "used"), "versions": {}}
    stubs.install_from_environ({stubs.ENV_VAR: json.dumps(payload)})
    torch = _import("torch")
    torch.zeros(3)
    torch.ones(3)
    assert (tmp_path / "used").read_text(encoding="utf-8") == "torch\n"
    stubs.uninstall()
    assert stubs._RECORDER.sink is None


def test_planned_says_what_importing_each_name_gives_without_importing_it(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_file(tmp_path / "realmod_for_planned.py", "")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert stubs.planned(["torch"]) == {"torch": "installed"}  # no finder: nothing is stubbed
    stubs.install(["torch", "ray", "json", "realmod_for_planned"])
    _import("torch")
    names = ["torch", "ray", "json", "realmod_for_planned"]
    assert stubs.planned(names) == {
        "torch": "stubbed",
        "ray": "stubbed",
        "json": "installed",
        "realmod_for_planned": "installed",
    }
    assert "ray" not in sys.modules
    assert "realmod_for_planned" not in sys.modules
    stubs.install(["realmod_for_planned"], mode="always")
    assert stubs.planned(["realmod_for_planned"]) == {"realmod_for_planned": "stubbed"}
