"""Benchmark testfloor's stubs: collection with torch stubbed, with real torch, and the plugin's overhead.

Usage::

    python benchmarks/bench_stubs.py [--repeat N] [--torch-python PATH]

It generates, in a temporary directory, a suite of 200 test modules that import
20 torch-using application modules, and measures ``pytest --collect-only``:

* with torch stubbed by testfloor (torch not installed in this interpreter);
* with the real torch, when ``--torch-python`` names an interpreter that has
  torch, pytest and testfloor installed (the stub then steps aside: "missing"
  mode); otherwise that line says "skipped: torch not installed";
* for the same suite with application modules that import nothing heavy.

Then it runs a 2,000-test suite with no stubs, with the plugin and with
``-p no:testfloor``. Each time is the best of ``--repeat`` runs; the script
prints times and ratios and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP_MODULES = 20
TEST_MODULES = 200
OVERHEAD_MODULES = 20
TESTS_PER_MODULE = 100

PYPROJECT = """\
[project]
name = "bench"
version = "0"
dependencies = ["torch>=2.1"]

[tool.testfloor]
{stubs}

[tool.pytest.ini_options]
asyncio_default_fixture_loop_scope = "function"
"""

TORCH_APP = """\
import torch
from torch import nn
import torch.nn.functional as F


class Model{n}(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = {n}

    def forward(self, x):
        return F.relu(x) * self.scale


def device():
    return "cuda" if torch.cuda.is_available() else "cpu"
"""

PLAIN_APP = """\
import dataclasses
import json


@dataclasses.dataclass
class Model{n}:
    scale: int = {n}

    def forward(self, x):
        return json.dumps([x, self.scale])


def device():
    return "cpu"
"""

TEST_MODULE = """\
from app.mod{app} import Model{app}, device


def test_model_{n}():
    assert Model{app}().scale == {app}


def test_device_{n}():
    assert device() == "cpu"
"""


def write_suite(root: Path, app_template: str, stubs: str) -> Path:
    """Write the 200-module suite under `root` and return it."""
    (root / "app").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT.format(stubs=stubs), encoding="utf-8")
    (root / "app" / "__init__.py").write_text("", encoding="utf-8")
    for n in range(APP_MODULES):
        (root / "app" / f"mod{n}.py").write_text(app_template.format(n=n), encoding="utf-8")
    for n in range(TEST_MODULES):
        text = TEST_MODULE.format(n=n, app=n % APP_MODULES)
        (root / "tests" / f"test_mod{n}.py").write_text(text, encoding="utf-8")
    return root


def write_overhead_suite(root: Path) -> Path:
    """Write a 2,000-test suite that configures testfloor without stubs."""
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT.format(stubs='python = ["3.12"]'), encoding="utf-8")
    body = "\n\n".join(f"def test_{n}():\n    assert {n} + 1 == {n + 1}\n" for n in range(TESTS_PER_MODULE))
    for n in range(OVERHEAD_MODULES):
        (root / "tests" / f"test_many{n}.py").write_text(body, encoding="utf-8")
    return root


def best_time(python: str, root: Path, args: list[str], repeat: int) -> float:
    """Run pytest in `root` `repeat` times; return the fastest wall time in seconds."""
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "COV_"))}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(command, cwd=root, env=environ, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"pytest failed in {root} ({' '.join(args)}):\n{result.stdout[-2000:]}{result.stderr}")
    return min(times)


def has_torch(python: str) -> bool:
    """Tell whether `python` can import the real torch."""
    code = "import torch, testfloor, pytest; assert not hasattr(torch, '__testfloor_stub__')"
    return subprocess.run([python, "-c", code], capture_output=True, check=False).returncode == 0


def main() -> int:
    """Run the benchmark and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (best is kept)")
    parser.add_argument("--torch-python", help="an interpreter with torch, pytest and testfloor installed")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-stubs-") as directory:
        base = Path(directory)
        stubbed = write_suite(base / "stubbed", TORCH_APP, 'stubs = ["torch"]')
        plain = write_suite(base / "plain", PLAIN_APP, "")
        overhead = write_overhead_suite(base / "overhead")
        collect = ["--collect-only"]
        t_stub = best_time(python, stubbed, collect, args.repeat)
        t_plain = best_time(python, plain, collect, args.repeat)
        print(f"python {sys.version.split()[0]}, best of {args.repeat}")
        print(f"collect {TEST_MODULES * 2} tests in {TEST_MODULES} modules, torch stubbed: {t_stub:.3f}s")
        print(f"collect the same suite importing nothing heavy:        {t_plain:.3f}s")
        print(f"  stubbed / nothing-heavy = {t_stub / t_plain:.2f}x (target <= 1.2x)")
        if args.torch_python and has_torch(args.torch_python):
            t_real = best_time(args.torch_python, stubbed, collect, args.repeat)
            print(f"collect the same suite with the real torch:            {t_real:.3f}s")
            print(f"  real torch / stubbed = {t_real / t_stub:.2f}x faster with the stub (target >= 5x)")
        else:
            print("real torch: skipped: torch not installed")
        t_plugin = best_time(python, overhead, ["-p", "no:xdist"], args.repeat)
        t_bare = best_time(python, overhead, ["-p", "no:xdist", "-p", "no:testfloor"], args.repeat)
        print(f"run {OVERHEAD_MODULES * TESTS_PER_MODULE} tests, no stubs, with the testfloor plugin: {t_plugin:.3f}s")
        print(f"run the same tests with -p no:testfloor:                  {t_bare:.3f}s")
        print(f"  plugin / plain pytest = {t_plugin / t_bare:.2f}x (target <= 1.1x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
