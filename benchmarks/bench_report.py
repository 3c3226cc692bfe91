"""Time testfloor's report step against the usual tools, on a synthetic project, and print the ratios.

The usual way: ``coverage combine``, ``coverage xml``, ``coverage json`` and
``pycobertura diff`` against the previous revision's XML. testfloor's way:
``testfloor report`` (combine + XML + JSON + Markdown + terminal table from one
analysis per file) and ``testfloor baseline check`` against the previous
revision's baseline, twice: with no parse cache, and with the parse cache the
previous revision's report left (``--cache``; the workload changes 1% of the
sources). What the previous revision left (its XML, baseline and cache) is made
beforehand, untimed, for both ways. Each command runs in its own process; its
wall time and the peak RSS of the largest process it started are measured.
Everything is written under a scratch directory, never into the repository.

Usage::

    python benchmarks/bench_report.py --files 1000
    python benchmarks/bench_report.py --files 5000 --generator path/to/gen_synthetic.py

The generator defaults to ``$TESTFLOOR_BENCH_GENERATOR``, else
``../shared/bench/gen_synthetic.py`` relative to the repository. pycobertura
must be installed in the running environment (it is not a dependency).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from testfloor.baseline import compare, from_coverage_json, read_baseline, write_baseline  # noqa: E402

PY = sys.executable


def measure(command: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Run `command`; return its wall time in seconds and the peak RSS in MB of its largest process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        assert process.stderr is not None
        raise SystemExit(f"{' '.join(command)} exited {code}: {process.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024  # Linux reports kilobytes


def generate(generator: Path, files: int, shards: int, out: Path) -> None:
    if (out / "manifest.json").is_file():
        return
    print(f"generating {files} files into {out} ...", file=sys.stderr)
    command = [PY, str(generator), "--out", str(out), "--files", str(files), "--shards", str(shards)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def prepare(workload: Path) -> None:
    """Untimed: the previous revision's XML (for pycobertura), and baseline and parse cache (for testfloor)."""
    base = workload / "base"
    if not (base / "base-baseline.json").is_file():
        subprocess.run([PY, "-m", "coverage", "xml", "-q", "-o", "base.xml"], cwd=base, check=True)
        subprocess.run([PY, "-m", "coverage", "json", "-q", "-o", "base.json"], cwd=base, check=True)
        write_baseline(base / "base-baseline.json", from_coverage_json(base / "base.json"))
    if not (base / "parse-cache").is_dir():
        report = [PY, "-m", "testfloor", "report", "--cache", "parse-cache", "--json", "cache-run.json"]
        subprocess.run(report, cwd=base, check=True, stdout=subprocess.DEVNULL)


def fresh_head(workload: Path, name: str) -> Path:
    """Copy the current revision without any combined data: each way starts from the shards."""
    target = workload / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(workload / "head", target, ignore=shutil.ignore_patterns(".coverage"))
    return target


def usual_way(workload: Path) -> list[tuple[str, float, float]]:
    head = fresh_head(workload, "usual")
    shards = sorted(str(path) for path in (head / "shards").glob(".coverage.*"))
    base = workload / "base"
    pycobertura = ["--no-color", "--source1", str(base), "--source2", str(head)]
    pycobertura += [str(base / "base.xml"), str(head / "coverage.xml")]
    steps = [
        ("coverage combine", [PY, "-m", "coverage", "combine", "-q", "--keep", *shards], (0,)),
        ("coverage xml", [PY, "-m", "coverage", "xml", "-q", "-o", "coverage.xml"], (0,)),
        ("coverage json", [PY, "-m", "coverage", "json", "-q", "-o", "coverage.json"], (0,)),
        ("pycobertura diff", [PY, "-m", "pycobertura", "diff", *pycobertura], (0, 2, 3)),  # 2, 3: it got worse
    ]
    return [(name, *measure(command, head, ok)) for name, command, ok in steps]


