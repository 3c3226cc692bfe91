"""Time testfloor's sessions against the same work done by hand, on a generated project, and print the ratios.

The project has ``--deps`` light dependencies (tiny wheels made on the spot,
installed from a local wheelhouse so that the network does not count) and
``--tests`` tests, with the noxfile ``testfloor init`` writes and its
committed baseline. In one run, each way in its own processes:

(a) cold: ``nox -s collect tests-X.Y coverage baseline`` with no ``.nox``;
(b) warm: the same again, every environment kept (``reuse_venv = "yes"``);
(c) by hand in a ready virtualenv: ``pytest --cov``, ``coverage json`` and
    ``testfloor baseline check`` (the comparison);
(d) by hand from nothing: ``uv venv`` and ``uv pip install -r
    requirements-test.txt``, then (c);
(e) a reporting session warm: ``nox -s baseline --no-dependencies``.

Targets: (b) within 1.3x of (c), (a) within 1.5x of (d), (e) under 5 s. The
packages of an index (pytest, coverage, testfloor's own dependencies) come
from uv's cache, warmed beforehand and untimed, for every way alike; the
timed ways run with ``UV_OFFLINE=1``, so that none pays for the network.
Everything is written under a scratch directory, never into the repository.

Usage::

    python benchmarks/bench_sessions.py --deps 20 --tests 60
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

from testfloor.init import NOXFILE  # noqa: E402
from testfloor.testenv import find_uv  # noqa: E402
from wheelhouse import make_wheel  # noqa: E402

PY = sys.executable
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
PINS = ("pytest==9.2.0", "coverage==7.17.5")


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Run `command`; return its wall time in seconds, or stop the benchmark with its output when it fails."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}:\n{(result.stdout + result.stderr)[-3000:]}")
    return time.perf_counter() - started


def build_testfloor(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    command = [PY, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    return next(out.glob("testfloor-*.whl"))


def generate(root: Path, wheelhouse: Path, testfloor: Path, deps: int, tests: int) -> None:
    """Write a project whose code imports every dependency, with `tests` tests spread over ten modules."""
    names = [f"benchdep{number:02d}" for number in range(1, deps + 1)]
    for name in names:
        make_wheel(wheelhouse, name, "1.0", {f"{name}.py": f"def value(x):\n    return x + {len(name)}\n"})
    imports = "".join(f"import {name}\n" for name in names)
    body = "\n\ndef total(x):\n    return " + " + ".join(f"{name}.value(x)" for name in names) + "\n"
    body += "\n\ndef sign(x):\n    if x < 0:\n        return -1\n    return 1\n"
    (root / "src" / "shop").mkdir(parents=True)
    (root / "src" / "shop" / "__init__.py").write_text(imports + body)
    (root / "tests").mkdir()
    per_module = max(tests // 10, 1)
    for module in range(10):
        cases = "".join(
            f"\n\ndef test_total_{module}_{case}():\n    assert total({case}) > {case}\n" for case in range(per_module)
        )
        (root / "tests" / f"test_shop_{module}.py").write_text(f"from shop import sign, total{cases}")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "shop"\nversion = "1.0"\n\n[build-system]\nrequires = ["hatchling"]\n'
        'build-backend = "hatchling.build"\n\n'
        f'[tool.testfloor]\npython = ["{PYTHON}"]\ninstall = ["."]\n\n'
        '[tool.coverage.run]\nbranch = true\nsource = ["shop"]\n'
    )
    requirements = [str(testfloor), *PINS, "pytest-cov==7.1.0", *(f"{name}==1.0" for name in names)]
    (root / "requirements-test.txt").write_text("\n".join(requirements) + "\n")
    (root / "noxfile.py").write_text(NOXFILE)


def by_hand(root: Path, venv: Path, env: dict[str, str]) -> float:
    """(c): the suite under pytest-cov, its JSON report, and the comparison with the baseline."""
    python = str(venv / "bin" / "python")
    steps = [
        [python, "-m", "pytest", "-q", "--cov", "--cov-report="],
        [python, "-m", "coverage", "json", "-q", "-o", "coverage.json"],
        [str(venv / "bin" / "testfloor"), "baseline", "check", "."],
    ]
    return sum(timed(step, root, env) for step in steps)


def from_nothing(root: Path, venv: Path, uv: str, env: dict[str, str]) -> float:
    """(d): a virtualenv made and filled with uv, the project editable, then (c)."""
    if venv.exists():
        shutil.rmtree(venv)
    python = str(venv / "bin" / "python")
    made = timed([uv, "venv", "--quiet", "--python", PYTHON, str(venv)], root, env)
    made += timed([uv, "pip", "install", "--quiet", "--python", python, "-r", "requirements-test.txt"], root, env)
    made += timed([uv, "pip", "install", "--quiet", "--python", python, "--no-deps", "-e", "."], root, env)
    return made + by_hand(root, venv, env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deps", type=int, default=20)
    parser.add_argument("--tests", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="leave the scratch directory")
    args = parser.parse_args(argv)
    uv = find_uv()
    if uv is None:
        raise SystemExit("uv is needed (it comes with testfloor)")
    scratch = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    root, wheelhouse = scratch / "shop", scratch / "wheelhouse"
    root.mkdir()
    generate(root, wheelhouse, build_testfloor(scratch / "dist"), args.deps, args.tests)
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("COVERAGE_", "TESTFLOOR_", "PYTEST_"))
    }
    env.update(UV_FIND_LINKS=str(wheelhouse), NOX_DOWNLOAD_PYTHON="never")
    nox = [PY, "-m", "nox", "--no-color"]
    sessions = ["-s", "collect", f"tests-{PYTHON}", "coverage", "baseline"]
    # Untimed: uv's cache holds the index's packages, and the project's baseline is committed.
    warm_venv = scratch / "ready"
    timed([uv, "venv", "--quiet", "--python", PYTHON, str(warm_venv)], root, env)
    python = str(warm_venv / "bin" / "python")
    timed([uv, "pip", "install", "--quiet", "--python", python, "-r", "requirements-test.txt"], root, env)
    timed([uv, "pip", "install", "--quiet", "--python", python, "--no-deps", "-e", "."], root, env)
    timed([python, "-m", "pytest", "-q", "--cov", "--cov-report="], root, env)
    timed([python, "-m", "coverage", "json", "-q", "-o", "coverage.json"], root, env)
    timed([str(warm_venv / "bin" / "testfloor"), "baseline", "update", "."], root, env)
    # From here on uv answers from its cache alone: an index it would revalidate made one way pay for the network
    # and not the next (cold runs of the same work measured 3.7 s and 13.7 s).
    env["UV_OFFLINE"] = "1"

    rows: list[tuple[str, float]] = []
    rows.append(("(a) nox cold: collect tests coverage baseline", timed([*nox, *sessions], root, env)))
    rows.append(("(b) nox warm: the same, environments reused", timed([*nox, *sessions], root, env)))
    rows.append(("(c) by hand, ready virtualenv", by_hand(root, warm_venv, env)))
    rows.append(("(d) by hand from nothing (uv venv + uv pip)", from_nothing(root, scratch / "fresh", uv, env)))
    rows.append(("(e) nox -s baseline warm, alone", timed([*nox, "-s", "baseline", "--no-dependencies"], root, env)))
    times = dict(rows)
    print(f"{args.deps} light dependencies, {args.tests} tests, Python {PYTHON}, {os.cpu_count()} cores")
    print(f"{'way':52} {'seconds':>8}")
    for name, seconds in rows:
        print(f"{name:52} {seconds:8.2f}")
    warm = times[rows[1][0]] / times[rows[2][0]]
    cold = times[rows[0][0]] / times[rows[3][0]]
    print(f"warm (b)/(c): {warm:.2f}x (target 1.3x) {'met' if warm <= 1.3 else 'MISSED'}")
    print(f"cold (a)/(d): {cold:.2f}x (target 1.5x) {'met' if cold <= 1.5 else 'MISSED'}")
    reporting = times[rows[4][0]]
    print(f"reporting session warm: {reporting:.2f} s (target 5 s) {'met' if reporting < 5 else 'MISSED'}")
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