def testfloor_way(workload: Path, shards: int, cached: bool) -> tuple[list[tuple[str, float, float]], Path]:
    head = fresh_head(workload, "testfloor-cached" if cached else "testfloor")
    report = [PY, "-m", "testfloor", "report", "--shard", "shards/.coverage.*", "--expect", str(shards)]
    report += ["--xml", "coverage.xml", "--json", "coverage.json", "--markdown", "coverage.md"]
    if cached:
        # A copy: the report keeps only the parses it used.
        shutil.copytree(workload / "base" / "parse-cache", head / "parse-cache")
        report += ["--cache", "parse-cache"]
    baseline = str(workload / "base" / "base-baseline.json")
    check = [PY, "-m", "testfloor", "baseline", "check", ".", "--baseline", baseline, "--markdown", "baseline.md"]
    steps = [
        ("testfloor report" + (" --cache" if cached else ""), report, (0,)),
        ("testfloor baseline check", check, (0, 5, 9)),  # 5: the workload has regressions
    ]
    return [(name, *measure(command, head, ok)) for name, command, ok in steps], head


def compare_alone(workload: Path, head: Path) -> tuple[float, float]:
    """In-process: reading both sides and comparing them, then the comparison alone."""
    started = time.perf_counter()
    old = read_baseline(workload / "base" / "base-baseline.json")
    new = from_coverage_json(head / "coverage.json")
    loaded = time.perf_counter()
    compare(old, new, head)
    done = time.perf_counter()
    return done - started, done - loaded


def same_reports(workload: Path, ours: Path) -> bool:
    """Check that testfloor's XML and JSON in `ours` are coverage.py's, timestamps aside."""
    usual = workload / "usual"

    def xml(path: Path) -> str:
        return re.sub(r'timestamp="\d+"', "", (path / "coverage.xml").read_text())

    def document(path: Path) -> object:
        loaded = json.loads((path / "coverage.json").read_text())
        loaded["meta"].pop("timestamp")
        return loaded

    return xml(usual) == xml(ours) and document(usual) == document(ours)


def main() -> None:
    default_generator = os.environ.get("TESTFLOOR_BENCH_GENERATOR") or str(
        REPO.parent / "shared" / "bench" / "gen_synthetic.py"
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--generator", type=Path, default=Path(default_generator))
    parser.add_argument("--workdir", type=Path, help="keep the workload here (default: a temporary directory)")
    args = parser.parse_args()
    scratch = args.workdir or Path(tempfile.mkdtemp(prefix="testfloor-bench-"))
    if scratch.resolve().is_relative_to(REPO):
        raise SystemExit("the benchmark must not write into the repository: choose another --workdir")
    workload = scratch / f"w{args.files}"
    try:
        generate(args.generator, args.files, args.shards, workload)
        prepare(workload)
        usual = usual_way(workload)
        ours, head = testfloor_way(workload, args.shards, cached=False)
        cached, cached_head = testfloor_way(workload, args.shards, cached=True)
        both, alone = compare_alone(workload, head)
        identical = same_reports(workload, head) and same_reports(workload, cached_head)
    finally:
        if args.workdir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    print_table(args.files, usual, {"no cache": ours, "parses kept from base": cached}, both, alone, identical)


def print_table(
    files: int,
    usual: list[tuple[str, float, float]],
    ways: dict[str, list[tuple[str, float, float]]],
    both: float,
    alone: float,
    identical: bool,
) -> None:
    print(f"{files} files, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{'step':<44}{'wall s':>9}{'peak RSS MB':>13}")
    for name, wall, rss in [*usual, *(step for ours in ways.values() for step in ours)]:
        print(f"{name:<44}{wall:>9.2f}{rss:>13.0f}")
    usual_wall = sum(wall for _name, wall, _rss in usual)
    pycobertura_rss = usual[-1][2]
    print(f"{'usual way, total':<44}{usual_wall:>9.2f}{max(rss for _n, _w, rss in usual):>13.0f}")
    totals = {way: (sum(wall for _n, wall, _r in ours), max(rss for _n, _w, rss in ours)) for way, ours in ways.items()}
    for way, (ours_wall, ours_rss) in totals.items():
        print(f"{f'testfloor, {way}, total':<44}{ours_wall:>9.2f}{ours_rss:>13.0f}")
    for way, (ours_wall, ours_rss) in totals.items():
        print(
            f"testfloor, {way}: {usual_wall / ours_wall:.2f}x faster, peak memory {ours_rss / pycobertura_rss:.2f}"
            " of pycobertura's"
        )
    print(f"baseline compare: {both:.3f} s reading both sides, {alone * 1000:.1f} ms comparing")
    print(f"reports identical to coverage.py's (timestamps aside): {'yes' if identical else 'NO'}")


if __name__ == "__main__":
    main()
